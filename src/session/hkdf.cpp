// HKDF-SHA-256 (RFC 5869) over the implementation's HMAC, for protocol version 2's key schedule.
#include "crypto.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace lifeline::detail {

wire::digest hkdf_extract(std::span<const std::uint8_t> salt,
                          std::initializer_list<std::span<const std::uint8_t>> ikm) {
  return hmac(salt, ikm);  // an empty salt is HMAC's all-zero key, as RFC 5869 2.2 says
}

void hkdf_expand(const wire::digest& prk, std::initializer_list<std::span<const std::uint8_t>> info,
                 std::span<std::uint8_t> out) {
  if (out.size() > 255 * sizeof(wire::digest)) throw std::length_error("HKDF-Expand: output too long");
  std::vector<std::uint8_t> joined;
  for (auto part : info) joined.insert(joined.end(), part.begin(), part.end());
  wire::digest block{};
  std::span<const std::uint8_t> previous;  // T(0) is empty
  for (std::uint8_t i = 1; !out.empty(); ++i) {
    const std::uint8_t counter[] = {i};
    block = hmac(prk, {previous, joined, counter});
    const auto n = std::min(out.size(), block.size());
    std::copy_n(block.begin(), n, out.begin());
    out = out.subspan(n);
    previous = block;
  }
}

}  // namespace lifeline::detail
