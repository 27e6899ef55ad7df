// libFuzzer target: the handshake's checks and key schedule (src/session/handshake.hpp, protocol version
// 2) on arbitrary CLIENT_HELLO, RESUME, WELCOME and RESUMED payloads, for fixed X25519 key pairs (RFC 7748
// section 6.1's Alice as the client and Bob as the server) so that every run is deterministic. Every
// proof, secret and key is computed here with OpenSSL directly (HMAC(), HKDF through EVP_PKEY_HKDF,
// X25519 through EVP_PKEY), as src/session/handshake.cpp defines them, rather than by the code under
// test. Each check must accept exactly the payloads whose version and proof are right and whose share is
// not of small order, refuse the rest with the error code R6/R7/R9/R22 name, give no secret and no keys
// when it refuses, and derive the same secret and keys as the other side and as the definition. A
// payload comes either as raw bytes for the parser (after a length byte) or as fields; with a flag, the
// correct proof is put in and then XORed with a mask from the input (zero often enough to reach
// acceptance). A fifth case runs whole handshakes, new session then resume, between both sides.
#include "fuzz_support.hpp"
#include "session/handshake.hpp"

#include <lifeline/error.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

namespace {

using lifeline::fuzz::check;
using lifeline::fuzz::fail;
using lifeline::fuzz::input;

namespace wire = lifeline::wire;
namespace hs = lifeline::detail::handshake;
using lifeline::errc;
using lifeline::detail::x25519_key;
using lifeline::detail::x25519_pair;

const wire::key_share no_share{};
const wire::digest zeros{};

std::array<std::uint8_t, 8> big_endian(std::uint64_t v) {
  std::array<std::uint8_t, 8> out{};
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return out;
}

std::vector<std::uint8_t> join(std::string_view label, std::initializer_list<wire::bytes> parts) {
  std::vector<std::uint8_t> m(label.begin(), label.end());
  for (auto p : parts) m.insert(m.end(), p.begin(), p.end());
  return m;
}

// The definition, with OpenSSL directly ------------------------------------------------------------

// HMAC-SHA-256(key, label || parts...).
wire::digest spec_hmac(wire::bytes key, std::string_view label, std::initializer_list<wire::bytes> parts) {
  const auto m = join(label, parts);
  wire::digest out{};
  unsigned int length = 0;
  static const std::uint8_t none = 0;  // HMAC wants a non-null key even when it is empty
  check(HMAC(EVP_sha256(), key.empty() ? &none : key.data(), static_cast<int>(key.size()), m.data(), m.size(),
             out.data(), &length) != nullptr &&
            length == out.size(),
        "OpenSSL HMAC failed");
  return out;
}

// HKDF-SHA-256(salt, ikm, info) to N bytes (RFC 5869's Extract then Expand), by OpenSSL's own HKDF.
template <std::size_t N>
std::array<std::uint8_t, N> spec_hkdf(wire::bytes salt, wire::bytes ikm, wire::bytes info) {
  std::array<std::uint8_t, N> out{};
  std::size_t length = N;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  const bool ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), static_cast<int>(salt.size())) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size())) == 1 &&
                  EVP_PKEY_CTX_add1_hkdf_info(ctx, info.data(), static_cast<int>(info.size())) == 1 &&
                  EVP_PKEY_derive(ctx, out.data(), &length) == 1 && length == N;
  EVP_PKEY_CTX_free(ctx);
  check(ok, "OpenSSL HKDF failed");
  return out;
}

x25519_key spec_public(const x25519_key& secret) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size());
  x25519_key share{};
  std::size_t length = share.size();
  const bool ok = key && EVP_PKEY_get_raw_public_key(key, share.data(), &length) == 1 && length == 32;
  EVP_PKEY_free(key);
  check(ok, "OpenSSL X25519 public key failed");
  return share;
}

