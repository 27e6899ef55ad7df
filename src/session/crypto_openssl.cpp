// OpenSSL behind the session's small crypto interface (crypto.hpp).
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include <stdexcept>
#include <string>
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

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL ") + what + " failed");
}

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;

pkey_ptr x25519_private(const x25519_key& secret) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()),
               EVP_PKEY_free);
  if (!key) fail("X25519 private key");
  return key;
}

EVP_CIPHER_CTX* cipher_of(void* state) { return static_cast<EVP_CIPHER_CTX*>(state); }

}  // namespace

x25519_key x25519_public(const x25519_key& secret) {
  auto key = x25519_private(secret);
  x25519_key share{};
  std::size_t length = share.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), share.data(), &length) != 1) fail("X25519 public key");
  return share;
}

bool x25519(const x25519_key& secret, const x25519_key& peer_share, x25519_key& shared) {
  auto key = x25519_private(secret);
  pkey_ptr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_share.data(), peer_share.size()),
                EVP_PKEY_free);
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new(key.get(), nullptr), EVP_PKEY_CTX_free);
  if (!peer || !ctx || EVP_PKEY_derive_init(ctx.get()) != 1) fail("X25519 derivation setup");
  // OpenSSL refuses a small-order share itself (the all-zero result), as RFC 7748 section 6.1 allows.
  if (EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) return false;
  std::size_t length = shared.size();
  if (EVP_PKEY_derive(ctx.get(), shared.data(), &length) != 1 || length != shared.size()) return false;
  return std::any_of(shared.begin(), shared.end(), [](auto b) { return b != 0; });
}

aes256_gcm::aes256_gcm(std::span<const std::uint8_t, key_size> key) : state_(EVP_CIPHER_CTX_new()) {
  // The key is scheduled once; each seal() or open() sets only the nonce.
  if (!state_ ||
      EVP_CipherInit_ex(cipher_of(state_), EVP_aes_256_gcm(), nullptr, key.data(), nullptr, -1) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher_of(state_), EVP_CTRL_GCM_SET_IVLEN, nonce_size, nullptr) != 1) {
    EVP_CIPHER_CTX_free(cipher_of(state_));
    fail("AES-256-GCM initialisation");
  }
}

aes256_gcm::~aes256_gcm() { EVP_CIPHER_CTX_free(cipher_of(state_)); }

aes256_gcm::tag_type aes256_gcm::seal(const nonce_type& nonce, std::span<const std::uint8_t> ad,
                                      std::span<const std::uint8_t> head, std::span<const std::uint8_t> tail,
                                      std::uint8_t* out) {
  auto* ctx = cipher_of(state_);
  int n = 0;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data(), 1) != 1 ||
      EVP_CipherUpdate(ctx, nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1)
    fail("AES-256-GCM encryption");
  for (auto piece : {head, tail}) {
    if (piece.empty()) continue;
    if (EVP_CipherUpdate(ctx, out, &n, piece.data(), static_cast<int>(piece.size())) != 1)
      fail("AES-256-GCM encryption");
    out += n;
  }
  tag_type tag{};
  if (EVP_CipherFinal_ex(ctx, out, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, tag_size, tag.data()) != 1)
    fail("AES-256-GCM encryption");
  return tag;
}

bool aes256_gcm::open(const nonce_type& nonce, std::span<const std::uint8_t> ad, std::span<std::uint8_t> data,
                      const tag_type& tag) {
  auto* ctx = cipher_of(state_);
  int n = 0;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data(), 0) != 1 ||
      EVP_CipherUpdate(ctx, nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1 ||
      (!data.empty() &&
       EVP_CipherUpdate(ctx, data.data(), &n, data.data(), static_cast<int>(data.size())) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, tag_size, const_cast<std::uint8_t*>(tag.data())) != 1)
    fail("AES-256-GCM decryption");
  return EVP_CipherFinal_ex(ctx, data.data() + data.size(), &n) == 1;
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
