// The handshake's proofs, key schedule and checks (docs/protocol.md R6-R9, R22), shared by the client
// and the server.
#include "handshake.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>

namespace lifeline::detail::handshake {
namespace {

std::array<std::uint8_t, 8> big_endian(std::uint64_t v) {
  std::array<std::uint8_t, 8> out{};
  boost::endian::store_big_u64(out.data(), v);
  return out;
}

std::error_code rejected() { return make_error_code(errc::resume_rejected); }

// R22: the Diffie-Hellman result, or resume_rejected for a share of small order.
std::error_code exchange(const x25519_pair& own, const wire::key_share& peer, x25519_key& dh) {
  return x25519(own.secret, peer, dh) ? std::error_code() : rejected();
}

// R22: the keys of a connection whose key exchange gave `dh`; a new session (`resume_secret` null) also
// gets its secret.
void derive(key psk, const x25519_key& dh, const wire::digest* resume_secret, const transcript& t,
            wire::digest& secret, std::optional<traffic_keys>& keys) {
  const auto prk = key_material(psk, dh, resume_secret ? *resume_secret : wire::digest{});
  if (!resume_secret) secret = session_secret(prk, t);
  keys = connection_keys(prk, t);
}

}  // namespace

wire::digest key_proof(key psk, const transcript& t) {
  return hmac(psk, {as_bytes("lifeline hello"), t.server_nonce, t.client_nonce, t.client_share});
}

wire::digest server_proof(key psk, const transcript& t) {
  return hmac(psk, {as_bytes("lifeline welcome"), t.client_nonce, t.server_nonce, t.id, t.client_share,
                    t.server_share});
}

wire::digest resume_proof(const wire::digest& secret, const transcript& t, std::uint64_t received) {
  return hmac(secret, {as_bytes("lifeline resume"), t.server_nonce, t.client_nonce, t.id,
                       big_endian(received), t.client_share});
}

wire::digest resumed_proof(const wire::digest& secret, const transcript& t, std::uint64_t received) {
  return hmac(secret, {as_bytes("lifeline resumed"), t.client_nonce, t.server_nonce, t.id,
                       big_endian(received), t.client_share, t.server_share});
}

wire::digest key_material(key psk, const x25519_key& dh, const wire::digest& resume_secret) {
  return hkdf_extract(psk, {dh, resume_secret});
}

wire::digest session_secret(const wire::digest& prk, const transcript& t) {
  wire::digest out{};
  hkdf_expand(
      prk,
      {as_bytes("lifeline v2 secret"), t.server_nonce, t.client_nonce, t.id, t.client_share, t.server_share},
      out);
  return out;
}

traffic_keys connection_keys(const wire::digest& prk, const transcript& t) {
  std::array<std::uint8_t, 64> out{};
  hkdf_expand(
      prk,
      {as_bytes("lifeline v2 keys"), t.server_nonce, t.client_nonce, t.id, t.client_share, t.server_share},
      out);
  traffic_keys keys;
  std::copy_n(out.begin(), 32, keys.client_to_server.begin());
  std::copy_n(out.begin() + 32, 32, keys.server_to_client.begin());
  return keys;
}

bool version_offered(const wire::server_hello& hello) noexcept {
  return hello.min_version <= wire::version && wire::version <= hello.max_version;
}

// The client's side -----------------------------------------------------------------------------------

std::error_code check_server_hello(key psk, const wire::server_hello& hello) {
  if (hello.psk_required && psk.empty()) return rejected();
  return {};
}

wire::client_hello make_client_hello(key psk, const wire::server_hello& hello,
                                     const wire::nonce& client_nonce, const x25519_pair& own, transcript& t) {
  t = {.server_nonce = hello.server_nonce, .client_nonce = client_nonce};
  wire::client_hello ch;
  ch.client_nonce = client_nonce;
  if (!psk.empty()) {
    ch.share = t.client_share = own.share;
    ch.key_proof = key_proof(psk, t);
  }
  return ch;
}

std::error_code accept_welcome(key psk, const x25519_pair& own, const wire::welcome& w, transcript& t,
                               wire::digest& secret, std::optional<traffic_keys>& keys) {
  keys.reset();
  if (w.version != wire::version) return make_error_code(errc::unsupported_version);
  t.id = w.id;
  if (psk.empty()) {
    secret = w.secret;
    return {};
  }
  t.server_share = w.share;
  if (!equal_constant_time(server_proof(psk, t), w.server_proof)) return rejected();
  x25519_key dh{};
  if (auto ec = exchange(own, w.share, dh)) return ec;
  derive(psk, dh, nullptr, t, secret, keys);
  return {};
}

wire::resume_request make_resume(key psk, const wire::digest& secret, const wire::server_hello& hello,
                                 const wire::session_id& id, std::uint64_t received,
                                 const wire::nonce& client_nonce, const x25519_pair& own, transcript& t) {
  t = {.server_nonce = hello.server_nonce, .client_nonce = client_nonce, .id = id};
  if (!psk.empty()) t.client_share = own.share;
  wire::resume_request rr;
  rr.id = id;
  rr.client_nonce = client_nonce;
  rr.share = t.client_share;
  rr.proof = resume_proof(secret, t, received);
  return rr;
}

std::error_code accept_resumed(key psk, const wire::digest& secret, const x25519_pair& own,
                               const wire::resumed& r, std::uint64_t received, transcript& t,
                               std::optional<traffic_keys>& keys) {
  keys.reset();
  t.server_share = r.share;
  if (!equal_constant_time(resumed_proof(secret, t, received), r.proof)) return rejected();
  if (psk.empty()) return {};
  x25519_key dh{};
  if (auto ec = exchange(own, r.share, dh)) return ec;
  wire::digest unused{};
  derive(psk, dh, &secret, t, unused, keys);
  return {};
}

// The server's side -----------------------------------------------------------------------------------

std::error_code check_client_hello(key psk, const wire::server_hello& hello, const wire::client_hello& ch,
                                   transcript& t) {
  if (ch.version != wire::version) return make_error_code(errc::unsupported_version);
  t = {.server_nonce = hello.server_nonce, .client_nonce = ch.client_nonce, .client_share = ch.share};
  if (!psk.empty() && !equal_constant_time(key_proof(psk, t), ch.key_proof)) return rejected();
  return {};
}

std::error_code make_welcome(key psk, const wire::session_id& id, const wire::digest& random_secret,
                             const x25519_pair& own, transcript& t, wire::welcome& w, wire::digest& secret,
                             std::optional<traffic_keys>& keys) {
  w = {};
  w.id = t.id = id;
  keys.reset();
  if (psk.empty()) {
    w.secret = secret = random_secret;
    return {};
  }
  x25519_key dh{};
  if (auto ec = exchange(own, t.client_share, dh)) return ec;
  w.share = t.server_share = own.share;
  w.server_proof = server_proof(psk, t);
  derive(psk, dh, nullptr, t, secret, keys);
  return {};
}

std::error_code check_resume(const wire::digest& secret, const wire::server_hello& hello,
                             const wire::resume_request& rr, std::uint64_t received, transcript& t) {
  t = {.server_nonce = hello.server_nonce,
       .client_nonce = rr.client_nonce,
       .id = rr.id,
       .client_share = rr.share};
  if (!equal_constant_time(resume_proof(secret, t, received), rr.proof)) return rejected();
  return {};
}

std::error_code make_resumed(key psk, const wire::digest& secret, const x25519_pair& own,
                             std::uint64_t received, transcript& t, wire::resumed& r,
                             std::optional<traffic_keys>& keys) {
  keys.reset();
  x25519_key dh{};
  if (!psk.empty()) {
    if (auto ec = exchange(own, t.client_share, dh)) return ec;
    t.server_share = own.share;
  }
  r.share = t.server_share;
  r.proof = resumed_proof(secret, t, received);
  if (!psk.empty()) {
    wire::digest unused{};
    derive(psk, dh, &secret, t, unused, keys);
  }
  return {};
}

}  // namespace lifeline::detail::handshake
