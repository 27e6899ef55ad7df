// The HTTP control API's internals shared by its source files: api.cpp runs the listener and one
// coroutine per HTTP connection, api_routes.cpp routes each request and answers it, api_body.cpp decodes
// request bodies with Go's encoding/json rules.
#pragma once

#include "engine.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace lifeline::chaos::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

/// The state of one API listener.
struct api_state : std::enable_shared_from_this<api_state> {
  api_state(server& s, tcp::acceptor a) : proxies(s), acceptor(std::move(a)) {}
  server& proxies;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<beast::tcp_stream>> sessions;
  std::uint64_t requests = 0;
  bool closed = false;

  std::string request_id() {
    // xid-shaped (20 base32hex characters); a counter, so that API traffic never draws from the PRNG.
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuv";
    std::string id(20, '0');
    auto n = ++requests;
    for (std::size_t i = id.size(); i-- > 0 && n != 0; n >>= 5) id[i] = digits[n & 31];
    id[0] = 'c';
    return id;
  }
};

// ---- request bodies (api_body.cpp) ---------------------------------------------------------------

api_error bad_body(std::string_view detail);

/// The first JSON value of a body, as Go's json.Decoder reads it.
result<boost::json::value> parse_body(std::string_view body);

api_error mismatch(const boost::json::value& v, std::string_view field, std::string_view go_type);

std::optional<api_error> read_string(const boost::json::object& o, std::string_view key,
                                     std::string_view field, std::optional<std::string>& out);

std::optional<api_error> read_float32(const boost::json::object& o, std::string_view key,
                                      std::string_view field, std::optional<float>& out);

std::optional<api_error> expect_object(const boost::json::value& v, std::string_view go_type);

struct proxy_fields {
  std::optional<std::string> name, listen, upstream;
  std::optional<bool> enabled;
};

result<proxy_fields> read_proxy(const boost::json::value& v, std::string_view go_type = "proxy.Proxy");

// ---- routing (api_routes.cpp) --------------------------------------------------------------------

response error_response(const request& req, const api_error& e);

/// Routes one request. `matched` is false when no route took it (the router's 404 and 405, which
/// Toxiproxy's middleware never sees).
response route(api_state& a, const request& req, bool& matched);

}  // namespace lifeline::chaos::detail
