// Sealed frames (docs/protocol.md R21-R23).
#include "frame_cipher.hpp"

#include <boost/endian/conversion.hpp>

#include <algorithm>

#include <stdexcept>

namespace lifeline::detail {
namespace {

// R23: four zero bytes, then the direction's frame counter, big-endian.
aes256_gcm::nonce_type nonce_of(std::uint64_t counter) {
  aes256_gcm::nonce_type nonce{};
  boost::endian::store_big_u64(nonce.data() + 4, counter);
  return nonce;
}

}  // namespace

frame_cipher::frame_cipher(const handshake::traffic_keys& keys, bool client)
    : seal_(client ? keys.client_to_server : keys.server_to_client),
      open_(client ? keys.server_to_client : keys.client_to_server) {}

void frame_cipher::seal(wire::frame_type type, std::uint64_t value, std::uint8_t flags, wire::bytes head,
                        wire::bytes tail, std::vector<std::uint8_t>& out) {
  const auto size = head.size() + tail.size();
  const auto header = wire::encode_sealed_header(type, value, size, flags);
  const auto at = out.size();
  out.resize(at + header.size() + size + wire::tag_size);
  std::copy(header.begin(), header.end(), out.begin() + at);
  const auto tag = seal_.seal(nonce_of(sealed_++), header, head, tail, out.data() + at + header.size());
  std::copy(tag.begin(), tag.end(), out.end() - wire::tag_size);
}

wire::decode_result frame_cipher::open(std::span<std::uint8_t> in) {
  auto r = wire::decode_sealed(in);
  if (r.consumed == 0) return r;
  const auto sealed = in.subspan(wire::header_size, r.value.payload.size());
  const auto text = sealed.first(sealed.size() - wire::tag_size);
  aes256_gcm::tag_type tag{};
  std::copy(sealed.end() - wire::tag_size, sealed.end(), tag.begin());
  if (!open_.open(nonce_of(opened_), in.first(wire::header_size), text, tag)) {  // R3, R23
    r.consumed = 0;
    r.error = make_error_code(errc::integrity_error);
    r.value = {};
    return r;
  }
  ++opened_;
  r.value.payload = text;
  return r;
}

}  // namespace lifeline::detail
