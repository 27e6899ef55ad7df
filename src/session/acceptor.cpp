// The server side of the protocol's handshakes (docs/protocol.md R5-R10): new sessions, resumes routed
// to their session, limits; and the public session and session_acceptor objects.
#include "../accept_loop.hpp"
#include "../listener.hpp"
#include "crypto.hpp"
#include "session_impl.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <system_error>

namespace lifeline {

namespace detail {

class acceptor_impl : public std::enable_shared_from_this<acceptor_impl> {
 public:
  acceptor_impl(strand_type strand, const tcp::endpoint& listen, server_options options)
      : strand_(strand), acceptor_(make_listener(strand, listen)), options_(std::move(options)) {}

  void start() {
    asio::co_spawn(
        strand_, [self = shared_from_this()] { return self->accept_loop(); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }

  void start_accept(session_acceptor::accept_handler handler, std::uint64_t serial) {
    if (accept_handler_) {
      return post_result(std::move(handler), asio::error::in_progress, nullptr);
    }
    accept_handler_ = std::move(handler);
    accept_serial_ = serial;
    hand_over();
  }

  /// A cancelled async_accept (see connect_cancellation()). A waiting accept has taken no session, so
  /// every type; a session that becomes ready afterwards waits in ready_ for the next accept.
  void cancel(operation, std::uint64_t serial, asio::cancellation_type) {
    if (!accept_handler_ || accept_serial_ != serial) return;
    post_result(std::move(*std::exchange(accept_handler_, std::nullopt)), asio::error::operation_aborted,
                nullptr);
  }

  void close() {
    closed_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& impl : ready_) impl->close();
    ready_.clear();
    if (accept_handler_) {
      post_result(std::move(*std::exchange(accept_handler_, std::nullopt)), asio::error::operation_aborted,
                  nullptr);
    }
  }

  strand_type strand_;
  tcp::acceptor acceptor_;
  server_options options_;
  std::map<wire::session_id, std::shared_ptr<session_impl>> sessions_;
  std::atomic<std::uint64_t> next_serial_{0};  // connect_cancellation()'s

 private:
  void post_result(session_acceptor::accept_handler handler, boost::system::error_code ec,
                   std::shared_ptr<session_impl> impl) {
    complete(strand_, std::move(handler), ec, session::from_impl(std::move(impl)));
  }

  void hand_over() {
    while (accept_handler_ && !ready_.empty()) {
      auto impl = std::move(ready_.front());
      ready_.pop_front();
      if (impl->finished()) continue;
      post_result(std::move(*std::exchange(accept_handler_, std::nullopt)), {}, std::move(impl));
    }
  }

  void report(transport& s, std::error_code ec, const std::string& text) {
    if (!options_.on_error) return;
    options_.on_error(s.peer(), ec, text);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    co_await detail::accept_loop(
        acceptor_, accept_handlers<tcp::socket>{
                       .accepted =
                           [&](tcp::socket socket) {
                             asio::co_spawn(strand_,
                                            handshake(self, std::make_shared<transport>(
                                                                std::move(socket), options_.session.tls)),
                                            asio::detached);
                           },
                       .log =
                           [&](const std::error_code& ec, const std::string& line) {
                             if (options_.on_error) options_.on_error({}, ec, line);
                           },
                       .closed = [&] { return closed_; }});
  }

  asio::awaitable<void> turn_away(transport& s, errc code, std::string text) {
    report(s, make_error_code(code), text);
    co_await refuse(s, code, text);
  }

  asio::awaitable<void> handshake(std::shared_ptr<acceptor_impl> self, std::shared_ptr<transport> s) {
    const auto timeout = options_.session.handshake_timeout;
    boost::system::error_code ignored;
    s->socket().set_option(tcp::no_delay(true), ignored);
    if (auto ec = co_await tls_handshake(*s, false, timeout)) {
      report(*s, ec, "TLS handshake failed: " + ec.message());
      s->close();
      co_return;
    }
    wire::server_hello hello;  // R5
    random_bytes(hello.server_nonce);
    hello.psk_required = !options_.session.psk.empty();
    if (auto ec = co_await write_frame(*s, wire::frame_type::server_hello, 0, wire::encode(hello), timeout)) {
      report(*s, ec, "could not send SERVER_HELLO");
      co_return;
    }
    std::vector<std::uint8_t> buffer;
    wire::frame f;
    if (auto ec = co_await read_frame(*s, buffer, timeout, f)) {
      if (ec == errc::handshake_timeout || ec == errc::malformed_frame || ec == errc::frame_too_large ||
          ec == errc::integrity_error) {
        co_await turn_away(*s, static_cast<errc>(ec.value()), "handshake failed: " + ec.message());
      } else {
        report(*s, ec, "connection lost during the handshake");
      }
      co_return;
    }
    const auto psk = as_bytes(options_.session.psk);

    if (f.type == wire::frame_type::client_hello) {
      wire::client_hello ch;
      if (wire::parse(f.payload, ch))
        co_return co_await turn_away(*s, errc::malformed_frame, "malformed CLIENT_HELLO");
      if (ch.version != wire::version) {  // R6
        co_return co_await turn_away(
            *s, errc::unsupported_version,
            fmt::format("version {} is not supported; this server speaks {}", ch.version, wire::version));
      }
      if (!psk.empty()) {  // R7
        const auto expected = hmac(psk, {as_bytes("lifeline hello"), hello.server_nonce, ch.client_nonce});
        if (!equal_constant_time(expected, ch.key_proof)) {
          co_return co_await turn_away(*s, errc::resume_rejected, "wrong pre-shared key");
        }
      }
      if (sessions_.size() >= options_.max_sessions) {
        co_return co_await turn_away(
            *s, errc::session_limit_reached,
            fmt::format("the server holds its maximum of {} sessions", options_.max_sessions));
      }
      const auto needed = options_.session.replay_capacity + options_.session.receive_capacity;
      if (memory_ + needed > options_.max_memory) {
        co_return co_await turn_away(
            *s, errc::memory_limit_reached,
            fmt::format("the server's replay memory cap of {} bytes is reached", options_.max_memory));
      }
      auto impl = std::make_shared<session_impl>(strand_, options_.session, role::server);
      impl->linger_ = options_.linger;
      wire::welcome w;  // R8
      random_bytes(w.id);
      impl->id_ = w.id;
      if (!psk.empty()) {
        w.server_proof = hmac(psk, {as_bytes("lifeline welcome"), ch.client_nonce, hello.server_nonce, w.id});
        impl->secret_ = hmac(psk, {as_bytes("lifeline secret"), w.id, hello.server_nonce, ch.client_nonce});
      } else {
        random_bytes(w.secret);
        impl->secret_ = w.secret;
      }
      if (auto ec = co_await write_frame(*s, wire::frame_type::welcome, 0, wire::encode(w), timeout)) {
        report(*s, ec, "could not send WELCOME");
        co_return;
      }
      memory_ += needed;
      sessions_[w.id] = impl;
      impl->on_finished = [weak = std::weak_ptr(self), id = w.id, needed] {
        if (auto a = weak.lock()) {
          if (a->sessions_.erase(id) > 0) a->memory_ -= needed;
        }
      };
      impl->start_server(s);
      ready_.push_back(std::move(impl));
      hand_over();
      co_return;
    }

    if (f.type == wire::frame_type::resume) {  // R9
      wire::resume_request rr;
      if (wire::parse(f.payload, rr))
        co_return co_await turn_away(*s, errc::malformed_frame, "malformed RESUME");
      if (rr.version != wire::version) {
        co_return co_await turn_away(*s, errc::unsupported_version,
                                     fmt::format("version {} is not supported", rr.version));
      }
      const auto it = sessions_.find(rr.id);
      if (it == sessions_.end() || it->second->finished()) {
        co_return co_await turn_away(*s, errc::session_not_found, "no such session on this server");
      }
      std::array<std::uint8_t, 8> offset{};
      for (int i = 0; i < 8; ++i) offset[i] = static_cast<std::uint8_t>(f.value >> (56 - 8 * i));
      const auto expected =
          hmac(it->second->secret_, {as_bytes("lifeline resume"), hello.server_nonce, rr.id, offset});
      if (!equal_constant_time(expected, rr.proof)) {
        co_return co_await turn_away(*s, errc::resume_rejected, "resume proof did not verify");
      }
      it->second->resume_with(s, f.value);
      co_return;
    }

    co_await turn_away(*s, errc::malformed_frame,
                       fmt::format("expected CLIENT_HELLO or RESUME, got {}", wire::to_string(f.type)));
  }

  std::deque<std::shared_ptr<session_impl>> ready_;
  std::optional<session_acceptor::accept_handler> accept_handler_;
  std::uint64_t accept_serial_ = 0;
  std::size_t memory_ = 0;
  bool closed_ = false;
};

}  // namespace detail

// session -------------------------------------------------------------------------------------------

session::session(executor_type ex, session_options options)
    : impl_(std::make_shared<detail::session_impl>(boost::asio::make_strand(ex), std::move(options),
                                                   detail::role::client)) {}
session::session(std::shared_ptr<detail::session_impl> impl) noexcept : impl_(std::move(impl)) {}
session::session(session&&) noexcept = default;
session& session::operator=(session&& other) noexcept {
  if (this != &other) {
    if (impl_) close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
session::~session() {
  if (impl_) close();
}

session session::from_impl(std::shared_ptr<detail::session_impl> impl) { return session(std::move(impl)); }

session::executor_type session::get_executor() const noexcept { return impl_->strand_; }

// Each operation's cancellation slot is connected here, in the initiating call's context, before the
// operation moves to the strand.

void session::start_connect(boost::asio::ip::tcp::endpoint ep, wait_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::connect);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, ep, serial, h = std::move(handler)]() mutable {
    impl->server_ = ep;
    impl->start_connect(impl->cancellable_connect(std::move(h), serial));
  });
}

void session::start_read(std::vector<boost::asio::mutable_buffer> buffers, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::read);
  boost::asio::dispatch(impl_->strand_,
                        [impl = impl_, serial, b = std::move(buffers), h = std::move(handler)]() mutable {
                          impl->start_read(std::move(b), std::move(h), serial);
                        });
}

