// The client's side of a session: connecting, the handshakes of a new session and of a resume
// (docs/protocol.md R5-R9), and reconnecting with backoff after a reset (R19).
#include "session_impl.hpp"

#include "crypto.hpp"
#include "handshake.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace lifeline::detail {
namespace {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;
using std::chrono::milliseconds;

// A refusal that another attempt cannot change: a wrong key or proof, no common version, a session the
// server no longer has, the server's limits, or a TLS peer that failed verification.
bool fatal_handshake_error(const std::error_code& ec) {
#ifdef LIFELINE_WITH_TLS
  if (ec.category() == asio::error::get_ssl_category()) return true;
#endif
  return ec == errc::resume_rejected || ec == errc::session_not_found || ec == errc::unsupported_version ||
         ec == errc::offset_out_of_range || ec == errc::session_closed || ec == errc::session_limit_reached ||
         ec == errc::memory_limit_reached;
}

}  // namespace

void session_impl::start_connect(session::wait_handler handler) {
  if (auto ec = options_.validate(); ec)
    return complete(strand_, std::move(handler), boost::system::error_code(ec));
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), h = std::move(handler)]() mutable {
        return self->run_client(std::move(h));
      },
      rethrow);
}

asio::awaitable<std::error_code> session_impl::connect(std::shared_ptr<transport>& s) {
  if (failed_) co_return failed_;
  asio::steady_timer timer(strand_, options_.handshake_timeout);
  if (options_.dial) {                               // a byte_stream of the application's
    const scoped_pointer wakeable(dialing_, timer);  // fail() ends the wait
    auto token = asio::as_tuple(use_awaitable);
    auto dialed = co_await (
        asio::async_initiate<decltype(token), void(boost::system::error_code, std::unique_ptr<byte_stream>)>(
            [this](auto handler) { options_.dial(server_, dial_handler(std::move(handler))); }, token) ||
        timer.async_wait(asio::as_tuple(use_awaitable)));
    if (failed_) co_return failed_;
    if (dialed.index() == 1) co_return make_error_code(errc::handshake_timeout);
    auto [ec, stream] = std::move(std::get<0>(dialed));
    if (ec) co_return ec;
    if (!stream) co_return make_error_code(errc::invalid_argument);
    s = std::make_shared<transport>(std::move(stream), server_);
    co_return std::error_code();
  }
  s = std::make_shared<transport>(strand_, options_.tls);
  const scoped_pointer reachable(handshaking_, *s);  // fail() aborts it
  auto connected = co_await (s->socket()->async_connect(server_, asio::as_tuple(use_awaitable)) ||
                             timer.async_wait(asio::as_tuple(use_awaitable)));
  if (connected.index() == 1) co_return make_error_code(errc::handshake_timeout);
  if (auto [ec] = std::get<0>(connected); ec) co_return ec;
  boost::system::error_code ignored;
  s->socket()->set_option(tcp::no_delay(true), ignored);
  co_return std::error_code();
}

asio::awaitable<std::error_code> session_impl::handshake(transport& s, bool resume,
                                                         std::uint64_t& peer_received) {
  const scoped_pointer reachable(handshaking_, s);  // for fail()
  if (failed_) co_return failed_;
  const auto timeout = options_.handshake_timeout;
#ifdef LIFELINE_WITH_TLS
  if (auto* tls = s.tls(); tls && !options_.tls_server_name.empty()) {
    SSL_set_tlsext_host_name(tls->native_handle(), options_.tls_server_name.c_str());
    tls->set_verify_callback(asio::ssl::host_name_verification(options_.tls_server_name));
  }
#endif
  if (auto ec = co_await tls_handshake(s, true, timeout)) co_return ec;

  std::vector<std::uint8_t> buffer;
  wire::frame f;
  if (auto ec = co_await read_frame(s, buffer, timeout, f)) co_return ec;
  if (f.type == wire::frame_type::error) co_return error_from_frame(f);
  wire::server_hello hello;
  if (f.type != wire::frame_type::server_hello || wire::parse(f.payload, hello)) {
    co_return make_error_code(errc::malformed_frame);
  }
  if (!handshake::version_offered(hello)) {  // R6
    co_await refuse(s, errc::unsupported_version,
                    fmt::format("this client speaks protocol version {}; the server speaks {} to {}",
                                wire::version, hello.min_version, hello.max_version));
    co_return make_error_code(errc::unsupported_version);
  }
  const auto psk = as_bytes(options_.psk);
  if (auto ec = handshake::check_server_hello(psk, hello)) co_return ec;

  // R22: a key pair of this connection's own, with a pre-shared key.
  const auto own = psk.empty() ? x25519_pair{} : x25519_pair::generate();
  wire::nonce client_nonce;
  random_bytes(client_nonce);
  handshake::transcript t;
  std::optional<handshake::traffic_keys> keys;
  if (!resume) {
    const auto ch = handshake::make_client_hello(psk, hello, client_nonce, own, t);
    wire::welcome w;
    if (auto ec = co_await ask(s, wire::frame_type::client_hello, 0, wire::encode(ch),
                               wire::frame_type::welcome, timeout, buffer, f))
      co_return ec;
    if (wire::parse(f.payload, w)) co_return make_error_code(errc::malformed_frame);
    if (auto ec = handshake::accept_welcome(psk, own, w, t, secret_, keys)) co_return ec;  // R7, R8
    id_ = w.id;
    peer_received = 0;
  } else {
    const auto rr = handshake::make_resume(psk, secret_, hello, id_, state_.received(), client_nonce, own, t);
    wire::resumed answer;
    if (auto ec = co_await ask(s, wire::frame_type::resume, state_.received(), wire::encode(rr),
                               wire::frame_type::resumed, timeout, buffer, f))
      co_return ec;
    if (wire::parse(f.payload, answer)) co_return make_error_code(errc::malformed_frame);
    if (auto ec = handshake::accept_resumed(psk, secret_, own, answer, f.value, t, keys)) co_return ec;  // R9
    peer_received = f.value;
  }
  if (keys) s.cipher = std::make_unique<frame_cipher>(*keys, true);  // R21: every frame from here on
  co_return std::error_code();
}

