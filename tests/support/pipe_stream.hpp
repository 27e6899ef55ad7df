// An in-memory connection for sessions, as Beast's test stream is for websocket::stream: two byte_stream
// ends joined by a pipe each way, with the faults a network has, made on demand: a reset (both ends
// fail), a black hole (bytes vanish, nothing fails) and a flipped byte. Deterministic: nothing happens
// unless the test says so.
#pragma once

#include <lifeline/byte_stream.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace lifeline::test {

class pipe_stream;

/// The state both ends share; either end's executor may run on any thread.
class pipe_link {
 public:
  /// Makes the two ends of a new link.
  static std::pair<std::unique_ptr<pipe_stream>, std::unique_ptr<pipe_stream>> make(
      const boost::asio::any_io_executor& a, const boost::asio::any_io_executor& b);

  /// Both ends fail: pending and later operations complete with connection_reset.
  void reset();
  /// From now on bytes written either way vanish and reads wait, as on a path cut without a word.
  void black_hole();
  /// Flips the bits of the byte written `skip` bytes from now in the a-to-b direction.
  void corrupt_after(std::size_t skip);

 private:
  friend class pipe_stream;
  struct read_op {
    boost::asio::mutable_buffer buffer;
    byte_stream::io_handler handler;
    boost::asio::any_io_executor ex;
    std::uint64_t serial = 0;
  };
  struct channel {
    std::string bytes;
    bool ended = false;  // the writer shut down its sending direction
    std::optional<read_op> reader;
    std::optional<std::size_t> corrupt_in;
  };

  static void finish(read_op op, boost::system::error_code ec, std::size_t n) {
    boost::asio::post(op.ex, boost::asio::append(std::move(op.handler), ec, n));
  }
  // Completes the channel's waiting read if it can; with the lock held.
  void serve(channel& c) {
    if (!c.reader) return;
    if (broken_)
      return finish(std::move(*std::exchange(c.reader, std::nullopt)), boost::asio::error::connection_reset,
                    0);
    if (c.bytes.empty() && !c.ended) return;
    auto op = std::move(*std::exchange(c.reader, std::nullopt));
    if (c.bytes.empty()) return finish(std::move(op), boost::asio::error::eof, 0);
    const auto n = std::min(c.bytes.size(), op.buffer.size());
    std::copy_n(c.bytes.data(), n, static_cast<char*>(op.buffer.data()));
    c.bytes.erase(0, n);
    finish(std::move(op), {}, n);
  }

  std::mutex mutex_;
  channel a_to_b_;
  channel b_to_a_;
  std::uint64_t serial_ = 0;
  bool broken_ = false;
  bool black_hole_ = false;
};

class pipe_stream : public byte_stream {
 public:
  pipe_stream(std::shared_ptr<pipe_link> link, boost::asio::any_io_executor ex, bool a)
      : link_(std::move(link)), ex_(std::move(ex)), a_(a) {}
  ~pipe_stream() override { close(); }

  executor_type get_executor() override { return ex_; }
  const std::shared_ptr<pipe_link>& link() const { return link_; }

  void async_read_some(boost::asio::mutable_buffer buffer, io_handler handler) override {
    std::lock_guard lock(link_->mutex_);
    auto& in = a_ ? link_->b_to_a_ : link_->a_to_b_;
    pipe_link::read_op op{buffer, std::move(handler), ex_, 0};
    if (!open_) return pipe_link::finish(std::move(op), boost::asio::error::bad_descriptor, 0);
    if (in.reader) return pipe_link::finish(std::move(op), boost::asio::error::in_progress, 0);
    // Terminal cancellation, as a socket's read has: the session's loops are cancelled together when
    // one of them ends the connection.
    auto slot = boost::asio::get_associated_cancellation_slot(op.handler);
    const auto serial = ++link_->serial_;
    op.serial = serial;
    in.reader = std::move(op);
    if (slot.is_connected()) {
      slot.assign([link = link_, c = &in, serial](boost::asio::cancellation_type) {
        std::lock_guard lock(link->mutex_);
        if (c->reader && c->reader->serial == serial)
          pipe_link::finish(std::move(*std::exchange(c->reader, std::nullopt)),
                            boost::asio::error::operation_aborted, 0);
      });
    }
    if (!link_->black_hole_) link_->serve(in);
  }

  void async_write_some(std::span<const boost::asio::const_buffer> buffers, io_handler handler) override {
    std::lock_guard lock(link_->mutex_);
    auto& out = a_ ? link_->a_to_b_ : link_->b_to_a_;
    pipe_link::read_op op{{}, std::move(handler), ex_, 0};
    if (!open_) return pipe_link::finish(std::move(op), boost::asio::error::bad_descriptor, 0);
    if (link_->broken_) return pipe_link::finish(std::move(op), boost::asio::error::connection_reset, 0);
    if (out.ended) return pipe_link::finish(std::move(op), boost::asio::error::shut_down, 0);
    std::size_t n = 0;
    for (const auto& b : buffers) {
      if (!link_->black_hole_) out.bytes.append(static_cast<const char*>(b.data()), b.size());
      n += b.size();
    }
    if (out.corrupt_in && !link_->black_hole_) {
      if (*out.corrupt_in < n) {
        out.bytes[out.bytes.size() - n + *out.corrupt_in] ^= 0xff;
        out.corrupt_in.reset();
      } else {
        *out.corrupt_in -= n;
      }
    }
    if (!link_->black_hole_) link_->serve(out);
    pipe_link::finish(std::move(op), {}, n);
  }

  void shutdown_send() override {
    std::lock_guard lock(link_->mutex_);
    auto& out = a_ ? link_->a_to_b_ : link_->b_to_a_;
    out.ended = true;
    if (!link_->black_hole_) link_->serve(out);
  }

  /// Closing either end resets the link, as a TCP connection closed with unread data does.
  void close() override {
    {
      std::lock_guard lock(link_->mutex_);
      if (!open_) return;
      open_ = false;
    }
    link_->reset();
  }
  bool is_open() const override { return open_; }

 private:
  std::shared_ptr<pipe_link> link_;
  boost::asio::any_io_executor ex_;
  bool a_;
  bool open_ = true;
};

inline std::pair<std::unique_ptr<pipe_stream>, std::unique_ptr<pipe_stream>> pipe_link::make(
    const boost::asio::any_io_executor& a, const boost::asio::any_io_executor& b) {
  auto link = std::make_shared<pipe_link>();
  return {std::make_unique<pipe_stream>(link, a, true), std::make_unique<pipe_stream>(link, b, false)};
}

inline void pipe_link::reset() {
  std::lock_guard lock(mutex_);
  broken_ = true;
  serve(a_to_b_);
  serve(b_to_a_);
}

inline void pipe_link::black_hole() {
  std::lock_guard lock(mutex_);
  black_hole_ = true;
  a_to_b_.bytes.clear();
  b_to_a_.bytes.clear();
}

inline void pipe_link::corrupt_after(std::size_t skip) {
  std::lock_guard lock(mutex_);
  a_to_b_.corrupt_in = skip;
}

}  // namespace lifeline::test
