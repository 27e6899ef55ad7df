// The platform seam on Linux and other POSIX systems (macOS names noted where they differ).
#ifndef _WIN32

#include "platform.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

namespace lifeline::detail {
namespace {

std::error_code last_error() noexcept { return {errno, std::system_category()}; }

std::error_code set_int(native_socket s, int level, int name, int value) noexcept {
  if (::setsockopt(static_cast<int>(s), level, name, &value, sizeof value) != 0) return last_error();
  return {};
}

std::optional<int> get_int(native_socket s, int level, int name) noexcept {
  int value = 0;
  socklen_t size = sizeof value;
  if (::getsockopt(static_cast<int>(s), level, name, &value, &size) != 0) return std::nullopt;
  return value;
}

#ifdef __linux__
bool get_tcp_info(native_socket s, tcp_info& info) noexcept {
  socklen_t size = sizeof info;
  return ::getsockopt(static_cast<int>(s), IPPROTO_TCP, TCP_INFO, &info, &size) == 0;
}
#endif

#ifdef __APPLE__
constexpr int keepalive_idle_option = TCP_KEEPALIVE;
#else
constexpr int keepalive_idle_option = TCP_KEEPIDLE;
#endif

std::optional<int> read_proc_int(const char* path) {
  std::ifstream in(path);
  int value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

}  // namespace

std::error_code set_keepalive(native_socket s, std::chrono::seconds idle, std::chrono::seconds interval,
                              int probes, keepalive_probing& probing) noexcept {
  probing = {interval, probes};
  if (auto ec = set_int(s, SOL_SOCKET, SO_KEEPALIVE, 1)) return ec;
  if (auto ec = set_int(s, IPPROTO_TCP, keepalive_idle_option, static_cast<int>(idle.count()))) return ec;
  if (auto ec = set_int(s, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(interval.count()))) return ec;
  return set_int(s, IPPROTO_TCP, TCP_KEEPCNT, probes);
}

std::error_code prepare_listener(native_socket s) noexcept {
  const int on = 1;
  if (::setsockopt(static_cast<int>(s), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return last_error();
  return {};
}

std::error_code set_user_timeout(native_socket s, std::chrono::milliseconds timeout, bool& held) noexcept {
  held = true;
#if defined(TCP_USER_TIMEOUT)
  return set_int(s, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(timeout.count()));
#elif defined(TCP_RXT_CONNDROPTIME)
  // macOS counts whole seconds; round up so the bound is never shorter than asked.
  return set_int(s, IPPROTO_TCP, TCP_RXT_CONNDROPTIME, static_cast<int>((timeout.count() + 999) / 1000));
#else
  if (timeout.count() == 0) return {};
  return std::make_error_code(std::errc::no_protocol_option);
#endif
}

std::error_code get_keepalive(native_socket s, socket_keepalive& out) noexcept {
  const auto enabled = get_int(s, SOL_SOCKET, SO_KEEPALIVE);
  if (!enabled) return last_error();
  out = {};
  out.enabled = *enabled != 0;
  if (auto v = get_int(s, IPPROTO_TCP, keepalive_idle_option)) out.idle = std::chrono::seconds(*v);
  if (auto v = get_int(s, IPPROTO_TCP, TCP_KEEPINTVL)) out.interval = std::chrono::seconds(*v);
  if (auto v = get_int(s, IPPROTO_TCP, TCP_KEEPCNT)) out.probes = *v;
#if defined(TCP_USER_TIMEOUT)
  if (auto v = get_int(s, IPPROTO_TCP, TCP_USER_TIMEOUT)) out.user_timeout = std::chrono::milliseconds(*v);
#endif
  return {};
}

std::optional<std::chrono::milliseconds> peer_silence(native_socket s) noexcept {
#ifdef __linux__
  tcp_info info{};
  if (!get_tcp_info(s, info)) return std::nullopt;
  // The kernel's keep-alive timer measures idleness the same way (keepalive_time_elapsed).
  const auto quiet =
      info.tcpi_last_data_recv < info.tcpi_last_ack_recv ? info.tcpi_last_data_recv : info.tcpi_last_ack_recv;
  return std::chrono::milliseconds(quiet);
#else
  (void)s;
  return std::nullopt;
#endif
}

bool connection_torn_down(native_socket s) noexcept {
#ifdef __linux__
  tcp_info info{};
  return get_tcp_info(s, info) && info.tcpi_state == TCP_CLOSE;
#else
  (void)s;
  return false;
#endif
}

std::optional<std::chrono::microseconds> smoothed_rtt(native_socket s) noexcept {
#ifdef __linux__
  tcp_info info{};
  if (!get_tcp_info(s, info)) return std::nullopt;
  return std::chrono::microseconds(info.tcpi_rtt);
#else
  (void)s;
  return std::nullopt;
#endif
}

bool is_connection_failure(const std::error_code& ec) noexcept {
  if (ec.category() != std::system_category() && ec.category() != std::generic_category()) return false;
  switch (ec.value()) {
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ECONNREFUSED:
    case ENETRESET:
    case ECONNRESET:
    case ECONNABORTED:
      return true;
    default:
      return false;
  }
}

bool is_broken_pipe(const std::error_code& ec) noexcept {
  return (ec.category() == std::system_category() || ec.category() == std::generic_category()) &&
         ec.value() == EPIPE;
}

// Asio reports an operation pending at close() as operation_aborted itself.
bool is_aborted_by_close(const std::error_code&) noexcept { return false; }

std::error_code get_descriptor_usage(descriptor_usage& out) noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return last_error();
  out = {};
  out.soft = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<std::uint64_t>(limit.rlim_cur);
  out.hard = limit.rlim_max == RLIM_INFINITY ? 0 : static_cast<std::uint64_t>(limit.rlim_max);
#if defined(__linux__) || defined(__APPLE__)
  std::error_code ec;
#ifdef __linux__
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
#else
  std::filesystem::directory_iterator it("/dev/fd", ec);
#endif
  if (!ec) {
    std::uint64_t count = 0;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      if (ec) break;
      ++count;
    }
    // The iterator holds one descriptor of its own while it counts.
    if (!ec && count > 0) out.in_use = count - 1;
  }
#endif
  return {};
}

std::error_code get_system_keepalive(system_keepalive& out) noexcept {
#ifdef __linux__
  try {
    const auto idle = read_proc_int("/proc/sys/net/ipv4/tcp_keepalive_time");
    const auto interval = read_proc_int("/proc/sys/net/ipv4/tcp_keepalive_intvl");
    const auto probes = read_proc_int("/proc/sys/net/ipv4/tcp_keepalive_probes");
    if (!idle || !interval || !probes) return std::make_error_code(std::errc::no_such_file_or_directory);
    out.idle = std::chrono::seconds(*idle);
    out.interval = std::chrono::seconds(*interval);
    out.probes = *probes;
    out.retries2 = read_proc_int("/proc/sys/net/ipv4/tcp_retries2");
    return {};
  } catch (...) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
#else
  (void)out;
  (void)read_proc_int;
  return std::make_error_code(std::errc::operation_not_supported);
#endif
}

}  // namespace lifeline::detail

#endif  // !_WIN32
