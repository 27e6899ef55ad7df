// A session's life: its connections one after another (the client's in reconnect.cpp, the server's
// here), attaching each to the streams (R12), and how the session ends: closed, failed or finished.
#include "session_impl.hpp"

#include "crypto.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lifeline::detail {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;
using std::chrono::milliseconds;

session_impl::session_impl(strand_type strand, session_options options, role r)
    : strand_(strand),
      options_(std::move(options)),
      role_(r),
      state_(options_.replay_capacity, options_.receive_capacity),
      writer_wake_(strand_, clock::time_point::max()),
      reader_wake_(strand_, clock::time_point::max()),
      attach_wake_(strand_, clock::time_point::max()),
      ticker_(strand_),
      jitter_state_(options_.seed != 0 ? options_.seed : random_u64()) {}

void session_impl::emit(session_event e) {
  if (options_.on_event) options_.on_event(e);
}

void session_impl::start_server(std::shared_ptr<transport> s) {
  asio::co_spawn(
      strand_, [self = shared_from_this(), s]() mutable { return self->run_server(std::move(s)); }, rethrow);
}

void session_impl::resume_with(std::shared_ptr<transport> s, std::uint64_t peer_received,
                               const handshake::transcript& t, const x25519_pair& own) {
  if (pending_conn_) {
    pending_conn_->abort();
  }
  pending_conn_ = std::move(s);
  pending_peer_received_ = peer_received;
  pending_transcript_ = t;
  pending_pair_ = own;
  if (conn_) {  // R10: the resumed connection replaces the old one.
    drop_reason_ = make_error_code(errc::connection_reset);
    conn_->abort();
  }
  attach_wake_.cancel();
}

asio::awaitable<void> session_impl::run_server(std::shared_ptr<transport> s) {
  auto self = shared_from_this();
  std::uint64_t peer_received = 0;
  emit({.what = session_event::kind::established,
        .cause = {},
        .elapsed = {},
        .bytes_resent = 0,
        .attempts = 0});
  while (true) {
    auto cause = co_await run_connection(s, peer_received);
    if (done()) finish_cleanly();
    if (failed_ || finished_) break;
    clock::time_point reset_at = clock::now();
    if (!pending_conn_) {
      ++stats_.resets;
      emit({.what = session_event::kind::reset,
            .cause = cause,
            .elapsed = {},
            .bytes_resent = 0,
            .attempts = 0});
      attach_wake_.expires_after(linger_);
      co_await attach_wake_.async_wait(asio::as_tuple(use_awaitable));
      if (failed_) break;
      if (!pending_conn_) {  // R20: nobody came back within the linger time
        fail(make_error_code(errc::session_not_found));
        break;
      }
    }
    s = std::move(pending_conn_);
    peer_received = pending_peer_received_;
    wire::resumed answer;  // R9, R22
    std::optional<handshake::traffic_keys> keys;
    // The connection's own key pair is needed for this answer only: not kept beyond it.
    const auto own = std::exchange(pending_pair_, {});
    if (handshake::make_resumed(as_bytes(options_.psk), secret_, own, state_.received(), pending_transcript_,
                                answer, keys)) {
      co_await refuse(*s, errc::resume_rejected, "the client's key share is of small order");
      continue;  // run_connection sees that connection closed and we wait again
    }
    if (auto ec = co_await write_frame(*s, wire::frame_type::resumed, state_.received(), wire::encode(answer),
                                       options_.handshake_timeout)) {
      continue;  // that connection failed too; run_connection sees it closed and we wait again
    }
    if (keys) s->cipher = std::make_unique<frame_cipher>(*keys, false);  // R21
    ++stats_.resumes;
    emit({.what = session_event::kind::resumed,
          .cause = {},
          .elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - reset_at),
          .bytes_resent = 0,
          .attempts = 0});
  }
  if (on_finished) on_finished();
}

std::error_code session_impl::attach(std::uint64_t peer_received) {
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  if (auto ec = state_.attach(peer_received, effect, resent)) return ec;  // R12
  acknowledged(effect);
  stats_.bytes_resent += resent;
  if (state_.peer_closed() && read_handler_) deliver();
  return {};
}

asio::awaitable<std::error_code> session_impl::run_connection(std::shared_ptr<transport> s,
                                                              std::uint64_t peer_received) {
  if (auto ec = attach(peer_received)) {
    co_await refuse(*s, errc::offset_out_of_range, "resume offset outside the replay buffer");
    fail(ec);
    co_return ec;
  }
  conn_ = s;
  last_inbound_ = last_outbound_ = last_progress_ = clock::now();
  rx_paused_ = ping_due_ = ping_outstanding_ = peer_paused_ = false;
  pong_due_.reset();
  if (!s->is_open()) {
    conn_.reset();
    co_return make_error_code(errc::connection_reset);
  }
  auto result = co_await (read_loop(s) || write_loop(s) || tick_loop());
  conn_.reset();
  if (done()) {
    s->close();
  } else {
    s->abort();
  }
  std::error_code cause = std::visit([](auto& ec) { return ec; }, result);
  if (drop_reason_) cause = std::exchange(drop_reason_, {});
  co_return cause;
}

void session_impl::drop_connection() {
  if (!conn_) return;
  drop_reason_ = make_error_code(errc::network_reset);
  conn_->abort();
}

void session_impl::close() {
  if (failed_ || finished_) return;
  // R17: this side is done, but the peer may still wait for the ACK of its CLOSE. An ERROR now would fail
  // a session that ended well (the tunnel closes its session as soon as both streams have ended), so
  // the connection is left to send that ACK and end by itself, bounded by the heartbeat timeout.
  if (done()) return;
  // Tell the peer, so that it fails at once instead of trying to resume (R18).
  if (auto s = conn_) {
    asio::co_spawn(
        strand_,
        [s, self = shared_from_this()]() -> asio::awaitable<void> {
          co_await refuse(*s, errc::session_closed, "the peer closed the session");
        },
        asio::detached);
  }
  conn_.reset();
  fail(boost::system::error_code(asio::error::operation_aborted));
}

void session_impl::fail(std::error_code ec) {
  if (failed_) return;
  failed_ = ec;
  finished_ = true;
  deliver();
  fill();
  if (shutdown_handler_)
    complete(strand_, std::move(*std::exchange(shutdown_handler_, std::nullopt)),
             boost::system::error_code(ec));
  if (conn_) conn_->abort();
  if (pending_conn_) pending_conn_->abort();
  // A close() or a cancelled async_connect ends a handshake or a backoff between attempts at once.
  if (handshaking_) handshaking_->abort();
  if (backing_off_) backing_off_->cancel();
  if (dialing_) dialing_->cancel();
  writer_wake_.cancel();
  reader_wake_.cancel();
  attach_wake_.cancel();
  if (ec != std::error_code(boost::system::error_code(asio::error::operation_aborted)))
    emit({.what = session_event::kind::failed, .cause = ec, .elapsed = {}, .bytes_resent = 0, .attempts = 0});
}

void session_impl::finish_cleanly() {
  if (finished_) return;
  finished_ = true;
  emit({.what = session_event::kind::closed, .cause = {}, .elapsed = {}, .bytes_resent = 0, .attempts = 0});
}

}  // namespace lifeline::detail
