// libFuzzer target: the handshake's checks (src/session/handshake.hpp) on arbitrary CLIENT_HELLO, RESUME
// and WELCOME payloads, for a fixed server nonce, PSK and session secret. None may accept a payload whose
// proof differs from the one docs/protocol.md R7/R9 define, computed here with OpenSSL directly rather
// than by the code under test; each must accept the payload its own make_* builds. A payload comes either
// as raw bytes for the parser (after a length byte) or as fields; with a flag, the correct proof is put in
// and then XORed with a mask from the input (zero often enough to reach acceptance).
#include "session/handshake.hpp"

#include <lifeline/error.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

namespace wire = lifeline::wire;
namespace hs = lifeline::detail::handshake;
using lifeline::errc;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "handshake_check_fuzz: %s\n", what);
  std::abort();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

struct input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t u8() { return n ? (--n, *p++) : 0; }
  template <std::size_t N>
  std::array<std::uint8_t, N> take() {
    std::array<std::uint8_t, N> a{};
    for (auto& b : a) b = u8();
    return a;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | u8();
    return v;
  }
  /// The next `size` bytes (fewer at the end of the input).
  wire::bytes bytes(std::size_t size) {
    const wire::bytes b(p, std::min(size, n));
    p += b.size(), n -= b.size();
    return b;
  }
};

// HMAC-SHA-256(key, label || parts...), as the specification writes it.
wire::digest spec_hmac(wire::bytes key, std::string_view label, std::initializer_list<wire::bytes> parts) {
  std::vector<std::uint8_t> m(label.begin(), label.end());
  for (auto p : parts) m.insert(m.end(), p.begin(), p.end());
  wire::digest out{};
  unsigned int length = 0;
  static const std::uint8_t none = 0;  // HMAC wants a non-null key even when it is empty
  HMAC(EVP_sha256(), key.empty() ? &none : key.data(), static_cast<int>(key.size()), m.data(), m.size(),
       out.data(), &length);
  return out;
}

const std::array<std::uint8_t, 32> fixed_psk = {'f', 'u', 'z', 'z', ' ', 'p', 's', 'k', 1,
                                                2,   3,   4,   5,   6,   7,   8,   9};
const wire::digest fixed_secret = {'s', 'e', 'c', 'r', 'e', 't', 0xff, 0xfe, 0, 1};
const wire::session_id fixed_id = {'i', 'd', 9, 8, 7};
wire::server_hello fixed_hello() {
  wire::server_hello h;
  h.server_nonce = {'s', 'e', 'r', 'v', 'e', 'r', 0, 0x80, 0x7f};
  return h;
}

// Puts `correct` into `proof` XORed with a mask from the input, when the input's flag says so.
void maybe_patch(bool patch, input& in, wire::digest& proof, const wire::digest& correct) {
  if (!patch) return;
  proof = correct;
  const auto at = in.u8(), mask = in.u8();
  proof[at % proof.size()] ^= mask;
}

template <typename Message>
bool payload(bool raw, input& in, Message& m, void (*fields)(input&, Message&)) {
  if (raw) return !wire::parse(in.bytes(in.u8()), m);
  fields(in, m);
  const auto bytes = wire::encode(m);
  Message back;
  check(!wire::parse(bytes, back) && wire::encode(back) == bytes, "encode() does not parse back");
  m = back;
  return true;
}

void client_hello_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto hello = fixed_hello();
  wire::client_hello ch;
  const bool parsed = payload<wire::client_hello>(raw, in, ch, [](input& i, wire::client_hello& m) {
    m.version = i.u8() & 1 ? wire::version : static_cast<std::uint16_t>(i.u8() << 8 | i.u8());
    m.client_nonce = i.take<16>();
    m.key_proof = i.take<32>();
  });
  if (!parsed) return;
  const auto correct = spec_hmac(psk, "lifeline hello", {hello.server_nonce, ch.client_nonce});
  maybe_patch(patch, in, ch.key_proof, correct);
  const auto ec = hs::check_client_hello(psk, hello, ch);
  const bool valid = ch.version == wire::version && (psk.empty() || ch.key_proof == correct);
  check(!ec == valid, valid ? "check_client_hello() refused a valid proof" : "check_client_hello() accepted");
  if (ec)
    check(ec == (ch.version != wire::version ? errc::unsupported_version : errc::resume_rejected), "ec");
  // What the client builds passes, and only for the server nonce it answers.
  const auto made = hs::make_client_hello(psk, hello, ch.client_nonce);
  check(!hs::check_client_hello(psk, hello, made), "check_client_hello() refused make_client_hello()");
  auto other = hello;
  other.server_nonce[15] ^= 1;
  check(psk.empty() || hs::check_client_hello(psk, other, made), "a CLIENT_HELLO replayed to a new nonce");
}

