// A proxy's listener: resolving its listen address, starting and stopping it, and the accept loop.
#include "../listener.hpp"
#include "../accept_loop.hpp"
#include "server_impl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <fmt/core.h>

namespace lifeline::chaos::detail {

// A proxy out of descriptors pauses its accepts; the other proxies carry on.
asio::awaitable<void> accept_loop(std::shared_ptr<proxy_state> p, std::shared_ptr<tcp::acceptor> acceptor) {
  co_await lifeline::detail::accept_loop(
      *acceptor, lifeline::detail::accept_handlers<tcp::socket>{
                     .accepted =
                         [&](tcp::socket socket) {
                           asio::co_spawn(p->executor, serve(p, std::move(socket)), asio::detached);
                         },
                     .log = [&](const std::error_code&,
                                const std::string& line) { p->report("proxy " + p->name + ": " + line); },
                     .closed = [&] { return p->acceptor != acceptor; }});
}

/// Resolves a listen address as Go's net.ResolveTCPAddr does, preferring IPv4; "" is every interface.
result<tcp::endpoint> resolve_listen(const asio::any_io_executor& ex, const std::string& listen) {
  if (listen.empty()) {
    boost::system::error_code ec;
    tcp::acceptor probe(ex);
    probe.open(tcp::v6(), ec);
    return tcp::endpoint(ec ? tcp::v4() : tcp::v6(), 0);
  }
  std::string host, port;
  if (!split_host_port(listen, host, port)) {
    const bool colons = listen.find(':') != std::string::npos;
    return api_error{500, fmt::format("address {}: {}", listen,
                                      colons ? "too many colons in address" : "missing port in address")};
  }
  tcp::resolver resolver(ex);
  boost::system::error_code ec;
  auto results = resolver.resolve(host.empty() ? std::string("0.0.0.0") : host, port,
                                  tcp::resolver::numeric_service, ec);
  if (ec) {
    results = resolver.resolve(host.empty() ? std::string("0.0.0.0") : host, port, ec);
  }
  if (ec || results.empty()) {
    return api_error{500, fmt::format("lookup {}: {}", listen, ec ? ec.message() : "no such host")};
  }
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  }
  return results.begin()->endpoint();
}

std::optional<api_error> start(proxy_state& p) {
  auto endpoint = resolve_listen(p.executor, p.listen);
  if (!endpoint) return endpoint.error();
  auto acceptor = std::make_shared<tcp::acceptor>(p.executor);
  const auto failed = [&](const char* step, const boost::system::error_code& ec) {
    return api_error{500, fmt::format("listen tcp {}: {}: {}", format_endpoint(endpoint.value()), step,
                                      os_error_text(ec))};
  };
  const char* step = "listen";
  if (auto ec = lifeline::detail::listen_on(*acceptor, endpoint.value(), &step,
                                            lifeline::detail::ipv6_listen::dual_stack)) {
    return failed(step, ec);
  }
  boost::system::error_code ec;
  p.bound = acceptor->local_endpoint(ec);
  if (ec) return failed("getsockname", ec);
  p.listen = format_endpoint(p.bound);
  p.acceptor = acceptor;
  p.enabled = true;
  p.started_once = true;
  asio::co_spawn(p.executor, accept_loop(p.shared_from_this(), acceptor), asio::detached);
  return std::nullopt;
}

void stop(proxy_state& p) {
  if (p.acceptor) {
    boost::system::error_code ignored;
    p.acceptor->close(ignored);
    p.acceptor.reset();
  }
  ++p.run_generation;
  p.enabled = false;
  p.close_connections();
}

result<bool> listen_differs(const proxy_state& p, const std::string& listen) {
  auto wanted = resolve_listen(p.executor, listen);
  if (!wanted) return wanted.error();
  if (wanted->port() == 0) return true;
  if (p.started_once) return wanted.value() != p.bound;
  auto current = resolve_listen(p.executor, p.listen);
  return !current || wanted.value() != current.value();
}

}  // namespace lifeline::chaos::detail
