// Keep-alive options for one TCP socket, the detection bound they imply, and applying them through
// the platform seam. An option the OS rejects is an error, never silence.
#pragma once

#include <lifeline/error.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <system_error>

namespace lifeline {

/// How quickly a dead peer is found. On an idle connection keep-alive probes the peer after `idle`
/// without hearing from it, every `interval`, and gives up after `probes` unanswered probes; while
/// data is unacknowledged keep-alive is silent and `user_timeout` bounds the wait instead (issue 5
/// measured 937 s without it). The defaults find a dead peer within 20 s plus `grace`.
struct keepalive_options {
  std::chrono::seconds idle{10};
  std::chrono::seconds interval{2};
  int probes = 5;
  /// How long sent data may stay unacknowledged; zero leaves it to the OS (tcp_retries2, ~15 min).
  /// Where the OS supports it (Linux), a non-zero user timeout also decides when keep-alive gives up:
  /// at the first probe at least `user_timeout` after the peer was last heard, whatever `probes` says.
  std::chrono::milliseconds user_timeout{20000};
  /// What the OS may add on top of its nominal time: 70-105 ms for keep-alive and 0.2-1.2 s for the
  /// user timeout were measured on Linux 6.x. lifeline's own deadline fires at bound().
  std::chrono::milliseconds grace{1500};

  /// When the OS gives up on an idle connection whose peer went silent, counted from when the peer
  /// was last heard.
  std::chrono::milliseconds idle_detection() const noexcept;
  /// The OS's nominal time to find a dead peer, idle or with data in flight: the larger of
  /// idle_detection() and user_timeout (user_timeout counted from the oldest unacknowledged send).
  std::chrono::milliseconds os_bound() const noexcept;
  /// The promise: a pending operation completes with errc::network_reset no later than this after
  /// the peer was last heard. os_bound() + grace.
  std::chrono::milliseconds bound() const noexcept;
};

/// Options whose user timeout matches their keep-alive time, the pairing issue 5 recommends.
keepalive_options matched_options(std::chrono::seconds idle, std::chrono::seconds interval,
                                  int probes) noexcept;

/// Checks the options without touching a socket: errc::invalid_argument when a value is outside what
/// any supported OS accepts (idle and interval 1 s to 24 h, probes 1 to 255, user timeout 0 to 24 h,
/// grace 0 to 1 h); `detail`, when given, names the value and its range.
std::error_code validate(const keepalive_options& options, std::string* detail = nullptr);

/// Applies the options to an open TCP socket: keep-alive on, its three knobs, and the user timeout.
/// Returns errc::invalid_argument for options validate() refuses, errc::option_rejected when the OS
/// refuses one (its own error in `os_error`), or the socket's error when it is not open.
std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options);
std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options,
                      std::error_code& os_error);

/// How the OS took the options apply() gave it. Linux and Windows 10 1709 or later take them as
/// given. Where the OS fixes the probe count itself (SIO_KEEPALIVE_VALS on older Windows and under
/// Wine: 10 probes), the interval is scaled so that it still gives up after idle + probes x
/// interval; where it has no user timeout at all (Wine lacks TCP_MAXRT), that is said here, not
/// hidden: data in flight is then bounded by the OS's retransmission limits alone.
struct keepalive_effect {
  std::chrono::milliseconds interval{0};  ///< the probe interval the OS was given
  int probes = 0;                         ///< the probe count it runs with
  bool user_timeout_held = false;         ///< false when a non-zero user timeout had no OS option
};

/// apply(), also saying how the OS took the options (`effect` is filled when the call succeeds).
std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options,
                      std::error_code& os_error, keepalive_effect& effect);

/// Reads back what the OS holds for the socket. Values the OS does not report keep their defaults;
/// `enabled` says whether keep-alive is on at all.
std::error_code read_back(boost::asio::ip::tcp::socket& socket, keepalive_options& out, bool& enabled);

}  // namespace lifeline
