// The read loop: frames from the current connection, checked (R1-R3) or opened (R21) and applied to the
// streams (R11-R18), with the receive buffer's back-pressure (R15).
#include "session_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstring>

namespace lifeline::detail {
namespace {

using asio::use_awaitable;

constexpr std::size_t initial_read_buffer = 4u << 10;
constexpr int max_reader_turns = 3;  // event-loop turns a frame waits for the application's next read

}  // namespace

asio::awaitable<std::error_code> session_impl::read_loop(std::shared_ptr<transport> s) {
  // Small at first, so that an idle session holds a few KiB rather than a whole frame's worth; grown to
  // the largest frame the first time the buffer fills.
  std::vector<std::uint8_t> buffer(initial_read_buffer);
  std::size_t have = 0;
  while (true) {
    std::size_t pos = 0;
    while (true) {
      const std::span<std::uint8_t> in(buffer.data() + pos, have - pos);
      const auto r = s->cipher ? s->cipher->open(in) : wire::decode(in);
      if (r.error) {  // R1-R3, R21: never delivered; the connection is dropped and the bytes are resent
        ++stats_.frames_rejected;
        co_return r.error;
      }
      if (r.consumed == 0) break;
      const auto fresh = r.value.type == wire::frame_type::data
                             ? state_.fresh_bytes(r.value.value, r.value.payload.size())
                             : 0;
      if (fresh > 0) {
        // The application has just been handed a read and is likely to ask again soon (a relay first
        // writes what it read, which completes a turn of the event loop later): give it a few turns, so
        // that this frame goes straight into its buffer rather than through the receive ring.
        for (int turn = 0;
             turn < max_reader_turns && read_completing_ && !read_handler_ && state_.receive_buffer().empty();
             ++turn) {
          // Through the executor under the strand: a post to the strand itself could run at once in the
          // strand's current batch, before the application's handlers queued outside it.
          co_await asio::post(strand_.get_inner_executor(), use_awaitable);
          if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
        }
        read_completing_ = false;
        const auto paused_at = clock::now();
        while (!state_.room_for(r.value.value,
                                r.value.payload.size())) {  // R15: wait for the application to read
          if (!rx_paused_) {
            rx_paused_ = true;
            ping_due_ = true;  // R16: a frame flagged paused tells the peer not to wait for our answers
            writer_wake_.cancel();
          }
          co_await reader_wake_.async_wait(asio::as_tuple(use_awaitable));
          if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
        }
        if (rx_paused_) {  // the heartbeat clocks stood still while we were not reading
          rx_paused_ = false;
          last_inbound_ += clock::now() - paused_at;
          last_progress_ += clock::now() - paused_at;
        }
      }
      if (auto ec = on_frame(r.value)) co_return ec;
      if (failed_) co_return failed_;
      pos += r.consumed;
    }
    if (ticker_asleep_ && state_.ack_pending()) {
      ticker_asleep_ = false;
      ticker_.cancel();
    }
    std::memmove(buffer.data(), buffer.data() + pos, have - pos);
    have -= pos;
    if (have == buffer.size()) buffer.resize(wire::header_size + wire::max_payload + wire::tag_size);
    auto [ec, n] = co_await s->async_read_some(asio::buffer(buffer.data() + have, buffer.size() - have),
                                               asio::as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::eof && done()) co_return std::error_code();
      co_return ec;  // an end of file here is a lost path or a vanished peer, never a clean end (R17)
    }
    have += n;
    last_inbound_ = clock::now();
    if (state_.ack_threshold_reached()) writer_wake_.cancel();
  }
}

std::error_code session_impl::on_frame(const wire::frame& f) {
  using wire::frame_type;
  const bool paused = (f.flags & wire::flag_paused) != 0;
  if (peer_paused_ && !paused) last_progress_ = clock::now();  // its clock stood still while paused
  peer_paused_ = paused;
  switch (f.type) {
    case frame_type::data: {  // R11
      wire::bytes fresh;
      if (auto ec = state_.on_data(f.value, f.payload, fresh)) return ec;
      if (!fresh.empty()) deliver(fresh, true);
      return {};
    }
    case frame_type::ack: {  // R13
      stream_state::ack_effect effect;
      if (auto ec = state_.on_ack(f.value, effect)) return ec;
      acknowledged(effect);
      return {};
    }
    case frame_type::ping:
      pong_due_ = f.value;
      writer_wake_.cancel();
      return {};
    case frame_type::pong:
      ping_outstanding_ = false;
      last_progress_ = clock::now();
      return {};
    case frame_type::close: {  // R17
      bool fresh = false;
      if (auto ec = state_.on_close(f.value, fresh)) return ec;
      if (fresh) {
        writer_wake_.cancel();
        deliver();
      }
      return {};
    }
    case frame_type::error:  // R18
      fail(error_from_frame(f));
      return failed_;
    default:
      return make_error_code(errc::malformed_frame);
  }
}

void session_impl::acknowledged(const stream_state::ack_effect& effect) {
  if (effect.advanced) last_progress_ = clock::now();
  if (effect.fin_acked) {
    if (shutdown_handler_)
      complete(strand_, std::move(*std::exchange(shutdown_handler_, std::nullopt)),
               boost::system::error_code());
    writer_wake_.cancel();
  }
  fill();
}

}  // namespace lifeline::detail
