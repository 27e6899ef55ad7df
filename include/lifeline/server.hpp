// The server side of lifeline's session protocol: one listening address, many sessions, each resume
// routed to the session it belongs to (docs/protocol.md sections 3 and 8).
#pragma once

#include <lifeline/session.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace lifeline {

struct server_options {
  session_options session;
  /// Sessions held at once, attached or lingering (R-limits). More are refused with
  /// session_limit_reached.
  std::size_t max_sessions = 1024;
  /// Replay and receive memory, summed over all sessions' caps; more are refused with
  /// memory_limit_reached.
  std::size_t max_memory = std::size_t{4} << 30;
  /// R20: how long a detached session waits for its client to resume.
  std::chrono::milliseconds linger{120000};
  /// Called for refused handshakes and other per-peer errors, for logging; also when accepting
  /// fails (out of descriptors, ...), once per episode, with a default-constructed endpoint as the peer.
  std::function<void(const boost::asio::ip::tcp::endpoint&, std::error_code, const std::string&)> on_error;
};

/// The server side: accepts TCP connections, creates new sessions and routes each resume to the session
/// it belongs to. Sessions and the acceptor share one executor.
///
/// async_accept, void(error_code, session): at most one in flight. Cancellation through the handler's
/// associated cancellation slot: terminal, partial and total. A cancelled accept completes with
/// asio::error::operation_aborted and an empty session, having taken none: a session set up meanwhile
/// or later waits for the next async_accept, and the acceptor goes on serving. An accept that got its
/// session before the cancellation reached the acceptor's strand completes with it.
///
/// Thread safety: Distinct objects: Safe. Shared objects: Unsafe. The acceptor and its sessions run on
/// a strand of their own (get_executor()): async_accept() and close() hand their work to it;
/// session_count() reads its state, so call it on get_executor().
class session_acceptor {
 public:
  using executor_type = boost::asio::any_io_executor;
  using accept_handler = boost::asio::any_completion_handler<void(boost::system::error_code, session)>;

  /// Listens on `listen`. Throws std::system_error: errc::invalid_argument (with the reason) for options
  /// that session_options::validate() refuses, or the error of binding the listening socket.
  session_acceptor(executor_type ex, const boost::asio::ip::tcp::endpoint& listen,
                   server_options options = {});
  ~session_acceptor();

  boost::asio::ip::tcp::endpoint local_endpoint() const;
  executor_type get_executor() const noexcept;

  /// Waits for the next new session. Signature: void(error_code, session). Cancellation: all types.
  template <typename Token>
  auto async_accept(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, session)>(
        [this](auto handler) { start_accept(std::move(handler)); }, token);
  }

  /// Serves a connection of the application's making (include/lifeline/byte_stream.hpp: an in-memory
  /// pipe, a WebSocket) as if this acceptor had accepted it: the handshake runs on it, and a new session
  /// goes to async_accept, a resume to its session. `peer` names the far end in on_error's reports.
  void adopt(std::unique_ptr<byte_stream> stream, const boost::asio::ip::tcp::endpoint& peer = {});

  /// Number of sessions held (attached or lingering).
  std::size_t session_count() const;
  void close();

 private:
  void start_accept(accept_handler handler);
  std::shared_ptr<detail::acceptor_impl> impl_;
};

}  // namespace lifeline
