// libFuzzer target: sealed frames (src/session/frame_cipher.hpp, docs/protocol.md R21-R23) between a
// client's and a server's frame_cipher, driven by an input-chosen sequence of operations: seal a frame
// (type, value, flags, payload, split in two pieces), deliver the next one intact, deliver it with a byte
// flipped, drop it, deliver an earlier one again (or one the other direction sealed, or one from the
// previous connection), send frames out of order, deliver several in one buffer, deliver raw garbage, and
// split any delivery across open() calls. Each sealed frame is checked against AES-256-GCM computed here
// with OpenSSL directly (the header as associated data, nonce 4 zero bytes || the direction's counter).
// The receiver is checked after every open() against a prediction made from the bytes it holds: while a
// frame is incomplete, nothing but how many bytes it needs; a header R1/R2/R21 refuse, malformed_frame or
// frame_too_large; a whole frame opens exactly when its bytes are those the sender sealed at the position
// the receiver has reached, and then gives back that frame's type, value, flags and payload, once;
// anything else is integrity_error and gives nothing. A connection that saw an error is dropped, as the
// session drops it, and the rest of the input runs on a fresh pair of ciphers under new keys.
#include "fuzz_support.hpp"
#include "session/frame_cipher.hpp"

#include <lifeline/error.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

namespace {

using lifeline::fuzz::check;
using lifeline::fuzz::fail;
using lifeline::fuzz::input;

namespace wire = lifeline::wire;
namespace hs = lifeline::detail::handshake;
using lifeline::errc;
using lifeline::detail::frame_cipher;

std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3];
}
std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}

// R21, R23 with OpenSSL directly: header (type, flags, 0, 0, length = plaintext + 16, value, 8 zero bytes)
// as associated data, nonce 4 zero bytes || counter, then the ciphertext and the 16-byte tag.
std::vector<std::uint8_t> spec_seal(const std::array<std::uint8_t, 32>& key, std::uint64_t counter,
                                    std::uint8_t type, std::uint8_t flags, std::uint64_t value,
                                    wire::bytes plaintext) {
  std::vector<std::uint8_t> out(wire::header_size + plaintext.size() + 16);
  out[0] = type;
  out[1] = flags;
  const auto length = static_cast<std::uint32_t>(plaintext.size() + 16);
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
  store_u64(out.data() + 8, value);
  std::array<std::uint8_t, 12> nonce{};
  store_u64(nonce.data() + 4, counter);
  static EVP_CIPHER_CTX* const ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  check(ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &n, out.data(), wire::header_size) == 1 &&
            (plaintext.empty() || EVP_EncryptUpdate(ctx, out.data() + wire::header_size, &n, plaintext.data(),
                                                    static_cast<int>(plaintext.size())) == 1) &&
            EVP_EncryptFinal_ex(ctx, out.data() + wire::header_size + plaintext.size(), &n) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + out.size() - 16) == 1,
        "OpenSSL AES-256-GCM failed");
  return out;
}

// 256 + max_payload bytes of a pattern, for large payloads without a loop per byte.
const std::vector<std::uint8_t>& pattern() {
  static const std::vector<std::uint8_t> p = [] {
    std::vector<std::uint8_t> v(256 + wire::max_payload);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint8_t>(i * 131 + 7);
    return v;
  }();
  return p;
}

struct sealed_frame {
  wire::frame_type type{};
  std::uint8_t flags = 0;
  std::uint64_t value = 0;
  std::vector<std::uint8_t> plaintext;
  std::vector<std::uint8_t> bytes;  // as on the wire
  bool delivered = false;
};

// One direction of a connection: what its sender sealed, what is still to be sent, and what its
// receiver holds and has opened.
struct direction {
  std::vector<sealed_frame> sealed;  // by counter
  std::deque<std::size_t> outbox;    // indices into `sealed`, in the order they will be sent
  std::vector<std::uint8_t> rx;      // bytes received and not yet consumed
  std::uint64_t opened = 0;          // frames opened: the counter the receiver expects next
};

// One connection's keys, as the handshake would give them: never the same twice. They are SHA-256 of the
// whole input and the connection's number, so a run is deterministic, yet no input can carry a frame
// sealed under its own keys: keys that stayed the same from one input to the next would let the fuzzer
// learn a sealed frame from one run (through the comparisons it watches) and deliver it in another, a
// replay across connections that fresh keys (R22) rule out.
hs::traffic_keys keys_of(const wire::digest& seed, std::uint64_t generation) {
  hs::traffic_keys k;
  for (auto* key : {&k.client_to_server, &k.server_to_client}) {
    std::vector<std::uint8_t> m(seed.begin(), seed.end());
    for (int i = 0; i < 8; ++i) m.push_back(static_cast<std::uint8_t>(generation >> (56 - 8 * i)));
    m.push_back(key == &k.client_to_server ? 'c' : 's');
    unsigned int length = 0;
    check(EVP_Digest(m.data(), m.size(), key->data(), &length, EVP_sha256(), nullptr) == 1 && length == 32,
          "OpenSSL SHA-256 failed");
  }
  return k;
}

