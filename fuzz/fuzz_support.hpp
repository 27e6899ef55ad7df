// What the libFuzzer targets share: a failed invariant ends the run (libFuzzer then saves the input), and
// a cursor that reads the input as the operations and values to try.
#pragma once

#include <lifeline/wire.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace lifeline::fuzz {

/// The invariant `what` does not hold: abort, so that libFuzzer keeps the input as a crash.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
  std::abort();
}
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

/// The fuzzer's input, read front to back; past its end every read gives zeros.
struct input {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t u8() { return n ? (--n, *p++) : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | u8();
    return v;
  }
  /// A small signed number, -128 to 127.
  std::int64_t small() { return static_cast<std::int8_t>(u8()); }
  template <std::size_t N>
  std::array<std::uint8_t, N> take() {
    std::array<std::uint8_t, N> a{};
    for (auto& b : a) b = u8();
    return a;
  }
  /// The next `size` bytes (fewer at the end of the input).
  wire::bytes bytes(std::size_t size) {
    const wire::bytes b(p, std::min(size, n));
    p += b.size(), n -= b.size();
    return b;
  }
};

}  // namespace lifeline::fuzz
