// Both ends of the tunnel: a relay per connection between a TCP socket and a session, in two pumps.
#include <lifeline/tunnel.hpp>

#include "accept_loop.hpp"
#include "listener.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <map>

namespace lifeline {
namespace detail {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t pump_buffer = 256u << 10;

// A program's reset becomes a reset at the other end: RST, not FIN.
void abort_socket(tcp::socket& s) {
  boost::system::error_code ignored;
  s.set_option(asio::socket_base::linger(true, 0), ignored);
  s.close(ignored);
}

struct relay_state {
  bool failed = false;
};

// Passes the end of one direction on, as a half-close; false when that failed. The session's shutdown
// completes once the peer has acknowledged everything before it.
awaitable<bool> end_stream(session& to) {
  auto [ec] = co_await to.async_shutdown(asio::as_tuple(use_awaitable));
  co_return !ec;
}
awaitable<bool> end_stream(tcp::socket& to) {
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
  co_return true;
}

// One step of a direction: moves some bytes, or fails (asio::error::eof when the source ended). From the
// socket the session reads straight into its replay buffer, sparing a copy per byte.
struct copy_step {
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(pump_buffer);
  awaitable<std::pair<boost::system::error_code, std::size_t>> operator()(session& from, tcp::socket& to) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
    if (ec) co_return std::pair{ec, std::size_t{0}};
    auto [wec, wn] =
        co_await asio::async_write(to, asio::buffer(buffer.data(), n), asio::as_tuple(use_awaitable));
    co_return std::pair{wec, wn};
  }
  awaitable<std::pair<boost::system::error_code, std::size_t>> operator()(tcp::socket& from, session& to) {
    auto [ec, n] = co_await to.async_write_some_from(from, asio::as_tuple(use_awaitable));
    co_return std::pair{ec, n};
  }
};

// Copies one direction, between the connection's socket and its session; on EOF passes the half-close
// on; on an error aborts both sides: the session with close() (its peer learns at once), the socket with
// an RST.
template <typename From, typename To>
awaitable<void> pump(From& from, To& to, session& s, tcp::socket& socket, relay_state& state,
                     std::uint64_t& forwarded) {
  copy_step step;
  while (true) {
    auto [ec, n] = co_await step(from, to);
    if (ec == asio::error::eof) {
      if (!co_await end_stream(to) && !state.failed) {
        state.failed = true;
        abort_socket(socket);
      }
      co_return;
    }
    if (ec || state.failed) break;
    forwarded += n;
  }
  if (!state.failed) {
    state.failed = true;
    s.close();
    abort_socket(socket);
  }
}

}  // namespace

// The parts both ends share: limits, counters, logging, and the relay itself.
class tunnel_base {
 public:
  tunnel_base(asio::any_io_executor ex, tunnel_options options)
      : strand_(asio::make_strand(ex)), options_(std::move(options)) {}

  // A connection counts from its accept until its last coroutine ends, so that --max-connections holds
  // while sessions and targets are still being connected, and close() knows when everything is gone.
  class active_guard {
   public:
    explicit active_guard(tunnel_base& t) : t_(t) {}
    active_guard(const active_guard&) = delete;
    active_guard& operator=(const active_guard&) = delete;
    ~active_guard() {
      if (--t_.stats_.active == 0 && t_.closed_ && t_.on_closed_) {
        asio::post(t_.strand_, std::exchange(t_.on_closed_, nullptr));
      }
    }

   private:
    tunnel_base& t_;
  };

  // What close() aborts: each live connection's socket and session, registered while they exist.
  class abort_registration {
   public:
    abort_registration(tunnel_base& t, std::uint64_t id, tcp::socket& socket, session& s) : t_(t), id_(id) {
      t_.live_[id_] = [&socket, &s] {
        s.close();
        abort_socket(socket);
      };
    }
    abort_registration(const abort_registration&) = delete;
    abort_registration& operator=(const abort_registration&) = delete;
    ~abort_registration() { t_.live_.erase(id_); }

   private:
    tunnel_base& t_;
    std::uint64_t id_;
  };

  // On the strand: stop accepting (the caller closes its acceptor), abort every connection, and call
  // `on_closed` once the last one has ended.
  void close_all(std::function<void()> on_closed) {
    closed_ = true;
    on_closed_ = std::move(on_closed);
    auto live = std::move(live_);
    live_.clear();
    for (auto& [id, abort] : live) abort();
    if (stats_.active == 0 && on_closed_) asio::post(strand_, std::exchange(on_closed_, nullptr));
  }

  void log(const std::string& line) {
    if (options_.log) options_.log(line);
  }

