// The HTTP control API: Toxiproxy 2's routes over Boost.Beast, one coroutine per HTTP connection, request
// bodies decoded with Go's encoding/json rules (keys in any case, null as default, first value only).
#include "../accept_loop.hpp"
#include "../listener.hpp"
#include "engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <set>

namespace lifeline::chaos {
namespace detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t body_limit = 1024 * 1024;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

api_error bad_body(std::string_view detail) {
  return api_error{400, fmt::format("bad request body: {}", detail)};
}

/// The first JSON value of a body, as Go's json.Decoder reads it.
result<boost::json::value> parse_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return bad_body("EOF");
  boost::json::parser parser;
  boost::system::error_code ec;
  // write_some stops after the first complete value; what follows it is ignored, as Go's decoder does.
  parser.write_some(body.data(), body.size(), ec);
  if (ec == boost::json::error::incomplete) return bad_body("unexpected EOF");
  if (ec) return bad_body(ec.message());
  return parser.release();
}

api_error mismatch(const boost::json::value& v, std::string_view field, std::string_view go_type) {
  return bad_body(fmt::format("json: cannot unmarshal {} into Go struct field {} of type {}", json_kind(v),
                              field, go_type));
}

std::optional<api_error> read_string(const boost::json::object& o, std::string_view key,
                                     std::string_view field, std::optional<std::string>& out) {
  const auto* v = find_field(o, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) return mismatch(*v, field, "string");
  out = std::string(v->get_string());
  return std::nullopt;
}

std::optional<api_error> read_bool(const boost::json::object& o, std::string_view key, std::string_view field,
                                   std::optional<bool>& out) {
  const auto* v = find_field(o, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) return mismatch(*v, field, "bool");
  out = v->get_bool();
  return std::nullopt;
}

std::optional<api_error> read_float32(const boost::json::object& o, std::string_view key,
                                      std::string_view field, std::optional<float>& out) {
  const auto* v = find_field(o, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_number()) return mismatch(*v, field, "float32");
  const auto d = v->to_number<double>();
  if (std::abs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
    return bad_body(
        fmt::format("json: cannot unmarshal number into Go struct field {} of type float32", field));
  }
  out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<api_error> expect_object(const boost::json::value& v, std::string_view go_type) {
  if (v.is_object()) return std::nullopt;
  return bad_body(fmt::format("json: cannot unmarshal {} into Go value of type {}", json_kind(v), go_type));
}

struct proxy_fields {
  std::optional<std::string> name, listen, upstream;
  std::optional<bool> enabled;
};

result<proxy_fields> read_proxy(const boost::json::value& v, std::string_view go_type = "proxy.Proxy") {
  if (auto e = expect_object(v, go_type)) return *e;
  const auto& o = v.get_object();
  proxy_fields f;
  if (auto e = read_string(o, "name", "Proxy.name", f.name)) return *e;
  if (auto e = read_string(o, "listen", "Proxy.listen", f.listen)) return *e;
  if (auto e = read_string(o, "upstream", "Proxy.upstream", f.upstream)) return *e;
  if (auto e = read_bool(o, "enabled", "Proxy.enabled", f.enabled)) return *e;
  return f;
}

}  // namespace

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

