// What a test run is given: a seed it prints so that a failure can be replayed, and a scratch directory
// of its own.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#ifdef _WIN32
#include <process.h>
#else
#include <unistd.h>
#endif

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

/// A directory of the test's own, removed at the end.
struct scratch_dir {
  std::filesystem::path path;
  explicit scratch_dir(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             ("lifeline-test-" + name + "-" + std::to_string(pid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

 private:
#ifdef _WIN32
  static int pid() { return ::_getpid(); }
#else
  static int pid() { return static_cast<int>(::getpid()); }
#endif
};

}  // namespace lifeline::test
