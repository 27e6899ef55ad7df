// Frame encoding and decoding (docs/protocol.md sections 1-3). Pure: no I/O, no allocation.
#include <lifeline/wire.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <cstring>

namespace lifeline::wire {
namespace {

// Big-endian fields (R1, R4).
using boost::endian::load_big_u16;
using boost::endian::load_big_u32;
using boost::endian::load_big_u64;
using boost::endian::store_big_u16;
using boost::endian::store_big_u32;
using boost::endian::store_big_u64;

std::uint64_t checksum(const std::uint8_t* header, bytes payload, bytes tail) noexcept {
  if (payload.empty() && tail.empty()) return XXH3_64bits(header, 16);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, header, 16);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  if (!tail.empty()) XXH3_64bits_update(&state, tail.data(), tail.size());
  return XXH3_64bits_digest(&state);
}

bool known_type(std::uint8_t t) noexcept {
  return t >= static_cast<std::uint8_t>(frame_type::server_hello) &&
         t <= static_cast<std::uint8_t>(frame_type::error);
}

// A cursor over a handshake payload.
struct reader {
  bytes in;
  std::size_t at = 0;
  template <std::size_t N>
  void take(std::array<std::uint8_t, N>& out) noexcept {
    std::memcpy(out.data(), in.data() + at, N);
    at += N;
  }
  std::uint16_t u16() noexcept {
    at += 2;
    return load_big_u16(in.data() + at - 2);
  }
  bool magic_ok() noexcept {
    at += magic.size();
    return std::equal(magic.begin(), magic.end(), in.begin());
  }
};

struct writer {
  std::uint8_t* out;
  template <std::size_t N>
  void put(const std::array<std::uint8_t, N>& v) noexcept {
    std::memcpy(out, v.data(), N);
    out += N;
  }
  void u16(std::uint16_t v) noexcept {
    store_big_u16(out, v);
    out += 2;
  }
  void u8(std::uint8_t v) noexcept { *out++ = v; }
};

std::error_code malformed() noexcept { return make_error_code(errc::malformed_frame); }

}  // namespace

std::string_view to_string(frame_type t) noexcept {
  switch (t) {
    case frame_type::server_hello:
      return "SERVER_HELLO";
    case frame_type::client_hello:
      return "CLIENT_HELLO";
    case frame_type::welcome:
      return "WELCOME";
    case frame_type::resume:
      return "RESUME";
    case frame_type::resumed:
      return "RESUMED";
    case frame_type::data:
      return "DATA";
    case frame_type::ack:
      return "ACK";
    case frame_type::ping:
      return "PING";
    case frame_type::pong:
      return "PONG";
    case frame_type::close:
      return "CLOSE";
    case frame_type::error:
      return "ERROR";
  }
  return "UNKNOWN";
}

header_bytes encode_header(frame_type type, std::uint64_t value, bytes payload, bytes payload_tail,
                           std::uint8_t flags) {
  header_bytes h{};
  h[0] = static_cast<std::uint8_t>(type);
  h[1] = flags;
  store_big_u32(h.data() + 4, static_cast<std::uint32_t>(payload.size() + payload_tail.size()));
  store_big_u64(h.data() + 8, value);
  store_big_u64(h.data() + 16, checksum(h.data(), payload, payload_tail));
  return h;
}

header_bytes encode_sealed_header(frame_type type, std::uint64_t value, std::size_t plaintext_size,
                                  std::uint8_t flags) {
  header_bytes h{};
  h[0] = static_cast<std::uint8_t>(type);
  h[1] = flags;
  store_big_u32(h.data() + 4, static_cast<std::uint32_t>(plaintext_size + tag_size));
  store_big_u64(h.data() + 8, value);
  return h;
}

namespace {

// What decode() and decode_sealed() share: R1, R2 and whether the frame is whole.
decode_result check_header(bytes in, std::uint32_t min_length, std::uint32_t max_length) noexcept {
  decode_result r;
  if (in.size() < header_size) {
    r.needed = header_size;
    return r;
  }
  const auto* h = in.data();
  const auto length = load_big_u32(h + 4);
  if (!known_type(h[0]) || (h[1] & ~flag_paused) != 0 || h[2] != 0 || h[3] != 0 || length < min_length) {
    r.error = malformed();  // R1
  } else if (length > max_length) {
    r.error = make_error_code(errc::frame_too_large);  // R2
  } else if (in.size() < header_size + length) {
    r.needed = header_size + length;
  } else {
    r.consumed = header_size + length;
    r.value =
        frame{static_cast<frame_type>(h[0]), h[1], load_big_u64(h + 8), in.subspan(header_size, length)};
  }
  return r;
}

}  // namespace

decode_result decode(bytes in) noexcept {
  auto r = check_header(in, 0, max_payload);
  if (r.consumed > 0 && checksum(in.data(), r.value.payload, {}) != load_big_u64(in.data() + 16)) {  // R3
    r.consumed = 0;
    r.value = {};  // a refused frame says nothing
    r.error = make_error_code(errc::integrity_error);
  }
  return r;
}

