// The session's cryptography, through OpenSSL: random bytes, HMAC-SHA-256, constant-time comparison.
#pragma once

#include <lifeline/wire.hpp>

#include <initializer_list>
#include <span>
#include <string_view>

namespace lifeline::detail {

void random_bytes(std::span<std::uint8_t> out);
std::uint64_t random_u64();

/// HMAC-SHA-256(key, the concatenation of parts).
wire::digest hmac(std::span<const std::uint8_t> key,
                  std::initializer_list<std::span<const std::uint8_t>> parts);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool equal_constant_time(const wire::digest& a, const wire::digest& b) noexcept;

}  // namespace lifeline::detail
