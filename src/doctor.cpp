// lifeline doctor: the checks behind `lifeline doctor`, each bounded in time, and the watch.
#include <lifeline/doctor.hpp>
#include <lifeline/endpoint.hpp>
#include <lifeline/guarded_socket.hpp>

#include "platform/platform.hpp"

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>

namespace lifeline {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;
using clock_type = std::chrono::steady_clock;

std::string seconds_text(milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

std::string duration_text(milliseconds d) {
  if (d >= std::chrono::hours(2)) return fmt::format("{:.1f} h ({})", d.count() / 3.6e6, seconds_text(d));
  if (d >= std::chrono::minutes(2)) return fmt::format("{:.1f} min ({})", d.count() / 6e4, seconds_text(d));
  return seconds_text(d);
}

std::string options_text(const keepalive_options& o) {
  return fmt::format("idle {}, interval {} x {} probes, user timeout {}", seconds_text(o.idle),
                     seconds_text(o.interval), o.probes,
                     o.user_timeout.count() ? seconds_text(o.user_timeout) : "none");
}

std::string error_text(const std::error_code& ec) {
  const auto cls = classify(ec);
  if (cls == condition{}) return ec.message();
  return fmt::format("{} [{}]", ec.message(), to_string(cls));
}

std::string advice_for(const std::error_code& ec) {
  const auto cls = classify(ec);
  return cls == condition{} ? std::string("run `lifeline explain` on the error for details")
                            : std::string(advice(cls));
}

/// Resolves with a deadline. getaddrinfo itself cannot be interrupted; a late answer is ignored.
std::error_code resolve(asio::io_context& io, const host_port& target, milliseconds timeout,
                        std::vector<tcp::endpoint>& out) {
  tcp::resolver resolver(io);
  asio::steady_timer deadline(io, timeout);
  std::optional<boost::system::error_code> result;
  resolver.async_resolve(target.host, std::to_string(target.port), tcp::resolver::numeric_service,
                         [&](boost::system::error_code ec, tcp::resolver::results_type results) {
                           result = ec;
                           for (const auto& r : results) out.push_back(r.endpoint());
                           deadline.cancel();
                         });
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec) resolver.cancel();
  });
  io.run();
  io.restart();
  if (!result || *result == asio::error::operation_aborted) return std::make_error_code(std::errc::timed_out);
  return *result;
}

/// Opens a socket for `endpoint`, applies the options before the handshake, connects with a deadline.
std::error_code connect(asio::io_context& io, tcp::socket& socket, const tcp::endpoint& endpoint,
                        const keepalive_options& options, milliseconds timeout,
                        std::error_code& options_error) {
  boost::system::error_code opened;
  socket.open(endpoint.protocol(), opened);
  if (opened) return opened;
  if (auto ec = apply(socket, options, options_error)) return ec;
  asio::steady_timer deadline(io, timeout);
  std::optional<boost::system::error_code> result;
  bool timed_out = false;
  socket.async_connect(endpoint, [&](boost::system::error_code ec) {
    result = ec;
    deadline.cancel();
  });
  deadline.async_wait([&](boost::system::error_code ec) {
    if (ec) return;
    timed_out = true;
    boost::system::error_code ignored;
    socket.cancel(ignored);
  });
  io.run();
  io.restart();
  if (timed_out) return std::make_error_code(std::errc::timed_out);
  return result ? std::error_code(*result) : std::make_error_code(std::errc::timed_out);
}

/// Connects to the first address that answers. Returns its index, or nothing.
std::optional<std::size_t> connect_any(asio::io_context& io, tcp::socket& socket,
                                       const std::vector<tcp::endpoint>& endpoints,
                                       const keepalive_options& options, milliseconds timeout,
                                       std::error_code& last_error, std::error_code& options_error) {
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    last_error = connect(io, socket, endpoints[i], options, timeout, options_error);
    if (!last_error) return i;
    boost::system::error_code ignored;
    socket.close(ignored);
    if (options_error || last_error == errc::invalid_argument) return std::nullopt;
  }
  return std::nullopt;
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

}  // namespace

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

