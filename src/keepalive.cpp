// Keep-alive options: validation, the bound they imply, and applying them through the platform seam.
#include <lifeline/keepalive.hpp>

#include "platform/platform.hpp"

#include <fmt/chrono.h>
#include <fmt/core.h>

namespace lifeline {

using std::chrono::milliseconds;
using std::chrono::seconds;

milliseconds keepalive_options::idle_detection() const noexcept {
  const milliseconds idle_ms = idle;
  const milliseconds interval_ms = interval;
  if (user_timeout.count() <= 0) return idle_ms + interval_ms * probes;
  // Linux's keep-alive timer with a user timeout (tcp_keepalive_timer): it gives up at the first
  // tick after at least one probe at which the peer has been silent for user_timeout.
  long long ticks = 1;
  if (user_timeout > idle_ms + interval_ms) {
    const auto beyond = (user_timeout - idle_ms).count();
    ticks = (beyond + interval_ms.count() - 1) / interval_ms.count();
  }
  return idle_ms + interval_ms * ticks;
}

milliseconds keepalive_options::os_bound() const noexcept {
  const auto keepalive = idle_detection();
  return keepalive > user_timeout ? keepalive : user_timeout;
}

milliseconds keepalive_options::bound() const noexcept { return os_bound() + grace; }

keepalive_options matched_options(seconds idle, seconds interval, int probes) noexcept {
  keepalive_options o;
  o.idle = idle;
  o.interval = interval;
  o.probes = probes;
  o.user_timeout = idle + interval * probes;
  return o;
}

std::error_code validate(const keepalive_options& o, std::string* detail) {
  constexpr seconds day{86400};
  std::string why;
  if (o.idle < seconds(1) || o.idle > day) {
    why = fmt::format("keep-alive idle time {} is outside 1s..86400s", o.idle);
  } else if (o.interval < seconds(1) || o.interval > day) {
    why = fmt::format("keep-alive interval {} is outside 1s..86400s", o.interval);
  } else if (o.probes < 1 || o.probes > 255) {
    why = fmt::format("keep-alive probe count {} is outside 1..255", o.probes);
  } else if (o.user_timeout < milliseconds(0) || o.user_timeout > day) {
    why = fmt::format("user timeout {} is outside 0ms..86400000ms", o.user_timeout);
  } else if (o.grace < milliseconds(0) || o.grace > seconds(3600)) {
    why = fmt::format("grace {} is outside 0ms..3600000ms", o.grace);
  }
  if (why.empty()) return {};
  if (detail) *detail = std::move(why);
  return errc::invalid_argument;
}

std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options,
                      std::error_code& os_error, keepalive_effect& effect) {
  os_error.clear();
  if (auto ec = validate(options)) return ec;
  if (!socket.is_open())
    return std::error_code(boost::system::error_code(boost::asio::error::bad_descriptor));
  const auto handle = static_cast<detail::native_socket>(socket.native_handle());
  detail::keepalive_probing probing;
  bool user_timeout_held = false;
  os_error = detail::set_keepalive(handle, options.idle, options.interval, options.probes, probing);
  if (!os_error) os_error = detail::set_user_timeout(handle, options.user_timeout, user_timeout_held);
  if (os_error) return errc::option_rejected;
  effect.interval = probing.interval;
  effect.probes = probing.probes;
  effect.user_timeout_held = user_timeout_held;
  return {};
}

std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options,
                      std::error_code& os_error) {
  keepalive_effect effect;
  return apply(socket, options, os_error, effect);
}

std::error_code apply(boost::asio::ip::tcp::socket& socket, const keepalive_options& options) {
  std::error_code os_error;
  return apply(socket, options, os_error);
}

std::error_code read_back(boost::asio::ip::tcp::socket& socket, keepalive_options& out, bool& enabled) {
  if (!socket.is_open())
    return std::error_code(boost::system::error_code(boost::asio::error::bad_descriptor));
  detail::socket_keepalive held;
  if (auto ec = detail::get_keepalive(static_cast<detail::native_socket>(socket.native_handle()), held)) {
    return ec;
  }
  enabled = held.enabled;
  if (held.idle) out.idle = *held.idle;
  if (held.interval) out.interval = *held.interval;
  if (held.probes) out.probes = *held.probes;
  if (held.user_timeout) out.user_timeout = *held.user_timeout;
  return {};
}

}  // namespace lifeline