asio::awaitable<std::error_code> session_impl::connect_retrying(bool resume, std::shared_ptr<transport>& s,
                                                                std::uint64_t& peer_received,
                                                                unsigned& attempts) {
  // R19. A new session's first connection is retried as a resume is: a reset, a refusal while the
  // server restarts or a timeout before the session exists is as transient as one after.
  const auto started = clock::now();
  asio::steady_timer backoff(strand_);
  const scoped_pointer wakeable(backing_off_, backoff);  // fail() wakes it
  std::error_code last;
  for (attempts = 0;; ++attempts) {
    if (resume || attempts > 0) {
      const auto delay = options_.retry.delay(resume ? attempts : attempts - 1, next_jitter());
      if (clock::now() - started + delay > options_.retry.deadline)
        co_return resume ? make_error_code(errc::resume_deadline_exceeded) : last;
      backoff.expires_after(delay);
      co_await backoff.async_wait(asio::as_tuple(use_awaitable));
      if (failed_) co_return failed_;
    }
    last = co_await connect(s);
    if (!last) last = co_await handshake(*s, resume, peer_received);
    if (failed_) co_return failed_;
    // On a resume a failed proof is retried too: the secret verified a moment ago, so a proof that
    // fails now is the path's doing (a SERVER_HELLO nonce changed on the way, its checksum recomputed),
    // which the next connection need not meet; the deadline still bounds it.
    const bool path_tampered = resume && last == errc::resume_rejected;
    if (!last || (fatal_handshake_error(last) && !path_tampered)) co_return last;
  }
}

asio::awaitable<void> session_impl::run_client(session::wait_handler connected) {
  auto self = shared_from_this();
  std::uint64_t peer_received = 0;
  std::shared_ptr<transport> s;
  unsigned attempts = 0;
  if (auto ec = co_await connect_retrying(false, s, peer_received, attempts)) {
    failed_ = ec;
    finished_ = true;
    complete(strand_, std::move(connected), boost::system::error_code(ec));
    co_return;
  }
  complete(strand_, std::move(connected), boost::system::error_code());
  emit({.what = session_event::kind::established,
        .cause = {},
        .elapsed = {},
        .bytes_resent = 0,
        .attempts = attempts + 1});

  while (true) {
    auto cause = co_await run_connection(s, peer_received);
    if (done()) finish_cleanly();
    if (failed_ || finished_) co_return;
    ++stats_.resets;
    const auto reset_at = clock::now();
    emit({.what = session_event::kind::reset,
          .cause = cause,
          .elapsed = {},
          .bytes_resent = 0,
          .attempts = 0});
    if (auto ec = co_await connect_retrying(true, s, peer_received, attempts)) {
      fail(ec);
      co_return;
    }
    ++stats_.resumes;
    const auto resent = state_.sent_high() - std::max(peer_received, state_.acked());
    emit({.what = session_event::kind::resumed,
          .cause = {},
          .elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - reset_at),
          .bytes_resent = peer_received <= state_.sent_high() ? resent : 0,
          .attempts = attempts + 1});
  }
}

}  // namespace lifeline::detail