struct connection {
  std::uint64_t generation;
  hs::traffic_keys keys;
  frame_cipher client, server;
  direction up, down;  // client to server, server to client
  connection(const wire::digest& seed, std::uint64_t g)
      : generation(g), keys(keys_of(seed, g)), client(keys, true), server(keys, false) {}
  frame_cipher& sender(bool upward) { return upward ? client : server; }
  frame_cipher& receiver(bool upward) { return upward ? server : client; }
  direction& dir(bool upward) { return upward ? up : down; }
  const std::array<std::uint8_t, 32>& sealing_key(bool upward) const {
    return upward ? keys.client_to_server : keys.server_to_client;
  }
};

// What open() must answer for the bytes `d.rx` holds.
struct prediction {
  std::error_code error;
  std::size_t consumed = 0;
  std::size_t needed = 0;
  sealed_frame* frame = nullptr;
};

prediction predict(direction& d) {
  const auto& rx = d.rx;
  if (rx.size() < wire::header_size) return {.needed = wire::header_size};
  const auto length = load_u32(rx.data() + 4);
  if (rx[0] < 1 || rx[0] > 11 || (rx[1] & ~wire::flag_paused) != 0 || rx[2] != 0 || rx[3] != 0 ||
      length < wire::tag_size)
    return {.error = make_error_code(errc::malformed_frame)};  // R1, R2
  if (length > wire::max_payload + wire::tag_size) return {.error = make_error_code(errc::frame_too_large)};
  const auto size = wire::header_size + length;
  if (rx.size() < size) return {.needed = size};
  if (load_u64(rx.data() + 16) != 0) return {.error = make_error_code(errc::malformed_frame)};  // R21
  if (d.opened < d.sealed.size()) {
    auto& f = d.sealed[d.opened];
    if (f.bytes.size() == size && std::equal(f.bytes.begin(), f.bytes.end(), rx.begin()))
      return {.consumed = size, .frame = &f};
  }
  return {.error = make_error_code(errc::integrity_error)};  // R3, R23
}

struct harness {
  wire::digest seed{};
  std::unique_ptr<connection> c;
  std::vector<std::vector<std::uint8_t>> previous;        // the frames the last dropped connection sealed
  std::size_t budget = wire::max_payload + (256u << 10);  // plaintext bytes left to seal in this input

  void drop() {
    previous.clear();
    for (auto* d : {&c->up, &c->down})
      for (auto& f : d->sealed) previous.push_back(std::move(f.bytes));
    c = std::make_unique<connection>(seed, c->generation + 1);
  }

  // Opens what the receiver holds until it needs more bytes or fails, checking every answer; false
  // (and the connection dropped) on a failure.
  bool receive(bool upward) {
    auto& d = c->dir(upward);
    for (;;) {
      const auto p = predict(d);
      const auto r = c->receiver(upward).open(d.rx);
      check(r.error == p.error, "open()'s error differs from the prediction");
      check(r.consumed == p.consumed, "open() consumed otherwise than predicted");
      if (r.error) {
        // Nothing is delivered (consumed is 0, checked above). A failed tag also leaves nothing to read:
        // the bytes were decrypted in place before the tag was checked, and must not be pointed to.
        check(r.error != errc::integrity_error || r.value.payload.empty(),
              "open() failed the tag yet gave a payload");
        drop();  // the session drops a connection whose frames fail
        return false;
      }
      if (r.consumed == 0) {
        check(r.needed == p.needed && r.needed > d.rx.size(), "open() asked for the wrong number of bytes");
        return true;
      }
      auto& f = *p.frame;
      check(!f.delivered, "open() gave the same sealed frame twice");
      check(r.value.type == f.type && r.value.flags == f.flags && r.value.value == f.value,
            "open() gave a frame other than the one sealed at that position");
      check(r.value.payload.size() == f.plaintext.size() &&
                std::equal(f.plaintext.begin(), f.plaintext.end(), r.value.payload.begin()),
            "open() gave a payload other than the one sealed");
      check(r.value.payload.data() == d.rx.data() + wire::header_size, "open() did not open in place");
      f.delivered = true;
      ++d.opened;
      d.rx.erase(d.rx.begin(), d.rx.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    }
  }

  // Delivers `bytes` to the receiver in 1 to 4 input-chosen pieces, opening after each.
  void deliver(bool upward, std::vector<std::uint8_t> bytes, input& in) {
    const auto pieces = 1 + in.u8() % 4;
    std::size_t at = 0;
    for (unsigned i = 1; i <= pieces; ++i) {
      const auto left = bytes.size() - at;
      const auto size = i == pieces ? left : in.u16() % (left + 1);
      auto& rx = c->dir(upward).rx;
      rx.insert(rx.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at),
                bytes.begin() + static_cast<std::ptrdiff_t>(at + size));
      at += size;
      if (!receive(upward)) return;  // the rest went to a connection that no longer exists
    }
  }

