// lifeline doctor's pieces without I/O: a target's parsing, the report's words, and the time Linux and
// Windows take to give up on unacknowledged data.
#include <lifeline/doctor.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>

namespace lifeline {

using std::chrono::milliseconds;

std::error_code parse_host_port(std::string_view text, host_port& out, std::string& detail,
                                bool allow_port_zero) {
  const auto fail = [&](std::string why) {
    detail = std::move(why);
    return make_error_code(errc::invalid_argument);
  };
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail(fmt::format("'{}': '[' without ']'", text));
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail(fmt::format("'{}': expected ':PORT' after ']'", text));
    }
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(fmt::format("'{}': expected HOST:PORT", text));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail(fmt::format("'{}': write an IPv6 address in brackets, [ADDRESS]:PORT", text));
    }
  }
  if (host.empty()) return fail(fmt::format("'{}': the host is empty", text));
  if (host.find_first_of(" \t[]/") != std::string_view::npos) {
    return fail(fmt::format("'{}': the host contains characters a host name cannot", text));
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const unsigned lowest = allow_port_zero ? 0 : 1;
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < lowest ||
      value > 65535) {
    return fail(fmt::format("'{}': the port must be a number from {} to 65535", text, lowest));
  }
  out.host = std::string(host);
  out.port = static_cast<std::uint16_t>(value);
  return {};
}

std::string_view to_string(severity s) noexcept {
  switch (s) {
    case severity::ok:
      return "ok";
    case severity::warning:
      return "warning";
    case severity::problem:
      return "problem";
  }
  return "unknown";
}

std::string_view to_string(watch_outcome o) noexcept {
  switch (o) {
    case watch_outcome::not_connected:
      return "not_connected";
    case watch_outcome::still_alive:
      return "still_alive";
    case watch_outcome::closed_by_peer:
      return "closed_by_peer";
    case watch_outcome::lost:
      return "lost";
  }
  return "unknown";
}

bool doctor_report::healthy() const noexcept {
  return std::none_of(findings.begin(), findings.end(),
                      [](const finding& f) { return f.level == severity::problem; });
}

milliseconds retransmission_give_up(int retries2, milliseconds first_rto) noexcept {
  // tcp_retries2 counts retransmissions; Linux gives up once the time they would take has passed
  // (retransmits_timed_out): the first RTO is at least 200 ms, each doubles, none exceeds 120 s.
  // Windows' TcpMaxDataRetransmissions works alike from its 300 ms minimum.
  milliseconds total{0};
  milliseconds rto = first_rto;
  for (int i = 0; i <= retries2; ++i) {
    total += rto;
    rto = std::min(rto * 2, milliseconds(120000));
  }
  return total;
}

}  // namespace lifeline
