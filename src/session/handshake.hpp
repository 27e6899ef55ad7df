// The handshake's proofs, derivations and checks (docs/protocol.md section 3) as pure functions: no I/O,
// no clock, no randomness of their own (nonces, ids and secrets are given), so that both sides use the
// same code and tests can check each against known answers.
#pragma once

#include <lifeline/wire.hpp>

#include <cstdint>
#include <span>
#include <system_error>

namespace lifeline::detail::handshake {

using key = std::span<const std::uint8_t>;

/// R7: HMAC-SHA-256(PSK, "lifeline hello" || server_nonce || client_nonce), the client's proof.
wire::digest key_proof(key psk, const wire::nonce& server_nonce, const wire::nonce& client_nonce);
/// R7: HMAC-SHA-256(PSK, "lifeline welcome" || client_nonce || server_nonce || session_id), the server's.
wire::digest server_proof(key psk, const wire::nonce& client_nonce, const wire::nonce& server_nonce,
                          const wire::session_id& id);
/// R7: HMAC-SHA-256(PSK, "lifeline secret" || session_id || server_nonce || client_nonce).
wire::digest session_secret(key psk, const wire::session_id& id, const wire::nonce& server_nonce,
                            const wire::nonce& client_nonce);
/// R9: HMAC-SHA-256(secret, "lifeline resume" || server_nonce || session_id || received as 8 bytes).
wire::digest resume_proof(const wire::digest& secret, const wire::nonce& server_nonce,
                          const wire::session_id& id, std::uint64_t received);

/// R6, client: whether this build's version lies in the server's [min_version, max_version].
bool version_offered(const wire::server_hello& hello) noexcept;

// The client's side -----------------------------------------------------------------------------------

/// R7: refuses a server that asks for a key the client does not have (resume_rejected).
std::error_code check_server_hello(key psk, const wire::server_hello& hello);
/// CLIENT_HELLO for a new session, with the key proof when there is a PSK.
wire::client_hello make_client_hello(key psk, const wire::server_hello& hello,
                                     const wire::nonce& client_nonce);
/// R7, R8: checks WELCOME and yields the session's secret: derived from the PSK after the server's proof
/// verifies (resume_rejected otherwise), or the one WELCOME carries without a PSK.
std::error_code accept_welcome(key psk, const wire::server_hello& hello, const wire::client_hello& sent,
                               const wire::welcome& w, wire::digest& secret);
/// R9: RESUME's payload for session `id` having received `received` units.
wire::resume_request make_resume(const wire::digest& secret, const wire::server_hello& hello,
                                 const wire::session_id& id, std::uint64_t received);

// The server's side -----------------------------------------------------------------------------------

/// R6, R7: checks CLIENT_HELLO's version (unsupported_version) and key proof (resume_rejected).
std::error_code check_client_hello(key psk, const wire::server_hello& hello, const wire::client_hello& ch);
/// R7, R8: WELCOME for a new session `id`. With a PSK it carries the server's proof and no secret;
/// without, `random_secret`. `secret` receives the session's secret either way.
wire::welcome make_welcome(key psk, const wire::server_hello& hello, const wire::client_hello& ch,
                           const wire::session_id& id, const wire::digest& random_secret,
                           wire::digest& secret);
/// R9: checks RESUME's proof against the session's secret (resume_rejected); `received` is the frame's
/// value. The version and the session's existence are the caller's to check first.
std::error_code check_resume(const wire::digest& secret, const wire::server_hello& hello,
                             const wire::resume_request& rr, std::uint64_t received);

}  // namespace lifeline::detail::handshake
