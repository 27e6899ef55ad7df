// lifeline's error model: its own error codes (errc) and the portable conditions (condition) that
// group lifeline's and the operating system's socket errors by what a program should do about them.
#pragma once

#include <string_view>
#include <system_error>

namespace lifeline {

/// lifeline's own errors. The numbers are part of the API and are never changed or reused.
enum class errc {
  /// An operation was in progress when the connection was found dead (keep-alive, user timeout or
  /// heartbeat). lifeline's name for WSAENETRESET on every platform.
  network_reset = 1,
  /// An operation was started after the connection had already been found dead.
  connection_reset = 2,
  /// A frame failed its checksum; it was not delivered.
  integrity_error = 3,
  /// A frame announced a payload larger than the protocol's maximum.
  frame_too_large = 4,
  /// A frame's header or payload did not follow the wire format.
  malformed_frame = 5,
  /// The peer speaks a protocol version this build does not.
  unsupported_version = 6,
  /// A resume request's proof did not verify: forged, replayed or for another session.
  resume_rejected = 7,
  /// The server no longer holds the session (restarted, or the linger time passed).
  session_not_found = 8,
  /// The peer asked to resume from an offset the replay buffer no longer holds.
  offset_out_of_range = 9,
  /// Reconnecting did not succeed before the retry policy's overall deadline.
  resume_deadline_exceeded = 10,
  /// A handshake step did not finish within its timeout.
  handshake_timeout = 11,
  /// The server refused a new session because it holds its maximum number of sessions.
  session_limit_reached = 12,
  /// The server refused because its replay memory cap is reached.
  memory_limit_reached = 13,
  /// The operating system rejected a socket option lifeline needs (keep-alive, user timeout).
  option_rejected = 14,
  /// An argument or option value is out of its allowed range.
  invalid_argument = 15,
  /// The peer closed the session on purpose.
  session_closed = 16,
};

/// What a program should do about an error. Every platform code and every lifeline::errc compares
/// equal to exactly one of these.
enum class condition {
  /// The connection is gone (reset, aborted, timed out, found dead by keep-alive): reconnect.
  connection_lost = 1,
  /// The call would block or is still in progress: wait for readiness, then try again.
  would_block = 2,
  /// A momentary failure (interrupted call, temporary failure): retry the same call.
  transient = 3,
  /// The network or host cannot be reached now: retry later, check routes and links.
  unreachable = 4,
  /// The peer actively refused (nothing listening, or refused by policy): check the service.
  refused = 5,
  /// The program passed a bad buffer, address, argument or socket: a bug; fail fast, do not retry.
  caller_bug = 6,
  /// Out of descriptors, buffers, memory or processes: free resources or raise limits.
  resource_limit = 7,
  /// The system does not support the family, protocol, socket type or option asked for.
  unsupported = 8,
  /// The system or its configuration is not ready: address in use, stack not initialised, versions.
  configuration = 9,
  /// A host name could not be resolved.
  name_resolution = 10,
  /// The operation was cancelled or aborted on purpose, usually by the program itself.
  cancelled = 11,
  /// Quality-of-service notifications and errors (Winsock's WSA_QOS_* codes).
  quality_of_service = 12,
  /// The peer broke lifeline's wire protocol (bad frame, checksum, version).
  protocol_error = 13,
  /// Authentication failed (forged or replayed resume, wrong key).
  authentication = 14,
  /// The session cannot continue (server lost it, deadline passed, offsets no longer fit).
  session_lost = 15,
};

const std::error_category& error_category() noexcept;
const std::error_category& condition_category() noexcept;

std::error_code make_error_code(errc e) noexcept;
std::error_condition make_error_condition(condition c) noexcept;

/// A short stable name for a condition ("connection_lost"), as used in `lifeline explain`.
std::string_view to_string(condition c) noexcept;
/// The advice for a condition, one sentence ("reconnect").
std::string_view advice(condition c) noexcept;

/// The condition an error code belongs to, or a default-constructed value (0) when none applies.
/// Works for lifeline::errc, the system and generic categories, and Asio's error categories.
condition classify(const std::error_code& ec) noexcept;

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::errc> : std::true_type {};
template <>
struct std::is_error_condition_enum<lifeline::condition> : std::true_type {};
