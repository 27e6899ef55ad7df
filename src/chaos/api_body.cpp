// The API's request bodies, decoded with Go's encoding/json rules (keys in any case, null as default,
// first value only), and the error messages Toxiproxy's decoder gives.
#include "api_impl.hpp"

#include <fmt/core.h>

#include <cmath>
#include <limits>

namespace lifeline::chaos {
namespace detail {

api_error bad_body(std::string_view detail) {
  return api_error{400, fmt::format("bad request body: {}", detail)};
}

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

namespace {

std::optional<api_error> read_bool(const boost::json::object& o, std::string_view key, std::string_view field,
                                   std::optional<bool>& out) {
  const auto* v = find_field(o, key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) return mismatch(*v, field, "bool");
  out = v->get_bool();
  return std::nullopt;
}

}  // namespace

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

result<proxy_fields> read_proxy(const boost::json::value& v, std::string_view go_type) {
  if (auto e = expect_object(v, go_type)) return *e;
  const auto& o = v.get_object();
  proxy_fields f;
  if (auto e = read_string(o, "name", "Proxy.name", f.name)) return *e;
  if (auto e = read_string(o, "listen", "Proxy.listen", f.listen)) return *e;
  if (auto e = read_string(o, "upstream", "Proxy.upstream", f.upstream)) return *e;
  if (auto e = read_bool(o, "enabled", "Proxy.enabled", f.enabled)) return *e;
  return f;
}

}  // namespace detail

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