// X25519(secret, share), or nothing when the result is all zeros (a share of small order).
std::optional<x25519_key> spec_x25519(const x25519_key& secret, const wire::key_share& share) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size());
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, share.data(), share.size());
  EVP_PKEY_CTX* ctx = key ? EVP_PKEY_CTX_new(key, nullptr) : nullptr;
  check(key && peer && ctx && EVP_PKEY_derive_init(ctx) == 1, "OpenSSL X25519 setup failed");
  x25519_key dh{};
  std::size_t length = dh.size();
  std::optional<x25519_key> out;
  if (EVP_PKEY_derive_set_peer(ctx, peer) == 1 && EVP_PKEY_derive(ctx, dh.data(), &length) == 1 &&
      length == dh.size() && dh != x25519_key{})
    out = dh;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  EVP_PKEY_free(key);
  return out;
}

// A connection's context: server_nonce || client_nonce || id || client_share || server_share.
struct context {
  wire::nonce server_nonce{};
  wire::nonce client_nonce{};
  wire::session_id id{};
  wire::key_share client_share{};
  wire::key_share server_share{};
  std::vector<std::uint8_t> info(std::string_view label) const {
    return join(label, {server_nonce, client_nonce, id, client_share, server_share});
  }
};

// prk = HKDF-Extract(PSK, dh || resume_secret); secret = Expand(prk, "lifeline v2 secret" || context, 32).
wire::digest spec_secret(wire::bytes psk, const x25519_key& dh, const context& c) {
  return spec_hkdf<32>(psk, join({}, {dh, zeros}), c.info("lifeline v2 secret"));
}
// keys = Expand(prk, "lifeline v2 keys" || context, 64): client to server, then server to client.
std::array<std::uint8_t, 64> spec_keys(wire::bytes psk, const x25519_key& dh,
                                       const wire::digest& resume_secret, const context& c) {
  return spec_hkdf<64>(psk, join({}, {dh, resume_secret}), c.info("lifeline v2 keys"));
}
bool keys_are(const std::optional<hs::traffic_keys>& keys, const std::array<std::uint8_t, 64>& expected) {
  return keys && std::equal(keys->client_to_server.begin(), keys->client_to_server.end(), expected.begin()) &&
         std::equal(keys->server_to_client.begin(), keys->server_to_client.end(), expected.begin() + 32);
}
bool same(const std::optional<hs::traffic_keys>& a, const std::optional<hs::traffic_keys>& b) {
  if (!a || !b) return !a && !b;
  return a->client_to_server == b->client_to_server && a->server_to_client == b->server_to_client;
}
bool same(const hs::transcript& t, const context& c) {
  return t.server_nonce == c.server_nonce && t.client_nonce == c.client_nonce && t.id == c.id &&
         t.client_share == c.client_share && t.server_share == c.server_share;
}

// Fixed inputs -------------------------------------------------------------------------------------

x25519_key from_hex(std::string_view hex) {
  x25519_key k{};
  for (std::size_t i = 0; i < k.size(); ++i)
    k[i] = static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  return k;
}

struct fixture {
  x25519_pair alice, bob;  // RFC 7748 section 6.1: the client and the server
  // Shares of small order (libsodium's list: 0, 1, two points of order 8, p-1, p, p+1), which make
  // X25519's result all zeros whatever the secret; each also with the top bit set, which X25519 ignores.
  std::vector<wire::key_share> small_order;
  std::array<std::uint8_t, 100> long_psk{};  // longer than HMAC's block, so hashed first
  fixture() {
    alice.secret = from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    bob.secret = from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    alice.share = spec_public(alice.secret);
    bob.share = spec_public(bob.secret);
    check(alice.share == from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a") &&
              bob.share == from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f") &&
              spec_x25519(alice.secret, bob.share) ==
                  from_hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742") &&
              spec_x25519(bob.secret, alice.share) == spec_x25519(alice.secret, bob.share),
          "RFC 7748 section 6.1's answers");
    for (auto hex : {"0000000000000000000000000000000000000000000000000000000000000000",
                     "0100000000000000000000000000000000000000000000000000000000000000",
                     "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
                     "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
                     "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                     "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                     "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"}) {
      auto share = from_hex(hex);
      small_order.push_back(share);
      share[31] |= 0x80;
      small_order.push_back(share);
    }
    for (const auto& share : small_order)
      check(!spec_x25519(alice.secret, share) && !spec_x25519(bob.secret, share), "a share of small order");
    for (std::size_t i = 0; i < long_psk.size(); ++i) long_psk[i] = static_cast<std::uint8_t>(i * 7 + 3);
  }
};
const fixture& fx() {
  static const fixture f;
  return f;
}

