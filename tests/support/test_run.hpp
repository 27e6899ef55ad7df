// What a test run is given: a seed it prints so that a failure can be replayed, and a scratch directory
// of its own.
#pragma once

#include "scratch_dir.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace lifeline::test {

/// The seed of a test's fault schedule and payload: LIFELINE_SEED replays a printed one.
inline std::uint64_t test_seed(std::uint64_t fallback) {
  const char* env = std::getenv("LIFELINE_SEED");
  const std::uint64_t seed = env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : fallback;
  std::printf("seed %llu (LIFELINE_SEED=%llu replays this run)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  return seed;
}

}  // namespace lifeline::test
