// `lifeline demo`, run as the README's first command runs it (shorter): it must report a complete,
// identical stream after the faults it injected, and refuse bad flags.
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace {

using lifeline::test::cli;
using lifeline::test::run;

TEST(cli_demo, the_stream_arrives_whole_through_injected_faults) {
  const auto result = run(cli("demo --duration 4 --fault-rate 3 --bound-ms 400 --seed 11 2>&1"));
  EXPECT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("everything arrived  yes"), std::string::npos) << result.out;
  std::smatch sent, received, faults;
  ASSERT_TRUE(std::regex_search(result.out, sent, std::regex("SHA-256 sent +([0-9a-f]{64})"))) << result.out;
  ASSERT_TRUE(std::regex_search(result.out, received, std::regex("SHA-256 received +([0-9a-f]{64})")));
  EXPECT_EQ(sent[1], received[1]);
  ASSERT_TRUE(std::regex_search(
      result.out, faults, std::regex(R"((\d+) resets, (\d+) black holes; the link was lost (\d+) times)")));
  EXPECT_GT(std::stoi(faults[1]) + std::stoi(faults[2]), 2) << "the demo must really break the link";
  EXPECT_GT(std::stoi(faults[3]), 0);
  EXPECT_NE(result.out.find("replay with --seed 11"), std::string::npos);
}

TEST(cli_demo, bad_flags_exit_2) {
  EXPECT_EQ(run(cli("demo --fault-rate -1 2>&1")).status, 2);
  EXPECT_EQ(run(cli("demo --duration 0 2>&1")).status, 2);
  EXPECT_EQ(run(cli("demo --bound-ms abc 2>&1")).status, 2);
}

}  // namespace