void session::start_write(std::vector<boost::asio::const_buffer> buffers, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::write);
  boost::asio::dispatch(impl_->strand_,
                        [impl = impl_, serial, b = std::move(buffers), h = std::move(handler)]() mutable {
                          impl->start_write(std::move(b), std::move(h), serial);
                        });
}

void session::start_write_from(boost::asio::ip::tcp::socket& from, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::write);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, &from, serial, h = std::move(handler)]() mutable {
    impl->start_write_from(from, std::move(h), serial);
  });
}

void session::start_shutdown(wait_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::shutdown);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, serial, h = std::move(handler)]() mutable {
    impl->start_shutdown(std::move(h), serial);
  });
}

void session::close() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}

void session::drop_connection() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->drop_connection(); });
}

session_stats session::stats() const { return impl_->stats_; }

std::string session::id() const {
  if (impl_->id_ == wire::session_id{}) return {};
  std::string out;
  for (auto b : impl_->id_) out += fmt::format("{:02x}", b);
  return out;
}

std::chrono::milliseconds retry_policy::delay(unsigned attempt, std::uint64_t random) const noexcept {
  const auto ceiling = attempt >= 30 ? cap : std::min(cap, base * (std::int64_t{1} << attempt));
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(random % (static_cast<std::uint64_t>(ceiling.count()) + 1));
}