const std::array<std::uint8_t, 32> fixed_psk = {'f', 'u', 'z', 'z', ' ', 'p', 's', 'k', 1,
                                                2,   3,   4,   5,   6,   7,   8,   9};
const std::array<std::uint8_t, 1> short_psk = {0x42};
const wire::digest fixed_secret = {'s', 'e', 'c', 'r', 'e', 't', 0xff, 0xfe, 0, 1};
const wire::session_id fixed_id = {'i', 'd', 9, 8, 7};
wire::server_hello fixed_hello() {
  wire::server_hello h;
  h.server_nonce = {'s', 'e', 'r', 'v', 'e', 'r', 0, 0x80, 0x7f};
  h.psk_required = true;
  return h;
}

hs::key pick_psk(std::uint8_t choice) {
  switch (choice & 3) {
    case 0:
      return {};
    case 1:
      return fixed_psk;
    case 2:
      return short_psk;
    default:
      return fx().long_psk;
  }
}

std::uint16_t pick_version(input& in) { return in.u8() & 1 ? wire::version : in.u16(); }

// A share: the party's own, one of small order, or any 32 bytes.
wire::key_share pick_share(input& in, const wire::key_share& own) {
  const auto choice = in.u8();
  switch (choice % 3) {
    case 0:
      return own;
    case 1:
      return fx().small_order[(choice / 3) % fx().small_order.size()];
    default:
      return in.take<32>();
  }
}

bool small_order(const wire::key_share& share) {
  const auto& list = fx().small_order;
  return std::find(list.begin(), list.end(), share) != list.end();
}

// X25519 as the code under test must see it: nothing for a share of small order.
std::optional<x25519_key> exchange(const x25519_key& secret, const wire::key_share& share) {
  auto dh = spec_x25519(secret, share);
  check(!small_order(share) || !dh, "X25519 accepted a listed share of small order");
  return dh;
}

// Puts `correct` into `proof` XORed with a mask from the input, when the input's flag says so.
void maybe_patch(bool patch, input& in, wire::digest& proof, const wire::digest& correct) {
  if (!patch) return;
  proof = correct;
  const auto at = in.u8(), mask = in.u8();
  proof[at % proof.size()] ^= mask;
}

// Parsing ------------------------------------------------------------------------------------------

// R4, R6: what wire::parse must answer for each payload. CLIENT_HELLO and RESUME are read as far as
// their magic and version first: another version is unsupported_version whatever the length.
std::error_code versioned_rule(wire::bytes b, std::size_t size) {
  if (b.size() < wire::magic.size() + 2 || !std::equal(wire::magic.begin(), wire::magic.end(), b.begin()))
    return make_error_code(errc::malformed_frame);
  if ((b[8] << 8 | b[9]) != wire::version) return make_error_code(errc::unsupported_version);
  return b.size() == size ? std::error_code() : make_error_code(errc::malformed_frame);
}
std::error_code sized_rule(wire::bytes b, std::size_t size) {
  return b.size() == size ? std::error_code() : make_error_code(errc::malformed_frame);
}
std::error_code expected_parse(wire::bytes b, const wire::client_hello&) { return versioned_rule(b, 90); }
std::error_code expected_parse(wire::bytes b, const wire::resume_request&) { return versioned_rule(b, 106); }
std::error_code expected_parse(wire::bytes b, const wire::welcome&) { return sized_rule(b, 114); }
std::error_code expected_parse(wire::bytes b, const wire::resumed&) { return sized_rule(b, 64); }

