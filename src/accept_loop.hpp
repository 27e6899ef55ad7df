// The one accept loop every lifeline listener runs (session acceptor, tunnel client and server, chaos
// proxy and API). It never spins: out of descriptors the listening socket stays readable, so a loop that
// retried at once would burn a core until a descriptor came free; this one pauses, as Asio's
// cpp20/channels/throttling_proxy.cpp does, and says so once per episode instead of once per retry.
#pragma once

#include <lifeline/error.hpp>
#include <lifeline/socket_errors.hpp>

#include "platform/platform.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

namespace lifeline::detail {

/// How long the loop waits after an accept that failed for want of resources.
inline constexpr std::chrono::milliseconds accept_pause{100};

/// What the loop does after a failed accept.
enum class accept_step {
  stop,   ///< the acceptor was closed or the wait cancelled: the loop ends
  retry,  ///< that one connection failed before it was accepted (ECONNABORTED, EPROTO): accept the next now
  pause,  ///< out of descriptors, buffers or memory, or an error with no known cause: wait, then retry
};

/// Decides for one failed accept. Resource errors are lifeline's condition::resource_limit (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM, WSAEMFILE, WSAENOBUFS); the errors Linux's accept(2) says to retry at once
/// classify as connection_lost, unreachable, transient or would_block. Anything else pauses too: an
/// error the loop does not understand must not spin either.
inline accept_step after_accept_error(const std::error_code& ec) noexcept {
  if (is_aborted_by_close(ec)) return accept_step::stop;
  switch (classify(ec)) {
    case condition::cancelled:  // operation_aborted: ECANCELED, or ERROR_OPERATION_ABORTED on Windows
      return accept_step::stop;
    case condition::connection_lost:
    case condition::unreachable:
    case condition::transient:
    case condition::would_block:
      return accept_step::retry;
    default:
      return accept_step::pause;
  }
}

/// An episode is a run of failed accepts between two that succeed. It is logged when it starts, when
/// its error changes, and when it ends; never once per retry.
class accept_episode {
 public:
  using clock = std::chrono::steady_clock;

  /// The line to log for a failed accept, or nothing when this episode has already said it.
  std::optional<std::string> failed(const std::error_code& ec, accept_step step, clock::time_point now) {
    if (failures_++ == 0) since_ = now;
    if (ec == logged_) return std::nullopt;
    logged_ = ec;
    if (step == accept_step::retry)
      return fmt::format("accept failed: {}; accepting the next", error_text(ec));
    const bool resources = classify(ec) == condition::resource_limit;
    return fmt::format("cannot accept connections: {}{}; new connections wait, retrying every {} ms",
                       error_text(ec), resources ? " (out of resources)" : "", accept_pause.count());
  }

  /// The line to log after an accept that succeeded, when it ends an episode.
  std::optional<std::string> succeeded(clock::time_point now) {
    if (failures_ == 0) return std::nullopt;
    const auto line =
        fmt::format("accepting connections again after {} failed accepts in {} ms", failures_,
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - since_).count());
    failures_ = 0;
    logged_.clear();
    return line;
  }

 private:
  std::uint64_t failures_ = 0;
  clock::time_point since_;
  std::error_code logged_;
};

/// What a listener gives the accept loop. `Connection` is what its acceptor yields: a tcp::socket, or a
/// session from a session_acceptor.
template <typename Connection>
struct accept_handlers {
  /// Takes each accepted connection.
  std::function<void(Connection)> accepted;
  /// One line for the operator (see accept_episode), with the error that caused it (none at the end).
  std::function<void(const std::error_code&, const std::string&)> log;
  /// True once the listener is closed, checked after every accept; optional. An acceptor with
  /// is_open() is checked too.
  std::function<bool()> closed;
};

/// Accepts until the acceptor is closed or its wait cancelled. Completes once, when the loop ends; at
/// most one accept and one pause timer are in flight. Run it on the acceptor's executor, with the
/// acceptor kept alive until it completes.
template <typename Acceptor, typename Connection>
boost::asio::awaitable<void> accept_loop(Acceptor& acceptor, accept_handlers<Connection> handlers) {
  namespace asio = boost::asio;
  constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
  const auto closed = [&] {
    if constexpr (requires { acceptor.is_open(); }) {
      if (!acceptor.is_open()) return true;
    }
    return handlers.closed && handlers.closed();
  };
  asio::steady_timer pause(co_await asio::this_coro::executor);
  accept_episode episode;
  while (!closed()) {
    auto [ec, connection] = co_await acceptor.async_accept(nothrow);
    if (closed()) co_return;
    const auto now = accept_episode::clock::now();
    if (!ec) {
      if (auto line = episode.succeeded(now); line && handlers.log) handlers.log({}, *line);
      handlers.accepted(std::move(connection));
      continue;
    }
    const auto step = after_accept_error(ec);
    if (step == accept_step::stop) co_return;
    if (auto line = episode.failed(ec, step, now); line && handlers.log) handlers.log(ec, *line);
    if (step == accept_step::pause) {
      pause.expires_after(accept_pause);
      co_await pause.async_wait(nothrow);
    }
  }
}

}  // namespace lifeline::detail
