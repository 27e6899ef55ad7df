// The handshake's proofs and checks (docs/protocol.md R6-R9), shared by the client and the server.
#include "handshake.hpp"

#include "crypto.hpp"

#include <boost/endian/conversion.hpp>

namespace lifeline::detail::handshake {

wire::digest key_proof(key psk, const wire::nonce& server_nonce, const wire::nonce& client_nonce) {
  return hmac(psk, {as_bytes("lifeline hello"), server_nonce, client_nonce});
}

wire::digest server_proof(key psk, const wire::nonce& client_nonce, const wire::nonce& server_nonce,
                          const wire::session_id& id) {
  return hmac(psk, {as_bytes("lifeline welcome"), client_nonce, server_nonce, id});
}

wire::digest session_secret(key psk, const wire::session_id& id, const wire::nonce& server_nonce,
                            const wire::nonce& client_nonce) {
  return hmac(psk, {as_bytes("lifeline secret"), id, server_nonce, client_nonce});
}

wire::digest resume_proof(const wire::digest& secret, const wire::nonce& server_nonce,
                          const wire::session_id& id, std::uint64_t received) {
  std::array<std::uint8_t, 8> offset{};
  boost::endian::store_big_u64(offset.data(), received);
  return hmac(secret, {as_bytes("lifeline resume"), server_nonce, id, offset});
}

bool version_offered(const wire::server_hello& hello) noexcept {
  return hello.min_version <= wire::version && wire::version <= hello.max_version;
}

std::error_code check_server_hello(key psk, const wire::server_hello& hello) {
  if (hello.psk_required && psk.empty()) return make_error_code(errc::resume_rejected);
  return {};
}

wire::client_hello make_client_hello(key psk, const wire::server_hello& hello,
                                     const wire::nonce& client_nonce) {
  wire::client_hello ch;
  ch.client_nonce = client_nonce;
  if (!psk.empty()) ch.key_proof = key_proof(psk, hello.server_nonce, client_nonce);
  return ch;
}

std::error_code accept_welcome(key psk, const wire::server_hello& hello, const wire::client_hello& sent,
                               const wire::welcome& w, wire::digest& secret) {
  if (w.version != wire::version) return make_error_code(errc::unsupported_version);
  if (psk.empty()) {
    secret = w.secret;
    return {};
  }
  if (!equal_constant_time(server_proof(psk, sent.client_nonce, hello.server_nonce, w.id), w.server_proof))
    return make_error_code(errc::resume_rejected);
  secret = session_secret(psk, w.id, hello.server_nonce, sent.client_nonce);
  return {};
}

wire::resume_request make_resume(const wire::digest& secret, const wire::server_hello& hello,
                                 const wire::session_id& id, std::uint64_t received) {
  wire::resume_request rr;
  rr.id = id;
  rr.proof = resume_proof(secret, hello.server_nonce, id, received);
  return rr;
}

std::error_code check_client_hello(key psk, const wire::server_hello& hello, const wire::client_hello& ch) {
  if (ch.version != wire::version) return make_error_code(errc::unsupported_version);
  if (!psk.empty() && !equal_constant_time(key_proof(psk, hello.server_nonce, ch.client_nonce), ch.key_proof))
    return make_error_code(errc::resume_rejected);
  return {};
}

wire::welcome make_welcome(key psk, const wire::server_hello& hello, const wire::client_hello& ch,
                           const wire::session_id& id, const wire::digest& random_secret,
                           wire::digest& secret) {
  wire::welcome w;
  w.id = id;
  if (psk.empty()) {
    w.secret = secret = random_secret;
  } else {
    w.server_proof = server_proof(psk, ch.client_nonce, hello.server_nonce, id);
    secret = session_secret(psk, id, hello.server_nonce, ch.client_nonce);
  }
  return w;
}

std::error_code check_resume(const wire::digest& secret, const wire::server_hello& hello,
                             const wire::resume_request& rr, std::uint64_t received) {
  if (!equal_constant_time(resume_proof(secret, hello.server_nonce, rr.id, received), rr.proof))
    return make_error_code(errc::resume_rejected);
  return {};
}

}  // namespace lifeline::detail::handshake