template <typename Message>
void check_parse(wire::bytes b, Message& m, const char* what) {
  const auto ec = wire::parse(b, m);
  check(ec == expected_parse(b, m), what);
  if constexpr (requires { m.version; }) {
    if (ec == errc::unsupported_version) check(m.version == (b[8] << 8 | b[9]), "parse() left out.version");
  }
}

// A payload from the input: raw bytes through wire::parse, or fields through encode() and parse() back.
// True when there is a message to check further: one that parsed, or, from fields, one of another
// version (which parse() refused with unsupported_version, also when cut short or lengthened).
template <typename Message, typename Fields>
bool read_payload(bool raw, input& in, Message& m, Fields fields) {
  if (raw) {
    const auto b = in.bytes(in.u8());
    check_parse(b, m, "wire::parse() of raw bytes answered otherwise than R4/R6");
    return !expected_parse(b, m);
  }
  fields(in, m);
  const auto bytes = wire::encode(m);
  Message back;
  check_parse(wire::bytes(bytes), back, "wire::parse() of encode() answered otherwise than R4/R6");
  if (!expected_parse(bytes, m)) {
    check(wire::encode(back) == bytes, "encode() does not parse back");
    m = back;
    return true;
  }
  if constexpr (requires { m.version; }) {
    check(m.version != wire::version, "encode() of this version refused");
    std::vector<std::uint8_t> other(bytes.begin(), bytes.end());
    other.resize(wire::magic.size() + 2 + in.u8());
    check(wire::parse(other, back) == errc::unsupported_version && back.version == m.version,
          "another version, cut short or lengthened, is not unsupported_version");
    return true;
  }
  fail("encode() gave bytes that do not parse");
}

// The cases ----------------------------------------------------------------------------------------

// The server's WELCOME for the transcript `t` that check_client_hello() filled.
void check_make_welcome(hs::key psk, input& in, hs::transcript t) {
  const auto& f = fx();
  const auto id = in.take<16>();
  const auto random_secret = in.take<32>();
  const auto client_share = t.client_share;
  wire::welcome w;
  wire::digest secret{};
  std::optional<hs::traffic_keys> keys;
  const auto ec = hs::make_welcome(psk, id, random_secret, f.bob, t, w, secret, keys);
  if (psk.empty()) {
    check(!ec && w.version == wire::version && w.id == id && w.secret == random_secret &&
              secret == random_secret && w.share == no_share && w.server_proof == zeros && !keys,
          "make_welcome() without a PSK");
    return;
  }
  const auto dh = exchange(f.bob.secret, client_share);
  if (!dh) {
    check(ec == errc::resume_rejected, "make_welcome() took a client share of small order");
    check(secret == zeros && !keys, "make_welcome() refused yet gave a secret or keys");
    return;
  }
  check(!ec, "make_welcome() refused a valid share");
  const context c{t.server_nonce, t.client_nonce, id, client_share, f.bob.share};
  check(same(t, c), "make_welcome()'s transcript");
  check(w.version == wire::version && w.id == id && w.secret == zeros && w.share == f.bob.share,
        "make_welcome()'s fields");
  check(w.server_proof == spec_hmac(psk, "lifeline welcome",
                                    {c.client_nonce, c.server_nonce, id, client_share, f.bob.share}),
        "make_welcome()'s server proof");
  check(secret == spec_secret(psk, *dh, c), "make_welcome() derived the wrong secret");
  check(keys_are(keys, spec_keys(psk, *dh, zeros, c)), "make_welcome() derived the wrong keys");
}

