// The server side of the protocol's handshakes (docs/protocol.md R5-R10): new sessions, resumes routed
// to their session, limits; and the public session_acceptor (include/lifeline/server.hpp).
#include "../accept_loop.hpp"
#include "../listener.hpp"
#include "../session/crypto.hpp"
#include "../session/handshake.hpp"
#include "../session/session_impl.hpp"

#include <lifeline/server.hpp>

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

  /// A connection that did not come from the listener.
  void adopt(std::shared_ptr<transport> s) {
    if (closed_) return s->close();
    asio::co_spawn(strand_, handshake(shared_from_this(), std::move(s)), asio::detached);
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

  /// What turn_away() says of a CLIENT_HELLO or RESUME refused with `ec`.
  static std::string refusal(std::error_code ec, std::string_view frame, std::uint16_t version) {
    if (ec == errc::unsupported_version) {
      return fmt::format("the client speaks protocol version {}; this server speaks {} only", version,
                         wire::version);
    }
    if (ec == errc::resume_rejected) return "wrong pre-shared key";
    return fmt::format("malformed {}", frame);
  }

  asio::awaitable<void> handshake(std::shared_ptr<acceptor_impl> self, std::shared_ptr<transport> s) {
    const auto timeout = options_.session.handshake_timeout;
    boost::system::error_code ignored;
    if (auto* socket = s->socket()) socket->set_option(tcp::no_delay(true), ignored);
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

    if (f.type == wire::frame_type::error) {  // the client turned us down, e.g. for our version (R6)
      const std::string text(f.payload.begin(), f.payload.end());
      report(*s, error_from_frame(f),
             fmt::format("the client refused: {} (this server speaks protocol version {})", text,
                         wire::version));
      co_return s->close();
    }
    // R22: a key pair of this connection's own, with a pre-shared key.
    const auto own = psk.empty() ? x25519_pair{} : x25519_pair::generate();
    handshake::transcript t;

    if (f.type == wire::frame_type::client_hello) {
      wire::client_hello ch;
      auto ec = wire::parse(f.payload, ch);
      if (!ec) ec = handshake::check_client_hello(psk, hello, ch, t);  // R6, R7
      if (ec)
        co_return co_await turn_away(*s, static_cast<errc>(ec.value()),
                                     refusal(ec, "CLIENT_HELLO", ch.version));
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
      wire::session_id id;  // R8
      wire::digest random_secret{};
      random_bytes(id);
      if (psk.empty()) random_bytes(random_secret);
      wire::welcome w;
      std::optional<handshake::traffic_keys> keys;
      if (auto ec = handshake::make_welcome(psk, id, random_secret, own, t, w, impl->secret_, keys))
        co_return co_await turn_away(*s, errc::resume_rejected, "the client's key share is of small order");
      impl->id_ = id;
      if (auto ec = co_await write_frame(*s, wire::frame_type::welcome, 0, wire::encode(w), timeout)) {
        report(*s, ec, "could not send WELCOME");
        co_return;
      }
      if (keys) s->cipher = std::make_unique<frame_cipher>(*keys, false);  // R21
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
      if (auto ec = wire::parse(f.payload, rr))
        co_return co_await turn_away(*s, static_cast<errc>(ec.value()), refusal(ec, "RESUME", rr.version));
      const auto it = sessions_.find(rr.id);
      if (it == sessions_.end() || it->second->finished()) {
        co_return co_await turn_away(*s, errc::session_not_found, "no such session on this server");
      }
      if (auto ec = handshake::check_resume(it->second->secret_, hello, rr, f.value, t)) {
        co_return co_await turn_away(*s, errc::resume_rejected, "resume proof did not verify");
      }
      it->second->resume_with(s, f.value, t, own);
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

void session_acceptor::adopt(std::unique_ptr<byte_stream> stream,
                             const boost::asio::ip::tcp::endpoint& peer) {
  auto s = std::make_shared<detail::transport>(std::move(stream), peer);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, s] { impl->adopt(s); });
}

std::size_t session_acceptor::session_count() const { return impl_->sessions_.size(); }

void session_acceptor::close() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}

}  // namespace lifeline