std::error_code session_options::validate(std::string* why) const {
  auto bad = [&](std::string text) {
    if (why) *why = std::move(text);
    return make_error_code(errc::invalid_argument);
  };
  if (replay_capacity < 64 * 1024) return bad("replay_capacity must be at least 64 KiB");
  if (receive_capacity < wire::max_payload) return bad("receive_capacity must be at least 1 MiB (R15)");
  if (heartbeat_interval.count() <= 0) return bad("heartbeat_interval must be positive");
  if (heartbeat_timeout <= heartbeat_interval) return bad("heartbeat_timeout must exceed heartbeat_interval");
  if (handshake_timeout.count() <= 0) return bad("handshake_timeout must be positive");
  if (retry.base.count() <= 0 || retry.cap < retry.base) return bad("retry: need 0 < base <= cap");
  if (retry.deadline.count() <= 0) return bad("retry: deadline must be positive");
#ifndef LIFELINE_WITH_TLS
  if (tls)
    return bad("TLS is not available: this build of lifeline has no OpenSSL (the Windows build); use a psk");
#endif
  return {};
}

std::string to_string(const session_event& e) {
  switch (e.what) {
    case session_event::kind::established:
      return e.attempts > 1 ? fmt::format("session established after {} attempts", e.attempts)
                            : std::string("session established");
    case session_event::kind::reset:
      return fmt::format("connection reset: {}", e.cause.message());
    case session_event::kind::resumed:
      return fmt::format("resumed after {} ms, {} bytes resent, {} attempts", e.elapsed.count(),
                         e.bytes_resent, e.attempts);
    case session_event::kind::failed:
      return fmt::format("session failed: {}", e.cause.message());
    case session_event::kind::closed:
      return "session closed";
  }
  return "unknown event";
}

// session_acceptor ----------------------------------------------------------------------------------

namespace {
server_options validated(server_options options) {
  std::string why;
  if (auto ec = options.session.validate(&why)) throw std::system_error(ec, why);
  if (options.linger.count() <= 0)
    throw std::system_error(make_error_code(errc::invalid_argument), "linger must be positive");
  return options;
}
}  // namespace

session_acceptor::session_acceptor(executor_type ex, const boost::asio::ip::tcp::endpoint& listen,
                                   server_options options)
    : impl_(std::make_shared<detail::acceptor_impl>(boost::asio::make_strand(ex), listen,
                                                    validated(std::move(options)))) {
  impl_->start();
}

session_acceptor::~session_acceptor() { close(); }

boost::asio::ip::tcp::endpoint session_acceptor::local_endpoint() const {
  return impl_->acceptor_.local_endpoint();
}
session_acceptor::executor_type session_acceptor::get_executor() const noexcept { return impl_->strand_; }

void session_acceptor::start_accept(accept_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::accept);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, serial, h = std::move(handler)]() mutable {
    impl->start_accept(std::move(h), serial);
  });
}

std::size_t session_acceptor::session_count() const { return impl_->sessions_.size(); }

void session_acceptor::close() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}

}  // namespace lifeline
