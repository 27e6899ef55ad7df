// The handshake's proofs, key schedule and checks (src/session/handshake.hpp, docs/protocol.md R6-R9,
// R22) without sockets: known answers for every derivation, computed independently (Python's hmac
// module, RFC 7748's key pairs) from the fixed inputs below, and each check's refusals.
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

std::array<std::uint8_t, 32> from_hex(std::string_view hex) {
  std::array<std::uint8_t, 32> d{};
  for (std::size_t i = 0; i < d.size(); ++i)
    d[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return d;
}

std::string hex(const std::array<std::uint8_t, 32>& a) { return to_hex(a); }

class handshake_test : public ::testing::Test {
 protected:
  const std::string psk_text = "correct horse battery staple";
  const hs::key psk = as_bytes(psk_text);
  const wire::nonce server_nonce = counting_from<wire::nonce>(0x00);
  const wire::nonce client_nonce = counting_from<wire::nonce>(0x10);
  const wire::session_id id = counting_from<wire::session_id>(0xa0);
  // RFC 7748 section 6.1: Alice is the client, Bob the server.
  const x25519_pair client_pair{from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
                                from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")};
  const x25519_pair server_pair{from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
                                from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")};
  const char* secret_hex = "f751e3153ce3b8ff9df5025d6eea1cbeef809e7590decae4a34961b9b3b504a5";

  wire::server_hello hello(bool psk_required = true) const {
    wire::server_hello h;
    h.server_nonce = server_nonce;
    h.psk_required = psk_required;
    return h;
  }
  hs::transcript full() const {
    return {server_nonce, client_nonce, id, client_pair.share, server_pair.share};
  }
};

TEST_F(handshake_test, R7_key_proof_is_the_hmac_of_hello_both_nonces_and_the_clients_share) {
  EXPECT_EQ(hex(hs::key_proof(psk, full())),
            "b9739ec05d8725bdd83f90361aa824d69ba2141650784837a9c9871e354da9bf");
}

TEST_F(handshake_test, R7_server_proof_binds_both_nonces_the_session_id_and_both_shares) {
  EXPECT_EQ(hex(hs::server_proof(psk, full())),
            "6e2ed47b56a892d1a2e12e2fe212ed1cffd2c16aa45e32b6bc7bf8ab9f3a1e7d");
}

TEST_F(handshake_test, R22_secret_and_keys_come_from_hkdf_over_the_psk_and_the_key_exchange) {
  x25519_key dh{};
  ASSERT_TRUE(x25519(client_pair.secret, server_pair.share, dh));
  const auto prk = hs::key_material(psk, dh, wire::digest{});
  EXPECT_EQ(hex(prk), "985f88f3121e8715e3ef9724a914608a7695299cdab89a59d9cf520db43d58c3");
  EXPECT_EQ(hex(hs::session_secret(prk, full())), secret_hex);
  const auto keys = hs::connection_keys(prk, full());
  EXPECT_EQ(hex(keys.client_to_server), "decd80efecaacce0fb39694b071247a07ea8a088c5bb86f3e6b0de43729ec68d");
  EXPECT_EQ(hex(keys.server_to_client), "64853384efba040e1a4cb7ff047ef1760d80e608516691a3f582558322cb92c2");
  // A resume mixes the session's secret in: other keys from the same exchange.
  const auto resumed = hs::connection_keys(hs::key_material(psk, dh, from_hex(secret_hex)), full());
  EXPECT_EQ(hex(resumed.client_to_server),
            "594b9b42ecd44ddf97dc353f9064efdd51e6e8378f2f0c8b923838faa4de43fb");
  EXPECT_EQ(hex(resumed.server_to_client),
            "4c86c279bbc833fbc8a47e50a753e24501f3092cb67b3e620ccc3687aa4f036e");
}

TEST_F(handshake_test, R9_resume_proofs_cover_both_nonces_the_offset_and_the_shares) {
  const auto secret = from_hex(secret_hex);
  EXPECT_EQ(hex(hs::resume_proof(secret, full(), 1234567)),
            "da3d5cafbcb2fd03aa390a5b1ba8d1c3653bb79b925c397421ecaa6f5fd59c74");
  EXPECT_EQ(hex(hs::resumed_proof(secret, full(), 1234567)),
            "faf86d7bce2ab7634ff177f1859ce577c5795ff0dcbbdef770c26c84617013e9");
  auto no_psk = full();
  no_psk.client_share = no_psk.server_share = {};
  EXPECT_EQ(hex(hs::resume_proof(secret, no_psk, 1234567)),
            "6c8fc66ccfda3504e5042b7cdfe8e99828ec2aecabee93e47992fa5e25bdd1bc");
  EXPECT_NE(hs::resume_proof(secret, full(), 1), hs::resume_proof(secret, full(), 2));
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

TEST_F(handshake_test, R7_R8_R22_both_sides_agree_on_the_secret_and_keys_with_a_psk) {
  hs::transcript client, server;
  const auto ch = hs::make_client_hello(psk, hello(), client_nonce, client_pair, client);
  EXPECT_EQ(ch.share, client_pair.share);
  EXPECT_FALSE(hs::check_client_hello(psk, hello(), ch, server));
  wire::welcome w;
  wire::digest server_secret{}, client_secret{};
  std::optional<hs::traffic_keys> server_keys, client_keys;
  ASSERT_FALSE(hs::make_welcome(psk, id, wire::digest{}, server_pair, server, w, server_secret, server_keys));
  EXPECT_EQ(w.secret, wire::digest{});  // R7: not on the wire
  ASSERT_FALSE(hs::accept_welcome(psk, client_pair, w, client, client_secret, client_keys));
  EXPECT_EQ(hex(client_secret), secret_hex);
  EXPECT_EQ(client_secret, server_secret);
  ASSERT_TRUE(client_keys && server_keys);
  EXPECT_EQ(client_keys->client_to_server, server_keys->client_to_server);
  EXPECT_EQ(client_keys->server_to_client, server_keys->server_to_client);
  EXPECT_NE(client_keys->client_to_server, client_keys->server_to_client);
}

TEST_F(handshake_test, R8_without_a_psk_welcome_carries_the_random_secret_and_nothing_is_sealed) {
  hs::transcript client, server;
  const auto ch = hs::make_client_hello({}, hello(false), client_nonce, client_pair, client);
  EXPECT_EQ(ch.key_proof, wire::digest{});
  EXPECT_EQ(ch.share, wire::key_share{});
  EXPECT_FALSE(hs::check_client_hello({}, hello(false), ch, server));
  const auto random_secret = from_hex(secret_hex);
  wire::welcome w;
  wire::digest server_secret{}, client_secret{};
  std::optional<hs::traffic_keys> server_keys, client_keys;
  ASSERT_FALSE(hs::make_welcome({}, id, random_secret, server_pair, server, w, server_secret, server_keys));
  EXPECT_EQ(w.secret, random_secret);
  EXPECT_EQ(w.server_proof, wire::digest{});
  ASSERT_FALSE(hs::accept_welcome({}, client_pair, w, client, client_secret, client_keys));
  EXPECT_EQ(client_secret, random_secret);
  EXPECT_EQ(server_secret, random_secret);
  EXPECT_FALSE(client_keys || server_keys);
}

TEST_F(handshake_test, R7_a_wrong_key_proof_or_a_replayed_hello_is_rejected_by_the_server) {
  hs::transcript client, server;
  const auto ch =
      hs::make_client_hello(as_bytes("another key, as long"), hello(), client_nonce, client_pair, client);
  EXPECT_EQ(hs::check_client_hello(psk, hello(), ch, server), errc::resume_rejected);
  const auto replayed = hs::make_client_hello(psk, hello(), client_nonce, client_pair, client);
  auto fresh_hello = hello();
  fresh_hello.server_nonce[0] ^= 1;  // a CLIENT_HELLO recorded on an earlier connection
  EXPECT_EQ(hs::check_client_hello(psk, fresh_hello, replayed, server), errc::resume_rejected);
  auto swapped = replayed;  // an attacker's own share in place of the client's
  swapped.share = x25519_pair::generate().share;
  EXPECT_EQ(hs::check_client_hello(psk, hello(), swapped, server), errc::resume_rejected);
}

TEST_F(handshake_test, R6_a_client_hello_of_another_version_is_unsupported) {
  hs::transcript client, server;
  auto ch = hs::make_client_hello(psk, hello(), client_nonce, client_pair, client);
  ch.version = wire::version + 1;
  EXPECT_EQ(hs::check_client_hello(psk, hello(), ch, server), errc::unsupported_version);
}

TEST_F(handshake_test,
       R7_R22_a_wrong_proof_a_swapped_share_or_a_small_order_share_is_rejected_by_the_client) {
  hs::transcript client, server;
  const auto ch = hs::make_client_hello(psk, hello(), client_nonce, client_pair, client);
  ASSERT_FALSE(hs::check_client_hello(psk, hello(), ch, server));
  wire::welcome w;
  wire::digest secret{}, client_secret{};
  std::optional<hs::traffic_keys> keys;
  ASSERT_FALSE(
      hs::make_welcome(as_bytes("another key, as long"), id, {}, server_pair, server, w, secret, keys));
  EXPECT_EQ(hs::accept_welcome(psk, client_pair, w, client, client_secret, keys), errc::resume_rejected);
  EXPECT_EQ(client_secret, wire::digest{});
  EXPECT_FALSE(keys);
  ASSERT_FALSE(hs::make_welcome(psk, id, {}, server_pair, server, w, secret, keys));
  auto swapped = w;
  swapped.share = x25519_pair::generate().share;
  EXPECT_EQ(hs::accept_welcome(psk, client_pair, swapped, client, client_secret, keys),
            errc::resume_rejected);
  w.version = wire::version + 1;
  EXPECT_EQ(hs::accept_welcome(psk, client_pair, w, client, client_secret, keys), errc::unsupported_version);
  // A server that answers with a share of small order, with a valid proof (it has the key): refused.
  hs::transcript small = server;
  small.server_share = {};
  wire::welcome zero = w;
  zero.version = wire::version;
  zero.share = {};
  zero.server_proof = hs::server_proof(psk, small);
  EXPECT_EQ(hs::accept_welcome(psk, client_pair, zero, client, client_secret, keys), errc::resume_rejected);
  // And a client share of small order is refused by the server.
  hs::transcript from_zero = server;
  from_zero.client_share = {};
  EXPECT_EQ(hs::make_welcome(psk, id, {}, server_pair, from_zero, w, secret, keys), errc::resume_rejected);
}

TEST_F(handshake_test, R9_R22_a_resume_verifies_only_with_its_secret_nonces_id_offset_and_shares) {
  const auto secret = from_hex(secret_hex);
  hs::transcript client, server;
  const auto rr = hs::make_resume(psk, secret, hello(), id, 4096, client_nonce, client_pair, client);
  EXPECT_EQ(rr.id, id);
  EXPECT_FALSE(hs::check_resume(secret, hello(), rr, 4096, server));
  EXPECT_EQ(hs::check_resume(secret, hello(), rr, 4097, server), errc::resume_rejected);  // another offset
  auto other_secret = secret;
  other_secret[31] ^= 1;
  EXPECT_EQ(hs::check_resume(other_secret, hello(), rr, 4096, server), errc::resume_rejected);
  auto next_connection = hello();
  next_connection.server_nonce[15] ^= 1;  // a recorded RESUME replayed on a new connection
  EXPECT_EQ(hs::check_resume(secret, next_connection, rr, 4096, server), errc::resume_rejected);
  for (auto change : {0, 1, 2}) {
    auto forged = rr;
    if (change == 0) forged.id[0] ^= 1;
    if (change == 1) forged.client_nonce[0] ^= 1;
    if (change == 2) forged.share[0] ^= 1;
    EXPECT_EQ(hs::check_resume(secret, hello(), forged, 4096, server), errc::resume_rejected) << change;
  }

  // The server's answer, and both ends' keys: equal, and not the first connection's.
  ASSERT_FALSE(hs::check_resume(secret, hello(), rr, 4096, server));
  wire::resumed answer;
  std::optional<hs::traffic_keys> server_keys, client_keys;
  ASSERT_FALSE(hs::make_resumed(psk, secret, server_pair, 777, server, answer, server_keys));
  EXPECT_EQ(answer.share, server_pair.share);
  EXPECT_EQ(hs::accept_resumed(psk, secret, client_pair, answer, 778, client, client_keys),
            errc::resume_rejected);
  ASSERT_FALSE(hs::accept_resumed(psk, secret, client_pair, answer, 777, client, client_keys));
  ASSERT_TRUE(client_keys && server_keys);
  EXPECT_EQ(client_keys->client_to_server, server_keys->client_to_server);
  EXPECT_EQ(hex(client_keys->client_to_server),
            "594b9b42ecd44ddf97dc353f9064efdd51e6e8378f2f0c8b923838faa4de43fb");
  auto forged = answer;
  forged.share = x25519_pair::generate().share;
  EXPECT_EQ(hs::accept_resumed(psk, secret, client_pair, forged, 777, client, client_keys),
            errc::resume_rejected);
}

}  // namespace