doctor_report diagnose(const doctor_request& request) {
  doctor_report r;
  r.target = request.target;
  r.options = request.options;
  check_descriptors(r);
  check_system_keepalive(r);

  std::string why;
  if (validate(request.options, &why)) {
    r.options_error = make_error_code(errc::invalid_argument);
    r.findings.push_back({severity::problem, "options", why, "give values in range"});
    return r;
  }

  asio::io_context io;
  std::vector<tcp::endpoint> endpoints;
  r.resolve_error = resolve(io, request.target, request.timeout, endpoints);
  for (const auto& e : endpoints) r.addresses.push_back(to_string(e));
  if (r.resolve_error || endpoints.empty()) {
    if (!r.resolve_error) r.resolve_error = make_error_code(std::errc::address_not_available);
    r.findings.push_back(
        {severity::problem, "resolve",
         fmt::format("{} does not resolve: {}", request.target.host, error_text(r.resolve_error)),
         "check the host name, /etc/hosts and the resolver (/etc/resolv.conf)"});
    return r;
  }
  r.findings.push_back({severity::ok, "resolve",
                        fmt::format("{} resolves to {}", request.target.host, fmt::join(r.addresses, ", ")),
                        ""});

  tcp::socket socket(io);
  const auto started = clock_type::now();
  const auto index =
      connect_any(io, socket, endpoints, request.options, request.timeout, r.connect_error, r.options_error);
  if (r.options_error) {
    r.findings.push_back({severity::problem, "options",
                          fmt::format("the OS rejected the keep-alive options ({}): {}",
                                      options_text(request.options), error_text(r.options_error)),
                          "choose values this system accepts (Linux: idle and interval up to 32767 s, up to "
                          "127 probes)"});
    return r;
  }
  if (!index) {
    r.findings.push_back({severity::problem, "connect",
                          fmt::format("no address of {} accepted a connection: {}", request.target.host,
                                      error_text(r.connect_error)),
                          advice_for(r.connect_error)});
    return r;
  }
  r.connect_time = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started);
  r.connected_to = to_string(endpoints[*index]);
  r.smoothed_rtt = detail::smoothed_rtt(static_cast<detail::native_socket>(socket.native_handle()));
  const double rtt_ms = static_cast<double>(r.connect_time->count()) / 1000.0;
  r.findings.push_back(
      {severity::ok, "connect",
       fmt::format("connected to {}; the handshake took {:.3f} ms (one round trip)", *r.connected_to, rtt_ms),
       ""});
  const auto bound_text = fmt::format("{} applied; a dead peer is found within {}",
                                      options_text(request.options), seconds_text(request.options.bound()));
  if (request.options.user_timeout.count() == 0) {
    r.findings.push_back({severity::warning, "options",
                          bound_text + " while idle, but not while data is in flight",
                          "set a user timeout (--user-timeout) so unacknowledged data is bounded too"});
  } else if (request.options.user_timeout < std::chrono::duration_cast<milliseconds>(*r.connect_time) * 10) {
    r.findings.push_back(
        {severity::warning, "options", bound_text,
         fmt::format("the user timeout is under ten round trips ({:.1f} ms): a slow but live "
                     "path may be cut; raise it",
                     rtt_ms)});
  } else {
    r.findings.push_back({severity::ok, "options", bound_text, ""});
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  return r;
}

watch_report watch(const watch_request& request,
                   const std::function<void(const std::string&)>& on_connected) {
  watch_report r;
  r.bound = request.options.bound();
  if (validate(request.options)) {
    r.connect_error = make_error_code(errc::invalid_argument);
    return r;
  }
  asio::io_context io;
  std::vector<tcp::endpoint> endpoints;
  if (auto ec = resolve(io, request.target, request.timeout, endpoints)) {
    r.connect_error = ec;
    return r;
  }
  tcp::socket socket(io);
  std::error_code options_error;
  const auto index =
      connect_any(io, socket, endpoints, request.options, request.timeout, r.connect_error, options_error);
  if (!index) {
    if (options_error) r.connect_error = options_error;
    if (!r.connect_error) r.connect_error = make_error_code(std::errc::address_not_available);
    return r;
  }
  r.connected_to = to_string(endpoints[*index]);
  guarded_socket guarded(std::move(socket));
  if (auto ec = guarded.set_options(request.options)) {
    r.connect_error = ec;
    return r;
  }
  if (on_connected) on_connected(*r.connected_to);
  const auto connected_at = clock_type::now();

  // Reads and discards whatever the peer sends until the connection ends or the duration passes.
  std::array<char, 4096> buffer{};
  asio::steady_timer until(io, request.duration);
  std::optional<boost::system::error_code> ended;
  std::function<void()> read_next = [&] {
    guarded.async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, std::size_t n) {
      r.bytes_received += n;
      if (ec) {
        ended = ec;
        until.cancel();
        return;
      }
      read_next();
    });
  };
  read_next();
  until.async_wait([&](boost::system::error_code ec) {
    if (!ec) guarded.next_layer().cancel();
  });
  io.run();
  r.held = std::chrono::duration_cast<milliseconds>(clock_type::now() - connected_at);
  if (!ended || (*ended == asio::error::operation_aborted && !guarded.failed())) {
    r.outcome = watch_outcome::still_alive;
  } else if (*ended == asio::error::eof) {
    r.outcome = watch_outcome::closed_by_peer;
  } else {
    r.outcome = watch_outcome::lost;
    r.error = *ended;
    r.cause = guarded.cause();
    r.detected_by_deadline = guarded.detected_by_deadline();
    r.detection = guarded.silence_at_failure();
  }
  return r;
}

}  // namespace lifeline
