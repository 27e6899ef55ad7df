// Links lifeline::chaos alone: a proxy on a free loopback port, then closed.
#include <lifeline/chaos.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>

int main() {
  boost::asio::io_context io;
  lifeline::chaos::server proxies(io.get_executor(), 1);
  const auto proxy = proxies.create_proxy({.name = "p", .listen = "127.0.0.1:0", .upstream = "127.0.0.1:9"});
  if (!proxy) return 1;
  const auto endpoint = proxies.endpoint("p");
  if (!endpoint || endpoint.value().port() == 0) return 1;
  std::printf("chaos: proxy p listened on port %u\n", static_cast<unsigned>(endpoint.value().port()));
  proxies.close();
  io.run();
  return 0;
}
