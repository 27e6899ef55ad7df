// OpenSSL behind the session's small crypto interface.
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace lifeline::detail {

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
}

std::uint64_t random_u64() {
  std::uint8_t b[8];
  random_bytes(b);
  std::uint64_t v = 0;
  for (auto x : b) v = v << 8 | x;
  return v;
}

wire::digest hmac(std::span<const std::uint8_t> key,
                  std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::vector<std::uint8_t> message;
  for (auto p : parts) message.insert(message.end(), p.begin(), p.end());
  wire::digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), out.data(),
       &length);
  return out;
}

bool equal_constant_time(const wire::digest& a, const wire::digest& b) noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace lifeline::detail
