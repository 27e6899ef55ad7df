// The session protocol's frames (docs/protocol.md): encoding and decoding as pure functions over bytes,
// with no I/O, so that they can be tested alone and fuzzed.
#pragma once

#include <lifeline/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace lifeline::wire {

/// The protocol version this build speaks (docs/protocol.md R6): only this one.
inline constexpr std::uint16_t version = 2;
inline constexpr std::size_t header_size = 24;
/// R2: the largest payload a receiver accepts.
inline constexpr std::uint32_t max_payload = 1u << 20;
inline constexpr std::size_t max_error_text = 1024;
inline constexpr std::array<std::uint8_t, 8> magic = {'L', 'I', 'F', 'E', 'L', 'I', 'N', 'E'};

enum class frame_type : std::uint8_t {
  server_hello = 1,
  client_hello = 2,
  welcome = 3,
  resume = 4,
  resumed = 5,
  data = 6,
  ack = 7,
  ping = 8,
  pong = 9,
  close = 10,
  error = 11,
};

std::string_view to_string(frame_type t) noexcept;

/// R1: the only flag. Set on any frame whose sender's receive buffer is full, so that it is not reading
/// (R15): the peer then does not count missing acknowledgements against it (R16).
inline constexpr std::uint8_t flag_paused = 0x01;

using bytes = std::span<const std::uint8_t>;
using header_bytes = std::array<std::uint8_t, header_size>;

/// A decoded frame. `payload` points into the buffer given to decode().
struct frame {
  frame_type type{};
  std::uint8_t flags = 0;
  std::uint64_t value = 0;
  bytes payload;
};

/// Builds a frame's header, checksum included, for a payload given in up to two pieces (a ring buffer's
/// two halves). The payload must not exceed max_payload.
header_bytes encode_header(frame_type type, std::uint64_t value, bytes payload, bytes payload_tail = {},
                           std::uint8_t flags = 0);

/// R21: a sealed frame's AES-256-GCM tag, after its ciphertext; `length` counts both.
inline constexpr std::size_t tag_size = 16;

/// R21: a sealed frame's header (the checksum field zero), for `plaintext_size` bytes of payload; the
/// associated data of its seal.
header_bytes encode_sealed_header(frame_type type, std::uint64_t value, std::size_t plaintext_size,
                                  std::uint8_t flags = 0);

/// What decode() found at the front of a buffer.
struct decode_result {
  std::error_code error;     ///< set when the bytes are not a valid frame (R1-R3)
  std::size_t consumed = 0;  ///< bytes of a whole valid frame; 0 while more bytes are needed
  std::size_t needed = 0;    ///< while incomplete: total bytes needed for the frame seen so far
  frame value;               ///< valid when consumed > 0
};

/// Decodes the first frame in `in`. Never reads past `in`, never allocates, and checks the length (R2)
/// before asking for the payload.
decode_result decode(bytes in) noexcept;

/// R21: decode() for a sealed frame: the same checks of type, flags and reserved bytes (R1), a length
/// of at least the tag and at most max_payload and the tag (R2), a zero checksum field; `payload` is the
/// ciphertext and tag, for the connection's cipher to open. The checksum is not computed: the tag is.
decode_result decode_sealed(bytes in) noexcept;

// Handshake payloads (R4).
using nonce = std::array<std::uint8_t, 16>;
using session_id = std::array<std::uint8_t, 16>;
using digest = std::array<std::uint8_t, 32>;
/// An X25519 public share (R7); all zeros when no pre-shared key is in use.
using key_share = std::array<std::uint8_t, 32>;

struct server_hello {
  std::uint16_t min_version = version;
  std::uint16_t max_version = version;
  nonce server_nonce{};
  bool psk_required = false;
};
struct client_hello {
  std::uint16_t version = wire::version;
  nonce client_nonce{};
  key_share share{};
  digest key_proof{};
};
struct welcome {
  std::uint16_t version = wire::version;
  session_id id{};
  digest secret{};
  key_share share{};
  digest server_proof{};
};
struct resume_request {
  std::uint16_t version = wire::version;
  session_id id{};
  nonce client_nonce{};
  key_share share{};
  digest proof{};
};
struct resumed {
  key_share share{};
  digest proof{};
};

std::array<std::uint8_t, 29> encode(const server_hello& m);
std::array<std::uint8_t, 90> encode(const client_hello& m);
std::array<std::uint8_t, 114> encode(const welcome& m);
std::array<std::uint8_t, 106> encode(const resume_request& m);
std::array<std::uint8_t, 64> encode(const resumed& m);

/// Each parser returns malformed_frame for a payload of the wrong length or magic. CLIENT_HELLO and
/// RESUME, whose layout differs between versions, are read as far as their version first: another
/// version than this build's is unsupported_version, with `out.version` set, whatever the length (R6).
std::error_code parse(bytes payload, server_hello& out) noexcept;
std::error_code parse(bytes payload, client_hello& out) noexcept;
std::error_code parse(bytes payload, welcome& out) noexcept;
std::error_code parse(bytes payload, resume_request& out) noexcept;
std::error_code parse(bytes payload, resumed& out) noexcept;

// ERROR frames (R18).
/// The code an ERROR frame carries for `e`. The errors the wire carries are listed once, in src/wire.cpp,
/// and their codes never change (each is the errc's own number). An errc the wire does not carry goes as
/// malformed_frame's code.
std::uint64_t error_code_of(errc e) noexcept;
/// The error an ERROR frame's code stands for; a code the wire does not carry (0, or one from a later
/// version) is errc::malformed_frame.
std::error_code error_from_code(std::uint64_t code) noexcept;

}  // namespace lifeline::wire
