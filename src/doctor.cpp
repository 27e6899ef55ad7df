// lifeline doctor: the checks behind `lifeline doctor`, each bounded in time, and the watch. The system
// checks are in doctor_checks.cpp, the pieces without I/O in doctor_report.cpp.
#include <lifeline/doctor.hpp>
#include <lifeline/endpoint.hpp>
#include <lifeline/guarded_socket.hpp>

#include "doctor_checks.hpp"
#include "platform/platform.hpp"

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace lifeline {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;
using clock_type = std::chrono::steady_clock;

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

}  // namespace

doctor_report diagnose(const doctor_request& request) {
  doctor_report r;
  r.target = request.target;
  r.options = request.options;
  detail::check_descriptors(r);
  detail::check_system_keepalive(r);

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
                                      detail::options_text(request.options), error_text(r.options_error)),
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
  const auto bound_text =
      fmt::format("{} applied; a dead peer is found within {}", detail::options_text(request.options),
                  detail::seconds_text(request.options.bound()));
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