  void seal(bool upward, input& in) {
    auto& d = c->dir(upward);
    sealed_frame f;
    f.type = static_cast<wire::frame_type>(1 + in.u8() % 11);
    const auto shape = in.u8();
    f.flags = shape & 1 ? wire::flag_paused : 0;
    f.value = shape & 2 ? in.u64() : in.u8();
    // Mostly a payload from the input; one in eight a large one of a fixed pattern, up to 64 KiB or
    // (one in four of those) max_payload.
    const bool large = (shape & 0x1c) == 0x1c;
    std::size_t size = in.u8();
    if (large) size = (shape & 0x60) == 0x60 ? wire::max_payload : in.u16();
    if (size > budget) size = in.u8();
    if (size > budget) size = 0;
    budget -= size;
    if (large) {
      const auto* from = pattern().data() + shape;
      f.plaintext.assign(from, from + size);
    } else {
      const auto b = in.bytes(size);
      f.plaintext.assign(b.begin(), b.end());
    }
    const wire::bytes all(f.plaintext);
    const auto split = std::min<std::size_t>(in.u16(), all.size());
    std::vector<std::uint8_t> out = {0xa5, 0x5a, 0xa5};  // seal() appends
    c->sender(upward).seal(f.type, f.value, f.flags, all.first(split), all.subspan(split), out);
    f.bytes = spec_seal(c->sealing_key(upward), d.sealed.size(), static_cast<std::uint8_t>(f.type), f.flags,
                        f.value, all);
    check(out.size() == 3 + f.bytes.size() && out[0] == 0xa5 && out[1] == 0x5a && out[2] == 0xa5,
          "seal() did not append one frame");
    check(std::equal(f.bytes.begin(), f.bytes.end(), out.begin() + 3),
          "seal() differs from AES-256-GCM over the header under the counter nonce");
    d.outbox.push_back(d.sealed.size());
    d.sealed.push_back(std::move(f));
  }

  std::vector<std::uint8_t> next_to_send(bool upward) {
    auto& d = c->dir(upward);
    const auto i = d.outbox.front();
    d.outbox.pop_front();
    return d.sealed[i].bytes;
  }

  void step(input& in) {
    const auto op = in.u8();
    const bool upward = (op & 0x80) == 0;
    auto& d = c->dir(upward);
    switch (op % 10) {
      case 0:
      case 1:
        seal(upward, in);
        break;
      case 2:  // the next frame, intact
        if (!d.outbox.empty()) deliver(upward, next_to_send(upward), in);
        break;
      case 3: {  // the next frame with one byte changed
        if (d.outbox.empty()) break;
        auto bytes = next_to_send(upward);
        const auto at = in.u16() % bytes.size();
        const std::uint8_t mask = in.u8();
        bytes[at] ^= mask ? mask : 1;
        deliver(upward, std::move(bytes), in);
        break;
      }
      case 4:  // the next frame lost
        if (!d.outbox.empty()) d.outbox.pop_front();
        break;
      case 5: {  // a frame sent before, one the other direction sealed, or one from the previous connection
        const auto source = in.u8();
        const auto& other = c->dir(!upward);
        std::vector<std::uint8_t> bytes;
        if (source % 3 == 0 && !d.sealed.empty()) {
          bytes = d.sealed[(source / 3 + in.u8()) % d.sealed.size()].bytes;
        } else if (source % 3 == 1 && !other.sealed.empty()) {
          bytes = other.sealed[(source / 3 + in.u8()) % other.sealed.size()].bytes;
        } else if (!previous.empty()) {
          bytes = previous[(source / 3 + in.u8()) % previous.size()];
        }
        if (!bytes.empty()) deliver(upward, std::move(bytes), in);
        break;
      }
      case 6:  // out of order: the next frame swapped with a later one
        if (d.outbox.size() >= 2) std::swap(d.outbox[0], d.outbox[1 + in.u8() % (d.outbox.size() - 1)]);
        break;
      case 7: {  // several frames in one buffer
        std::vector<std::uint8_t> bytes;
        for (auto k = 1 + in.u8() % 4; k > 0 && !d.outbox.empty(); --k) {
          const auto next = next_to_send(upward);
          bytes.insert(bytes.end(), next.begin(), next.end());
        }
        if (!bytes.empty()) deliver(upward, std::move(bytes), in);
        break;
      }
      case 8: {  // garbage
        const auto b = in.bytes(in.u8());
        if (!b.empty()) deliver(upward, {b.begin(), b.end()}, in);
        break;
      }
      default:  // the connection dropped for another reason: new keys
        drop();
        break;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  harness h;
  unsigned int length = 0;
  check(EVP_Digest(data, size, h.seed.data(), &length, EVP_sha256(), nullptr) == 1, "OpenSSL SHA-256 failed");
  h.c = std::make_unique<connection>(h.seed, 0);
  while (!in.empty()) h.step(in);
  return 0;
}
