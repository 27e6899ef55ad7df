// The frame codec: round trips, and every malformed, oversized or corrupted input refused precisely.
#include <lifeline/wire.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <utility>
#include <vector>

namespace {

using namespace lifeline;
using wire::frame_type;

std::vector<std::uint8_t> make_frame(frame_type type, std::uint64_t value,
                                     std::vector<std::uint8_t> payload) {
  const auto header = wire::encode_header(type, value, payload);
  std::vector<std::uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(frame_codec, round_trips_every_frame_type) {
  for (int t = 1; t <= 11; ++t) {
    const std::vector<std::uint8_t> payload = {1, 2, 3, static_cast<std::uint8_t>(t)};
    const auto bytes = make_frame(static_cast<frame_type>(t), 0x0102030405060708ull * t, payload);
    const auto r = wire::decode(bytes);
    ASSERT_FALSE(r.error) << t << ": " << r.error.message();
    EXPECT_EQ(r.consumed, bytes.size());
    EXPECT_EQ(r.value.type, static_cast<frame_type>(t));
    EXPECT_EQ(r.value.value, 0x0102030405060708ull * t);
    EXPECT_EQ(std::vector<std::uint8_t>(r.value.payload.begin(), r.value.payload.end()), payload);
  }
}

TEST(frame_codec, header_is_big_endian_as_specified) {
  const auto h =
      wire::encode_header(frame_type::data, 0x1122334455667788ull, std::vector<std::uint8_t>(0x0102, 0));
  EXPECT_EQ(h[0], 6);
  EXPECT_EQ(h[4], 0x00);
  EXPECT_EQ(h[6], 0x01);
  EXPECT_EQ(h[7], 0x02);
  EXPECT_EQ(h[8], 0x11);
  EXPECT_EQ(h[15], 0x88);
}

TEST(frame_codec, carries_the_paused_flag) {
  const std::vector<std::uint8_t> payload = {9};
  const auto h = wire::encode_header(frame_type::ping, 1, payload, {}, wire::flag_paused);
  std::vector<std::uint8_t> bytes(h.begin(), h.end());
  bytes.push_back(9);
  const auto r = wire::decode(bytes);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.value.flags, wire::flag_paused);
  EXPECT_EQ(wire::decode(make_frame(frame_type::ping, 1, payload)).value.flags, 0);
}

TEST(frame_codec, two_piece_payload_checksums_like_one_piece) {
  const std::vector<std::uint8_t> whole = {1, 2, 3, 4, 5, 6, 7};
  const std::vector<std::uint8_t> a = {1, 2, 3}, b = {4, 5, 6, 7};
  EXPECT_EQ(wire::encode_header(frame_type::data, 9, whole), wire::encode_header(frame_type::data, 9, a, b));
}

TEST(frame_decoder, asks_for_more_until_a_frame_is_whole) {
  const auto bytes = make_frame(frame_type::data, 0, std::vector<std::uint8_t>(100, 7));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const auto r = wire::decode({bytes.data(), n});
    EXPECT_FALSE(r.error) << n;
    EXPECT_EQ(r.consumed, 0u) << n;
    EXPECT_EQ(r.needed, n < wire::header_size ? wire::header_size : bytes.size()) << n;
  }
}

TEST(frame_decoder, rejects_oversized_length_before_the_payload_arrives) {
  auto bytes = make_frame(frame_type::data, 0, {});
  bytes[4] = 0x00;
  bytes[5] = 0x10;  // 1 MiB + 1 byte
  bytes[6] = 0x00;
  bytes[7] = 0x01;
  const auto r = wire::decode(bytes);
  EXPECT_EQ(r.error, errc::frame_too_large);
  EXPECT_EQ(r.needed, 0u);
}

TEST(frame_decoder, accepts_the_maximum_payload) {
  const auto bytes = make_frame(frame_type::data, 0, std::vector<std::uint8_t>(wire::max_payload, 1));
  const auto r = wire::decode(bytes);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.value.payload.size(), wire::max_payload);
}

TEST(frame_decoder, rejects_unknown_types_and_reserved_bits) {
  for (std::size_t at : {0u, 1u, 2u, 3u}) {
    auto bytes = make_frame(frame_type::ack, 5, {});
    bytes[at] = at == 0 ? 0 : 2;  // flag bit 1 and the reserved bytes must be 0 (R1)
    EXPECT_EQ(wire::decode(bytes).error, errc::malformed_frame) << at;
  }
  auto bytes = make_frame(frame_type::ack, 5, {});
  bytes[0] = 12;
  EXPECT_EQ(wire::decode(bytes).error, errc::malformed_frame);
}

TEST(frame_decoder, never_accepts_a_frame_with_any_single_bit_flipped) {
  const auto original = make_frame(frame_type::data, 4096, {10, 20, 30, 40, 50, 60, 70, 80});
  for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
    auto bytes = original;
    bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const auto r = wire::decode(bytes);
    EXPECT_EQ(r.consumed, 0u) << "bit " << bit;
    if (bit / 8 >= 8) {  // past the type, flags and length: only the checksum can catch it
      EXPECT_EQ(r.error, errc::integrity_error) << "bit " << bit;
    }
  }
}

