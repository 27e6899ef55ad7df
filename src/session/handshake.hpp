// The handshake's proofs, derivations and checks (docs/protocol.md section 3) as pure functions: no I/O,
// no clock, no randomness of their own (nonces, ids, secrets and key pairs are given), so that both sides
// use the same code and tests can check each against known answers.
#pragma once

#include "crypto.hpp"

#include <lifeline/wire.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <system_error>

namespace lifeline::detail::handshake {

using key = std::span<const std::uint8_t>;

/// What both sides of one connection's handshake know, filled in as it goes; every proof and key is
/// bound to it. Shares are all zeros without a pre-shared key.
struct transcript {
  wire::nonce server_nonce{};
  wire::nonce client_nonce{};
  wire::session_id id{};
  wire::key_share client_share{};
  wire::key_share server_share{};
};

/// R22: one connection's AES-256-GCM keys, one per direction.
struct traffic_keys {
  std::array<std::uint8_t, 32> client_to_server{};
  std::array<std::uint8_t, 32> server_to_client{};
};

/// R7: HMAC-SHA-256(PSK, "lifeline hello" || server_nonce || client_nonce || client_share).
wire::digest key_proof(key psk, const transcript& t);
/// R7: HMAC-SHA-256(PSK, "lifeline welcome" || client_nonce || server_nonce || session_id || client_share ||
/// server_share).
wire::digest server_proof(key psk, const transcript& t);
/// R9: HMAC-SHA-256(secret, "lifeline resume" || server_nonce || client_nonce || session_id || received
/// as 8 bytes || client_share).
wire::digest resume_proof(const wire::digest& secret, const transcript& t, std::uint64_t received);
/// R9: HMAC-SHA-256(secret, "lifeline resumed" || client_nonce || server_nonce || session_id || received
/// as 8 bytes || client_share || server_share).
wire::digest resumed_proof(const wire::digest& secret, const transcript& t, std::uint64_t received);

/// R22: PRK = HKDF-Extract(PSK, dh || resume_secret), where resume_secret is all zeros on a new session's
/// first connection and the session's secret on a resume.
wire::digest key_material(key psk, const x25519_key& dh, const wire::digest& resume_secret);
/// R22: HKDF-Expand(prk, "lifeline v2 secret" || context, 32): a new session's secret.
wire::digest session_secret(const wire::digest& prk, const transcript& t);
/// R22: HKDF-Expand(prk, "lifeline v2 keys" || context, 64): client-to-server, then server-to-client.
traffic_keys connection_keys(const wire::digest& prk, const transcript& t);

/// R6, client: whether this build's version lies in the server's [min_version, max_version].
bool version_offered(const wire::server_hello& hello) noexcept;

// The client's side -----------------------------------------------------------------------------------

/// R7: refuses a server that asks for a key the client does not have (resume_rejected).
std::error_code check_server_hello(key psk, const wire::server_hello& hello);
/// CLIENT_HELLO for a new session; `t` gets the nonces and, with a PSK, `own`'s share.
wire::client_hello make_client_hello(key psk, const wire::server_hello& hello,
                                     const wire::nonce& client_nonce, const x25519_pair& own, transcript& t);
/// R7, R8, R22: checks WELCOME. Without a PSK the secret is the one WELCOME carries and there are no
/// keys; with one, the server's proof must verify (resume_rejected otherwise) and the secret and keys
/// come from the key exchange.
std::error_code accept_welcome(key psk, const x25519_pair& own, const wire::welcome& w, transcript& t,
                               wire::digest& secret, std::optional<traffic_keys>& keys);
/// R9: RESUME's payload for session `id` having received `received` units.
wire::resume_request make_resume(key psk, const wire::digest& secret, const wire::server_hello& hello,
                                 const wire::session_id& id, std::uint64_t received,
                                 const wire::nonce& client_nonce, const x25519_pair& own, transcript& t);
/// R9, R22: checks RESUMED's proof for the server's `received` (resume_rejected) and, with a PSK,
/// derives the connection's keys.
std::error_code accept_resumed(key psk, const wire::digest& secret, const x25519_pair& own,
                               const wire::resumed& r, std::uint64_t received, transcript& t,
                               std::optional<traffic_keys>& keys);

// The server's side -----------------------------------------------------------------------------------

/// R6, R7: checks CLIENT_HELLO's version (unsupported_version) and key proof (resume_rejected); fills `t`.
std::error_code check_client_hello(key psk, const wire::server_hello& hello, const wire::client_hello& ch,
                                   transcript& t);
/// R7, R8, R22: WELCOME for a new session `id`. Without a PSK it carries `random_secret`; with one, the
/// server's share and proof, and the secret and keys come from the key exchange (resume_rejected for a
/// client share of small order).
std::error_code make_welcome(key psk, const wire::session_id& id, const wire::digest& random_secret,
                             const x25519_pair& own, transcript& t, wire::welcome& w, wire::digest& secret,
                             std::optional<traffic_keys>& keys);
/// R9: checks RESUME's proof against the session's secret (resume_rejected); `received` is the frame's
/// value; fills `t`. The version and the session's existence are the caller's to check first.
std::error_code check_resume(const wire::digest& secret, const wire::server_hello& hello,
                             const wire::resume_request& rr, std::uint64_t received, transcript& t);
/// R9, R22: RESUMED's payload for the server's `received`, and with a PSK the connection's keys.
std::error_code make_resumed(key psk, const wire::digest& secret, const x25519_pair& own,
                             std::uint64_t received, transcript& t, wire::resumed& r,
                             std::optional<traffic_keys>& keys);

}  // namespace lifeline::detail::handshake
