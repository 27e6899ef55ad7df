// OpenSSL behind the session's small crypto interface (crypto.hpp).
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

sha256::sha256() : state_(EVP_MD_CTX_new()) {
  if (!state_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(state_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(state_));
    throw std::runtime_error("OpenSSL SHA-256 initialisation failed");
  }
}

sha256::~sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(state_)); }

void sha256::update(const void* data, std::size_t size) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(state_), data, size);
}

wire::digest sha256::finish() {
  wire::digest out{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(state_), out.data(), &length);
  return out;
}

}  // namespace lifeline::detail
