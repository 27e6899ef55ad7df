// Liveness (docs/protocol.md R13, R16): the delayed acknowledgement, heartbeats, and the detection of a
// peer that went silent or stopped answering, within the session's heartbeat timeout.
#include "session_impl.hpp"

#include "../platform/platform.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lifeline::detail {
namespace {

using asio::use_awaitable;

constexpr std::chrono::milliseconds tick{20};  // R13's delayed acknowledgement, and heartbeat checks

}  // namespace

asio::awaitable<std::error_code> session_impl::tick_loop() {
  // Every tick while an acknowledgement is pending (R13); otherwise asleep until the next heartbeat or
  // timeout is due (R16), and woken by the read loop when data arrives: a tick per idle session would
  // cost a server with thousands of them whole cores.
  while (true) {
    auto wait = std::chrono::duration_cast<clock::duration>(tick);
    ticker_asleep_ = !state_.ack_pending();
    if (ticker_asleep_) {
      // The next deadline of R16: a PING to send, silence (a), or an unanswered frame (b).
      auto due = std::min(last_outbound_ + options_.heartbeat_interval,
                          peer_heard_at(clock::now()) + options_.heartbeat_timeout);
      if (awaiting_answer()) due = std::min(due, last_progress_ + options_.heartbeat_timeout);
      // Never longer than a heartbeat interval, so that a clock moved by a pause (R15) is late by at
      // most that much.
      const auto interval = std::chrono::duration_cast<clock::duration>(options_.heartbeat_interval);
      wait = std::max(wait, std::min(due - clock::now(), interval));
    }
    ticker_.expires_after(wait);
    auto [woken] = co_await ticker_.async_wait(asio::as_tuple(use_awaitable));
    ticker_asleep_ = false;
    if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
    if (woken == asio::error::operation_aborted) continue;  // data arrived: acknowledge it a tick from now
    const auto now = clock::now();
    if (state_.ack_pending()) {
      ack_due_ = true;
      writer_wake_.cancel();
    }
    if (now - last_outbound_ >= options_.heartbeat_interval && !done()) {  // R16
      ping_due_ = true;
      writer_wake_.cancel();
    }
    // R16 (a): the peer has gone silent; (b): it is not answering what we sent, as when only the
    // path towards it is cut and we still hear it.
    const bool silent = now - peer_heard_at(now) >= options_.heartbeat_timeout;
    const bool unanswered = !rx_paused_ && !peer_paused_ && awaiting_answer() &&
                            now - last_progress_ >= options_.heartbeat_timeout;
    if (silent || unanswered) {
      co_return make_error_code(done() ? errc::session_closed : errc::network_reset);
    }
  }
}

clock::time_point session_impl::peer_heard_at(clock::time_point now) const {
  // R16 (a) counts when the peer's packets arrived, as the OS saw them, where it says (TCP_INFO): a
  // frame read now may have waited in the socket's buffer behind a slow application for longer than
  // the timeout, and a side that stopped reading (R15) still hears the acknowledgements of its PINGs.
  if (auto* socket = conn_ ? conn_->socket() : nullptr) {
    if (const auto silence = peer_silence(static_cast<native_socket>(socket->native_handle())))
      return now - *silence;
  }
  // Elsewhere (and over a byte_stream) a paused side's clock stands still: it is not reading what would renew
  // it.
  return rx_paused_ ? now : last_inbound_;
}

}  // namespace lifeline::detail
