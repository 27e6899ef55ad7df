// The session's cryptography against published answers, on every platform: OpenSSL on Linux and CNG on
// Windows must give the same HMAC-SHA-256 and SHA-256, or a Windows peer could not prove its key to a
// Linux one.
#include "session/crypto.hpp"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
