// libFuzzer target: the frame decoder on arbitrary bytes. It must never read out of bounds, never accept
// a frame whose checksum does not match, and consume frames back to back exactly as a receiver does.
#include <lifeline/wire.hpp>

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lifeline::wire::bytes in(data, size);
  while (!in.empty()) {
    const auto r = lifeline::wire::decode(in);
    if (r.error || r.consumed == 0) break;
    if (r.consumed > in.size() || r.value.payload.size() + lifeline::wire::header_size != r.consumed)
      std::abort();
    // A frame accepted must re-encode to the same header.
    const auto header =
        lifeline::wire::encode_header(r.value.type, r.value.value, r.value.payload, {}, r.value.flags);
    if (!std::equal(header.begin(), header.end(), in.begin())) std::abort();
    in = in.subspan(r.consumed);
  }
  return 0;
}