// The server's side of a new session: check_client_hello(), then make_welcome().
void client_hello_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto hello = fixed_hello();
  wire::client_hello ch;
  if (!read_payload(raw, in, ch, [](input& i, wire::client_hello& m) {
        m.version = pick_version(i);
        m.client_nonce = i.take<16>();
        m.share = pick_share(i, fx().alice.share);
        m.key_proof = i.take<32>();
      }))
    return;
  const auto correct = spec_hmac(psk, "lifeline hello", {hello.server_nonce, ch.client_nonce, ch.share});
  maybe_patch(patch, in, ch.key_proof, correct);
  hs::transcript t;
  const auto ec = hs::check_client_hello(psk, hello, ch, t);
  const bool right_version = ch.version == wire::version;
  const bool valid = right_version && (psk.empty() || ch.key_proof == correct);
  check(!ec == valid, valid ? "check_client_hello() refused a valid proof" : "check_client_hello() accepted");
  if (ec) {
    check(ec == (right_version ? errc::resume_rejected : errc::unsupported_version),
          "check_client_hello()'s error code");
    return;
  }
  check(same(t, {hello.server_nonce, ch.client_nonce, {}, ch.share, {}}),
        "check_client_hello()'s transcript");
  check_make_welcome(psk, in, t);
}

// The server's side of a resume: check_resume(), then make_resumed().
void resume_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto& f = fx();
  const auto hello = fixed_hello();
  const auto received = in.u64();
  wire::resume_request rr;
  if (!read_payload(raw, in, rr, [](input& i, wire::resume_request& m) {
        m.version = pick_version(i);
        m.id = i.u8() & 1 ? fixed_id : i.take<16>();
        m.client_nonce = i.take<16>();
        m.share = pick_share(i, fx().alice.share);
        m.proof = i.take<32>();
      }))
    return;
  if (rr.version != wire::version) return;  // the caller's to refuse, as parse() did above
  const auto correct =
      spec_hmac(fixed_secret, "lifeline resume",
                {hello.server_nonce, rr.client_nonce, rr.id, big_endian(received), rr.share});
  maybe_patch(patch, in, rr.proof, correct);
  // The proof may be for `received` while the frame says another value.
  const auto said = received + (in.u8() & 1 ? static_cast<std::int8_t>(in.u8()) : 0);
  hs::transcript t;
  const auto ec = hs::check_resume(fixed_secret, hello, rr, said, t);
  const bool valid = rr.proof == correct && said == received;
  if (!valid && !ec && rr.proof != correct) fail("check_resume() accepted a wrong proof");
  if (!valid && !ec) fail("check_resume() accepted a proof for another received offset");
  if (valid && ec) fail("check_resume() refused a valid proof");
  if (ec) {
    check(ec == errc::resume_rejected, "check_resume()'s error code");
    return;
  }
  context c{hello.server_nonce, rr.client_nonce, rr.id, rr.share, {}};
  check(same(t, c), "check_resume()'s transcript");

  // RESUMED, for what the server has received.
  const auto server_received = in.u64();
  wire::resumed r;
  std::optional<hs::traffic_keys> keys;
  const auto rec = hs::make_resumed(psk, fixed_secret, f.bob, server_received, t, r, keys);
  std::optional<x25519_key> dh;
  if (!psk.empty()) {
    dh = exchange(f.bob.secret, rr.share);
    if (!dh) {
      check(rec == errc::resume_rejected, "make_resumed() took a client share of small order");
      check(!keys, "make_resumed() refused yet gave keys");
      return;
    }
    c.server_share = f.bob.share;
  }
  check(!rec, "make_resumed() refused");
  check(same(t, c), "make_resumed()'s transcript");
  check(r.share == c.server_share &&
            r.proof == spec_hmac(fixed_secret, "lifeline resumed",
                                 {c.client_nonce, c.server_nonce, c.id, big_endian(server_received),
                                  c.client_share, c.server_share}),
        "make_resumed()'s share or proof");
  check(psk.empty() ? !keys : keys_are(keys, spec_keys(psk, *dh, fixed_secret, c)),
        "make_resumed() derived the wrong keys");
}

