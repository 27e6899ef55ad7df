// JSON in Toxiproxy's shapes and Go's spelling, and the attribute table of every toxic type.
#include "engine.hpp"

#include <lifeline/endpoint.hpp>
#include <lifeline/socket_errors.hpp>

#include <fmt/core.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lifeline::chaos {
namespace detail {

bool split_host_port(std::string_view address, std::string& host, std::string& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto h = address.substr(0, colon);
  if (!h.empty() && h.front() == '[') {
    if (h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // too many colons: an IPv6 address needs brackets
  }
  host = std::string(h);
  port = std::string(address.substr(colon + 1));
  return true;
}

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (!address.is_v6() || !address.to_v6().is_v4_mapped()) return lifeline::to_string(endpoint);
  // Go writes an IPv4-mapped address as the IPv4 address it holds.
  const auto v4 = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  return lifeline::to_string(boost::asio::ip::tcp::endpoint(v4, endpoint.port()));
}

void write_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else if (c == 0xe2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(text[i + 2]) & 0xfe) == 0xa8) {
          out += (static_cast<unsigned char>(text[i + 2]) == 0xa8) ? "\\u2028" : "\\u2029";
          i += 2;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

namespace {

template <class Float>
std::string shortest(Float value) {
  if (!std::isfinite(value)) return "0";  // Go refuses to encode these; never produced by a parse
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc() ? std::string(buffer.data(), end) : std::string("0");
}

}  // namespace

std::string format_float32(float value) { return shortest(value); }

void write_json(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      out += std::to_string(value.get_int64());
      break;
    case boost::json::kind::uint64:
      out += std::to_string(value.get_uint64());
      break;
    case boost::json::kind::double_:
      out += shortest(value.get_double());
      break;
    case boost::json::kind::string:
      write_json_string(out, value.get_string());
      break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(out, element);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out += ',';
        first = false;
        write_json_string(out, member.key());
        out += ':';
        write_json(out, member.value());
      }
      out += '}';
      break;
    }
  }
}

const boost::json::value* find_field(const boost::json::object& object, std::string_view field) {
  if (const auto* exact = object.if_contains(field)) return exact;
  for (const auto& member : object) {
    const auto key = member.key();
    if (key.size() != field.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(field[i]));
    }
    if (same) return &member.value();
  }
  return nullptr;
}

std::string_view json_kind(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
  }
  return "value";
}

std::string os_error_text(const boost::system::error_code& ec) {
#ifdef _WIN32
  return error_text(ec);
#else
  auto text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
#endif
}

}  // namespace detail

namespace {

struct attribute_spec {
  const char* name;
  bool integer;  ///< int64 in Toxiproxy; otherwise a float64 (only corrupt's probability)
};

struct type_spec {
  const char* type;
  const char* go_struct;  ///< the Go type named in decoder errors
  std::vector<attribute_spec> attributes;
};

const std::vector<type_spec>& type_table() {
  static const std::vector<type_spec> table = {
      {"latency", "LatencyToxic", {{"latency", true}, {"jitter", true}}},
      {"bandwidth", "BandwidthToxic", {{"rate", true}}},
      {"slow_close", "SlowCloseToxic", {{"delay", true}}},
      {"timeout", "TimeoutToxic", {{"timeout", true}}},
      {"reset_peer", "ResetToxic", {{"timeout", true}}},
      {"slicer", "SlicerToxic", {{"average_size", true}, {"size_variation", true}, {"delay", true}}},
      {"limit_data", "LimitDataToxic", {{"bytes", true}}},
      {"noop", "NoopToxic", {}},
      {"corrupt", "CorruptToxic", {{"probability", false}}},
  };
  return table;
}

}  // namespace

result<boost::json::object> make_attributes(const std::string& type, const boost::json::object& given,
                                            const boost::json::object& base) {
  const type_spec* spec = nullptr;
  for (const auto& t : type_table()) {
    if (type == t.type) spec = &t;
  }
  if (spec == nullptr) return api_error{400, "invalid toxic type"};
  boost::json::object out;
  for (const auto& a : spec->attributes) {
    boost::json::value current = a.integer ? boost::json::value(std::int64_t{0}) : boost::json::value(0.0);
    if (const auto* b = base.if_contains(a.name)) current = *b;
    const auto* v = detail::find_field(given, a.name);
    if (v != nullptr && !v->is_null()) {
      const auto mismatch = [&](std::string what) {
        return api_error{400, fmt::format("bad request body: json: cannot unmarshal {} into Go struct field "
                                          "{}.{} of type {}",
                                          what, spec->go_struct, a.name, a.integer ? "int64" : "float64")};
      };
      if (a.integer) {
        if (v->is_int64()) {
          current = v->get_int64();
        } else if (v->is_uint64()) {
          return mismatch(fmt::format("number {}", v->get_uint64()));
        } else if (v->is_double()) {
          std::string text;
          detail::write_json(text, *v);
          return mismatch("number " + text);
        } else {
          return mismatch(std::string(detail::json_kind(*v)));
        }
      } else {
        if (!v->is_number()) return mismatch(std::string(detail::json_kind(*v)));
        current = v->to_number<double>();
      }
    }
    out[a.name] = current;
  }
  return out;
}

std::string to_json(const toxic_info& toxic) {
  std::string out = "{\"attributes\":";
  detail::write_json(out, toxic.attributes);
  out += ",\"name\":";
  detail::write_json_string(out, toxic.name);
  out += ",\"type\":";
  detail::write_json_string(out, toxic.type);
  out += ",\"stream\":";
  detail::write_json_string(out, toxic.stream);
  out += ",\"toxicity\":";
  out += detail::format_float32(toxic.toxicity);
  out += '}';
  return out;
}

std::string to_json(const proxy_info& proxy) {
  std::string out = "{\"name\":";
  detail::write_json_string(out, proxy.name);
  out += ",\"listen\":";
  detail::write_json_string(out, proxy.listen);
  out += ",\"upstream\":";
  detail::write_json_string(out, proxy.upstream);
  out += proxy.enabled ? ",\"enabled\":true" : ",\"enabled\":false";
  out += ",\"Logger\":{},\"toxics\":[";
  for (std::size_t i = 0; i < proxy.toxics.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json(proxy.toxics[i]);
  }
  out += "]}";
  return out;
}

}  // namespace lifeline::chaos
