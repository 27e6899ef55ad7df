// The socket error table: every Windows Sockets error code in Microsoft's documentation and the POSIX
// errno values sockets return, with messages, explanations, twins, classes and related codes.
#pragma once

#include <lifeline/error.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace lifeline {

/// Which numbering a code belongs to.
enum class code_space {
  windows,  ///< Winsock and Win32 codes (WSAE*, WSA_*, WSA_QOS_*, WSAHOST_NOT_FOUND...).
  posix,    ///< errno values, numbered as Linux numbers them (macOS differs above 34).
};

std::string_view to_string(code_space s) noexcept;

/// One row of the table.
struct socket_error {
  std::string_view name;     ///< "WSAENETRESET", "ENETRESET"
  int code;                  ///< 10052, or the Linux errno value
  code_space space;          ///<
  std::string_view message;  ///< the official message text (Microsoft's docs, or glibc's strerror)
  std::string_view meaning;  ///< what happened, in plain words
  std::string_view action;   ///< what a program should do
  condition cls;             ///< the class that drives behaviour
  std::string_view twin;     ///< the same error in the other space ("ENETRESET"), or empty
  std::string_view related;  ///< names of related codes, separated by single spaces

  /// "0x2744"
  std::string hex() const;
  /// The names in `related`, split.
  std::vector<std::string_view> related_names() const;
  /// Other names find_socket_error takes for this row: EWOULDBLOCK for EAGAIN, WSA_QOS_EUNKNOWNPSOBJ
  /// (MinGW-w64's spelling) for Microsoft's WSA_QOS_EUNKOWNPSOBJ.
  std::vector<std::string_view> aliases() const;
};

/// Every row, Windows codes first, each space in ascending numeric order.
std::span<const socket_error> socket_errors() noexcept;

/// Looks a code up by name or alias, in any letter case ("wsaenetreset", "ewouldblock").
const socket_error* find_socket_error(std::string_view name) noexcept;
/// Looks a code up by number in one space.
const socket_error* find_socket_error(int code, code_space space) noexcept;

/// The space of the platform this was built for: windows on Windows, posix elsewhere.
code_space native_code_space() noexcept;

/// A socket error's text for people: the OS's own message, except on Windows, where a Winsock code gets
/// Microsoft's documented text from this table (Wine, for one, has no text for several of them).
std::string error_text(const std::error_code& ec);

/// Why a query did not resolve to a row.
enum class lookup_failure { malformed, unknown };

/// The result of parsing a user's query.
struct lookup_result {
  const socket_error* entry = nullptr;  ///< set on success
  lookup_failure failure{};             ///< set when entry is null
  std::string detail;                   ///< a message for a person when entry is null
};

/// Resolves a query as `lifeline explain` takes it: a decimal number ("10052"), a hexadecimal one
/// ("0x2744"), or a name in any case ("wsaenetreset"). Numbers of 10000 and above are Winsock codes;
/// smaller ones belong to `small_numbers` (the running platform's space unless the caller says).
lookup_result lookup_socket_error(std::string_view query, code_space small_numbers);

}  // namespace lifeline
