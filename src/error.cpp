// lifeline's error categories and the classification of platform error codes into conditions.
#include <lifeline/error.hpp>
#include <lifeline/socket_errors.hpp>

#include "platform/platform.hpp"

#include <cstring>
#include <string>

namespace lifeline {
namespace {

struct errc_info {
  errc code;
  const char* message;
  condition cls;
};

constexpr errc_info errc_table[] = {
    {errc::network_reset, "connection broken: the peer was found dead while the operation was in progress",
     condition::connection_lost},
    {errc::connection_reset, "connection broken: the peer had already been found dead",
     condition::connection_lost},
    {errc::integrity_error, "frame failed its checksum", condition::protocol_error},
    {errc::frame_too_large, "frame larger than the protocol maximum", condition::protocol_error},
    {errc::malformed_frame, "malformed frame", condition::protocol_error},
    {errc::unsupported_version, "unsupported protocol version", condition::protocol_error},
    {errc::resume_rejected, "resume rejected: the proof did not verify", condition::authentication},
    {errc::session_not_found, "the server no longer holds this session", condition::session_lost},
    {errc::offset_out_of_range, "the replay buffer no longer holds the requested offset",
     condition::session_lost},
    {errc::resume_deadline_exceeded, "could not resume before the deadline", condition::session_lost},
    {errc::handshake_timeout, "handshake timed out", condition::connection_lost},
    {errc::session_limit_reached, "the server holds its maximum number of sessions",
     condition::resource_limit},
    {errc::memory_limit_reached, "the server's replay memory cap is reached", condition::resource_limit},
    {errc::option_rejected, "the operating system rejected a socket option", condition::unsupported},
    {errc::invalid_argument, "argument out of range", condition::caller_bug},
    {errc::session_closed, "the peer closed the session", condition::session_lost},
};

const errc_info* find(int value) noexcept {
  for (const auto& info : errc_table) {
    if (static_cast<int>(info.code) == value) return &info;
  }
  return nullptr;
}

class errc_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline"; }
  std::string message(int value) const override {
    const auto* info = find(value);
    return info ? info->message : "unknown lifeline error " + std::to_string(value);
  }
  std::error_condition default_error_condition(int value) const noexcept override {
    const auto* info = find(value);
    return info ? make_error_condition(info->cls) : std::error_condition(value, *this);
  }
};

struct condition_info {
  condition value;
  std::string_view name;
  std::string_view advice;
};

constexpr condition_info condition_table[] = {
    {condition::connection_lost, "connection_lost", "reconnect; the connection is gone"},
    {condition::would_block, "would_block", "wait until the socket is ready, then try again"},
    {condition::transient, "transient", "retry the same call"},
    {condition::unreachable, "unreachable", "retry later; check links, routes and the peer's address"},
    {condition::refused, "refused", "check that the service is running and accepts this client"},
    {condition::caller_bug, "caller_bug", "fail fast: fix the program's arguments; retrying cannot help"},
    {condition::resource_limit, "resource_limit", "free resources or raise the limit"},
    {condition::unsupported, "unsupported", "use a family, protocol or option this system supports"},
    {condition::configuration, "configuration", "fix the system's or the program's configuration"},
    {condition::name_resolution, "name_resolution", "check the host name and the resolver"},
    {condition::cancelled, "cancelled", "nothing to repair: the operation was cancelled on purpose"},
    {condition::quality_of_service, "quality_of_service", "adjust or drop the QoS request"},
    {condition::protocol_error, "protocol_error", "drop the connection; the peer broke the protocol"},
    {condition::authentication, "authentication", "check the key or certificate; do not retry blindly"},
    {condition::session_lost, "session_lost", "start a new session; this one cannot be resumed"},
};

const condition_info* find_condition(int value) noexcept {
  for (const auto& info : condition_table) {
    if (static_cast<int>(info.value) == value) return &info;
  }
  return nullptr;
}

class condition_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.condition"; }
  std::string message(int value) const override {
    const auto* info = find_condition(value);
    return info ? std::string(info->name) : "unknown condition " + std::to_string(value);
  }
  bool equivalent(const std::error_code& code, int value) const noexcept override {
    return static_cast<int>(classify(code)) == value;
  }
};

// Asio's own categories reach us through Boost.System's conversion to std::error_code, which keeps
// their names; matching by name keeps this file free of Asio.
condition classify_asio(std::string_view category, int value) noexcept {
  if (category == "asio.netdb") {
    return value == 2 ? condition::transient : condition::name_resolution;  // 2 is try_again
  }
  if (category == "asio.addrinfo") return condition::name_resolution;
  if (category == "asio.misc") {
    switch (value) {
      case 2:
        return condition::connection_lost;  // eof: the stream ended before it should have
      case 3:
        return condition::name_resolution;  // not_found
      default:
        return condition::caller_bug;  // already_open, fd_set_failure
    }
  }
  return condition{};
}

