// The session's cryptography against published answers, on every platform: OpenSSL on Linux and CNG on
// Windows must give the same HMAC-SHA-256 and SHA-256, or a Windows peer could not prove its key to a
// Linux one.
#include "session/crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <span>

#include <string>
#include <vector>

namespace {

using namespace lifeline::detail;

// RFC 4231, test cases 1, 2 and 6 (a key longer than the block, hashed first).
TEST(crypto, hmac_sha256_gives_rfc_4231_answers) {
  const std::string key1(20, '\x0b');
  EXPECT_EQ(to_hex(hmac(as_bytes(key1), {as_bytes("Hi There")})),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac(as_bytes("Jefe"), {as_bytes("what do ya want "), as_bytes("for nothing?")})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string key6(131, '\xaa');
  EXPECT_EQ(
      to_hex(hmac(as_bytes(key6), {as_bytes("Test Using Larger Than Block-Size Key - Hash Key First")})),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// FIPS 180-2's examples, fed in pieces.
TEST(crypto, sha256_gives_the_standard_answers_fed_in_pieces) {
  sha256 empty;
  EXPECT_EQ(empty.hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256 abc;
  abc.update("a", 1);
  abc.update("bc", 2);
  EXPECT_EQ(abc.hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256 million;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(chunk.data(), chunk.size());
  EXPECT_EQ(million.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(crypto, random_bytes_differ_between_draws_and_constant_time_compare_finds_any_difference) {
  std::array<std::uint8_t, 32> a{}, b{};
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);  // 2^-256 odds of a false failure
  lifeline::wire::digest x{}, y{};
  EXPECT_TRUE(equal_constant_time(x, y));
  for (std::size_t i : {0u, 17u, 31u}) {
    y = x;
    y[i] ^= 0x80;
    EXPECT_FALSE(equal_constant_time(x, y)) << "a difference in byte " << i;
  }
}

std::vector<std::uint8_t> unhex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> unhex_array(std::string_view hex) {
  std::array<std::uint8_t, N> out{};
  const auto v = unhex(hex);
  EXPECT_EQ(v.size(), N) << hex;
  std::copy_n(v.begin(), std::min(N, v.size()), out.begin());
  return out;
}

std::string hex_of(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (auto b : bytes) out += {"0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15]};
  return out;
}

// RFC 5869, appendix A, test cases 1 and 3 (no salt, no info).
TEST(crypto, hkdf_gives_rfc_5869_answers) {
  const auto ikm = unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
  const auto prk = hkdf_extract(unhex("000102030405060708090a0b0c"), {ikm});
  EXPECT_EQ(to_hex(prk), "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
  std::array<std::uint8_t, 42> okm{};
  const auto info = unhex("f0f1f2f3f4f5f6f7f8f9");
  hkdf_expand(prk, {std::span(info).first(3), std::span(info).subspan(3)}, okm);  // info in two parts
  EXPECT_EQ(hex_of(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

  const auto prk3 = hkdf_extract({}, {ikm});
  EXPECT_EQ(to_hex(prk3), "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
  hkdf_expand(prk3, {}, okm);
  EXPECT_EQ(hex_of(okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// RFC 7748, sections 5.2 (the first vector) and 6.1 (Alice and Bob).
TEST(crypto, x25519_gives_rfc_7748_answers) {
  x25519_key out{};
  ASSERT_TRUE(x25519(unhex_array<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                     unhex_array<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
                     out));
  EXPECT_EQ(hex_of(out), "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");

  const auto alice = unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob = unhex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  EXPECT_EQ(hex_of(x25519_public(alice)), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(hex_of(x25519_public(bob)), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  x25519_key ab{}, ba{};
  ASSERT_TRUE(x25519(alice, x25519_public(bob), ab));
  ASSERT_TRUE(x25519(bob, x25519_public(alice), ba));
  EXPECT_EQ(hex_of(ab), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(ab, ba);

  const auto pair = x25519_pair::generate();
  EXPECT_EQ(pair.share, x25519_public(pair.secret));
}

// A share of small order makes the result all zeros whatever the secret: refused (RFC 7748 section 6.1).
TEST(crypto, x25519_refuses_a_share_of_small_order) {
  const auto secret = x25519_pair::generate().secret;
  x25519_key out{};
  EXPECT_FALSE(x25519(secret, x25519_key{}, out));  // the point 0
  x25519_key one{};
  one[0] = 1;  // the point 1
  EXPECT_FALSE(x25519(secret, one, out));
}

// The GCM specification's test cases 14 and 16 (McGrew and Viega, AES-256), the plaintext split in two.
TEST(crypto, aes256_gcm_gives_the_specification_answers_and_refuses_any_change) {
  {
    aes256_gcm gcm(unhex_array<32>(std::string(64, '0')));
    const std::vector<std::uint8_t> plain(16, 0);
    std::vector<std::uint8_t> sealed(16);
    const auto tag = gcm.seal({}, {}, plain, {}, sealed.data());
    EXPECT_EQ(hex_of(sealed), "cea7403d4d606b6e074ec5d3baf39d18");
    EXPECT_EQ(hex_of(tag), "d0d1c8a799996bf0265b98b5d48ab919");
  }
  const auto key = unhex_array<32>("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto nonce = unhex_array<12>("cafebabefacedbaddecaf888");
  const auto ad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto plain = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
      "b16aedf5aa0de657ba637b39");
  const std::string cipher_hex =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
      "c5f61e6393ba7a0abcc9f662";
  aes256_gcm gcm(key);
  std::vector<std::uint8_t> sealed(plain.size());
  const auto tag =
      gcm.seal(nonce, ad, std::span(plain).first(21), std::span(plain).subspan(21), sealed.data());
  EXPECT_EQ(hex_of(sealed), cipher_hex);
  EXPECT_EQ(hex_of(tag), "76fc6ece0f4e1768cddf8853bb2d551b");

  auto opened = sealed;
  ASSERT_TRUE(gcm.open(nonce, ad, opened, tag));
  EXPECT_EQ(opened, plain);

  // A flipped bit anywhere (ciphertext, associated data, tag, nonce) fails the tag.
  auto changed = sealed;
  changed[5] ^= 1;
  EXPECT_FALSE(gcm.open(nonce, ad, changed, tag));
  auto changed_ad = ad;
  changed_ad[0] ^= 1;
  changed = sealed;
  EXPECT_FALSE(gcm.open(nonce, changed_ad, changed, tag));
  auto changed_tag = tag;
  changed_tag[15] ^= 1;
  changed = sealed;
  EXPECT_FALSE(gcm.open(nonce, ad, changed, changed_tag));
  auto changed_nonce = nonce;
  changed_nonce[11] ^= 1;
  changed = sealed;
  EXPECT_FALSE(gcm.open(changed_nonce, ad, changed, tag));
  // And the key still works after a refusal.
  changed = sealed;
  EXPECT_TRUE(gcm.open(nonce, ad, changed, tag));
}

// An empty message (GCM test case 13): the tag still covers the associated data and must verify. Under
// Wine, CNG given a null buffer of length 0 checked no tag at all; an empty vector's data() is null.
TEST(crypto, aes256_gcm_seals_and_opens_an_empty_message_and_still_checks_its_tag) {
  aes256_gcm gcm(unhex_array<32>(std::string(64, '0')));
  std::vector<std::uint8_t> nothing;
  const auto tag = gcm.seal({}, {}, {}, {}, nothing.data());
  EXPECT_EQ(hex_of(tag), "530f8afbc74536b9a963b4f1c4cb738b");
  EXPECT_TRUE(gcm.open({}, {}, nothing, tag));
  auto changed_tag = tag;
  changed_tag[0] ^= 1;
  EXPECT_FALSE(gcm.open({}, {}, nothing, changed_tag));
  const auto ad = unhex("feedface");
  const auto tag_ad = gcm.seal({}, ad, {}, {}, nothing.data());
  EXPECT_NE(tag_ad, tag);
  EXPECT_TRUE(gcm.open({}, ad, nothing, tag_ad));
  EXPECT_FALSE(gcm.open({}, {}, nothing, tag_ad));
}

}  // namespace
