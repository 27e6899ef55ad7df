// Lookups over the socket error table: by name, by number, and by a user's query.
#include <lifeline/socket_errors.hpp>

#include "platform/platform.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace lifeline {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

// Other names for a row: those Linux gives the same number, and the spelling of 11024 that MinGW-w64's
// winerror.h and most code use, where Microsoft's page (the row's name) lacks the N.
struct alias {
  std::string_view name;
  std::string_view row;
};
constexpr alias aliases[] = {
    {"EWOULDBLOCK", "EAGAIN"},
    {"ENOTSUP", "EOPNOTSUPP"},
    {"WSA_QOS_EUNKNOWNPSOBJ", "WSA_QOS_EUNKOWNPSOBJ"},
};

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view to_string(code_space s) noexcept { return s == code_space::windows ? "windows" : "posix"; }

std::string socket_error::hex() const { return fmt::format("0x{:04X}", code); }

std::vector<std::string_view> socket_error::related_names() const {
  std::vector<std::string_view> names;
  std::string_view rest = related;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    names.push_back(rest.substr(0, space));
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  }
  return names;
}

std::vector<std::string_view> socket_error::aliases() const {
  std::vector<std::string_view> names;
  for (const auto& a : lifeline::aliases) {
    if (a.row == name) names.push_back(a.name);
  }
  return names;
}

const socket_error* find_socket_error(std::string_view name) noexcept {
  for (const auto& a : aliases) {
    if (iequals(a.name, name)) name = a.row;
  }
  const auto rows = socket_errors();
  const auto it =
      std::find_if(rows.begin(), rows.end(), [&](const auto& row) { return iequals(row.name, name); });
  return it == rows.end() ? nullptr : &*it;
}

const socket_error* find_socket_error(int code, code_space space) noexcept {
  const auto rows = socket_errors();
  const auto it = std::find_if(rows.begin(), rows.end(),
                               [&](const auto& row) { return row.code == code && row.space == space; });
  return it == rows.end() ? nullptr : &*it;
}

code_space native_code_space() noexcept {
#ifdef _WIN32
  return code_space::windows;
#else
  return code_space::posix;
#endif
}

std::string error_text(const std::error_code& ec) {
#ifdef _WIN32
  if (ec.value() >= 10000 && detail::is_system_category(ec.category())) {  // a Winsock code
    if (const auto* known = find_socket_error(ec.value(), code_space::windows))
      return std::string(known->message);
  }
#endif
  return ec.message();
}

lookup_result lookup_socket_error(std::string_view query, code_space small_numbers) {
  lookup_result result;
  const auto text = trim(query);
  if (text.empty()) {
    result.failure = lookup_failure::malformed;
    result.detail = "empty query: give a code (10052), a hex code (0x2744) or a name (WSAENETRESET)";
    return result;
  }

  const bool is_hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const bool is_number =
      std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-' || text[0] == '+';
  if (is_hex || is_number) {
    const auto digits = is_hex ? text.substr(2) : text;
    long long value = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), value, is_hex ? 16 : 10);
    if (ec == std::errc::result_out_of_range) {
      result.failure = lookup_failure::unknown;
      result.detail = fmt::format("'{}' is too large to be a socket error code", text);
      return result;
    }
    if (ec != std::errc() || end != digits.data() + digits.size() || value < 0) {
      result.failure = lookup_failure::malformed;
      result.detail = fmt::format("'{}' is not a valid {} number", text, is_hex ? "hexadecimal" : "decimal");
      return result;
    }
    const auto space = value >= 10000 ? code_space::windows : small_numbers;
    result.entry = value > INT32_MAX ? nullptr : find_socket_error(static_cast<int>(value), space);
    if (!result.entry) {
      result.failure = lookup_failure::unknown;
      result.detail = fmt::format("no {} socket error has the number {} ({})", to_string(space), value,
                                  fmt::format("0x{:X}", value));
    }
    return result;
  }

  const bool name_like = std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!name_like) {
    result.failure = lookup_failure::malformed;
    result.detail = fmt::format("'{}' is neither a number nor an error name", text);
    return result;
  }
  result.entry = find_socket_error(text);
  if (!result.entry) {
    result.failure = lookup_failure::unknown;
    result.detail = fmt::format("no socket error is named '{}'", text);
  }
  return result;
}

}  // namespace lifeline