  std::function<void(const std::error_code&, const std::string&)> log_accept_error() {
    return [this](const std::error_code&, const std::string& line) { log(line); };
  }

  // A session's events: counted, logged after `prefix` when an operator should see them (not a first-try
  // establishment, nor a close), and passed on to the user's handler.
  std::function<void(const session_event&)> on_session_event(std::string prefix) {
    return [this, prefix = std::move(prefix), user = options_.session.on_event](const session_event& e) {
      stats_.count(e);
      const bool retried = e.what == session_event::kind::established && e.attempts > 1;
      if (retried || (e.what != session_event::kind::established && e.what != session_event::kind::closed)) {
        log(prefix + to_string(e));
      }
      if (user) user(e);
    };
  }

  session_options session_options_for(std::uint64_t id) {
    auto o = options_.session;
    o.on_event = on_session_event(fmt::format("connection {}: ", id));
    return o;
  }

  awaitable<void> relay(std::uint64_t id, tcp::socket& socket, session& s) {
    relay_state state;
    co_await (pump(socket, s, s, socket, state, stats_.bytes_forwarded) &&
              pump(s, socket, s, socket, state, stats_.bytes_forwarded));
    log(fmt::format("connection {}: {}", id, state.failed ? "aborted" : "closed"));
  }

  asio::strand<asio::any_io_executor> strand_;
  tunnel_options options_;
  tunnel_stats stats_;
  bool closed_ = false;
  std::map<std::uint64_t, std::function<void()>> live_;
  std::function<void()> on_closed_;
};

class tunnel_client_impl : public tunnel_base, public std::enable_shared_from_this<tunnel_client_impl> {
 public:
  tunnel_client_impl(asio::any_io_executor ex, const tcp::endpoint& listen, tcp::endpoint server,
                     tunnel_options o)
      : tunnel_base(ex, std::move(o)), acceptor_(detail::make_listener(strand_, listen)), server_(server) {}

  void start() { asio::co_spawn(strand_, accept_loop(shared_from_this()), asio::detached); }

  awaitable<void> accept_loop(std::shared_ptr<tunnel_client_impl> self) {
    co_await detail::accept_loop(
        acceptor_,
        accept_handlers<tcp::socket>{.accepted = [&](tcp::socket socket) { admit(self, std::move(socket)); },
                                     .log = log_accept_error(),
                                     .closed = [this] { return closed_; }});
  }

  // Counts a new connection, and serves it unless --max-connections are open already.
  void admit(const std::shared_ptr<tunnel_client_impl>& self, tcp::socket socket) {
    const auto id = ++stats_.connections;
    if (stats_.active >= options_.max_connections) {
      ++stats_.refused;
      log(fmt::format("connection {}: refused, {} connections open (--max-connections)", id, stats_.active));
      abort_socket(socket);
      return;
    }
    ++stats_.active;  // now, not when the session is up: a burst of connects must not pass the limit
    asio::co_spawn(strand_, serve(self, id, std::move(socket)), asio::detached);
  }

  awaitable<void> serve(std::shared_ptr<tunnel_client_impl> /*keep alive*/, std::uint64_t id,
                        tcp::socket socket) {
    active_guard active(*this);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    session s(strand_, session_options_for(id));
    abort_registration registered(*this, id, socket, s);
    if (closed_) co_return;
    auto [ec] = co_await s.async_connect(server_, asio::as_tuple(use_awaitable));
    if (closed_) co_return;  // close() aborted it
    if (ec) {
      ++stats_.refused;
      log(fmt::format("connection {}: cannot reach the tunnel server {}: {}", id,
                      fmt::to_string(server_.port()), ec.message()));
      abort_socket(socket);
      co_return;
    }
    co_await relay(id, socket, s);
  }

  tcp::acceptor acceptor_;
  tcp::endpoint server_;
};

class tunnel_server_impl : public tunnel_base, public std::enable_shared_from_this<tunnel_server_impl> {
 public:
  tunnel_server_impl(asio::any_io_executor ex, const tcp::endpoint& listen, std::string host,
                     std::string port, tunnel_options o, std::size_t max_memory)
      : tunnel_base(ex, std::move(o)),
        acceptor_(strand_, listen, make_server_options(max_memory)),
        host_(std::move(host)),
        port_(std::move(port)) {}

