// A TCP socket that names a dead connection precisely: operations pending when the failure is found
// complete with errc::network_reset, operations started afterwards with errc::connection_reset, the
// rule Winsock states for WSAENETRESET and WSAECONNRESET (DESIGN.md, "The event lifeline exists for").
#pragma once

#include <lifeline/error.hpp>
#include <lifeline/keepalive.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <system_error>

namespace lifeline {
namespace detail {
class guard_state;
}

/// Wraps a connected tcp::socket. Models Asio's AsyncReadStream and AsyncWriteStream, so asio::async_read
/// and friends work over it.
///
/// Whatever the OS reports when it gives up on the peer (ETIMEDOUT, EHOSTUNREACH, ENETUNREACH,
/// ECONNREFUSED from ICMP, ENETRESET, WSAENETRESET, a reset), the first such error is latched: every
/// read or write pending at that moment completes with errc::network_reset, including the one that
/// would otherwise see end-of-file or EPIPE because another call consumed the error (Linux hands the
/// error to one system call only). Operations started afterwards complete with errc::connection_reset.
/// Both compare equal to condition::connection_lost. cause() keeps what the OS said.
///
/// After set_options(), lifeline's own deadline backs the OS: while an operation is pending and the
/// peer has not been heard from (data or acknowledgements, keep-alive answers included) for
/// options.bound(), the connection is declared dead even if the OS has not said so yet. The deadline
/// needs the OS to report when the peer was last heard (Linux TCP_INFO); elsewhere it is not armed.
/// A peer that keeps its receive window closed is heard only at the zero-window probes, which back off
/// to minutes apart; one that stays closed past bound() is declared dead. Linux does the same under
/// TCP_USER_TIMEOUT (measured on 6.x: a loopback peer that stopped reading was dropped 3.4 s into a 3 s
/// user timeout), so a peer must read within the bound to count as alive.
///
/// A moved-from guarded_socket may only be destroyed or assigned to.
/// At most one read and one write in flight. Not thread-safe: use it from one strand, and give the
/// socket that strand as its executor, since the deadline runs on the socket's executor. Destroying it
/// closes the socket; pending operations then complete with operation_aborted.
class guarded_socket {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = boost::asio::ip::tcp::socket;

  explicit guarded_socket(next_layer_type socket);
  guarded_socket(guarded_socket&&) noexcept;
  guarded_socket& operator=(guarded_socket&&) noexcept;
  ~guarded_socket();

  /// Applies the keep-alive options to the socket (see lifeline::apply) and arms lifeline's deadline
  /// at options.bound(). On error nothing is armed.
  std::error_code set_options(const keepalive_options& options);
  std::error_code set_options(const keepalive_options& options, std::error_code& os_error);

  executor_type get_executor() noexcept;
  next_layer_type& next_layer() noexcept;

  /// Reads some bytes. Completion signature: void(boost::system::error_code, std::size_t).
  /// Cancellation: the socket's (cancel() on next_layer() completes it with operation_aborted).
  template <typename MutableBufferSequence, typename CompletionToken>
  auto async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token);

  /// Writes some bytes. Completion signature: void(boost::system::error_code, std::size_t).
  template <typename ConstBufferSequence, typename CompletionToken>
  auto async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token);

  /// Whether the connection has been found dead.
  bool failed() const noexcept;
  /// What the OS reported when the connection was found dead, or std::errc::timed_out when lifeline's
  /// deadline found it first. Empty until failed(); may stay empty when the OS's error was consumed
  /// by a call outside this wrapper.
  std::error_code cause() const noexcept;
  /// True when lifeline's deadline, not the OS, found the connection dead.
  bool detected_by_deadline() const noexcept;
  /// How long the peer had been silent when the failure was found (where the OS says): the detection
  /// time, to compare with keepalive_options::bound().
  std::optional<std::chrono::milliseconds> silence_at_failure() const noexcept;
  /// When the failure was found.
  std::chrono::steady_clock::time_point failed_at() const noexcept;

  /// Closes the socket; pending operations complete with operation_aborted.
  void close() noexcept;

 private:
  std::shared_ptr<detail::guard_state> state_;
};

}  // namespace lifeline

#include <lifeline/impl/guarded_socket.hpp>