TEST(handshake_payloads, round_trip) {
  wire::client_hello ch;
  ch.client_nonce[3] = 9;
  ch.key_proof[31] = 7;
  wire::client_hello back;
  ASSERT_FALSE(wire::parse(wire::encode(ch), back));
  EXPECT_EQ(back.client_nonce, ch.client_nonce);
  EXPECT_EQ(back.key_proof, ch.key_proof);
  EXPECT_EQ(back.version, wire::version);

  wire::server_hello sh;
  sh.min_version = 1;
  sh.max_version = 3;
  sh.psk_required = true;
  wire::server_hello sh_back;
  ASSERT_FALSE(wire::parse(wire::encode(sh), sh_back));
  EXPECT_EQ(sh_back.max_version, 3);
  EXPECT_TRUE(sh_back.psk_required);

  wire::welcome w;
  w.id[0] = 1;
  w.secret[5] = 2;
  wire::welcome w_back;
  ASSERT_FALSE(wire::parse(wire::encode(w), w_back));
  EXPECT_EQ(w_back.id, w.id);
  EXPECT_EQ(w_back.secret, w.secret);

  wire::resume_request rr;
  rr.id[15] = 4;
  wire::resume_request rr_back;
  ASSERT_FALSE(wire::parse(wire::encode(rr), rr_back));
  EXPECT_EQ(rr_back.id, rr.id);
}

TEST(handshake_payloads, reject_wrong_length_magic_and_flags) {
  auto ch = wire::encode(wire::client_hello{});
  wire::client_hello out;
  EXPECT_EQ(wire::parse(wire::bytes(ch.data(), ch.size() - 1), out), errc::malformed_frame);
  ch[0] = 'X';
  EXPECT_EQ(wire::parse(ch, out), errc::malformed_frame);
  auto sh = wire::encode(wire::server_hello{});
  sh[28] = 0x80;
  wire::server_hello sh_out;
  EXPECT_EQ(wire::parse(sh, sh_out), errc::malformed_frame);
  wire::resume_request rr;
  EXPECT_EQ(wire::parse(wire::bytes(), rr), errc::malformed_frame);
}

TEST(frame_decoder, random_garbage_never_yields_a_frame_by_accident) {
  std::mt19937_64 rng(20261125);  // seed printed on failure through the test name and this constant
  std::vector<std::uint8_t> bytes(256);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    bytes[1] = bytes[2] = bytes[3] = 0;
    bytes[0] = static_cast<std::uint8_t>(1 + rng() % 11);
    bytes[4] = bytes[5] = bytes[6] = 0;
    bytes[7] = static_cast<std::uint8_t>(rng() % 200);
    if (wire::decode(bytes).consumed != 0) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

}  // namespace

namespace {

// Inputs the fuzzers once found interesting or crashing, replayed on every run.
TEST(frame_decoder, replays_every_saved_fuzz_input_safely) {
  const std::filesystem::path dir = std::filesystem::path(LIFELINE_SOURCE_DIR) / "tests" / "fuzz_regressions";
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    const auto r = lifeline::wire::decode(bytes);
    EXPECT_LE(r.consumed, bytes.size()) << entry.path();
    lifeline::wire::client_hello ch;
    (void)lifeline::wire::parse(bytes, ch);
    ++replayed;
  }
  EXPECT_GT(replayed, 0);
}

// R18: the numbers written out, not computed from errc, so that renumbering either side fails here.
const std::pair<errc, std::uint64_t> error_frame_codes[] = {
    {errc::network_reset, 1},         {errc::connection_reset, 2},
    {errc::integrity_error, 3},       {errc::frame_too_large, 4},
    {errc::malformed_frame, 5},       {errc::unsupported_version, 6},
    {errc::resume_rejected, 7},       {errc::session_not_found, 8},
    {errc::offset_out_of_range, 9},   {errc::resume_deadline_exceeded, 10},
    {errc::handshake_timeout, 11},    {errc::session_limit_reached, 12},
    {errc::memory_limit_reached, 13}, {errc::option_rejected, 14},
    {errc::invalid_argument, 15},     {errc::session_closed, 16},
};

TEST(error_frame_codes, every_error_the_wire_carries_keeps_its_number) {
  for (const auto& [error, code] : error_frame_codes) {
    EXPECT_EQ(wire::error_code_of(error), code) << make_error_code(error).message();
    EXPECT_EQ(wire::error_from_code(code), error) << code;
  }
}

TEST(error_frame_codes, an_unknown_code_is_a_malformed_frame) {
  for (std::uint64_t code : {std::uint64_t{0}, std::uint64_t{17}, std::uint64_t{1000}, ~std::uint64_t{0}}) {
    EXPECT_EQ(wire::error_from_code(code), errc::malformed_frame) << code;
  }
}

TEST(error_frame_codes, an_error_the_wire_does_not_carry_goes_as_malformed_frame) {
  EXPECT_EQ(wire::error_code_of(static_cast<errc>(1000)), 5u);
}

}  // namespace
