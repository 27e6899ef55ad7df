// lifeline doctor's system checks: the descriptor limits and the keep-alive defaults, read through the
// platform seam.
#include "doctor_checks.hpp"

#include "platform/platform.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace lifeline::detail {

using std::chrono::milliseconds;

namespace {

std::string duration_text(milliseconds d) {
  if (d >= std::chrono::hours(2)) return fmt::format("{:.1f} h ({})", d.count() / 3.6e6, seconds_text(d));
  if (d >= std::chrono::minutes(2)) return fmt::format("{:.1f} min ({})", d.count() / 6e4, seconds_text(d));
  return seconds_text(d);
}

}  // namespace

std::string seconds_text(milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

std::string options_text(const keepalive_options& o) {
  return fmt::format("idle {}, interval {} x {} probes, user timeout {}", seconds_text(o.idle),
                     seconds_text(o.interval), o.probes,
                     o.user_timeout.count() ? seconds_text(o.user_timeout) : "none");
}

void check_descriptors(doctor_report& r) {
  detail::descriptor_usage usage;
  if (auto ec = detail::get_descriptor_usage(usage)) {
    r.findings.push_back({severity::warning, "descriptors",
                          "could not read the descriptor limits: " + ec.message(),
                          "check the process's limits by hand (ulimit -n)"});
    return;
  }
  r.descriptors_soft = usage.soft;
  r.descriptors_hard = usage.hard;
  r.descriptors_in_use = usage.in_use;
  if (!usage.limited) {
    r.findings.push_back(
        {severity::ok, "descriptors",
         usage.in_use
             ? fmt::format("no per-process socket limit (sockets are bounded by memory); {} handles open",
                           *usage.in_use)
             : std::string("no per-process socket limit (sockets are bounded by memory)"),
         ""});
    return;
  }
  const auto limit_text = [](std::uint64_t v) {
    return v == 0 ? std::string("unlimited") : std::to_string(v);
  };
  const auto in_use = usage.in_use ? std::to_string(*usage.in_use) : std::string("unknown");
  const auto what = fmt::format("soft limit {}, hard limit {}, {} in use", limit_text(usage.soft),
                                limit_text(usage.hard), in_use);
  if (usage.soft != 0 && usage.in_use && *usage.in_use * 5 >= usage.soft * 4) {
    r.findings.push_back({severity::problem, "descriptors", what,
                          "over 80% of the soft limit is in use: close leaked sockets or raise the limit "
                          "(ulimit -n, LimitNOFILE= in the service unit)"});
  } else if (usage.soft != 0 && usage.soft < 4096) {
    r.findings.push_back(
        {severity::warning, "descriptors", what,
         fmt::format("a server holding many connections will run out at {}: raise the soft "
                     "limit (ulimit -n {}, LimitNOFILE= in the service unit)",
                     usage.soft, usage.hard == 0 ? 65536 : std::min<std::uint64_t>(usage.hard, 65536))});
  } else {
    r.findings.push_back({severity::ok, "descriptors", what, ""});
  }
}

void check_system_keepalive(doctor_report& r) {
  detail::system_keepalive sys;
  if (auto ec = detail::get_system_keepalive(sys)) {
    r.findings.push_back({severity::warning, "keepalive_defaults",
                          "could not read the system's keep-alive defaults: " + ec.message(),
                          "set keep-alive options on every socket; do not rely on the defaults"});
    return;
  }
  keepalive_options defaults;
  defaults.idle = sys.idle;
  defaults.interval = sys.interval;
  defaults.probes = sys.probes;
  defaults.user_timeout = milliseconds(0);
  defaults.grace = milliseconds(0);
  r.system_keepalive = defaults;
  r.tcp_retries2 = sys.retries2;
  const auto idle_detection = defaults.idle_detection();
  auto what = fmt::format("sockets that set nothing find a dead idle peer after {} ({})",
                          duration_text(idle_detection), options_text(defaults));
  if (!sys.source.empty()) what += fmt::format(", from the {}", sys.source);
  if (idle_detection > std::chrono::minutes(10)) {
    r.findings.push_back(
        {severity::warning, "keepalive_defaults", what,
         fmt::format("set keep-alive per socket (lifeline's options: {}, found within {}), or lower "
                     "{} for every program",
                     options_text(r.options), seconds_text(r.options.bound()), sys.keepalive_settings)});
  } else {
    r.findings.push_back({severity::ok, "keepalive_defaults", what, ""});
  }
  if (sys.retries2) {
    r.system_in_flight_detection = retransmission_give_up(*sys.retries2, sys.min_rto);
    const auto in_flight = fmt::format(
        "keep-alive is silent while data is unacknowledged; with {}={} a dead peer is found "
        "only after about {}",
        sys.retries_name, *sys.retries2, duration_text(*r.system_in_flight_detection));
    if (*r.system_in_flight_detection > std::chrono::minutes(2)) {
      r.findings.push_back(
          {severity::warning, "unacknowledged_data", in_flight,
           fmt::format("set {} per socket (lifeline sets {}), or lower {}", sys.user_timeout_option,
                       r.options.user_timeout.count() ? seconds_text(r.options.user_timeout)
                                                      : std::string("none: give --user-timeout"),
                       sys.retries_setting)});
    } else {
      r.findings.push_back({severity::ok, "unacknowledged_data", in_flight, ""});
    }
  }
}

}  // namespace lifeline::detail
