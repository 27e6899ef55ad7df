// Sealed frames (docs/protocol.md R21-R23): one connection's AES-256-GCM in both directions, with the
// frame's header as associated data and a per-direction counter as the nonce. Pure: no I/O.
#pragma once

#include "crypto.hpp"
#include "handshake.hpp"

#include <lifeline/wire.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace lifeline::detail {

class frame_cipher {
 public:
  /// The keys of one connection; `client`: which side this is, so which key seals.
  frame_cipher(const handshake::traffic_keys& keys, bool client);

  /// R21: appends to `out` the sealed frame carrying the payload given in two pieces (either may be
  /// empty), and counts it.
  void seal(wire::frame_type type, std::uint64_t value, std::uint8_t flags, wire::bytes head,
            wire::bytes tail, std::vector<std::uint8_t>& out);

  /// R21-R23: decodes the sealed frame at the front of `in` (wire::decode_sealed) and, once it is whole,
  /// opens it in place: the result's payload is then the plaintext. A frame whose tag fails (changed,
  /// replayed, reordered, or one missing before it) is integrity_error and is never to be acted on; the
  /// connection is then to be dropped, since the counters no longer agree.
  wire::decode_result open(std::span<std::uint8_t> in);

 private:
  aes256_gcm seal_;
  aes256_gcm open_;
  std::uint64_t sealed_ = 0;  // R23: the nonce of the next frame sealed, and of the next opened
  std::uint64_t opened_ = 0;
};

}  // namespace lifeline::detail