// The generic category holds std::errc values, whose numbers are the C runtime's: Linux's errno on
// Linux, but MinGW's and MSVC's own (ECONNRESET is 108, ETIMEDOUT 138) on Windows. The names are the
// same everywhere, so the value is matched to its std::errc enumerator and looked up by name.
struct errc_name {
  std::errc value;
  const char* name;
};

constexpr errc_name errc_names[] = {
    {std::errc::address_family_not_supported, "EAFNOSUPPORT"},
    {std::errc::address_in_use, "EADDRINUSE"},
    {std::errc::address_not_available, "EADDRNOTAVAIL"},
    {std::errc::already_connected, "EISCONN"},
    {std::errc::bad_address, "EFAULT"},
    {std::errc::bad_file_descriptor, "EBADF"},
    {std::errc::broken_pipe, "EPIPE"},
    {std::errc::connection_aborted, "ECONNABORTED"},
    {std::errc::connection_already_in_progress, "EALREADY"},
    {std::errc::connection_refused, "ECONNREFUSED"},
    {std::errc::connection_reset, "ECONNRESET"},
    {std::errc::destination_address_required, "EDESTADDRREQ"},
    {std::errc::device_or_resource_busy, "EBUSY"},
    {std::errc::filename_too_long, "ENAMETOOLONG"},
    {std::errc::function_not_supported, "ENOSYS"},
    {std::errc::host_unreachable, "EHOSTUNREACH"},
    {std::errc::interrupted, "EINTR"},
    {std::errc::invalid_argument, "EINVAL"},
    {std::errc::io_error, "EIO"},
    {std::errc::message_size, "EMSGSIZE"},
    {std::errc::network_down, "ENETDOWN"},
    {std::errc::network_reset, "ENETRESET"},
    {std::errc::network_unreachable, "ENETUNREACH"},
    {std::errc::no_buffer_space, "ENOBUFS"},
    {std::errc::no_protocol_option, "ENOPROTOOPT"},
    {std::errc::no_space_on_device, "ENOSPC"},
    {std::errc::no_such_file_or_directory, "ENOENT"},
    {std::errc::not_a_socket, "ENOTSOCK"},
    {std::errc::not_connected, "ENOTCONN"},
    {std::errc::not_enough_memory, "ENOMEM"},
    {std::errc::not_supported, "ENOTSUP"},
    {std::errc::operation_canceled, "ECANCELED"},
    {std::errc::operation_in_progress, "EINPROGRESS"},
    {std::errc::operation_not_permitted, "EPERM"},
    {std::errc::operation_not_supported, "EOPNOTSUPP"},
    {std::errc::operation_would_block, "EWOULDBLOCK"},
    {std::errc::permission_denied, "EACCES"},
    {std::errc::protocol_error, "EPROTO"},
    {std::errc::protocol_not_supported, "EPROTONOSUPPORT"},
    {std::errc::resource_unavailable_try_again, "EAGAIN"},
    {std::errc::timed_out, "ETIMEDOUT"},
    {std::errc::too_many_files_open, "EMFILE"},
    {std::errc::too_many_files_open_in_system, "ENFILE"},
    {std::errc::too_many_symbolic_link_levels, "ELOOP"},
    {std::errc::wrong_protocol_type, "EPROTOTYPE"},
};

const socket_error* find_generic_error(int value) noexcept {
  // On Linux the numbers are the table's own, including errno values std::errc does not name.
  if (native_code_space() == code_space::posix) return find_socket_error(value, code_space::posix);
  for (const auto& e : errc_names) {
    if (static_cast<int>(e.value) == value) return find_socket_error(std::string_view(e.name));
  }
  return nullptr;
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const errc_category instance;
  return instance;
}

const std::error_category& condition_category() noexcept {
  static const condition_category_impl instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

std::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

std::string_view to_string(condition c) noexcept {
  const auto* info = find_condition(static_cast<int>(c));
  return info ? info->name : std::string_view("unknown");
}

std::string_view advice(condition c) noexcept {
  const auto* info = find_condition(static_cast<int>(c));
  return info ? info->advice : std::string_view();
}

condition classify(const std::error_code& ec) noexcept {
  if (!ec) return condition{};
  const auto& category = ec.category();
  if (category == error_category()) {
    const auto* info = find(ec.value());
    return info ? info->cls : condition{};
  }
  // The system category holds what the OS reports: errno on Linux; on Windows, Winsock and Win32
  // codes (WSAGetLastError, GetLastError). Boost.System's system and generic categories reach here
  // as themselves on Linux, and on MinGW by name (detail::is_system_category).
  const std::string_view name = category.name();
  const socket_error* entry = nullptr;
  if (detail::is_system_category(category)) {
    entry = find_socket_error(ec.value(), native_code_space());
  } else if (category == std::generic_category() || name == "generic") {
    entry = find_generic_error(ec.value());
  } else {
    return classify_asio(name, ec.value());
  }
  return entry ? entry->cls : condition{};
}

}  // namespace lifeline
