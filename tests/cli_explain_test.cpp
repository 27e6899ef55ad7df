// `lifeline explain`, run as a user runs it: output and exit status for good and bad queries.
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace {

using lifeline::test::cli;
using lifeline::test::run;

TEST(cli_explain, decimal_hex_and_name_print_the_same_entry) {
  const auto decimal = run(cli("explain 10052"));
  ASSERT_EQ(decimal.status, 0) << decimal.out;
  EXPECT_NE(decimal.out.find("WSAENETRESET (10052, 0x2744)"), std::string::npos) << decimal.out;
  EXPECT_NE(decimal.out.find("Network dropped connection on reset"), std::string::npos);
  EXPECT_NE(decimal.out.find("connection_lost"), std::string::npos);
  EXPECT_NE(decimal.out.find("ENETRESET"), std::string::npos);
  EXPECT_NE(decimal.out.find("WSAECONNRESET"), std::string::npos);
  EXPECT_EQ(run(cli("explain 0x2744")).out, decimal.out);
  EXPECT_EQ(run(cli("explain wsaenetreset")).out, decimal.out);
}

TEST(cli_explain, both_spellings_of_11024_print_microsofts_name_and_the_alias) {
  const auto mingw = run(cli("explain WSA_QOS_EUNKNOWNPSOBJ"));
  ASSERT_EQ(mingw.status, 0) << mingw.out;
  EXPECT_EQ(mingw.out.rfind("WSA_QOS_EUNKOWNPSOBJ (11024, 0x2B10)", 0), 0u) << mingw.out;
  EXPECT_NE(mingw.out.find("alias    WSA_QOS_EUNKNOWNPSOBJ"), std::string::npos) << mingw.out;
  EXPECT_EQ(run(cli("explain wsa_qos_eunknownpsobj")).out, mingw.out);
  EXPECT_EQ(run(cli("explain WSA_QOS_EUNKOWNPSOBJ")).out, mingw.out);
  const auto json = boost::json::parse(run(cli("explain --json WSA_QOS_EUNKNOWNPSOBJ")).out);
  EXPECT_EQ(json.at("name").as_string(), "WSA_QOS_EUNKOWNPSOBJ");
  EXPECT_EQ(json.at("aliases"), boost::json::array{"WSA_QOS_EUNKNOWNPSOBJ"});
}

TEST(cli_explain, json_carries_every_field) {
  const auto result = run(cli("explain --json WSAECONNABORTED"));
  ASSERT_EQ(result.status, 0);
  const auto value = boost::json::parse(result.out).as_object();
  EXPECT_EQ(value.at("name").as_string(), "WSAECONNABORTED");
  EXPECT_EQ(value.at("code").as_int64(), 10053);
  EXPECT_EQ(value.at("hex").as_string(), "0x2745");
  EXPECT_EQ(value.at("message").as_string(), "Software caused connection abort");
  EXPECT_EQ(value.at("class").as_string(), "connection_lost");
  EXPECT_EQ(value.at("twin").as_string(), "ECONNABORTED");
  EXPECT_FALSE(value.at("meaning").as_string().empty());
  EXPECT_FALSE(value.at("action").as_string().empty());
  EXPECT_TRUE(value.at("related").is_array());
  EXPECT_TRUE(value.at("aliases").as_array().empty());
}

TEST(cli_explain, space_flags_choose_how_small_numbers_read) {
  const auto posix = run(cli("explain --json --posix 104"));
  ASSERT_EQ(posix.status, 0);
  EXPECT_EQ(boost::json::parse(posix.out).at("name").as_string(), "ECONNRESET");
  const auto windows = run(cli("explain --json --windows 995"));
  ASSERT_EQ(windows.status, 0);
  EXPECT_EQ(boost::json::parse(windows.out).at("name").as_string(), "WSA_OPERATION_ABORTED");
}

TEST(cli_explain, list_prints_the_table) {
  const auto all = run(cli("explain --list --json"));
  ASSERT_EQ(all.status, 0);
  const auto rows = boost::json::parse(all.out).as_array();
  EXPECT_GT(rows.size(), 140u);
  const auto windows = run(cli("explain --list --windows --json"));
  const auto windows_rows = boost::json::parse(windows.out).as_array();
  EXPECT_GT(windows_rows.size(), 90u);
  for (const auto& row : windows_rows) EXPECT_EQ(row.at("space").as_string(), "windows");
  const auto text = run(cli("explain --list"));
  EXPECT_NE(text.out.find("WSAEREFUSED"), std::string::npos);
}

TEST(cli_explain, unknown_and_malformed_queries_exit_2_with_a_message) {
  for (const char* query : {"WSAENOTREAL", "0xZZ", "10000", "12ab", "''"}) {
    const auto result = run(cli(std::string("explain ") + query + " 2>&1"));
    EXPECT_EQ(result.status, 2) << query;
    EXPECT_NE(result.out.find("lifeline explain: "), std::string::npos) << query << ": " << result.out;
  }
  const auto missing = run(cli("explain 2>&1"));
  EXPECT_EQ(missing.status, 2);
  const auto both = run(cli("explain --windows --posix 6 2>&1"));
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.out.find("excludes"), std::string::npos) << both.out;
}

TEST(cli, unknown_subcommand_exits_2) {
  EXPECT_EQ(run(cli("frobnicate 2>&1")).status, 2);
  EXPECT_EQ(run(cli("--help")).status, 0);
}

}  // namespace
