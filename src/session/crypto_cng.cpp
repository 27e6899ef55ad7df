// Windows' own cryptography (CNG, bcrypt.dll) behind the session's crypto interface (crypto.hpp), for the
// Windows build: Debian has no OpenSSL for MinGW-w64, and CNG is part of every Windows since Vista.
// X25519 alone comes from libgcrypt, linked statically: CNG under Wine 8 has no curve25519 and no key
// agreement at all (BCryptSecretAgreement is a stub there), so a CNG X25519 could not be tested.
#include "crypto.hpp"

// clang-format off
#include <windows.h>
#include <bcrypt.h>
// clang-format on

#include <fmt/format.h>
#include <gcrypt.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace lifeline::detail {
namespace {

void check(NTSTATUS status, const char* what) {
  if (status < 0) {
    throw std::runtime_error(
        fmt::format("CNG {} failed (NTSTATUS 0x{:08x})", what, static_cast<unsigned long>(status)));
  }
}

/// SHA-256 (flags 0) or HMAC-SHA-256 (BCRYPT_ALG_HANDLE_HMAC_FLAG) providers, opened once per process;
/// CNG's algorithm handles may be shared by threads.
BCRYPT_ALG_HANDLE provider(ULONG flags) {
  auto open = [](ULONG f) {
    BCRYPT_ALG_HANDLE h = nullptr;
    check(BCryptOpenAlgorithmProvider(&h, BCRYPT_SHA256_ALGORITHM, nullptr, f),
          "BCryptOpenAlgorithmProvider");
    return h;
  };
  if (flags == 0) {
    static const BCRYPT_ALG_HANDLE sha = open(0);
    return sha;
  }
  static const BCRYPT_ALG_HANDLE hmac_sha = open(BCRYPT_ALG_HANDLE_HMAC_FLAG);
  return hmac_sha;
}

/// Never a null buffer, even of length 0 (an empty vector's data() is null): Wine's BCryptDecrypt given a
/// null input of length 0 returns success without checking the tag at all (measured under Wine 8), which
/// would let any tag open an empty frame.
UCHAR* non_null(const std::uint8_t* p) {
  static UCHAR empty = 0;
  return p ? const_cast<UCHAR*>(p) : &empty;
}

BCRYPT_HASH_HANDLE create_hash(ULONG flags, std::span<const std::uint8_t> key) {
  BCRYPT_HASH_HANDLE h = nullptr;
  check(BCryptCreateHash(provider(flags), &h, nullptr, 0, non_null(key.data()),
                         static_cast<ULONG>(key.size()), 0),
        "BCryptCreateHash");
  return h;
}

void hash_data(BCRYPT_HASH_HANDLE h, const void* data, std::size_t size) {
  auto* p = static_cast<UCHAR*>(const_cast<void*>(data));
  while (size > 0) {  // BCryptHashData takes a ULONG length
    const auto n = static_cast<ULONG>(std::min<std::size_t>(size, 1u << 30));
    check(BCryptHashData(h, p, n, 0), "BCryptHashData");
    p += n;
    size -= n;
  }
}

wire::digest finish_hash(BCRYPT_HASH_HANDLE h) {
  wire::digest out{};
  const auto status = BCryptFinishHash(h, out.data(), static_cast<ULONG>(out.size()), 0);
  BCryptDestroyHash(h);
  check(status, "BCryptFinishHash");
  return out;
}

/// libgcrypt, initialised once per process (thread-safely, as a function-local static) before its first
/// use: no secure memory (a pool that needs privileges, and nothing here keeps long-lived secrets).
void gcrypt_ready() {
  static const bool ready = [] {
    if (!gcry_check_version("1.9.0"))  // the first with gcry_ecc_mul_point
      throw std::runtime_error("libgcrypt 1.9.0 or later is needed for X25519");
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return true;
  }();
  (void)ready;
}

/// X25519(scalar, point). libgcrypt clamps the scalar and ignores the point's top bit, as RFC 7748 asks.
x25519_key curve25519_multiply(const x25519_key& scalar, const x25519_key& point) {
  gcrypt_ready();
  x25519_key out{};
  if (const auto err = gcry_ecc_mul_point(GCRY_ECC_CURVE25519, out.data(), scalar.data(), point.data())) {
    throw std::runtime_error(fmt::format("libgcrypt X25519 failed ({})", gcry_strerror(err)));
  }
  return out;
}

/// The AES provider in GCM mode, opened once per process.
BCRYPT_ALG_HANDLE aes_gcm_provider() {
  static const BCRYPT_ALG_HANDLE aes = [] {
    BCRYPT_ALG_HANDLE h = nullptr;
    check(BCryptOpenAlgorithmProvider(&h, BCRYPT_AES_ALGORITHM, nullptr, 0), "BCryptOpenAlgorithmProvider");
    const auto status = BCryptSetProperty(
        h, BCRYPT_CHAINING_MODE, reinterpret_cast<PUCHAR>(const_cast<wchar_t*>(BCRYPT_CHAIN_MODE_GCM)),
        sizeof(BCRYPT_CHAIN_MODE_GCM), 0);
    if (status < 0) BCryptCloseAlgorithmProvider(h, 0);
    check(status, "BCryptSetProperty(GCM)");
    return h;
  }();
  return aes;
}

/// One seal or open's parameters: each is one BCryptEncrypt or BCryptDecrypt over the whole message, no
/// chained calls.
BCRYPT_AUTHENTICATED_CIPHER_MODE_INFO gcm_info(const aes256_gcm::nonce_type& nonce,
                                               std::span<const std::uint8_t> ad, std::uint8_t* tag) {
  BCRYPT_AUTHENTICATED_CIPHER_MODE_INFO info;
  BCRYPT_INIT_AUTH_MODE_INFO(info);
  info.pbNonce = const_cast<UCHAR*>(nonce.data());
  info.cbNonce = static_cast<ULONG>(nonce.size());
  info.pbAuthData = ad.empty() ? nullptr : const_cast<UCHAR*>(ad.data());
  info.cbAuthData = static_cast<ULONG>(ad.size());
  info.pbTag = tag;
  info.cbTag = aes256_gcm::tag_size;
  return info;
}

ULONG ulong_size(std::size_t size) {
  if (size > std::numeric_limits<ULONG>::max()) throw std::length_error("AES-256-GCM message too long");
  return static_cast<ULONG>(size);
}

constexpr NTSTATUS auth_tag_mismatch = static_cast<NTSTATUS>(0xC000A002L);  // STATUS_AUTH_TAG_MISMATCH

}  // namespace

