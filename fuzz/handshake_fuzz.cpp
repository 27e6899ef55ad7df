// libFuzzer target: the handshake payload parsers on arbitrary bytes. A payload that parses must encode
// back to the same bytes.
#include <lifeline/wire.hpp>

#include <algorithm>
#include <cstdlib>

namespace {

template <typename Message>
void check(lifeline::wire::bytes in) {
  Message m;
  if (lifeline::wire::parse(in, m)) return;
  const auto out = lifeline::wire::encode(m);
  if (out.size() != in.size() || !std::equal(out.begin(), out.end(), in.begin())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const lifeline::wire::bytes in(data, size);
  check<lifeline::wire::server_hello>(in);
  check<lifeline::wire::client_hello>(in);
  check<lifeline::wire::welcome>(in);
  check<lifeline::wire::resume_request>(in);
  return 0;
}
