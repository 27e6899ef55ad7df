// The handshake's proofs and checks (src/session/handshake.hpp, docs/protocol.md R6-R9) without sockets:
// known answers for every derivation, computed independently (Python's hmac module) from the fixed
// inputs below, and each check's refusals.
#include "session/handshake.hpp"
#include "session/crypto.hpp"

#include <gtest/gtest.h>

namespace {

using namespace lifeline;
using namespace lifeline::detail;
namespace hs = lifeline::detail::handshake;

template <typename Array>
Array counting_from(std::uint8_t first) {
  Array a{};
  for (auto& b : a) b = first++;
  return a;
}

wire::digest from_hex(std::string_view hex) {
  wire::digest d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return d;
}

class handshake_test : public ::testing::Test {
 protected:
  const std::string psk_text = "correct horse battery staple";
  const hs::key psk = as_bytes(psk_text);
  const wire::nonce server_nonce = counting_from<wire::nonce>(0x00);
  const wire::nonce client_nonce = counting_from<wire::nonce>(0x10);
  const wire::session_id id = counting_from<wire::session_id>(0xa0);
  const char* secret_hex = "b93f896becaffaccdadaa2d4a1d43ab9169ce98466ff0fecf3393e204f4e6c1a";

  wire::server_hello hello(bool psk_required = true) const {
    wire::server_hello h;
    h.server_nonce = server_nonce;
    h.psk_required = psk_required;
    return h;
  }
};

TEST_F(handshake_test, R7_key_proof_is_the_hmac_of_hello_and_both_nonces) {
  EXPECT_EQ(to_hex(hs::key_proof(psk, server_nonce, client_nonce)),
            "747f124e98a56c0a369e4c319b83a037685856fcaff1af5e3f2f39b67105ed34");
}

TEST_F(handshake_test, R7_server_proof_binds_both_nonces_and_the_session_id) {
  EXPECT_EQ(to_hex(hs::server_proof(psk, client_nonce, server_nonce, id)),
            "070d7874d99eefd5f9def1eb050bde0e9a84ab4c2b6addae5b181e7fd4b45972");
}

TEST_F(handshake_test, R7_the_secret_is_derived_from_the_key_the_id_and_both_nonces) {
  EXPECT_EQ(to_hex(hs::session_secret(psk, id, server_nonce, client_nonce)), secret_hex);
}

TEST_F(handshake_test, R9_resume_proof_covers_the_offset_as_eight_big_endian_bytes) {
  EXPECT_EQ(to_hex(hs::resume_proof(from_hex(secret_hex), server_nonce, id, 0x0102030405060708)),
            "2248b81d5579eb08167aeee8954aa6168f91b81f847c1549559e76ed0fe8e17f");
  EXPECT_NE(hs::resume_proof(from_hex(secret_hex), server_nonce, id, 1),
            hs::resume_proof(from_hex(secret_hex), server_nonce, id, 2));
}

TEST_F(handshake_test, R6_a_client_speaks_only_within_the_servers_range) {
  auto h = hello();
  EXPECT_TRUE(hs::version_offered(h));
  h.min_version = h.max_version = wire::version + 1;
  EXPECT_FALSE(hs::version_offered(h));
  h.min_version = h.max_version = wire::version - 1;
  EXPECT_FALSE(hs::version_offered(h));
}

TEST_F(handshake_test, R7_a_client_without_the_key_a_server_requires_is_refused) {
  EXPECT_EQ(hs::check_server_hello({}, hello(true)), errc::resume_rejected);
  EXPECT_FALSE(hs::check_server_hello({}, hello(false)));
  EXPECT_FALSE(hs::check_server_hello(psk, hello(true)));
}

TEST_F(handshake_test, R7_R8_both_sides_agree_on_the_secret_with_a_psk) {
  const auto ch = hs::make_client_hello(psk, hello(), client_nonce);
  EXPECT_FALSE(hs::check_client_hello(psk, hello(), ch));
  wire::digest server_secret{}, client_secret{};
  const auto w = hs::make_welcome(psk, hello(), ch, id, wire::digest{}, server_secret);
  EXPECT_EQ(w.secret, wire::digest{});  // R7: not on the wire
  ASSERT_FALSE(hs::accept_welcome(psk, hello(), ch, w, client_secret));
  EXPECT_EQ(to_hex(client_secret), secret_hex);
  EXPECT_EQ(client_secret, server_secret);
}

TEST_F(handshake_test, R8_without_a_psk_welcome_carries_the_random_secret) {
  const auto ch = hs::make_client_hello({}, hello(false), client_nonce);
  EXPECT_EQ(ch.key_proof, wire::digest{});
  const auto random_secret = from_hex(secret_hex);
  wire::digest server_secret{}, client_secret{};
  const auto w = hs::make_welcome({}, hello(false), ch, id, random_secret, server_secret);
  EXPECT_EQ(w.secret, random_secret);
  EXPECT_EQ(w.server_proof, wire::digest{});
  ASSERT_FALSE(hs::accept_welcome({}, hello(false), ch, w, client_secret));
  EXPECT_EQ(client_secret, random_secret);
  EXPECT_EQ(server_secret, random_secret);
}

TEST_F(handshake_test, R7_a_wrong_key_proof_is_rejected_by_the_server) {
  const auto ch = hs::make_client_hello(as_bytes("another key"), hello(), client_nonce);
  EXPECT_EQ(hs::check_client_hello(psk, hello(), ch), errc::resume_rejected);
  auto replayed = hs::make_client_hello(psk, hello(), client_nonce);
  auto fresh_hello = hello();
  fresh_hello.server_nonce[0] ^= 1;  // a CLIENT_HELLO recorded on an earlier connection
  EXPECT_EQ(hs::check_client_hello(psk, fresh_hello, replayed), errc::resume_rejected);
}

TEST_F(handshake_test, R6_a_client_hello_of_another_version_is_unsupported) {
  auto ch = hs::make_client_hello(psk, hello(), client_nonce);
  ch.version = wire::version + 1;
  EXPECT_EQ(hs::check_client_hello(psk, hello(), ch), errc::unsupported_version);
}

TEST_F(handshake_test, R7_a_wrong_server_proof_is_rejected_by_the_client) {
  const auto ch = hs::make_client_hello(psk, hello(), client_nonce);
  wire::digest secret{};
  auto w = hs::make_welcome(as_bytes("another key"), hello(), ch, id, {}, secret);
  wire::digest client_secret{};
  EXPECT_EQ(hs::accept_welcome(psk, hello(), ch, w, client_secret), errc::resume_rejected);
  EXPECT_EQ(client_secret, wire::digest{});
  w = hs::make_welcome(psk, hello(), ch, id, {}, secret);
  w.version = wire::version + 1;
  EXPECT_EQ(hs::accept_welcome(psk, hello(), ch, w, client_secret), errc::unsupported_version);
}

TEST_F(handshake_test, R9_a_resume_verifies_only_with_its_secret_nonce_id_and_offset) {
  const auto secret = from_hex(secret_hex);
  const auto rr = hs::make_resume(secret, hello(), id, 4096);
  EXPECT_EQ(rr.id, id);
  EXPECT_FALSE(hs::check_resume(secret, hello(), rr, 4096));
  EXPECT_EQ(hs::check_resume(secret, hello(), rr, 4097), errc::resume_rejected);  // another offset
  auto other_secret = secret;
  other_secret[31] ^= 1;
  EXPECT_EQ(hs::check_resume(other_secret, hello(), rr, 4096), errc::resume_rejected);
  auto next_connection = hello();
  next_connection.server_nonce[15] ^= 1;  // a recorded RESUME replayed on a new connection
  EXPECT_EQ(hs::check_resume(secret, next_connection, rr, 4096), errc::resume_rejected);
  auto forged = rr;
  forged.id[0] ^= 1;
  EXPECT_EQ(hs::check_resume(secret, hello(), forged, 4096), errc::resume_rejected);
}

}  // namespace
