// `lifeline doctor`'s checks: the address, descriptor limits, the machine's keep-alive defaults, a
// connection with lifeline's keep-alive options and its round-trip time, findings with what to change,
// and a watch that holds an idle connection until its path fails. Reads the system, never changes it.
#pragma once

#include <lifeline/keepalive.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace lifeline {

/// A target as the user wrote it.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

/// Parses "HOST:PORT", "1.2.3.4:PORT" or "[v6 address]:PORT". Returns errc::invalid_argument and a
/// sentence in `detail` for anything else (missing or empty host, port not 1-65535, stray brackets).
/// `allow_port_zero` admits port 0, "any free port", for an address to listen on.
std::error_code parse_host_port(std::string_view text, host_port& out, std::string& detail,
                                bool allow_port_zero = false);

enum class severity { ok, warning, problem };
std::string_view to_string(severity s) noexcept;

/// One thing the doctor checked: what it found and, unless all is well, what to change.
struct finding {
  severity level = severity::ok;
  std::string check;   ///< "descriptors", "keepalive_defaults", "connect", ...
  std::string what;    ///< what was found, in plain words
  std::string advice;  ///< what to change; empty when nothing needs changing
};

struct doctor_request {
  host_port target;
  keepalive_options options;
  /// Deadline for each step that waits on the network: resolving, and connecting to each address.
  std::chrono::milliseconds timeout{5000};
};

struct doctor_report {
  host_port target;
  std::vector<std::string> addresses;  ///< what the name resolved to
  std::error_code resolve_error;

  std::optional<std::string> connected_to;                ///< the address that answered
  std::error_code connect_error;                          ///< the last address's error when none answered
  std::optional<std::chrono::microseconds> connect_time;  ///< the handshake: one round trip
  std::optional<std::chrono::microseconds> smoothed_rtt;  ///< the OS's estimate, where it says

  std::uint64_t descriptors_soft = 0;  ///< 0 when unlimited
  std::uint64_t descriptors_hard = 0;  ///< 0 when unlimited
  std::optional<std::uint64_t> descriptors_in_use;

  /// The machine's defaults for sockets that set nothing, and what they imply.
  std::optional<keepalive_options> system_keepalive;  ///< user_timeout 0: none by default
  std::optional<int> tcp_retries2;
  std::optional<std::chrono::milliseconds> system_in_flight_detection;  ///< from tcp_retries2

  keepalive_options options;  ///< what the doctor applied to its connection
  std::error_code options_error;

  std::vector<finding> findings;

  /// True when no finding is a problem.
  bool healthy() const noexcept;
};

/// Runs every check. Blocks; each network wait is bounded by request.timeout.
doctor_report diagnose(const doctor_request& request);

/// Roughly how long the OS retransmits unacknowledged data before giving up after `retries2`
/// retransmissions (RTO from `first_rto`, doubling, capped at 120 s): on Linux (200 ms) 924.6 s for the
/// default tcp_retries2 of 15; on Windows (300 ms) 18.9 s for the default TcpMaxDataRetransmissions of 5.
std::chrono::milliseconds retransmission_give_up(
    int retries2, std::chrono::milliseconds first_rto = std::chrono::milliseconds(200)) noexcept;

struct watch_request {
  host_port target;
  keepalive_options options;
  std::chrono::milliseconds timeout{5000};  ///< for resolving and connecting
  std::chrono::seconds duration{600};       ///< how long to hold the connection at most
};

enum class watch_outcome {
  not_connected,   ///< resolving or connecting failed (connect_error)
  still_alive,     ///< the duration passed and the connection is alive
  closed_by_peer,  ///< the peer closed the connection in order
  lost,            ///< the connection was found dead (error, cause)
};
std::string_view to_string(watch_outcome o) noexcept;

struct watch_report {
  watch_outcome outcome = watch_outcome::not_connected;
  std::optional<std::string> connected_to;
  std::error_code connect_error;
  std::chrono::milliseconds held{0};  ///< from connected until the outcome
  std::uint64_t bytes_received = 0;   ///< what the peer sent meanwhile (read and discarded)
  std::error_code error;              ///< errc::network_reset when lost
  std::error_code cause;              ///< what the OS said, or timed_out when lifeline's deadline fired
  bool detected_by_deadline = false;
  /// How long the peer had been silent when the failure was found: the detection time.
  std::optional<std::chrono::milliseconds> detection;
  std::chrono::milliseconds bound{0};  ///< what the options promised
};

/// Connects with the options applied before the handshake, then holds the connection idle (reading
/// whatever the peer sends) until it is lost, closed, or `duration` passes. `on_connected`, when set,
/// is called once connected.
watch_report watch(const watch_request& request,
                   const std::function<void(const std::string& address)>& on_connected = {});

}  // namespace lifeline
