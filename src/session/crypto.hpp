// The session's cryptography: random bytes, HMAC-SHA-256 and HKDF, SHA-256 of a stream, constant-time
// comparison, X25519 and AES-256-GCM (protocol version 2's key exchange and sealed frames).
// Two implementations of this one interface: OpenSSL (crypto_openssl.cpp) where it is available, and
// Windows' own CNG (crypto_cng.cpp) in the Windows build, for which Debian has no OpenSSL. CNG under
// Wine 8 has no key agreement (BCryptSecretAgreement is a stub there, and there is no curve25519), so the
// Windows build takes X25519 from libgcrypt (Debian's libgcrypt-mingw-w64-dev, linked statically).
#pragma once

#include <lifeline/wire.hpp>

#include <array>
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

/// HKDF-SHA-256 (RFC 5869): Extract(salt, ikm), then Expand(prk, info) to `out.size()` bytes (at most
/// 255 x 32). Written once over hmac(), so both implementations share it.
wire::digest hkdf_extract(std::span<const std::uint8_t> salt,
                          std::initializer_list<std::span<const std::uint8_t>> ikm);
void hkdf_expand(const wire::digest& prk, std::initializer_list<std::span<const std::uint8_t>> info,
                 std::span<std::uint8_t> out);

// X25519 (RFC 7748) ----------------------------------------------------------------------------------

using x25519_key = std::array<std::uint8_t, 32>;

/// The public share of `secret`: X25519(secret, 9).
x25519_key x25519_public(const x25519_key& secret);
/// X25519(secret, peer_share) into `shared`. False when the result is all zeros (the peer sent a share
/// of small order, which would fix the result whatever our secret): the caller refuses the peer.
bool x25519(const x25519_key& secret, const x25519_key& peer_share, x25519_key& shared);

/// A fresh key pair for one connection.
struct x25519_pair {
  x25519_key secret{};
  x25519_key share{};
  static x25519_pair generate() {
    x25519_pair p;
    random_bytes(p.secret);
    p.share = x25519_public(p.secret);
    return p;
  }
};

// AES-256-GCM ------------------------------------------------------------------------------------------

/// One key's AES-256-GCM, with 12-byte nonces and 16-byte tags. Not thread-safe: one per direction of a
/// connection.
class aes256_gcm {
 public:
  static constexpr std::size_t key_size = 32;
  static constexpr std::size_t nonce_size = 12;
  static constexpr std::size_t tag_size = 16;
  using nonce_type = std::array<std::uint8_t, nonce_size>;
  using tag_type = std::array<std::uint8_t, tag_size>;

  explicit aes256_gcm(std::span<const std::uint8_t, key_size> key);
  ~aes256_gcm();
  aes256_gcm(const aes256_gcm&) = delete;
  aes256_gcm& operator=(const aes256_gcm&) = delete;

  /// Encrypts the plaintext given in two pieces (a ring buffer's halves; either may be empty) into
  /// `out`, which holds head.size() + tail.size() bytes and may not overlap them, and returns the tag
  /// over `ad` and the ciphertext.
  tag_type seal(const nonce_type& nonce, std::span<const std::uint8_t> ad, std::span<const std::uint8_t> head,
                std::span<const std::uint8_t> tail, std::uint8_t* out);
  /// Decrypts `data` in place. False when the tag does not verify: `data` then holds nothing to use.
  bool open(const nonce_type& nonce, std::span<const std::uint8_t> ad, std::span<std::uint8_t> data,
            const tag_type& tag);

 private:
  void* state_;  // EVP_CIPHER_CTX* or BCRYPT_KEY_HANDLE
};

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