void random_bytes(std::span<std::uint8_t> out) {
  check(BCryptGenRandom(nullptr, out.data(), static_cast<ULONG>(out.size()), BCRYPT_USE_SYSTEM_PREFERRED_RNG),
        "BCryptGenRandom");
}

wire::digest hmac(std::span<const std::uint8_t> key,
                  std::initializer_list<std::span<const std::uint8_t>> parts) {
  auto h = create_hash(BCRYPT_ALG_HANDLE_HMAC_FLAG, key);
  try {
    for (auto p : parts) hash_data(h, p.data(), p.size());
  } catch (...) {
    BCryptDestroyHash(h);
    throw;
  }
  return finish_hash(h);
}

bool equal_constant_time(const wire::digest& a, const wire::digest& b) noexcept {
  // Every byte is compared whatever the first difference, so the time says nothing about where it is.
  volatile std::uint8_t difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) difference = difference | (a[i] ^ b[i]);
  return difference == 0;
}

x25519_key x25519_public(const x25519_key& secret) {
  static constexpr x25519_key base_point{9};
  return curve25519_multiply(secret, base_point);
}

bool x25519(const x25519_key& secret, const x25519_key& peer_share, x25519_key& shared) {
  shared = curve25519_multiply(secret, peer_share);
  // libgcrypt returns the all-zero result of a share of small order without complaint: refused here.
  return std::any_of(shared.begin(), shared.end(), [](auto b) { return b != 0; });
}

aes256_gcm::aes256_gcm(std::span<const std::uint8_t, key_size> key) : state_(nullptr) {
  // The key is scheduled once; each seal() or open() passes only the nonce.
  BCRYPT_KEY_HANDLE h = nullptr;
  check(BCryptGenerateSymmetricKey(aes_gcm_provider(), &h, nullptr, 0, const_cast<UCHAR*>(key.data()),
                                   static_cast<ULONG>(key.size()), 0),
        "BCryptGenerateSymmetricKey");
  state_ = h;
}

aes256_gcm::~aes256_gcm() { BCryptDestroyKey(static_cast<BCRYPT_KEY_HANDLE>(state_)); }

aes256_gcm::tag_type aes256_gcm::seal(const nonce_type& nonce, std::span<const std::uint8_t> ad,
                                      std::span<const std::uint8_t> head, std::span<const std::uint8_t> tail,
                                      std::uint8_t* out) {
  // The two pieces are gathered into `out`, then encrypted there in place (CNG allows it).
  const auto size = ulong_size(head.size() + tail.size());
  out = non_null(out);
  if (!head.empty()) std::memcpy(out, head.data(), head.size());
  if (!tail.empty()) std::memcpy(out + head.size(), tail.data(), tail.size());
  tag_type tag{};
  auto info = gcm_info(nonce, ad, tag.data());
  ULONG written = 0;
  check(BCryptEncrypt(static_cast<BCRYPT_KEY_HANDLE>(state_), out, size, &info, nullptr, 0, out, size,
                      &written, 0),
        "BCryptEncrypt(AES-256-GCM)");
  return tag;
}

bool aes256_gcm::open(const nonce_type& nonce, std::span<const std::uint8_t> ad, std::span<std::uint8_t> data,
                      const tag_type& tag) {
  const auto size = ulong_size(data.size());
  auto* buffer = non_null(data.data());
  auto info = gcm_info(nonce, ad, const_cast<std::uint8_t*>(tag.data()));
  ULONG written = 0;
  const auto status = BCryptDecrypt(static_cast<BCRYPT_KEY_HANDLE>(state_), buffer, size, &info, nullptr, 0,
                                    buffer, size, &written, 0);
  if (status == auth_tag_mismatch) return false;
  check(status, "BCryptDecrypt(AES-256-GCM)");
  return true;
}

sha256::sha256() : state_(create_hash(0, {})) {}

sha256::~sha256() {
  if (state_) BCryptDestroyHash(static_cast<BCRYPT_HASH_HANDLE>(state_));
}

void sha256::update(const void* data, std::size_t size) {
  hash_data(static_cast<BCRYPT_HASH_HANDLE>(state_), data, size);
}

wire::digest sha256::finish() {
  auto h = static_cast<BCRYPT_HASH_HANDLE>(state_);
  state_ = nullptr;
  return finish_hash(h);
}

}  // namespace lifeline::detail