// The client's side of a new session: make_client_hello(), then accept_welcome().
void welcome_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto& f = fx();
  const auto hello = fixed_hello();
  const auto client_nonce = in.take<16>();
  hs::transcript t;
  const auto ch = hs::make_client_hello(psk, hello, client_nonce, f.alice, t);
  const auto client_share = psk.empty() ? no_share : f.alice.share;
  check(ch.version == wire::version && ch.client_nonce == client_nonce && ch.share == client_share &&
            ch.key_proof == (psk.empty() ? zeros
                                         : spec_hmac(psk, "lifeline hello",
                                                     {hello.server_nonce, client_nonce, client_share})),
        "make_client_hello()'s fields");
  check(same(t, {hello.server_nonce, client_nonce, {}, client_share, {}}),
        "make_client_hello()'s transcript");
  // What the client builds passes, and only for the server nonce it answers.
  hs::transcript server;
  check(!hs::check_client_hello(psk, hello, ch, server), "check_client_hello() refused make_client_hello()");
  auto other = hello;
  other.server_nonce[15] ^= 1;
  check(psk.empty() || hs::check_client_hello(psk, other, ch, server) == errc::resume_rejected,
        "a CLIENT_HELLO replayed to a new nonce");

  wire::welcome w;
  if (!read_payload(raw, in, w, [](input& i, wire::welcome& m) {
        m.version = pick_version(i);
        m.id = i.take<16>();
        m.secret = i.take<32>();
        m.share = pick_share(i, fx().bob.share);
        m.server_proof = i.take<32>();
      }))
    return;
  const auto correct =
      spec_hmac(psk, "lifeline welcome", {client_nonce, hello.server_nonce, w.id, client_share, w.share});
  maybe_patch(patch, in, w.server_proof, correct);
  wire::digest secret{};
  std::optional<hs::traffic_keys> keys;
  const auto ec = hs::accept_welcome(psk, f.alice, w, t, secret, keys);
  const context c{hello.server_nonce, client_nonce, w.id, client_share, w.share};
  std::optional<x25519_key> dh;
  std::error_code expected;
  if (w.version != wire::version) {
    expected = make_error_code(errc::unsupported_version);
  } else if (!psk.empty()) {
    if (w.server_proof != correct) {
      expected = make_error_code(errc::resume_rejected);
    } else if (!(dh = exchange(f.alice.secret, w.share))) {
      expected = make_error_code(errc::resume_rejected);
    }
  }
  check(ec == expected, expected ? "accept_welcome() accepted, or refused otherwise"
                                 : "accept_welcome() refused a valid WELCOME");
  if (ec) {
    check(secret == zeros && !keys, "accept_welcome() refused yet gave a secret or keys");
    return;
  }
  if (psk.empty()) {
    check(secret == w.secret && !keys, "accept_welcome() without a PSK");
    check(t.id == w.id, "accept_welcome()'s transcript");
    return;
  }
  check(same(t, c), "accept_welcome()'s transcript");
  check(secret == spec_secret(psk, *dh, c), "accept_welcome() derived the wrong secret");
  check(keys_are(keys, spec_keys(psk, *dh, zeros, c)), "accept_welcome() derived the wrong keys");
}

