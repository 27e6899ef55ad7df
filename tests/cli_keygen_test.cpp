// `lifeline keygen`, run as a user runs it: the key file it writes (64 hex digits, mode 0600), what it
// refuses to overwrite, and that the key shows nowhere but in the file, or on stdout when asked with `-`.
#include "support/child_process.hpp"
#include "support/process.hpp"
#include "support/scratch_dir.hpp"

#include <lifeline/tunnel.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using lifeline::test::child_process;
using lifeline::test::scratch_dir;

const std::regex key_line("[0-9a-f]{64}\n");

std::string content(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `lifeline keygen` with `arguments`; its exit status, and what it printed on stdout and stderr.
struct keygen {
  int status;
  std::string output;
  explicit keygen(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {LIFELINE_CLI, "keygen"});
    child_process p(arguments);
    status = p.wait_exit();
    output = p.output();
  }
};

TEST(cli_keygen, writes_a_key_of_64_hex_digits_readable_by_its_owner_only) {
  const scratch_dir dir("lifeline-keygen");
  const auto file = dir.path / "tunnel.key";
  const keygen run({file.string()});
  ASSERT_EQ(run.status, 0) << run.output;
  const auto key = content(file);
  EXPECT_TRUE(std::regex_match(key, key_line)) << key;
#ifdef _WIN32
  const std::string mode;
#else
  const std::string mode = " (mode 0600)";
#endif
  EXPECT_EQ(run.output, "lifeline keygen: wrote a new 256-bit key to " + file.string() + mode +
                            "; give it to both ends with --psk-file\n");
  EXPECT_EQ(run.output.find(key.substr(0, 64)), std::string::npos) << "the key is shown";
#ifndef _WIN32
  EXPECT_EQ(fs::status(file).permissions(), fs::perms::owner_read | fs::perms::owner_write);
#endif
  // The tunnel takes it as it is.
  lifeline::session_options session;
  std::string why;
  EXPECT_FALSE(lifeline::load_credentials({.psk_file = file.string()}, true, session, &why)) << why;
  EXPECT_EQ(session.psk, key.substr(0, 64));
}

TEST(cli_keygen, refuses_to_overwrite_a_file_without_force) {
  const scratch_dir dir("lifeline-keygen");
  const auto file = dir.path / "tunnel.key";
  std::ofstream(file, std::ios::binary) << "the old key\n";  // binary: no \r\n on Windows
  const keygen refused({file.string()});
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_EQ(refused.output,
            "lifeline keygen: '" + file.string() + "' exists; give --force to replace the key in it\n");
  EXPECT_EQ(content(file), "the old key\n");

  const keygen forced({"--force", file.string()});
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_TRUE(std::regex_match(content(file), key_line)) << content(file);
#ifndef _WIN32
  // A new file renamed over the old one: 0600 even where the old one was not.
  EXPECT_EQ(fs::status(file).permissions(), fs::perms::owner_read | fs::perms::owner_write);
#endif
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path)) ++files;
  EXPECT_EQ(files, 1u) << "a temporary file is left beside the key";
}

TEST(cli_keygen, two_runs_give_two_different_keys) {
  const scratch_dir dir("lifeline-keygen");
  ASSERT_EQ(keygen({(dir.path / "a").string()}).status, 0);
  ASSERT_EQ(keygen({(dir.path / "b").string()}).status, 0);
  EXPECT_TRUE(std::regex_match(content(dir.path / "a"), key_line));
  EXPECT_NE(content(dir.path / "a"), content(dir.path / "b"));
}

TEST(cli_keygen, a_dash_prints_the_key_on_stdout_and_nothing_else) {
  const auto first = lifeline::test::run(lifeline::test::cli("keygen -"));
  const auto second = lifeline::test::run(lifeline::test::cli("keygen -"));
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_TRUE(std::regex_match(first.out, key_line)) << first.out;
  EXPECT_NE(first.out, second.out);
  const keygen both({"-"});  // stdout and stderr together: the key, and no note
  EXPECT_TRUE(std::regex_match(both.output, key_line)) << both.output;
}

TEST(cli_keygen, a_file_that_cannot_be_created_is_named_with_the_reason) {
  const scratch_dir dir("lifeline-keygen");
  const auto file = dir.path / "no-such-directory" / "tunnel.key";
  const keygen run({file.string()});
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.output.rfind("lifeline keygen: cannot create '" + file.string() + "': ", 0), 0u)
      << run.output;
  EXPECT_FALSE(fs::exists(file));
}

TEST(cli_keygen, a_file_is_required) {
  const keygen run({});
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.output.find("file is required"), std::string::npos) << run.output;
}

}  // namespace
