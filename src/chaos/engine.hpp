// The chaos proxy's internals shared by its source files: address parsing as Go's net package does it,
// JSON written as Go's encoding/json writes it, and the attribute table of every toxic type.
#pragma once

#include <lifeline/chaos.hpp>

#include <boost/json.hpp>

#include <string>
#include <string_view>

namespace lifeline::chaos::detail {

/// Splits "host:port" or "[v6]:port" as Go's net.SplitHostPort does; false when the port is missing.
bool split_host_port(std::string_view address, std::string& host, std::string& port);

/// "127.0.0.1:80" or "[::1]:80", as Go's net package writes them: an IPv4-mapped address as IPv4.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

/// Appends `value` as Go writes JSON: compact, `<>&` escaped, numbers in their shortest form.
void write_json(std::string& out, const boost::json::value& value);
void write_json_string(std::string& out, std::string_view text);
/// A float32 in its shortest decimal form, as Go prints it: 1, 0.2, 0.33333334.
std::string format_float32(float value);

/// An OS error as Toxiproxy (Go) prints it: on POSIX the system's text with a lower-case first letter
/// ("address already in use"); on Windows Microsoft's documented text for a Winsock code, from lifeline's
/// table ("Address already in use"), since Wine has no text for several of them.
std::string os_error_text(const boost::system::error_code& ec);

/// The key in `object` that Go's decoder would bind to `field`: an exact match, else one that matches
/// without regard to case.
const boost::json::value* find_field(const boost::json::object& object, std::string_view field);

/// Go's name for a JSON value's kind in decoder messages: "number", "string", "bool", ...
std::string_view json_kind(const boost::json::value& value);

}  // namespace lifeline::chaos::detail
