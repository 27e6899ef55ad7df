// Sealed frames (src/session/frame_cipher.hpp, docs/protocol.md R21-R23) without sockets: the bytes a
// sealed frame is, checked against an independent computation (Python's cryptography package, AESGCM,
// from the key schedule's known keys), and what an attacker on the path can do to them: change, replay,
// reorder, drop, reflect. Nothing of that is ever opened.
#include "session/frame_cipher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace lifeline;
using namespace lifeline::detail;

std::vector<std::uint8_t> unhex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

handshake::traffic_keys known_keys() {
  handshake::traffic_keys k;
  const auto c2s = unhex("decd80efecaacce0fb39694b071247a07ea8a088c5bb86f3e6b0de43729ec68d");
  const auto s2c = unhex("64853384efba040e1a4cb7ff047ef1760d80e608516691a3f582558322cb92c2");
  std::copy(c2s.begin(), c2s.end(), k.client_to_server.begin());
  std::copy(s2c.begin(), s2c.end(), k.server_to_client.begin());
  return k;
}

const std::string text = "PAY 100 TO ALICE";
wire::bytes bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class frame_cipher_test : public ::testing::Test {
 protected:
  frame_cipher client{known_keys(), true};
  frame_cipher server{known_keys(), false};

  // Two frames from the client: DATA at 0 carrying `text` (split in two pieces), then ACK 16.
  std::vector<std::uint8_t> two_frames() {
    std::vector<std::uint8_t> out;
    client.seal(wire::frame_type::data, 0, 0, bytes_of(text).first(5), bytes_of(text).subspan(5), out);
    client.seal(wire::frame_type::ack, 16, 0, {}, {}, out);
    return out;
  }
};

TEST_F(frame_cipher_test, R21_R23_a_sealed_frame_is_the_header_then_aes_gcm_under_the_counter_nonce) {
  const auto sealed = two_frames();
  const auto frame0 = unhex(
      "0600000000000020000000000000000000000000000000001a5d5b02142fe211d26c8ea189d3706760a83d364b782f9218fdf2"
      "3cf8786671");
  const auto frame1 =
      unhex("070000000000001000000000000000100000000000000000eac4c4ad983fa3ede3f16ab75f606068");
  ASSERT_EQ(sealed.size(), frame0.size() + frame1.size());
  EXPECT_TRUE(std::equal(frame0.begin(), frame0.end(), sealed.begin()));
  EXPECT_TRUE(std::equal(frame1.begin(), frame1.end(), sealed.begin() + frame0.size()));
  // None of the payload's bytes are on the wire.
  EXPECT_EQ(std::search(sealed.begin(), sealed.end(), text.begin(), text.begin() + 4), sealed.end());
}

TEST_F(frame_cipher_test, R21_the_peer_opens_each_frame_in_place_in_order) {
  auto sealed = two_frames();
  std::span<std::uint8_t> in(sealed);
  auto r = server.open(in);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.value.type, wire::frame_type::data);
  EXPECT_EQ(std::string(r.value.payload.begin(), r.value.payload.end()), text);
  r = server.open(in.subspan(r.consumed));
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.value.type, wire::frame_type::ack);
  EXPECT_EQ(r.value.value, 16u);
  EXPECT_TRUE(r.value.payload.empty());
}

TEST_F(frame_cipher_test, R21_an_incomplete_frame_asks_for_more_and_is_not_counted) {
  auto sealed = two_frames();
  for (std::size_t n : {0u, 10u, 24u, 40u, 55u}) {
    const auto r = server.open(std::span(sealed).first(n));
    EXPECT_FALSE(r.error) << n;
    EXPECT_EQ(r.consumed, 0u) << n;
    EXPECT_EQ(r.needed, n < wire::header_size ? wire::header_size : 56u) << n;
  }
  EXPECT_FALSE(server.open(sealed).error);  // the counter did not move
}

TEST_F(frame_cipher_test, R3_R21_a_changed_bit_anywhere_is_an_integrity_error) {
  const auto original = two_frames();
  for (std::size_t at : {1u, 8u, 15u, 24u, 30u, 39u, 40u, 55u}) {  // flags, value, payload, tag
    frame_cipher fresh(known_keys(), false);
    auto changed = original;
    changed[at] ^= at == 1 ? 0x01 : 0x80;  // flags: PAUSED, which the header check alone would allow
    const auto r = fresh.open(changed);
    EXPECT_EQ(r.error, errc::integrity_error) << "byte " << at;
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST_F(frame_cipher_test, R23_a_replayed_reordered_or_dropped_frame_fails) {
  auto sealed = two_frames();
  const std::vector<std::uint8_t> first(sealed.begin(), sealed.begin() + 56);
  const std::vector<std::uint8_t> second(sealed.begin() + 56, sealed.end());
  {
    frame_cipher peer(known_keys(), false);  // replayed: the first frame twice
    auto a = first, b = first;
    ASSERT_FALSE(peer.open(a).error);
    EXPECT_EQ(peer.open(b).error, errc::integrity_error);
  }
  {
    frame_cipher peer(known_keys(), false);  // dropped, or reordered: the second frame first
    auto b = second;
    EXPECT_EQ(peer.open(b).error, errc::integrity_error);
  }
  {
    frame_cipher peer(known_keys(), true);  // reflected: the client's own frame sent back to it
    auto a = first;
    EXPECT_EQ(peer.open(a).error, errc::integrity_error);
  }
  {
    frame_cipher peer(handshake::traffic_keys{}, false);  // another connection's keys
    auto a = first;
    EXPECT_EQ(peer.open(a).error, errc::integrity_error);
  }
}

TEST_F(frame_cipher_test, R1_R2_R21_the_header_is_checked_before_the_tag) {
  auto sealed = two_frames();
  auto checksum = sealed;
  checksum[23] = 1;  // the checksum field of a sealed frame is zero
  EXPECT_EQ(server.open(checksum).error, errc::malformed_frame);
  auto short_length = sealed;
  short_length[7] = 15;  // shorter than the tag
  EXPECT_EQ(server.open(short_length).error, errc::malformed_frame);
  auto long_length = sealed;
  long_length[5] = 0x10, long_length[6] = 0x00, long_length[7] = 0x11;  // max_payload + tag + 1
  EXPECT_EQ(server.open(long_length).error, errc::frame_too_large);
  auto unknown = sealed;
  unknown[0] = 99;
  EXPECT_EQ(server.open(unknown).error, errc::malformed_frame);
  EXPECT_FALSE(server.open(sealed).error);  // nothing of that moved the counter
}

}  // namespace
