// Windows' own cryptography (CNG, bcrypt.dll) behind the session's crypto interface (crypto.hpp), for the
// Windows build: Debian has no OpenSSL for MinGW-w64, and CNG is part of every Windows since Vista.
#include "crypto.hpp"

// clang-format off
#include <windows.h>
#include <bcrypt.h>
// clang-format on

#include <fmt/format.h>

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

BCRYPT_HASH_HANDLE create_hash(ULONG flags, std::span<const std::uint8_t> key) {
  BCRYPT_HASH_HANDLE h = nullptr;
  static UCHAR empty = 0;
  auto* secret = key.empty() ? &empty : const_cast<UCHAR*>(key.data());
  check(BCryptCreateHash(provider(flags), &h, nullptr, 0, secret, static_cast<ULONG>(key.size()), 0),
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
