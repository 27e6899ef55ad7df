// The platform seam: the only place lifeline talks to the operating system directly. posix.cpp and
// windows.cpp implement it side by side; nothing else includes OS headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

namespace lifeline::detail {

/// True for the category the OS's own errors come in: std::system_category(), or Boost.System's system
/// category, which on MinGW converts to a std category of Boost's own named "system" (libstdc++'s
/// std::system_category is POSIX there), so every Asio socket error on Windows comes that way.
inline bool is_system_category(const std::error_category& category) noexcept {
  return category == std::system_category() || std::string_view(category.name()) == "system";
}

/// A socket as the OS knows it: a file descriptor on POSIX, a SOCKET on Windows.
using native_socket = std::intptr_t;

/// Prepares a socket that will listen: on POSIX SO_REUSEADDR, so that a restarted server can bind while
/// its old connections sit in TIME_WAIT; on Windows SO_EXCLUSIVEADDRUSE and never SO_REUSEADDR, which
/// there would let a second program bind the same port and take its connections. Call before bind().
std::error_code prepare_listener(native_socket s) noexcept;

/// The probe interval and count keep-alive runs with after set_keepalive().
struct keepalive_probing {
  std::chrono::milliseconds interval{0};
  int probes = 0;
};

/// Turns on keep-alive with the given idle time, probe interval and probe count. The first option
/// the OS rejects is returned, as the OS's error. Where the OS fixes the probe count itself
/// (Windows before 10 1709, Wine), the interval is scaled so that it gives up after
/// idle + probes x interval all the same; `probing` says what the OS was given.
std::error_code set_keepalive(native_socket s, std::chrono::seconds idle, std::chrono::seconds interval,
                              int probes, keepalive_probing& probing) noexcept;

/// Bounds how long transmitted data may stay unacknowledged (TCP_USER_TIMEOUT, TCP_MAXRT on Windows).
/// Zero leaves it to the system's retransmission limits. `held` is false when the OS has no such
/// option at all (Wine lacks TCP_MAXRT), which is not an error; a value it refuses is.
std::error_code set_user_timeout(native_socket s, std::chrono::milliseconds timeout, bool& held) noexcept;

/// What a socket holds now, as read back from the OS. Fields the OS cannot report stay empty.
struct socket_keepalive {
  bool enabled = false;
  std::optional<std::chrono::seconds> idle;
  std::optional<std::chrono::seconds> interval;
  std::optional<int> probes;
  std::optional<std::chrono::milliseconds> user_timeout;
};
std::error_code get_keepalive(native_socket s, socket_keepalive& out) noexcept;

/// How long ago the peer was last heard from (data or any acknowledgement, keep-alive answers
/// included), or nothing where the OS does not say.
std::optional<std::chrono::milliseconds> peer_silence(native_socket s) noexcept;

/// True when the OS has torn the connection down (TCP state CLOSED): an end-of-file or broken pipe
/// seen now follows an error another call consumed, not the peer's orderly close.
bool connection_torn_down(native_socket s) noexcept;

/// The smoothed round-trip time the OS keeps for a connected socket, where it says.
std::optional<std::chrono::microseconds> smoothed_rtt(native_socket s) noexcept;

/// True for the errors with which the OS reports a peer found dead or a path gone: ETIMEDOUT,
/// EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, ECONNREFUSED (an ICMP error on an established
/// connection), ENETRESET, ECONNRESET, ECONNABORTED, and their WSAE twins.
bool is_connection_failure(const std::error_code& ec) noexcept;

/// True for end-of-file's twin on the sending side (EPIPE; WSAESHUTDOWN).
bool is_broken_pipe(const std::error_code& ec) noexcept;

/// True for an error with which the OS completes an operation still pending when its socket was
/// closed, where that is not Asio's operation_aborted: under Wine, ERROR_HANDLES_CLOSED (676).
bool is_aborted_by_close(const std::error_code& ec) noexcept;

/// The process's descriptor limits and how many it has open.
struct descriptor_usage {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;  ///< 0 when unlimited
  std::optional<std::uint64_t> in_use;
  /// False where the OS has no per-process limit to report (Windows: sockets are bounded by memory);
  /// `in_use` then counts the process's handles.
  bool limited = true;
};
std::error_code get_descriptor_usage(descriptor_usage& out) noexcept;

/// The machine's keep-alive defaults for sockets that do not set their own, and how many times
/// unacknowledged data is retransmitted before the connection is dropped (tcp_retries2).
struct system_keepalive {
  std::chrono::seconds idle{0};
  std::chrono::seconds interval{0};
  int probes = 0;
  std::optional<int> retries2;
  /// The first retransmission timeout, for estimating when the OS gives up on unacknowledged data.
  std::chrono::milliseconds min_rto{200};
  /// Where an administrator changes these, named in doctor's advice.
  std::string_view keepalive_settings = "net.ipv4.tcp_keepalive_time / _intvl / _probes";
  std::string_view retries_name = "tcp_retries2";
  std::string_view retries_setting = "net.ipv4.tcp_retries2";
  std::string_view user_timeout_option = "TCP_USER_TIMEOUT";
  /// Windows: which values came from the registry rather than the documented defaults.
  std::string_view source;
};
std::error_code get_system_keepalive(system_keepalive& out) noexcept;

}  // namespace lifeline::detail