// The client's side of a resume: make_resume(), then accept_resumed().
void resumed_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto& f = fx();
  const auto hello = fixed_hello();
  const auto client_received = in.u64();
  const auto id = in.u8() & 1 ? fixed_id : in.take<16>();
  const auto client_nonce = in.take<16>();
  hs::transcript t;
  const auto rr = hs::make_resume(psk, fixed_secret, hello, id, client_received, client_nonce, f.alice, t);
  const auto client_share = psk.empty() ? no_share : f.alice.share;
  check(rr.version == wire::version && rr.id == id && rr.client_nonce == client_nonce &&
            rr.share == client_share &&
            rr.proof ==
                spec_hmac(fixed_secret, "lifeline resume",
                          {hello.server_nonce, client_nonce, id, big_endian(client_received), client_share}),
        "make_resume()'s fields");
  check(same(t, {hello.server_nonce, client_nonce, id, client_share, {}}), "make_resume()'s transcript");
  // What the client builds passes, and only for the nonce and received offset it was made for.
  hs::transcript server;
  check(!hs::check_resume(fixed_secret, hello, rr, client_received, server),
        "check_resume() of make_resume()");
  auto other = hello;
  other.server_nonce[0] ^= 0x80;
  check(hs::check_resume(fixed_secret, other, rr, client_received, server) == errc::resume_rejected,
        "a RESUME replayed to a new nonce");
  check(hs::check_resume(fixed_secret, hello, rr, client_received + 1, server) == errc::resume_rejected,
        "a RESUME for another offset");

  const auto received = in.u64();  // the server's, which RESUMED's proof is for
  wire::resumed r;
  if (!read_payload(raw, in, r, [](input& i, wire::resumed& m) {
        m.share = pick_share(i, fx().bob.share);
        m.proof = i.take<32>();
      }))
    return;
  const auto correct =
      spec_hmac(fixed_secret, "lifeline resumed",
                {client_nonce, hello.server_nonce, id, big_endian(received), client_share, r.share});
  maybe_patch(patch, in, r.proof, correct);
  const auto said = received + (in.u8() & 1 ? static_cast<std::int8_t>(in.u8()) : 0);
  std::optional<hs::traffic_keys> keys;
  const auto ec = hs::accept_resumed(psk, fixed_secret, f.alice, r, said, t, keys);
  std::optional<x25519_key> dh;
  bool valid = r.proof == correct && said == received;
  if (valid && !psk.empty()) valid = (dh = exchange(f.alice.secret, r.share)).has_value();
  check(!ec == valid, valid ? "accept_resumed() refused a valid RESUMED" : "accept_resumed() accepted");
  if (ec) {
    check(ec == errc::resume_rejected, "accept_resumed()'s error code");
    check(!keys, "accept_resumed() refused yet gave keys");
    return;
  }
  const context c{hello.server_nonce, client_nonce, id, client_share, r.share};
  check(same(t, c), "accept_resumed()'s transcript");
  check(psk.empty() ? !keys : keys_are(keys, spec_keys(psk, *dh, fixed_secret, c)),
        "accept_resumed() derived the wrong keys");
}

// A key pair: Alice's or Bob's, or one from 32 bytes of the input.
x25519_pair pick_pair(input& in, const x25519_pair& fixed) {
  if (in.u8() & 1) return fixed;
  x25519_pair p;
  p.secret = in.take<32>();
  p.share = spec_public(p.secret);
  return p;
}

template <typename Message>
Message on_the_wire(const Message& m) {
  Message back;
  check(!wire::parse(wire::encode(m), back), "a made payload does not parse");
  return back;
}

