// A directory of its own for a test's files, in the system's temporary directory and named after the
// process and the test (so that parallel runs do not meet), removed with everything in it after the test.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <unistd.h>

namespace lifeline::test {

struct scratch_dir {
  std::filesystem::path path;

  explicit scratch_dir(const std::string& prefix = "lifeline")
      : path(std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::create_directories(path);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }

  /// A file holding `content`, readable and writable by its owner only (as a key file must be) unless
  /// `permissions` say otherwise; its path.
  std::string file(const std::string& name, const std::string& content,
                   std::filesystem::perms permissions = std::filesystem::perms::owner_read |
                                                        std::filesystem::perms::owner_write) const {
    std::ofstream(path / name, std::ios::binary) << content;
    std::filesystem::permissions(path / name, permissions);
    return (path / name).string();
  }
};

}  // namespace lifeline::test
