// How lifeline writes a TCP endpoint for a person: "127.0.0.1:80", "[::1]:80", with an IPv6 address in
// brackets as a URL's authority has it (RFC 3986 section 3.2.2).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace lifeline {

/// "v4:port" for an IPv4 address, "[v6]:port" for any IPv6 one, an IPv4-mapped address included
/// ("[::ffff:127.0.0.1]:80"): the address as the socket has it.
inline std::string to_string(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address().to_string();
  const auto port = std::to_string(endpoint.port());
  return endpoint.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}

}  // namespace lifeline
