// The platform seam on Windows (Winsock 2). Windows 10 1709 and later take the per-socket keep-alive
// options; older versions only take SIO_KEEPALIVE_VALS, whose probe count is fixed at 10.
#ifdef _WIN32

#include "platform.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mstcpip.h>
// clang-format on

namespace lifeline::detail {
namespace {

// The per-socket options' numbers, for SDK headers that predate them (ws2ipdef.h).
constexpr int tcp_keepidle = 3;
constexpr int tcp_keepintvl = 17;
constexpr int tcp_keepcnt = 16;
constexpr int tcp_maxrt = 5;
constexpr int fixed_probe_count = 10;  // what Windows Vista and later send under SIO_KEEPALIVE_VALS

std::error_code last_error() noexcept { return {::WSAGetLastError(), std::system_category()}; }

bool is_winsock(const std::error_code& ec) noexcept { return is_system_category(ec.category()); }

int set_int(native_socket s, int level, int name, DWORD value) noexcept {
  if (::setsockopt(static_cast<SOCKET>(s), level, name, reinterpret_cast<const char*>(&value),
                   sizeof value) != 0) {
    return ::WSAGetLastError();
  }
  return 0;
}

std::optional<DWORD> get_int(native_socket s, int level, int name) noexcept {
  DWORD value = 0;
  int size = sizeof value;
  if (::getsockopt(static_cast<SOCKET>(s), level, name, reinterpret_cast<char*>(&value), &size) != 0) {
    return std::nullopt;
  }
  return value;
}

// Windows before 10 1709 has only this ioctl, in milliseconds, with the probe count fixed at 10.
// Under Wine it sets Linux's keep-alive in whole seconds (issue 6) and the probe count
// stays the host's (docs/windows.md). The interval is scaled so that the fixed count gives up when
// the asked count would have: idle + 10 x (interval x probes / 10), rounded up to the millisecond.
std::error_code set_keepalive_vals(native_socket s, std::chrono::seconds idle, std::chrono::seconds interval,
                                   int probes, keepalive_probing& probing) noexcept {
  const long long interval_ms = std::chrono::milliseconds(interval).count();
  probing.probes = fixed_probe_count;
  probing.interval =
      std::chrono::milliseconds((interval_ms * probes + fixed_probe_count - 1) / fixed_probe_count);
  tcp_keepalive values{};
  values.onoff = 1;
  values.keepalivetime = static_cast<ULONG>(std::chrono::milliseconds(idle).count());
  values.keepaliveinterval = static_cast<ULONG>(probing.interval.count());
  DWORD returned = 0;
  if (::WSAIoctl(static_cast<SOCKET>(s), SIO_KEEPALIVE_VALS, &values, sizeof values, nullptr, 0, &returned,
                 nullptr, nullptr) != 0) {
    return last_error();
  }
  return {};
}

}  // namespace

// The per-socket options come first: where Windows has them they hold the probe count as given. Only
// an OS that does not know them (WSAENOPROTOOPT) gets the ioctl.
std::error_code set_keepalive(native_socket s, std::chrono::seconds idle, std::chrono::seconds interval,
                              int probes, keepalive_probing& probing) noexcept {
  probing = {interval, probes};
  if (const int e = set_int(s, SOL_SOCKET, SO_KEEPALIVE, TRUE)) return {e, std::system_category()};
  const int e = set_int(s, IPPROTO_TCP, tcp_keepidle, static_cast<DWORD>(idle.count()));
  if (e == WSAENOPROTOOPT) return set_keepalive_vals(s, idle, interval, probes, probing);
  if (e != 0) return {e, std::system_category()};
  if (const int e2 = set_int(s, IPPROTO_TCP, tcp_keepintvl, static_cast<DWORD>(interval.count()))) {
    return {e2, std::system_category()};
  }
  if (const int e3 = set_int(s, IPPROTO_TCP, tcp_keepcnt, static_cast<DWORD>(probes))) {
    return {e3, std::system_category()};
  }
  return {};
}

std::error_code prepare_listener(native_socket s) noexcept {
  const BOOL on = TRUE;
  if (::setsockopt(static_cast<SOCKET>(s), SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
                   reinterpret_cast<const char*>(&on), sizeof on) != 0) {
    return last_error();
  }
  return {};
}

// TCP_MAXRT exists since Windows Vista; Wine 8 does not know it (WSAENOPROTOOPT), and then nothing
// bounds unacknowledged data but the OS's retransmission limits: reported through `held`.
std::error_code set_user_timeout(native_socket s, std::chrono::milliseconds timeout, bool& held) noexcept {
  held = true;
  if (timeout.count() == 0) return {};
  // TCP_MAXRT counts whole seconds; round up so the bound is never shorter than asked.
  const auto seconds = static_cast<DWORD>((timeout.count() + 999) / 1000);
  const int e = set_int(s, IPPROTO_TCP, tcp_maxrt, seconds);
  if (e == WSAENOPROTOOPT) {
    held = false;
    return {};
  }
  if (e != 0) return {e, std::system_category()};
  return {};
}

std::error_code get_keepalive(native_socket s, socket_keepalive& out) noexcept {
  const auto enabled = get_int(s, SOL_SOCKET, SO_KEEPALIVE);
  if (!enabled) return last_error();
  out = {};
  out.enabled = *enabled != 0;
  if (auto v = get_int(s, IPPROTO_TCP, tcp_keepidle)) out.idle = std::chrono::seconds(*v);
  if (auto v = get_int(s, IPPROTO_TCP, tcp_keepintvl)) out.interval = std::chrono::seconds(*v);
  if (auto v = get_int(s, IPPROTO_TCP, tcp_keepcnt)) out.probes = static_cast<int>(*v);
  if (auto v = get_int(s, IPPROTO_TCP, tcp_maxrt)) out.user_timeout = std::chrono::seconds(*v);
  return {};
}

// Windows keeps the figures below in SIO_TCP_INFO (Windows 10 1703 and later; Wine 8 lacks it); until
// that is wired in, lifeline's own deadline is not armed on Windows and detection rests on the OS.
std::optional<std::chrono::milliseconds> peer_silence(native_socket) noexcept { return std::nullopt; }

// Without SIO_TCP_INFO there is no TCP state to read, but Winsock keeps a connection's failure: every
// call after a reset fails with WSAECONNRESET. A send of zero bytes asks without sending anything, and
// succeeds after the peer's orderly close. Under Wine, a read pending when the peer's RST arrives can
// end as end-of-file when another call took the error (measured), as on Linux.
bool connection_torn_down(native_socket s) noexcept {
  char none = 0;
  if (::send(static_cast<SOCKET>(s), &none, 0, 0) == 0) return false;
  return is_connection_failure(last_error());
}
std::optional<std::chrono::microseconds> smoothed_rtt(native_socket) noexcept { return std::nullopt; }

bool is_connection_failure(const std::error_code& ec) noexcept {
  if (!is_winsock(ec)) return false;
  switch (ec.value()) {
    case WSAETIMEDOUT:
    case WSAEHOSTUNREACH:
    case WSAENETUNREACH:
    case WSAEHOSTDOWN:
    case WSAENETDOWN:
    case WSAECONNREFUSED:
    case WSAENETRESET:
    case WSAECONNRESET:
    case WSAECONNABORTED:
      return true;
    default:
      return false;
  }
}

bool is_broken_pipe(const std::error_code& ec) noexcept {
  return is_winsock(ec) && ec.value() == WSAESHUTDOWN;
}

bool is_aborted_by_close(const std::error_code& ec) noexcept {
  // Windows completes such an operation with ERROR_NETNAME_DELETED, which Asio turns into
  // operation_aborted; Wine completes it with STATUS_HANDLES_CLOSED, which Asio passes on as is.
  constexpr int error_handles_closed = 676;  // not in MinGW's winerror.h
  return is_winsock(ec) && ec.value() == error_handles_closed;
}

std::error_code get_descriptor_usage(descriptor_usage& out) noexcept {
  // Winsock has no per-process socket limit to report; sockets are bounded by memory. What the
  // process holds is its handle count (sockets, files, threads, events...).
  out = {};
  out.limited = false;
  DWORD handles = 0;
  // Wine answers 0, which no real process has: unknown then.
  if (::GetProcessHandleCount(::GetCurrentProcess(), &handles) && handles > 0) out.in_use = handles;
  return {};
}

namespace {

constexpr const wchar_t* tcpip_parameters = L"SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters";

std::optional<DWORD> tcpip_parameter(const wchar_t* name) noexcept {
  DWORD value = 0;
  DWORD size = sizeof value;
  if (::RegGetValueW(HKEY_LOCAL_MACHINE, tcpip_parameters, name, RRF_RT_REG_DWORD, nullptr, &value, &size) !=
      ERROR_SUCCESS) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::error_code get_system_keepalive(system_keepalive& out) noexcept {
  // KeepAliveTime and KeepAliveInterval (milliseconds) and TcpMaxDataRetransmissions where the machine
  // sets them in the registry, else the documented defaults: 2 hours, 1 second, 5. The probe count is
  // fixed at 10 since Windows Vista.
  const auto idle = tcpip_parameter(L"KeepAliveTime");
  const auto interval = tcpip_parameter(L"KeepAliveInterval");
  const auto retries = tcpip_parameter(L"TcpMaxDataRetransmissions");
  out.idle =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::milliseconds(idle.value_or(7200000)));
  out.interval = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::milliseconds(std::max<DWORD>(interval.value_or(1000), 1000)));
  out.probes = fixed_probe_count;
  out.retries2 = static_cast<int>(retries.value_or(5));
  out.min_rto = std::chrono::milliseconds(300);  // Windows' default minimum retransmission timeout
  out.keepalive_settings =
      "KeepAliveTime / KeepAliveInterval (ms) under "
      "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters";
  out.retries_name = "TcpMaxDataRetransmissions";
  out.retries_setting =
      "TcpMaxDataRetransmissions under HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters";
  out.user_timeout_option = "TCP_MAXRT";
  out.source = idle || interval || retries ? "registry" : "Windows defaults";
  return {};
}

}  // namespace lifeline::detail

#endif  // _WIN32
