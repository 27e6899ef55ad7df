// guarded_socket's read and write operations: each starts the socket's own operation and passes its
// result through the failure latch in detail::guard_state.
#pragma once

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>

#include <utility>

namespace lifeline {
namespace detail {

/// The state a guarded_socket shares with its operations and its deadline, so that both outlive a
/// moved-from or destroyed owner.
class guard_state : public std::enable_shared_from_this<guard_state> {
 public:
  explicit guard_state(boost::asio::ip::tcp::socket socket);

  /// An operation starts: returns connection_reset when the connection is already known dead.
  std::error_code begin();
  /// An operation's socket call finished with `ec`: returns what its caller sees (`ec` itself, unless
  /// the connection is found dead).
  boost::system::error_code finish(const boost::system::error_code& ec);

  std::error_code set_options(const keepalive_options& options, std::error_code& os_error);
  void close() noexcept;

  boost::asio::ip::tcp::socket socket_;
  bool failed_ = false;
  std::error_code cause_;
  bool by_deadline_ = false;
  std::optional<std::chrono::milliseconds> silence_at_failure_;
  std::chrono::steady_clock::time_point failed_at_{};

 private:
  void latch(std::error_code cause, bool by_deadline);
  void arm_deadline(std::chrono::milliseconds after);
  void on_deadline();

  boost::asio::steady_timer deadline_;
  std::optional<std::chrono::milliseconds> bound_;
  bool deadline_armed_ = false;
  int pending_ = 0;
};

enum class io_direction { read, write };

template <io_direction Direction, typename Buffers>
struct guarded_io_op {
  guarded_io_op(std::shared_ptr<guard_state> state, const Buffers& buffers)
      : state_(std::move(state)), buffers_(buffers) {}

  std::shared_ptr<guard_state> state_;
  Buffers buffers_;
  enum { starting, running, refused } stage_ = starting;
  std::error_code refusal_;

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t bytes = 0) {
    switch (stage_) {
      case starting:
        if (auto refused_with = state_->begin()) {
          // Completes through the executor, never inside the initiating call.
          stage_ = refused;
          refusal_ = refused_with;
          boost::asio::post(state_->socket_.get_executor(), std::move(self));
          return;
        }
        stage_ = running;
        if constexpr (Direction == io_direction::read) {
          state_->socket_.async_read_some(buffers_, std::move(self));
        } else {
          state_->socket_.async_write_some(buffers_, std::move(self));
        }
        return;
      case refused:
        self.complete(boost::system::error_code(refusal_), 0);
        return;
      case running:
        self.complete(state_->finish(ec), bytes);
        return;
    }
  }
};

}  // namespace detail

template <typename MutableBufferSequence, typename CompletionToken>
auto guarded_socket::async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token) {
  return boost::asio::async_compose<CompletionToken, void(boost::system::error_code, std::size_t)>(
      detail::guarded_io_op<detail::io_direction::read, MutableBufferSequence>(state_, buffers), token,
      state_->socket_);
}

template <typename ConstBufferSequence, typename CompletionToken>
auto guarded_socket::async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token) {
  return boost::asio::async_compose<CompletionToken, void(boost::system::error_code, std::size_t)>(
      detail::guarded_io_op<detail::io_direction::write, ConstBufferSequence>(state_, buffers), token,
      state_->socket_);
}

}  // namespace lifeline
