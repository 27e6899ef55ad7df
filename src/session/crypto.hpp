// The session's cryptography: random bytes, HMAC-SHA-256, SHA-256 of a stream, constant-time comparison.
// Two implementations of this one interface: OpenSSL (crypto_openssl.cpp) where it is available, and
// Windows' own CNG (crypto_cng.cpp) in the Windows build, for which Debian has no OpenSSL.
#pragma once

#include <lifeline/wire.hpp>

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace lifeline::detail {

/// Bytes from the system's cryptographic generator; throws std::runtime_error if it fails.
void random_bytes(std::span<std::uint8_t> out);

inline std::uint64_t random_u64() {
  std::uint8_t b[8];
  random_bytes(b);
  std::uint64_t v = 0;
  for (auto x : b) v = v << 8 | x;
  return v;
}

/// HMAC-SHA-256(key, the concatenation of parts).
wire::digest hmac(std::span<const std::uint8_t> key,
                  std::initializer_list<std::span<const std::uint8_t>> parts);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool equal_constant_time(const wire::digest& a, const wire::digest& b) noexcept;

/// A digest as 64 lower-case hex digits.
inline std::string to_hex(const wire::digest& d) {
  std::string out;
  for (auto b : d) out += {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15]};
  return out;
}

/// SHA-256 of a stream fed piece by piece.
class sha256 {
 public:
  sha256();
  ~sha256();
  sha256(const sha256&) = delete;
  sha256& operator=(const sha256&) = delete;

  void update(const void* data, std::size_t size);
  /// The digest of everything fed so far; call once, last.
  wire::digest finish();
  /// finish(), as 64 lower-case hex digits.
  std::string hex() { return to_hex(finish()); }

 private:
  void* state_;  // EVP_MD_CTX* or BCRYPT_HASH_HANDLE
};

}  // namespace lifeline::detail