void resume_case(bool raw, bool patch, input& in) {
  const auto hello = fixed_hello();
  const auto received = in.u64();
  wire::resume_request rr;
  const bool parsed = payload<wire::resume_request>(raw, in, rr, [](input& i, wire::resume_request& m) {
    m.version = i.u8() & 1 ? wire::version : static_cast<std::uint16_t>(i.u8() << 8 | i.u8());
    m.id = i.u8() & 1 ? fixed_id : i.take<16>();
    m.proof = i.take<32>();
  });
  if (!parsed) return;
  std::array<std::uint8_t, 8> be{};
  for (int i = 0; i < 8; ++i) be[i] = static_cast<std::uint8_t>(received >> (56 - 8 * i));
  const auto correct = spec_hmac(fixed_secret, "lifeline resume", {hello.server_nonce, rr.id, be});
  maybe_patch(patch, in, rr.proof, correct);
  // The proof may be for `received` while the frame says another value.
  const auto said = received + (in.u8() & 1 ? static_cast<std::int8_t>(in.u8()) : 0);
  const auto ec = hs::check_resume(fixed_secret, hello, rr, said);
  const bool valid = rr.proof == correct && said == received;
  if (!valid && !ec && rr.proof != correct) fail("check_resume() accepted a wrong proof");
  if (!valid && !ec) fail("check_resume() accepted a proof for another received offset");
  if (valid && ec) fail("check_resume() refused a valid proof");
  if (ec) check(ec == errc::resume_rejected, "check_resume() error code");
  const auto made = hs::make_resume(fixed_secret, hello, rr.id, received);
  check(!hs::check_resume(fixed_secret, hello, made, received), "check_resume() refused make_resume()");
  auto other = hello;
  other.server_nonce[0] ^= 0x80;
  check(hs::check_resume(fixed_secret, other, made, received) == errc::resume_rejected, "a RESUME replayed");
}

void welcome_case(hs::key psk, bool raw, bool patch, input& in) {
  const auto hello = fixed_hello();
  const auto sent = hs::make_client_hello(psk, hello, in.take<16>());
  wire::welcome w;
  const bool parsed = payload<wire::welcome>(raw, in, w, [](input& i, wire::welcome& m) {
    m.version = i.u8() & 1 ? wire::version : static_cast<std::uint16_t>(i.u8() << 8 | i.u8());
    m.id = i.take<16>();
    m.secret = i.take<32>();
    m.server_proof = i.take<32>();
  });
  if (!parsed) return;
  const auto correct = spec_hmac(psk, "lifeline welcome", {sent.client_nonce, hello.server_nonce, w.id});
  maybe_patch(patch, in, w.server_proof, correct);
  wire::digest secret{}, none{};
  const auto ec = hs::accept_welcome(psk, hello, sent, w, secret);
  const bool valid = w.version == wire::version && (psk.empty() || w.server_proof == correct);
  check(!ec == valid, valid ? "accept_welcome() refused a valid proof" : "accept_welcome() accepted");
  if (ec) {
    check(ec == (w.version != wire::version ? errc::unsupported_version : errc::resume_rejected), "ec");
    check(secret == none, "accept_welcome() refused yet gave a secret");
  } else {
    const auto expected =
        psk.empty() ? w.secret
                    : spec_hmac(psk, "lifeline secret", {w.id, hello.server_nonce, sent.client_nonce});
    check(secret == expected, "accept_welcome() derived the wrong secret");
  }
  // The server's WELCOME passes at the client, and both hold the same secret.
  wire::digest server_secret{}, client_secret{};
  const auto made = hs::make_welcome(psk, hello, sent, w.id, w.secret, server_secret);
  check(!hs::accept_welcome(psk, hello, sent, made, client_secret) && client_secret == server_secret,
        "accept_welcome() of make_welcome()");
  check(psk.empty() ? made.secret == w.secret : made.secret == none, "WELCOME carries the secret with a PSK");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  const auto op = in.u8();
  const hs::key psk = op & 8 ? hs::key{} : hs::key{fixed_psk};
  const bool raw = op & 16, patch = op & 32;
  switch (op % 3) {
    case 0:
      client_hello_case(psk, raw, patch, in);
      break;
    case 1:
      resume_case(raw, patch, in);
      break;
    default:
      welcome_case(psk, raw, patch, in);
      break;
  }
  return 0;
}
