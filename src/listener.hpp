// Listening sockets made one way everywhere in lifeline (session acceptor, tunnel client, chaos proxy and
// API): like Asio's acceptor constructor, but with the platform's address-use rule (prepare_listener):
// SO_REUSEADDR on POSIX, SO_EXCLUSIVEADDRUSE on Windows, where SO_REUSEADDR would let another program
// take the port. Every step's error is returned, with the step's name.
#pragma once

#include <lifeline/endpoint.hpp>

#include "platform/platform.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/system/system_error.hpp>

#include <string>

namespace lifeline::detail {

/// Whether an IPv6 listener also takes IPv4 connections: as the OS decides (Linux yes, Windows no), or
/// always (Go's rule, which the chaos proxy follows).
enum class ipv6_listen { os_default, dual_stack };

/// Opens `acceptor`, prepares, binds and listens; on failure says which step failed in `step`.
inline boost::system::error_code listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                                           const boost::asio::ip::tcp::endpoint& endpoint,
                                           const char** step = nullptr,
                                           ipv6_listen v6 = ipv6_listen::os_default) {
  boost::system::error_code ec;
  const auto failed = [&](const char* what) {
    if (step) *step = what;
    return ec;
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return failed("socket");
  if (auto e = prepare_listener(static_cast<native_socket>(acceptor.native_handle()))) {
    ec.assign(e.value(), boost::system::system_category());
    return failed("setsockopt");
  }
  if (v6 == ipv6_listen::dual_stack && endpoint.address().is_v6()) {
    acceptor.set_option(boost::asio::ip::v6_only(false), ec);
    if (ec) return failed("setsockopt IPV6_V6ONLY");
  }
  acceptor.bind(endpoint, ec);
  if (ec) return failed("bind");
  acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("listen");
  return {};
}

/// A listening acceptor on `endpoint`; throws boost::system::system_error as Asio's constructor does,
/// its what() starting with the address and the step that failed: "127.0.0.1:80: bind: ...".
template <typename Executor>
boost::asio::ip::tcp::acceptor make_listener(const Executor& ex,
                                             const boost::asio::ip::tcp::endpoint& endpoint) {
  boost::asio::ip::tcp::acceptor acceptor(ex);
  const char* step = "listen";
  if (auto ec = listen_on(acceptor, endpoint, &step)) {
    throw boost::system::system_error(ec, lifeline::to_string(endpoint) + ": " + step);
  }
  return acceptor;
}

}  // namespace lifeline::detail