// Whole handshakes between both sides, with input-chosen nonces, ids and offsets: a new session, then a
// resume on a new connection. Both sides must agree on everything, and with a PSK on the definition.
void round_trip_case(hs::key psk, input& in) {
  wire::server_hello hello;
  hello.min_version = in.u16();
  hello.max_version = in.u16();
  hello.server_nonce = in.take<16>();
  hello.psk_required = in.u8() & 1;
  check(hs::version_offered(hello) ==
            (hello.min_version <= wire::version && wire::version <= hello.max_version),
        "version_offered()");
  check(hs::check_server_hello(psk, hello) ==
            (hello.psk_required && psk.empty() ? make_error_code(errc::resume_rejected) : std::error_code()),
        "check_server_hello()");
  const auto client_pair = pick_pair(in, fx().alice);
  const auto server_pair = pick_pair(in, fx().bob);

  // A new session.
  hs::transcript client, server;
  const auto ch = hs::make_client_hello(psk, hello, in.take<16>(), client_pair, client);
  check(!hs::check_client_hello(psk, hello, on_the_wire(ch), server), "check_client_hello() of a made hello");
  wire::welcome w;
  wire::digest server_secret{}, client_secret{};
  std::optional<hs::traffic_keys> server_keys, client_keys;
  const auto id = in.take<16>();
  check(!hs::make_welcome(psk, id, in.take<32>(), server_pair, server, w, server_secret, server_keys),
        "make_welcome() of a made hello");
  check(!hs::accept_welcome(psk, client_pair, on_the_wire(w), client, client_secret, client_keys),
        "accept_welcome() of a made WELCOME");
  check(client_secret == server_secret && same(client_keys, server_keys) && !client_keys == psk.empty(),
        "the two sides of a new session disagree");
  const context c{hello.server_nonce, ch.client_nonce, id, ch.share, w.share};
  check(same(client, c) && same(server, c), "the transcripts of a new session");
  if (!psk.empty()) {
    const auto dh = spec_x25519(client_pair.secret, server_pair.share);
    check(dh && spec_x25519(server_pair.secret, client_pair.share) == dh, "X25519 disagrees");
    check(client_secret == spec_secret(psk, *dh, c) && keys_are(client_keys, spec_keys(psk, *dh, zeros, c)),
          "a new session's secret or keys");
    check(client_keys->client_to_server != client_keys->server_to_client, "one key for both directions");
  }

  // A resume on a new connection, with the session's secret.
  auto hello2 = hello;
  hello2.server_nonce = in.take<16>();
  const auto client_received = in.u64(), server_received = in.u64();
  hs::transcript client2, server2;
  const auto rr =
      hs::make_resume(psk, client_secret, hello2, id, client_received, in.take<16>(), client_pair, client2);
  check(!hs::check_resume(server_secret, hello2, on_the_wire(rr), client_received, server2),
        "check_resume() of a made RESUME");
  wire::resumed r;
  std::optional<hs::traffic_keys> server_keys2, client_keys2;
  check(!hs::make_resumed(psk, server_secret, server_pair, server_received, server2, r, server_keys2),
        "make_resumed() of a made RESUME");
  check(!hs::accept_resumed(psk, client_secret, client_pair, on_the_wire(r), server_received, client2,
                            client_keys2),
        "accept_resumed() of a made RESUMED");
  check(same(client_keys2, server_keys2) && !client_keys2 == psk.empty(),
        "the two sides of a resume disagree");
  const context c2{hello2.server_nonce, rr.client_nonce, id, rr.share, r.share};
  check(same(client2, c2) && same(server2, c2), "the transcripts of a resume");
  if (!psk.empty()) {
    const auto dh = spec_x25519(client_pair.secret, server_pair.share);
    check(keys_are(client_keys2, spec_keys(psk, *dh, client_secret, c2)), "a resume's keys");
    check(!same(client_keys, client_keys2) || hello2.server_nonce == hello.server_nonce,
          "a resume on a fresh nonce reused the first connection's keys");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  const auto op = in.u8();
  const auto flags = in.u8();
  const hs::key psk = pick_psk(flags);
  const bool raw = flags & 4, patch = flags & 8;
  switch (op % 5) {
    case 0:
      client_hello_case(psk, raw, patch, in);
      break;
    case 1:
      resume_case(psk, raw, patch, in);
      break;
    case 2:
      welcome_case(psk, raw, patch, in);
      break;
    case 3:
      resumed_case(psk, raw, patch, in);
      break;
    default:
      round_trip_case(psk, in);
      break;
  }
  return 0;
}
