// The session state machine (docs/protocol.md sections 3-7): handshakes on the client side, offsets and
// acknowledgements, the replay and receive buffers, heartbeats, and reconnecting.
#include "session_impl.hpp"

#include "../platform/platform.hpp"
#include "crypto.hpp"

#include <fmt/format.h>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace lifeline {

namespace detail {
namespace {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;
using std::chrono::milliseconds;

constexpr std::size_t ack_threshold = 256u << 10;  // R13
constexpr std::size_t max_data_frame = 256u << 10;
constexpr std::size_t max_batch = 1u << 20;
constexpr milliseconds tick{20};  // R13's delayed acknowledgement, and heartbeat checks
constexpr std::size_t initial_read_buffer = 4u << 10;
constexpr int max_reader_turns = 3;  // event-loop turns a frame waits for the application's next read

void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

std::array<std::uint8_t, 8> be64(std::uint64_t v) {
  std::array<std::uint8_t, 8> out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return out;
}

asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

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

std::error_code error_from_frame(const wire::frame& f) {
  if (f.value >= 1 && f.value <= static_cast<std::uint64_t>(errc::session_closed)) {
    return make_error_code(static_cast<errc>(f.value));
  }
  return make_error_code(errc::malformed_frame);
}

}  // namespace

asio::awaitable<std::error_code> read_frame(transport& s, std::vector<std::uint8_t>& buffer,
                                            std::chrono::milliseconds timeout, wire::frame& out) {
  asio::steady_timer timer(s.get_executor(), timeout);
  auto body = [&]() -> asio::awaitable<std::error_code> {
    buffer.resize(wire::header_size);
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(buffer), asio::as_tuple(use_awaitable));
    if (ec) co_return ec;
    auto r = wire::decode(buffer);
    if (!r.error && r.consumed == 0) {
      // Handshake frames are small; anything longer than an ERROR's text is not one (R2, R4).
      if (r.needed > wire::header_size + wire::max_error_text)
        co_return make_error_code(errc::frame_too_large);
      buffer.resize(r.needed);
      auto [ec2, n2] = co_await asio::async_read(
          s, asio::buffer(buffer.data() + wire::header_size, r.needed - wire::header_size),
          asio::as_tuple(use_awaitable));
      if (ec2) co_return ec2;
      r = wire::decode(buffer);
    }
    if (r.error) co_return r.error;
    out = r.value;
    co_return std::error_code();
  };
  auto result = co_await (body() || timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::get<0>(result);
}

asio::awaitable<std::error_code> write_frame(transport& s, wire::frame_type type, std::uint64_t value,
                                             wire::bytes payload, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(s.get_executor(), timeout);
  const auto header = wire::encode_header(type, value, payload);
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(header),
                                                     asio::buffer(payload.data(), payload.size())};
  auto result = co_await (asio::async_write(s, buffers, asio::as_tuple(use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::error_code(std::get<0>(std::get<0>(result)));
}

asio::awaitable<std::error_code> tls_handshake(transport& s, bool client, std::chrono::milliseconds timeout) {
#ifndef LIFELINE_WITH_TLS
  (void)s, (void)client, (void)timeout;
  co_return std::error_code();  // plain TCP only (validate() refuses a TLS context)
#else
  auto* tls = s.tls();
  if (!tls) co_return std::error_code();
  asio::steady_timer timer(s.get_executor(), timeout);
  const auto type = client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  auto result = co_await (tls->async_handshake(type, asio::as_tuple(use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::error_code(std::get<0>(std::get<0>(result)));
#endif
}

asio::awaitable<void> refuse(transport& s, errc code, std::string_view text) {
  text = text.substr(0, wire::max_error_text);
  co_await write_frame(s, wire::frame_type::error, static_cast<std::uint64_t>(code), as_bytes(text),
                       milliseconds(1000));
  s.shutdown_send();
  s.close();
}

session_impl::session_impl(strand_type strand, session_options options, role r)
    : strand_(strand),
      options_(std::move(options)),
      role_(r),
      out_(options_.replay_capacity),
      in_(options_.receive_capacity),
      writer_wake_(strand_, clock::time_point::max()),
      reader_wake_(strand_, clock::time_point::max()),
      attach_wake_(strand_, clock::time_point::max()),
      ticker_(strand_),
      jitter_state_(options_.seed != 0 ? options_.seed : random_u64()) {}

void session_impl::emit(session_event e) {
  if (options_.on_event) options_.on_event(e);
}

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

asio::awaitable<std::error_code> session_impl::handshake(transport& s, bool resume,
                                                         std::uint64_t& peer_received) {
  const scoped_pointer reachable(handshaking_, s);  // for fail()
  if (failed_) co_return failed_;
  const auto timeout = options_.handshake_timeout;
  {
    asio::steady_timer timer(strand_, timeout);
    auto connected = co_await (s.socket().async_connect(server_, asio::as_tuple(use_awaitable)) ||
                               timer.async_wait(asio::as_tuple(use_awaitable)));
    if (connected.index() == 1) co_return make_error_code(errc::handshake_timeout);
    if (auto [ec] = std::get<0>(connected); ec) co_return ec;
  }
  boost::system::error_code ignored;
  s.socket().set_option(tcp::no_delay(true), ignored);
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
  if (wire::version < hello.min_version || wire::version > hello.max_version) {  // R6
    co_await refuse(s, errc::unsupported_version, fmt::format("client speaks version {}", wire::version));
    co_return make_error_code(errc::unsupported_version);
  }
  if (hello.psk_required && options_.psk.empty()) co_return make_error_code(errc::resume_rejected);
  const auto psk = as_bytes(options_.psk);

  if (!resume) {
    wire::client_hello ch;
    random_bytes(ch.client_nonce);
    if (!psk.empty())
      ch.key_proof = hmac(psk, {as_bytes("lifeline hello"), hello.server_nonce, ch.client_nonce});
    const auto payload = wire::encode(ch);
    if (auto ec = co_await write_frame(s, wire::frame_type::client_hello, 0, payload, timeout)) co_return ec;
    if (auto ec = co_await read_frame(s, buffer, timeout, f)) co_return ec;
    if (f.type == wire::frame_type::error) co_return error_from_frame(f);
    wire::welcome w;
    if (f.type != wire::frame_type::welcome || wire::parse(f.payload, w))
      co_return make_error_code(errc::malformed_frame);
    if (w.version != wire::version) co_return make_error_code(errc::unsupported_version);
    if (!psk.empty()) {  // R7
      const auto expected =
          hmac(psk, {as_bytes("lifeline welcome"), ch.client_nonce, hello.server_nonce, w.id});
      if (!equal_constant_time(expected, w.server_proof)) co_return make_error_code(errc::resume_rejected);
      secret_ = hmac(psk, {as_bytes("lifeline secret"), w.id, hello.server_nonce, ch.client_nonce});
    } else {
      secret_ = w.secret;
    }
    id_ = w.id;
    peer_received = 0;
    co_return std::error_code();
  }

  wire::resume_request rr;  // R9
  rr.id = id_;
  rr.proof = hmac(secret_, {as_bytes("lifeline resume"), hello.server_nonce, id_, be64(received_)});
  const auto payload = wire::encode(rr);
  if (auto ec = co_await write_frame(s, wire::frame_type::resume, received_, payload, timeout)) co_return ec;
  if (auto ec = co_await read_frame(s, buffer, timeout, f)) co_return ec;
  if (f.type == wire::frame_type::error) co_return error_from_frame(f);
  if (f.type != wire::frame_type::resumed) co_return make_error_code(errc::malformed_frame);
  peer_received = f.value;
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
    s = std::make_shared<transport>(strand_, options_.tls);
    last = co_await handshake(*s, resume, peer_received);
    if (failed_) co_return failed_;
    if (!last || fatal_handshake_error(last)) co_return last;
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
    const auto resent = sent_high_ - std::max(peer_received, acked_);
    emit({.what = session_event::kind::resumed,
          .cause = {},
          .elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - reset_at),
          .bytes_resent = peer_received <= sent_high_ ? resent : 0,
          .attempts = attempts + 1});
  }
}

void session_impl::start_server(std::shared_ptr<transport> s) {
  asio::co_spawn(
      strand_, [self = shared_from_this(), s]() mutable { return self->run_server(std::move(s)); }, rethrow);
}

void session_impl::resume_with(std::shared_ptr<transport> s, std::uint64_t peer_received) {
  if (pending_conn_) {
    pending_conn_->abort();
  }
  pending_conn_ = std::move(s);
  pending_peer_received_ = peer_received;
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
    if (auto ec =
            co_await write_frame(*s, wire::frame_type::resumed, received_, {}, options_.handshake_timeout)) {
      continue;  // that connection failed too; run_connection sees it closed and we wait again
    }
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
  if (peer_received < acked_ || peer_received > sent_high_)
    return make_error_code(errc::offset_out_of_range);  // R12
  if (peer_received > acked_) acknowledge(peer_received);
  stats_.bytes_resent += sent_high_ - peer_received;
  sent_ = peer_received;
  ack_sent_ = received_;  // the resume handshake told the peer
  if (peer_closed_ && read_handler_) deliver();
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

asio::awaitable<std::error_code> session_impl::read_loop(std::shared_ptr<transport> s) {
  // Small at first, so that an idle session holds a few KiB rather than a whole frame's worth; grown to
  // the largest frame the first time the buffer fills.
  std::vector<std::uint8_t> buffer(initial_read_buffer);
  std::size_t have = 0;
  while (true) {
    std::size_t pos = 0;
    while (true) {
      const auto r = wire::decode({buffer.data() + pos, have - pos});
      if (r.error) {  // R1-R3: never delivered; the connection is dropped and the bytes are resent
        ++stats_.frames_rejected;
        co_return r.error;
      }
      if (r.consumed == 0) break;
      if (r.value.type == wire::frame_type::data && r.value.value + r.value.payload.size() > received_) {
        const auto fresh = r.value.value + r.value.payload.size() - std::max(r.value.value, received_);
        // The application has just been handed a read and is likely to ask again soon (a relay first
        // writes what it read, which completes a turn of the event loop later): give it a few turns, so
        // that this frame goes straight into its buffer rather than through the receive ring.
        for (int turn = 0; turn < max_reader_turns && read_completing_ && !read_handler_ && in_.empty();
             ++turn) {
          // Through the executor under the strand: a post to the strand itself could run at once in the
          // strand's current batch, before the application's handlers queued outside it.
          co_await asio::post(strand_.get_inner_executor(), use_awaitable);
          if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
        }
        read_completing_ = false;
        const auto paused_at = clock::now();
        while (in_.free() < fresh) {  // R15: wait for the application to read
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
    if (ticker_asleep_ && received_ > ack_sent_) {
      ticker_asleep_ = false;
      ticker_.cancel();
    }
    std::memmove(buffer.data(), buffer.data() + pos, have - pos);
    have -= pos;
    if (have == buffer.size()) buffer.resize(wire::header_size + wire::max_payload);
    auto [ec, n] = co_await s->async_read_some(asio::buffer(buffer.data() + have, buffer.size() - have),
                                               asio::as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::eof && done()) co_return std::error_code();
      co_return ec;  // an end of file here is a lost path or a vanished peer, never a clean end (R17)
    }
    have += n;
    last_inbound_ = clock::now();
    if (received_ - ack_sent_ >= ack_threshold) writer_wake_.cancel();
  }
}

std::error_code session_impl::on_frame(const wire::frame& f) {
  using wire::frame_type;
  const bool paused = (f.flags & wire::flag_paused) != 0;
  if (peer_paused_ && !paused) last_progress_ = clock::now();  // its clock stood still while paused
  peer_paused_ = paused;
  switch (f.type) {
    case frame_type::data: {  // R11
      if (peer_closed_ || f.value > received_) return make_error_code(errc::malformed_frame);
      const auto skip = received_ - f.value;
      if (skip >= f.payload.size()) return {};
      const auto fresh = f.payload.subspan(skip);
      received_ += fresh.size();
      deliver(fresh, true);
      return {};
    }
    case frame_type::ack:  // R13
      if (f.value < acked_ || f.value > sent_high_) return make_error_code(errc::malformed_frame);
      acknowledge(f.value);
      return {};
    case frame_type::ping:
      pong_due_ = f.value;
      writer_wake_.cancel();
      return {};
    case frame_type::pong:
      ping_outstanding_ = false;
      last_progress_ = clock::now();
      return {};
    case frame_type::close:  // R17
      if (peer_closed_ && f.value + 1 == received_) return {};
      if (peer_closed_ || f.value != received_) return make_error_code(errc::malformed_frame);
      received_ += 1;
      peer_closed_ = true;
      writer_wake_.cancel();
      deliver();
      return {};
    case frame_type::error:  // R18
      fail(error_from_frame(f));
      return failed_;
    default:
      return make_error_code(errc::malformed_frame);
  }
}

void session_impl::acknowledge(std::uint64_t value) {
  if (value > acked_) last_progress_ = clock::now();
  const auto data_acked = std::min(value, written_) - std::min(acked_, written_);
  out_.consume(data_acked);
  acked_ = value;
  if (shutdown_requested_ && value == written_ + 1 && !fin_acked_) {
    fin_acked_ = true;
    if (shutdown_handler_)
      complete(strand_, std::move(*std::exchange(shutdown_handler_, std::nullopt)),
               boost::system::error_code());
    writer_wake_.cancel();
  }
  fill();
}

asio::awaitable<std::error_code> session_impl::write_loop(std::shared_ptr<transport> s) {
  std::array<wire::header_bytes, 16> headers;
  std::vector<asio::const_buffer> buffers;
  bool shut = false;
  while (true) {
    buffers.clear();
    std::size_t count = 0;
    auto control = [&](wire::frame_type type, std::uint64_t value) {
      headers[count] = wire::encode_header(type, value, {}, {}, frame_flags());
      buffers.push_back(asio::buffer(headers[count++]));
    };
    if (pong_due_) control(wire::frame_type::pong, *std::exchange(pong_due_, std::nullopt));
    const bool was_awaiting = awaiting_answer();
    if (ping_due_) {
      control(wire::frame_type::ping, static_cast<std::uint64_t>(clock::now().time_since_epoch().count()));
      ping_due_ = false;
      ping_outstanding_ = true;
    }
    std::size_t batch = 0;
    while (sent_ < written_ && count < headers.size() - 2 && batch < max_batch) {
      const auto n = std::min<std::uint64_t>(max_data_frame, written_ - sent_);
      const auto [a, b] = out_.view(sent_ - acked_, n);
      headers[count] = wire::encode_header(wire::frame_type::data, sent_, a, b, frame_flags());
      buffers.push_back(asio::buffer(headers[count++]));
      buffers.push_back(asio::buffer(a.data(), a.size()));
      if (!b.empty()) buffers.push_back(asio::buffer(b.data(), b.size()));
      sent_ += n;
      batch += n;
    }
    if (shutdown_requested_ && sent_ == written_) {  // R17: CLOSE takes the unit after the last byte
      control(wire::frame_type::close, written_);
      sent_ = written_ + 1;
    }
    sent_high_ = std::max(sent_high_, sent_);
    if (!was_awaiting && awaiting_answer()) last_progress_ = clock::now();
    if (received_ > ack_sent_ &&
        (ack_due_ || batch > 0 || peer_closed_ || received_ - ack_sent_ >= ack_threshold)) {
      control(wire::frame_type::ack, received_);
      ack_sent_ = received_;
      ack_due_ = false;
    }
    if (buffers.empty()) {
      if (done() && !shut) {  // everything sent and acknowledged both ways: end the TCP stream cleanly
        s->shutdown_send();
        shut = true;
      }
      co_await writer_wake_.async_wait(asio::as_tuple(use_awaitable));
      if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
      continue;
    }
    auto [ec, n] = co_await asio::async_write(*s, buffers, asio::as_tuple(use_awaitable));
    if (ec) co_return ec;
    last_outbound_ = clock::now();
    if (peer_closed_ && read_handler_) deliver();  // the end of file waited for this ACK
  }
}

asio::awaitable<std::error_code> session_impl::tick_loop() {
  // Every tick while an acknowledgement is pending (R13); otherwise asleep until the next heartbeat or
  // timeout is due (R16), and woken by the read loop when data arrives: a tick per idle session would
  // cost a server with thousands of them whole cores.
  while (true) {
    auto wait = std::chrono::duration_cast<clock::duration>(tick);
    ticker_asleep_ = received_ == ack_sent_;
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
    if (received_ > ack_sent_) {
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
  if (conn_) {
    if (const auto silence = peer_silence(static_cast<native_socket>(conn_->socket().native_handle())))
      return now - *silence;
  }
  // Elsewhere a paused side's clock stands still: it is not reading what would renew it.
  return rx_paused_ ? now : last_inbound_;
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

}  // namespace detail

}  // namespace lifeline