  server_options make_server_options(std::size_t max_memory) {
    server_options so;
    so.session = options_.session;
    so.max_sessions = options_.max_connections;
    so.max_memory = max_memory;
    // The acceptor makes the sessions, so they have no connection number yet; they are logged by theirs.
    so.session.on_event = on_session_event("session: ");
    so.on_error = [this](const tcp::endpoint& peer, std::error_code ec, const std::string& text) {
      if (peer == tcp::endpoint()) return log(text);  // the listener's own failure (accept_loop.hpp)
      ++stats_.refused;
      log(fmt::format("peer {}:{} turned away: {} ({})", peer.address().to_string(), peer.port(), text,
                      ec.message()));
    };
    return so;
  }

  void start() { asio::co_spawn(strand_, accept_loop(shared_from_this()), asio::detached); }

  // The session acceptor runs the accept loop over TCP (and logs its failures through on_error); this one
  // takes the sessions it has handed over.
  awaitable<void> accept_loop(std::shared_ptr<tunnel_server_impl> self) {
    co_await detail::accept_loop(
        acceptor_, accept_handlers<session>{.accepted = [&](session s) { admit(self, std::move(s)); },
                                            .log = log_accept_error(),
                                            .closed = [this] { return closed_; }});
  }

  void admit(const std::shared_ptr<tunnel_server_impl>& self, session s) {
    const auto id = ++stats_.connections;
    ++stats_.active;
    asio::co_spawn(strand_, serve(self, id, std::move(s)), asio::detached);
  }

  awaitable<void> serve(std::shared_ptr<tunnel_server_impl> /*keep alive*/, std::uint64_t id, session s) {
    active_guard active(*this);
    tcp::socket target(strand_);
    abort_registration registered(*this, id, target, s);
    if (closed_) co_return;
    tcp::resolver resolver(strand_);
    auto [rec, results] = co_await resolver.async_resolve(host_, port_, asio::as_tuple(use_awaitable));
    if (closed_) co_return;  // close() aborted it
    boost::system::error_code cec = rec;
    if (!rec) {
      asio::steady_timer timer(strand_, options_.session.handshake_timeout);
      auto r = co_await (asio::async_connect(target, results, asio::as_tuple(use_awaitable)) ||
                         timer.async_wait(asio::as_tuple(use_awaitable)));
      cec = r.index() == 1 ? boost::system::error_code(asio::error::timed_out) : std::get<0>(std::get<0>(r));
    }
    if (closed_) {  // close() came while connecting: async_connect may have opened the socket again
      abort_socket(target);
      co_return;
    }
    if (cec) {
      ++stats_.refused;
      log(fmt::format("connection {}: target {}:{} failed: {}", id, host_, port_, cec.message()));
      s.close();  // the client sees its connection reset, as it would have without the tunnel
      co_return;
    }
    boost::system::error_code ignored;
    target.set_option(tcp::no_delay(true), ignored);
    co_await relay(id, target, s);
  }

  session_acceptor acceptor_;
  std::string host_;
  std::string port_;
};

}  // namespace detail

tunnel_client::tunnel_client(boost::asio::any_io_executor ex, const boost::asio::ip::tcp::endpoint& listen,
                             const boost::asio::ip::tcp::endpoint& server, tunnel_options options)
    : impl_(std::make_shared<detail::tunnel_client_impl>(ex, listen, server, std::move(options))) {
  impl_->start();
}
tunnel_client::~tunnel_client() { close(); }
boost::asio::ip::tcp::endpoint tunnel_client::local_endpoint() const {
  return impl_->acceptor_.local_endpoint();
}
tunnel_stats tunnel_client::stats() const { return impl_->stats_; }
void tunnel_client::close(std::function<void()> on_closed) {
  boost::asio::dispatch(impl_->strand_, [impl = impl_, on_closed = std::move(on_closed)]() mutable {
    boost::system::error_code ignored;
    impl->acceptor_.close(ignored);
    impl->close_all(std::move(on_closed));
  });
}

tunnel_server::tunnel_server(boost::asio::any_io_executor ex, const boost::asio::ip::tcp::endpoint& listen,
                             std::string target_host, std::string target_port, tunnel_options options,
                             std::size_t max_memory)
    : impl_(std::make_shared<detail::tunnel_server_impl>(
          ex, listen, std::move(target_host), std::move(target_port), std::move(options), max_memory)) {
  impl_->start();
}
tunnel_server::~tunnel_server() { close(); }
boost::asio::ip::tcp::endpoint tunnel_server::local_endpoint() const {
  return impl_->acceptor_.local_endpoint();
}
tunnel_stats tunnel_server::stats() const { return impl_->stats_; }
void tunnel_server::close(std::function<void()> on_closed) {
  boost::asio::dispatch(impl_->strand_, [impl = impl_, on_closed = std::move(on_closed)]() mutable {
    impl->acceptor_.close();
    impl->close_all(std::move(on_closed));
  });
}

}  // namespace lifeline