decode_result decode_sealed(bytes in) noexcept {
  auto r = check_header(in, tag_size, max_payload + tag_size);
  if (r.consumed > 0 && load_big_u64(in.data() + 16) != 0) {  // R21
    r.consumed = 0;
    r.value = {};  // a refused frame says nothing
    r.error = malformed();
  }
  return r;
}

std::array<std::uint8_t, 29> encode(const server_hello& m) {
  std::array<std::uint8_t, 29> out{};
  writer w{out.data()};
  w.put(magic);
  w.u16(m.min_version);
  w.u16(m.max_version);
  w.put(m.server_nonce);
  w.u8(m.psk_required ? 1 : 0);
  return out;
}

std::array<std::uint8_t, 90> encode(const client_hello& m) {
  std::array<std::uint8_t, 90> out{};
  writer w{out.data()};
  w.put(magic);
  w.u16(m.version);
  w.put(m.client_nonce);
  w.put(m.share);
  w.put(m.key_proof);
  return out;
}

std::array<std::uint8_t, 114> encode(const welcome& m) {
  std::array<std::uint8_t, 114> out{};
  writer w{out.data()};
  w.u16(m.version);
  w.put(m.id);
  w.put(m.secret);
  w.put(m.share);
  w.put(m.server_proof);
  return out;
}

std::array<std::uint8_t, 106> encode(const resume_request& m) {
  std::array<std::uint8_t, 106> out{};
  writer w{out.data()};
  w.put(magic);
  w.u16(m.version);
  w.put(m.id);
  w.put(m.client_nonce);
  w.put(m.share);
  w.put(m.proof);
  return out;
}

std::array<std::uint8_t, 64> encode(const resumed& m) {
  std::array<std::uint8_t, 64> out{};
  writer w{out.data()};
  w.put(m.share);
  w.put(m.proof);
  return out;
}

std::error_code parse(bytes payload, server_hello& out) noexcept {
  reader r{payload};
  if (payload.size() != 29 || !r.magic_ok()) return malformed();
  out.min_version = r.u16();
  out.max_version = r.u16();
  r.take(out.server_nonce);
  const auto flags = payload[r.at];
  if ((flags & ~1u) != 0 || out.min_version > out.max_version) return malformed();
  out.psk_required = (flags & 1u) != 0;
  return {};
}

namespace {

// The magic and version that open CLIENT_HELLO and RESUME in every version (R6).
std::error_code versioned(reader& r, std::size_t size, std::uint16_t& version) noexcept {
  if (r.in.size() < magic.size() + 2 || !r.magic_ok()) return malformed();
  version = r.u16();
  if (version != wire::version) return make_error_code(errc::unsupported_version);
  return r.in.size() == size ? std::error_code() : malformed();
}

}  // namespace

std::error_code parse(bytes payload, client_hello& out) noexcept {
  reader r{payload};
  if (auto ec = versioned(r, 90, out.version)) return ec;
  r.take(out.client_nonce);
  r.take(out.share);
  r.take(out.key_proof);
  return {};
}

std::error_code parse(bytes payload, welcome& out) noexcept {
  reader r{payload};
  if (payload.size() != 114) return malformed();
  out.version = r.u16();
  r.take(out.id);
  r.take(out.secret);
  r.take(out.share);
  r.take(out.server_proof);
  return {};
}

std::error_code parse(bytes payload, resume_request& out) noexcept {
  reader r{payload};
  if (auto ec = versioned(r, 106, out.version)) return ec;
  r.take(out.id);
  r.take(out.client_nonce);
  r.take(out.share);
  r.take(out.proof);
  return {};
}

std::error_code parse(bytes payload, resumed& out) noexcept {
  reader r{payload};
  if (payload.size() != 64) return malformed();
  r.take(out.share);
  r.take(out.proof);
  return {};
}

namespace {

// R18: every error an ERROR frame carries, with its code on the wire. The only list of them: a code is
// never reused or renumbered, and a new errc reaches the peer only once it is added here.
struct wire_error {
  errc error;
  std::uint64_t code;
};
constexpr std::array<wire_error, 16> wire_errors = {{
    {errc::network_reset, 1},
    {errc::connection_reset, 2},
    {errc::integrity_error, 3},
    {errc::frame_too_large, 4},
    {errc::malformed_frame, 5},
    {errc::unsupported_version, 6},
    {errc::resume_rejected, 7},
    {errc::session_not_found, 8},
    {errc::offset_out_of_range, 9},
    {errc::resume_deadline_exceeded, 10},
    {errc::handshake_timeout, 11},
    {errc::session_limit_reached, 12},
    {errc::memory_limit_reached, 13},
    {errc::option_rejected, 14},
    {errc::invalid_argument, 15},
    {errc::session_closed, 16},
}};

}  // namespace

std::uint64_t error_code_of(errc e) noexcept {
  for (const auto& w : wire_errors) {
    if (w.error == e) return w.code;
  }
  return error_code_of(errc::malformed_frame);
}

std::error_code error_from_code(std::uint64_t code) noexcept {
  for (const auto& w : wire_errors) {
    if (w.code == code) return make_error_code(w.error);
  }
  return malformed();
}

}  // namespace lifeline::wire
