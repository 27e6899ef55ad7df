// The API's routes, as Toxiproxy 2's router and handlers take and answer them.
#include "api_impl.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace lifeline::chaos::detail {
namespace {

response make_response(const request& req, http::status status) { return response{status, req.version()}; }

response json_response(const request& req, http::status status, std::string body) {
  auto res = make_response(req, status);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace lifeline::chaos::detail
