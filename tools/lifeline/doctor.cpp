// `lifeline doctor HOST:PORT`: checks the address, limits, keep-alive defaults and a real connection,
// and prints findings with what to change; `--watch` holds a connection until its path fails.
#include "commands.hpp"

#include <lifeline/doctor.hpp>

#include <fmt/core.h>
#include <boost/json.hpp>

#include <memory>
#include <string>

namespace lifeline::cli {
namespace {

struct doctor_options {
  std::string target;
  bool json = false;
  bool watch = false;
  unsigned watch_for = 600;
  unsigned idle = 10;
  unsigned interval = 2;
  unsigned probes = 5;
  long long user_timeout = -1;  // -1: match idle + interval x probes
  unsigned timeout = 5000;
};

boost::json::value optional_ms(const std::optional<std::chrono::milliseconds>& d) {
  if (!d) return nullptr;
  return d->count();
}

boost::json::object options_json(const keepalive_options& o) {
  return {{"idle_s", o.idle.count()},     {"interval_s", o.interval.count()},
          {"probes", o.probes},           {"user_timeout_ms", o.user_timeout.count()},
          {"grace_ms", o.grace.count()},  {"os_bound_ms", o.os_bound().count()},
          {"bound_ms", o.bound().count()}};
}

boost::json::value error_json(const std::error_code& ec) {
  if (!ec) return nullptr;
  return boost::json::object{{"category", ec.category().name()},
                             {"value", ec.value()},
                             {"message", ec.message()},
                             {"condition", to_string(classify(ec))}};
}

boost::json::object report_json(const doctor_report& r) {
  boost::json::object o;
  o["target"] = fmt::format("{}:{}", r.target.host, r.target.port);
  boost::json::array addresses;
  for (const auto& a : r.addresses) addresses.emplace_back(a);
  o["addresses"] = std::move(addresses);
  o["resolve_error"] = error_json(r.resolve_error);
  o["connected_to"] = r.connected_to ? boost::json::value(*r.connected_to) : nullptr;
  o["connect_error"] = error_json(r.connect_error);
  o["connect_time_us"] = r.connect_time ? boost::json::value(r.connect_time->count()) : nullptr;
  o["smoothed_rtt_us"] = r.smoothed_rtt ? boost::json::value(r.smoothed_rtt->count()) : nullptr;
  o["descriptors"] = {{"soft", r.descriptors_soft},
                      {"hard", r.descriptors_hard},
                      {"in_use", r.descriptors_in_use ? boost::json::value(*r.descriptors_in_use) : nullptr}};
  if (r.system_keepalive) {
    auto sys = options_json(*r.system_keepalive);
    sys["tcp_retries2"] = r.tcp_retries2 ? boost::json::value(*r.tcp_retries2) : nullptr;
    sys["in_flight_detection_ms"] = optional_ms(r.system_in_flight_detection);
    o["system_keepalive"] = std::move(sys);
  } else {
    o["system_keepalive"] = nullptr;
  }
  o["options"] = options_json(r.options);
  o["options_error"] = error_json(r.options_error);
  boost::json::array findings;
  for (const auto& f : r.findings) {
    findings.push_back(boost::json::object{
        {"level", to_string(f.level)}, {"check", f.check}, {"what", f.what}, {"advice", f.advice}});
  }
  o["findings"] = std::move(findings);
  o["healthy"] = r.healthy();
  return o;
}

boost::json::object watch_json(const watch_report& r) {
  return {{"outcome", to_string(r.outcome)},
          {"connected_to", r.connected_to ? boost::json::value(*r.connected_to) : nullptr},
          {"connect_error", error_json(r.connect_error)},
          {"held_ms", r.held.count()},
          {"bytes_received", r.bytes_received},
          {"error", error_json(r.error)},
          {"cause", error_json(r.cause)},
          {"detected_by", r.outcome != watch_outcome::lost ? boost::json::value(nullptr)
                          : r.detected_by_deadline         ? boost::json::value("lifeline")
                                                           : boost::json::value("os")},
          {"detection_ms", optional_ms(r.detection)},
          {"bound_ms", r.bound.count()}};
}

void print_report(const doctor_report& r) {
  for (const auto& f : r.findings) {
    fmt::print("{:<8} {:<20} {}\n", to_string(f.level), f.check, f.what);
    if (!f.advice.empty()) fmt::print("{:<29} -> {}\n", "", f.advice);
  }
  fmt::print("{}\n", r.healthy() ? "no problems found" : "problems found");
}

double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

void print_watch(const watch_report& r) {
  switch (r.outcome) {
    case watch_outcome::not_connected:
      fmt::print("could not connect: {}\n", r.connect_error.message());
      break;
    case watch_outcome::still_alive:
      fmt::print("connection to {} still alive after {:.1f} s\n", *r.connected_to, seconds_of(r.held));
      break;
    case watch_outcome::closed_by_peer:
      fmt::print("the peer closed the connection after {:.1f} s\n", seconds_of(r.held));
      break;
    case watch_outcome::lost:
      fmt::print("connection lost after {:.1f} s: {} ({})\n", seconds_of(r.held), r.error.message(),
                 r.cause ? r.cause.message() : std::string("cause consumed elsewhere"));
      if (r.detection) {
        fmt::print("detected by {} {:.3f} s after the peer was last heard (bound {:.3f} s)\n",
                   r.detected_by_deadline ? "lifeline's deadline" : "the OS", seconds_of(*r.detection),
                   seconds_of(r.bound));
      }
      break;
  }
}

int run_doctor(const doctor_options& o) {
  host_port target;
  std::string why;
  if (parse_host_port(o.target, target, why)) {
    fmt::print(stderr, "lifeline doctor: {}\n", why);
    return exit_usage;
  }
  keepalive_options options;
  options.idle = std::chrono::seconds(o.idle);
  options.interval = std::chrono::seconds(o.interval);
  options.probes = static_cast<int>(o.probes);
  options.user_timeout = o.user_timeout < 0
                             ? std::chrono::milliseconds(options.idle + options.interval * o.probes)
                             : std::chrono::milliseconds(o.user_timeout);
  if (validate(options, &why)) {
    fmt::print(stderr, "lifeline doctor: {}\n", why);
    return exit_usage;
  }
  const std::chrono::milliseconds timeout(o.timeout);

  if (o.watch) {
    watch_request request{target, options, timeout, std::chrono::seconds(o.watch_for)};
    const bool json = o.json;
    const auto report = watch(request, [json](const std::string& address) {
      if (!json) fmt::print("watching {}; waiting for the path to fail\n", address);
      std::fflush(stdout);
    });
    if (o.json) {
      fmt::print("{}\n", boost::json::serialize(watch_json(report)));
    } else {
      print_watch(report);
    }
    return report.outcome == watch_outcome::still_alive ? exit_ok : exit_failure;
  }

  const auto report = diagnose({target, options, timeout});
  if (o.json) {
    fmt::print("{}\n", boost::json::serialize(report_json(report)));
  } else {
    print_report(report);
  }
  return report.healthy() ? exit_ok : exit_failure;
}

}  // namespace

command add_doctor(CLI::App& app) {
  auto o = std::make_shared<doctor_options>();
  auto* sub = app.add_subcommand(
      "doctor",
      "Diagnose a host: limits, keep-alive defaults, a connection and its round trip; --watch "
      "holds a connection and reports how long detecting its failure took");
  sub->add_option("target", o->target, "HOST:PORT, or [IPv6]:PORT")->required();
  sub->add_flag("--json", o->json, "Print JSON instead of text");
  sub->add_flag("--watch", o->watch, "Hold an idle connection until its path fails, then report");
  sub->add_option("--watch-for", o->watch_for, "Give up watching after this many seconds (default 600)")
      ->check(CLI::Range(1u, 86400u));
  sub->add_option("--idle", o->idle, "Keep-alive idle time, seconds (default 10)")
      ->check(CLI::Range(1u, 86400u));
  sub->add_option("--interval", o->interval, "Keep-alive probe interval, seconds (default 2)")
      ->check(CLI::Range(1u, 86400u));
  sub->add_option("--probes", o->probes, "Keep-alive probe count (default 5)")->check(CLI::Range(1u, 255u));
  sub->add_option("--user-timeout", o->user_timeout,
                  "Unacknowledged-data timeout, ms; 0 for none (default idle + interval x probes)")
      ->check(CLI::Range(0LL, 86400000LL));
  sub->add_option("--timeout", o->timeout, "Deadline for resolving and for connecting, ms (default 5000)")
      ->check(CLI::Range(1u, 600000u));
  return {sub, [o] { return run_doctor(*o); }};
}

}  // namespace lifeline::cli