namespace {

response make_response(const request& req, http::status status) { return response{status, req.version()}; }

response json_response(const request& req, http::status status, std::string body) {
  auto res = make_response(req, status);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

response error_response(const request& req, const api_error& e) {
  auto res = make_response(req, static_cast<http::status>(e.status));
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set("X-Content-Type-Options", "nosniff");
  std::string body = "{\"error\":";
  write_json_string(body, e.message);
  body += fmt::format(",\"status\":{}}}\n", e.status);
  res.body() = std::move(body);
  return res;
}

response empty_response(const request& req, http::status status) { return make_response(req, status); }

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() + 0 && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string::npos ? path.size() : slash;
    parts.push_back(path.substr(start, end - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string proxies_json(const std::vector<proxy_info>& proxies) {
  std::string out = "{";
  for (std::size_t i = 0; i < proxies.size(); ++i) {
    if (i > 0) out += ',';
    write_json_string(out, proxies[i].name);
    out += ':';
    out += to_json(proxies[i]);
  }
  out += '}';
  return out;
}

std::string toxics_json(const std::vector<toxic_info>& toxics) {
  std::string out = "[";
  for (std::size_t i = 0; i < toxics.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json(toxics[i]);
  }
  out += ']';
  return out;
}

template <class T, class F>
response answer(const request& req, const result<T>& r, http::status status, F&& render) {
  if (!r) return error_response(req, r.error());
  return json_response(req, status, render(r.value()));
}

response handle_populate(server& s, const request& req) {
  std::vector<proxy_info> done;
  std::optional<api_error> error;
  auto parsed = parse_populate(req.body());
  if (!parsed) {
    error = parsed.error();
  } else {
    error = s.populate(parsed.value(), done);
  }
  std::string list = "null";
  if (!done.empty()) {
    list = "[";
    for (std::size_t i = 0; i < done.size(); ++i) list += (i > 0 ? "," : "") + to_json(done[i]);
    list += ']';
  }
  if (error) {
    std::string body = "{\"error\":";
    write_json_string(body, error->message);
    body += fmt::format(",\"status\":{},\"proxies\":{}}}", error->status, list);
    return json_response(req, static_cast<http::status>(error->status), std::move(body));
  }
  return json_response(req, http::status::created, "{\"proxies\":" + list + "}");
}

response handle_toxic_create(server& s, const std::string& proxy, const request& req) {
  if (!s.get_proxy(proxy)) return error_response(req, api_error{404, "proxy not found"});
  auto body = parse_body(req.body());
  if (!body) return error_response(req, body.error());
  if (auto e = expect_object(body.value(), "toxics.ToxicWrapper")) return error_response(req, *e);
  const auto& o = body->get_object();
  std::optional<std::string> name, type, stream;
  std::optional<float> toxicity;
  for (auto e :
       {read_string(o, "name", "ToxicWrapper.name", name), read_string(o, "type", "ToxicWrapper.type", type),
        read_string(o, "stream", "ToxicWrapper.stream", stream),
        read_float32(o, "toxicity", "ToxicWrapper.toxicity", toxicity)}) {
    if (e) return error_response(req, *e);
  }
  toxic_options options;
  options.name = name.value_or("");
  options.type = type.value_or("");
  options.stream = stream.value_or("downstream");
  options.toxicity = toxicity.value_or(1.0f);
  if (const auto* a = find_field(o, "attributes"); a != nullptr && !a->is_null()) {
    if (!a->is_object()) return error_response(req, mismatch(*a, "ToxicWrapper.attributes", "toxics.Toxic"));
    options.attributes = a->get_object();
  }
  return answer(req, s.add_toxic(proxy, options), http::status::ok,
                [](const toxic_info& t) { return to_json(t); });
}

response handle_toxic_update(server& s, const std::string& proxy, const std::string& toxic,
                             const request& req) {
  if (!s.get_proxy(proxy)) return error_response(req, api_error{404, "proxy not found"});
  if (!s.get_toxic(proxy, toxic)) return error_response(req, api_error{404, "toxic not found"});
  auto body = parse_body(req.body());
  if (!body) return error_response(req, body.error());
  if (auto e = expect_object(body.value(), "toxics.ToxicWrapper")) return error_response(req, *e);
  const auto& o = body->get_object();
  toxic_update update;
  if (auto e = read_float32(o, "toxicity", "ToxicWrapper.toxicity", update.toxicity))
    return error_response(req, *e);
  if (const auto* a = find_field(o, "attributes"); a != nullptr && !a->is_null()) {
    if (!a->is_object()) return error_response(req, mismatch(*a, "ToxicWrapper.attributes", "toxics.Toxic"));
    update.attributes = a->get_object();
  }
  return answer(req, s.update_toxic(proxy, toxic, update), http::status::ok,
                [](const toxic_info& t) { return to_json(t); });
}

response handle_proxy_update(server& s, const std::string& name, const request& req) {
  if (!s.get_proxy(name)) return error_response(req, api_error{404, "proxy not found"});
  auto body = parse_body(req.body());
  if (!body) return error_response(req, body.error());
  auto fields = read_proxy(body.value());
  if (!fields) return error_response(req, fields.error());
  proxy_update update;
  update.listen = fields->listen;
  update.upstream = fields->upstream;
  update.enabled = fields->enabled;
  return answer(req, s.update_proxy(name, update), http::status::ok,
                [](const proxy_info& p) { return to_json(p); });
}

response handle_proxy_create(server& s, const request& req) {
  auto body = parse_body(req.body());
  if (!body) return error_response(req, body.error());
  auto fields = read_proxy(body.value());
  if (!fields) return error_response(req, fields.error());
  proxy_options options{fields->name.value_or(""), fields->listen.value_or(""), fields->upstream.value_or(""),
                        fields->enabled.value_or(true)};
  return answer(req, s.create_proxy(options), http::status::created,
                [](const proxy_info& p) { return to_json(p); });
}

/// Routes one request. `matched` is false when no route took it (the router's 404 and 405, which
/// Toxiproxy's middleware never sees).
response route(api_state& a, const request& req, bool& matched) {
  matched = false;
  auto& s = a.proxies;
  const auto target = std::string_view(req.target());
  const auto path = percent_decode(target.substr(0, target.find('?')));
  const auto method = req.method();
  using http::verb;

  enum class route_kind { none, proxies, populate, reset, version, proxy, toxics, toxic };
  route_kind kind = route_kind::none;
  std::vector<verb> allowed;
  const auto parts = split_path(path);
  const auto segment_ok = [](const std::string& part) { return !part.empty(); };
  if (!path.empty() && path[0] == '/') {
    if (parts.size() == 1 && parts[0] == "proxies") {
      kind = route_kind::proxies, allowed = {verb::get, verb::post};
    } else if (parts.size() == 1 && parts[0] == "populate") {
      kind = route_kind::populate, allowed = {verb::post};
    } else if (parts.size() == 1 && parts[0] == "reset") {
      kind = route_kind::reset, allowed = {verb::post};
    } else if (parts.size() == 1 && parts[0] == "version") {
      kind = route_kind::version, allowed = {verb::get};
    } else if (parts.size() == 2 && parts[0] == "proxies" && segment_ok(parts[1])) {
      kind = route_kind::proxy, allowed = {verb::get, verb::post, verb::patch, verb::delete_};
    } else if (parts.size() == 3 && parts[0] == "proxies" && segment_ok(parts[1]) && parts[2] == "toxics") {
      kind = route_kind::toxics, allowed = {verb::get, verb::post};
    } else if (parts.size() == 4 && parts[0] == "proxies" && segment_ok(parts[1]) && parts[2] == "toxics" &&
               segment_ok(parts[3])) {
      kind = route_kind::toxic, allowed = {verb::get, verb::post, verb::patch, verb::delete_};
    }
  }
  if (kind == route_kind::none) {
    auto res = make_response(req, http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = "404 page not found\n";
    return res;
  }
  if (std::find(allowed.begin(), allowed.end(), method) == allowed.end()) {
    return empty_response(req, http::status::method_not_allowed);
  }
  matched = true;
  if (req[http::field::user_agent].starts_with("Mozilla/")) {
    auto res = make_response(req, http::status::forbidden);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = "User agent not allowed\n";
    return res;
  }
  const auto rendered_proxy = [](const proxy_info& p) { return to_json(p); };
  const auto rendered_toxic = [](const toxic_info& t) { return to_json(t); };
  switch (kind) {
    case route_kind::proxies:
      if (method == verb::get) return json_response(req, http::status::ok, proxies_json(s.proxies()));
      return handle_proxy_create(s, req);
    case route_kind::populate:
      return handle_populate(s, req);
    case route_kind::reset:
      if (auto e = s.reset()) return error_response(req, *e);
      return empty_response(req, http::status::no_content);
    case route_kind::version: {
      auto res =
          json_response(req, http::status::ok, fmt::format("{{\"version\": \"{}\"}}\n", toxiproxy_version));
      res.set(http::field::content_type, "application/json;charset=utf-8");
      return res;
    }
    case route_kind::proxy:
      if (method == verb::get) return answer(req, s.get_proxy(parts[1]), http::status::ok, rendered_proxy);
      if (method == verb::delete_) {
        if (auto e = s.remove_proxy(parts[1])) return error_response(req, *e);
        return empty_response(req, http::status::no_content);
      }
      return handle_proxy_update(s, parts[1], req);
    case route_kind::toxics:
      if (method == verb::get) {
        return answer(req, s.toxics(parts[1]), http::status::ok,
                      [](const std::vector<toxic_info>& t) { return toxics_json(t); });
      }
      return handle_toxic_create(s, parts[1], req);
    case route_kind::toxic:
      if (method == verb::get)
        return answer(req, s.get_toxic(parts[1], parts[3]), http::status::ok, rendered_toxic);
      if (method == verb::delete_) {
        if (auto e = s.remove_toxic(parts[1], parts[3])) return error_response(req, *e);
        return empty_response(req, http::status::no_content);
      }
      return handle_toxic_update(s, parts[1], parts[3], req);
    case route_kind::none:
      break;
  }
  return empty_response(req, http::status::not_found);
}

asio::awaitable<void> http_session(std::shared_ptr<api_state> a, std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  while (!a->closed) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    stream->expires_after(std::chrono::seconds(60));  // Toxiproxy's idle timeout between requests
    auto [hec, hn] = co_await http::async_read_header(*stream, buffer, parser, use_nothrow);
    if (hec || a->closed) break;
    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl asks before sending a body over 1 KB; Go's server answers for Toxiproxy.
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      co_await http::async_write(*stream, go_on, use_nothrow);
    }
    stream->expires_after(std::chrono::seconds(15));  // and its read timeout for the request
    auto [ec, n] = co_await http::async_read(*stream, buffer, parser, use_nothrow);
    if (ec == http::error::body_limit) {
      request req;
      auto res = error_response(req, bad_body("http: request body too large"));
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(*stream, res, use_nothrow);
      break;
    }
    if (ec || a->closed) break;
    const auto req = parser.release();
    bool matched = false;
    auto res = route(*a, req, matched);
    if (matched) res.set("X-Toxiproxy-Request-Id", a->request_id());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    stream->expires_after(std::chrono::seconds(30));
    auto [wec, written] = co_await http::async_write(*stream, res, use_nothrow);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream->close();
  a->sessions.erase(stream);
}

asio::awaitable<void> accept_loop(std::shared_ptr<api_state> a) {
  co_await lifeline::detail::accept_loop(
      a->acceptor,
      lifeline::detail::accept_handlers<tcp::socket>{
          .accepted =
              [&](tcp::socket socket) {
                auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
                a->sessions.insert(stream);
                asio::co_spawn(a->acceptor.get_executor(), http_session(a, stream), asio::detached);
              },
          .log = [&](const std::error_code&, const std::string& line) { a->proxies.log("API: " + line); },
          .closed = [&] { return a->closed; }});
}

}  // namespace
}  // namespace detail

struct api::impl : detail::api_state {
  using api_state::api_state;
};

api::api(std::shared_ptr<impl> state) : impl_(std::move(state)) {}

api::~api() { close(); }

result<std::unique_ptr<api>> api::start(server& proxies, const std::string& host, std::uint16_t port) {
  namespace asio = boost::asio;
  using tcp = asio::ip::tcp;
  auto executor = proxies.executor();
  tcp::resolver resolver(executor);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return api_error{500, fmt::format("lookup {}: {}", host, ec ? ec.message() : "no such host")};
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      endpoint = entry.endpoint();
      break;
    }
  }
  tcp::acceptor acceptor(executor);
  const char* step = "listen";
  if (auto lec = lifeline::detail::listen_on(acceptor, endpoint, &step)) {
    return api_error{500, fmt::format("listen tcp {}: {}: {}", detail::format_endpoint(endpoint), step,
                                      detail::os_error_text(lec))};
  }
  auto state = std::make_shared<impl>(proxies, std::move(acceptor));
  asio::co_spawn(executor, detail::accept_loop(state), asio::detached);
  return std::make_unique<api>(state);
}

boost::asio::ip::tcp::endpoint api::endpoint() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

void api::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->socket().close(ignored);
}

result<std::vector<proxy_options>> parse_populate(std::string_view body) {
  auto value = detail::parse_body(body);
  if (!value) return value.error();
  if (!value->is_array()) {
    return detail::bad_body(fmt::format("json: cannot unmarshal {} into Go value of type []proxy.Proxy",
                                        detail::json_kind(value.value())));
  }
  std::vector<proxy_options> out;
  for (const auto& element : value->get_array()) {
    auto fields = detail::read_proxy(element);
    if (!fields) return fields.error();
    out.push_back(proxy_options{fields->name.value_or(""), fields->listen.value_or(""),
                                fields->upstream.value_or(""), fields->enabled.value_or(true)});
  }
  return out;
}

}  // namespace lifeline::chaos
