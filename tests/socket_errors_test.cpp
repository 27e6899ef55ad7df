// The socket error table's invariants and lookups in every form, and the endpoint text that messages
// about sockets use.
#include <lifeline/endpoint.hpp>
#include <lifeline/socket_errors.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

namespace {

using lifeline::code_space;
using lifeline::condition;
using lifeline::find_socket_error;
using lifeline::lookup_failure;
using lifeline::lookup_socket_error;
using lifeline::socket_errors;

TEST(socket_error_table, names_are_unique) {
  std::set<std::string_view> names;
  for (const auto& e : socket_errors()) EXPECT_TRUE(names.insert(e.name).second) << e.name;
}

TEST(socket_error_table, numbers_are_unique_within_each_space) {
  std::set<std::pair<code_space, int>> numbers;
  for (const auto& e : socket_errors()) EXPECT_TRUE(numbers.insert({e.space, e.code}).second) << e.name;
}

TEST(socket_error_table, hex_agrees_with_decimal) {
  for (const auto& e : socket_errors()) {
    EXPECT_EQ(std::stoi(e.hex(), nullptr, 16), e.code) << e.name;
    EXPECT_EQ(e.hex().substr(0, 2), "0x") << e.name;
  }
  EXPECT_EQ(find_socket_error("WSAENETRESET")->hex(), "0x2744");
}

TEST(socket_error_table, every_row_is_complete_and_classified) {
  for (const auto& e : socket_errors()) {
    EXPECT_FALSE(e.message.empty()) << e.name;
    EXPECT_FALSE(e.meaning.empty()) << e.name;
    EXPECT_FALSE(e.action.empty()) << e.name;
    EXPECT_NE(e.cls, condition{}) << e.name;
    EXPECT_NE(lifeline::to_string(e.cls), "unknown") << e.name;
  }
}

TEST(socket_error_table, every_related_code_and_twin_exists) {
  for (const auto& e : socket_errors()) {
    for (auto name : e.related_names()) {
      EXPECT_NE(find_socket_error(name), nullptr) << e.name << " names " << name;
      EXPECT_NE(name, e.name) << e.name;
    }
    if (!e.twin.empty()) {
      const auto* twin = find_socket_error(e.twin);
      ASSERT_NE(twin, nullptr) << e.name << " twin " << e.twin;
      EXPECT_NE(twin->space, e.space) << e.name;
      EXPECT_EQ(twin->twin, e.name) << "twins are symmetric: " << e.name;
    }
  }
}

TEST(socket_error_table, rows_are_ordered_windows_first_then_by_number) {
  const auto rows = socket_errors();
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto a = std::pair(rows[i - 1].space != code_space::windows, rows[i - 1].code);
    const auto b = std::pair(rows[i].space != code_space::windows, rows[i].code);
    EXPECT_LT(a, b) << rows[i - 1].name << " before " << rows[i].name;
  }
}

TEST(socket_error_table, covers_every_documented_winsock_range) {
  for (int code : {6, 8, 87, 995, 996, 997, 11001, 11002, 11003, 11004, 11005, 11031}) {
    EXPECT_NE(find_socket_error(code, code_space::windows), nullptr) << code;
  }
  // WSAEINTR 10004 through WSAEREFUSED 10112: every code Microsoft documents in that range.
  for (int code : {10004, 10009, 10013, 10014, 10022, 10024, 10035, 10036, 10037, 10038, 10039, 10040,
                   10041, 10042, 10043, 10044, 10045, 10046, 10047, 10048, 10049, 10050, 10051, 10052,
                   10053, 10054, 10055, 10056, 10057, 10058, 10059, 10060, 10061, 10062, 10063, 10064,
                   10065, 10066, 10067, 10068, 10069, 10070, 10071, 10091, 10092, 10093, 10101, 10102,
                   10103, 10104, 10105, 10106, 10107, 10108, 10109, 10110, 10111, 10112}) {
    EXPECT_NE(find_socket_error(code, code_space::windows), nullptr) << code;
  }
  for (const auto& e : socket_errors()) {
    if (e.space == code_space::windows) {
      EXPECT_NE(e.cls, condition{}) << e.name;
    }
  }
}

TEST(socket_error_table, follows_microsofts_documentation) {
  EXPECT_EQ(find_socket_error("WSAECONNABORTED")->message, "Software caused connection abort");
  EXPECT_EQ(find_socket_error("WSAECONNRESET")->message, "Connection reset by peer");
  EXPECT_EQ(find_socket_error("WSAENETRESET")->message, "Network dropped connection on reset");
  EXPECT_NE(find_socket_error("WSAENETRESET")->meaning.find("Keep-alive"), std::string_view::npos);
  EXPECT_NE(find_socket_error("WSAENETRESET")->meaning.find("time to live"), std::string_view::npos);
  EXPECT_EQ(find_socket_error("WSAENETRESET")->twin, "ENETRESET");
  EXPECT_EQ(find_socket_error("WSAENETRESET")->cls, condition::connection_lost);
  EXPECT_EQ(find_socket_error("WSAEWOULDBLOCK")->cls, condition::would_block);
  EXPECT_EQ(find_socket_error("WSAEFAULT")->cls, condition::caller_bug);
  EXPECT_EQ(find_socket_error("WSAENOTSOCK")->cls, condition::caller_bug);
  EXPECT_EQ(find_socket_error("WSAEMFILE")->cls, condition::resource_limit);
}

#ifndef _WIN32
// The POSIX rows are numbered as Linux numbers them; this build's own errno.h and C library agree.
TEST(socket_error_table, posix_rows_match_this_platforms_errno) {
  const std::pair<const char*, int> expected[] = {
      {"EINTR", EINTR},
      {"EBADF", EBADF},
      {"EAGAIN", EAGAIN},
      {"EFAULT", EFAULT},
      {"EINVAL", EINVAL},
      {"EMFILE", EMFILE},
      {"EPIPE", EPIPE},
      {"ENOTSOCK", ENOTSOCK},
      {"EADDRINUSE", EADDRINUSE},
      {"ENETDOWN", ENETDOWN},
      {"ENETRESET", ENETRESET},
      {"ECONNRESET", ECONNRESET},
      {"ENOBUFS", ENOBUFS},
      {"ETIMEDOUT", ETIMEDOUT},
      {"EHOSTUNREACH", EHOSTUNREACH},
      {"EINPROGRESS", EINPROGRESS},
      {"ECONNREFUSED", ECONNREFUSED},
      {"ECONNABORTED", ECONNABORTED},
  };
  for (const auto& [name, value] : expected) {
    const auto* e = find_socket_error(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->code, value) << name;
    EXPECT_EQ(e->space, code_space::posix) << name;
  }
  for (const auto& e : socket_errors()) {
    if (e.space == code_space::posix) {
      EXPECT_EQ(e.message, std::string_view(strerror(e.code))) << e.name;
    }
  }
}
#endif

TEST(lookup, decimal_hex_and_name_in_any_case_agree) {
  const auto* expected = find_socket_error(10052, code_space::windows);
  ASSERT_NE(expected, nullptr);
  for (const char* query :
       {"10052", "0x2744", "0X2744", "WSAENETRESET", "wsaenetreset", "WsaENetReset", " 10052 "}) {
    const auto result = lookup_socket_error(query, code_space::posix);
    EXPECT_EQ(result.entry, expected) << query << ": " << result.detail;
  }
}

TEST(lookup, small_numbers_follow_the_requested_space) {
  const auto posix = lookup_socket_error("104", code_space::posix);
  ASSERT_NE(posix.entry, nullptr);
  EXPECT_EQ(posix.entry->name, "ECONNRESET");
  const auto windows = lookup_socket_error("995", code_space::windows);
  ASSERT_NE(windows.entry, nullptr);
  EXPECT_EQ(windows.entry->name, "WSA_OPERATION_ABORTED");
  // 10000 and above are Winsock codes whatever the small-number space.
  EXPECT_EQ(lookup_socket_error("10054", code_space::posix).entry->name, "WSAECONNRESET");
}

TEST(lookup, linux_aliases_resolve_to_their_row) {
  EXPECT_EQ(lookup_socket_error("EWOULDBLOCK", code_space::posix).entry, find_socket_error("EAGAIN"));
  EXPECT_EQ(lookup_socket_error("enotsup", code_space::posix).entry, find_socket_error("EOPNOTSUPP"));
}

TEST(lookup, both_spellings_of_11024_find_microsofts_row) {
  const auto* microsoft = find_socket_error("WSA_QOS_EUNKOWNPSOBJ");
  ASSERT_NE(microsoft, nullptr);
  EXPECT_EQ(microsoft->code, 11024);
  EXPECT_EQ(find_socket_error("WSA_QOS_EUNKNOWNPSOBJ"), microsoft) << "MinGW-w64's spelling";
  EXPECT_EQ(lookup_socket_error("wsa_qos_eunknownpsobj", code_space::windows).entry, microsoft);
  EXPECT_EQ(microsoft->aliases(), std::vector<std::string_view>{"WSA_QOS_EUNKNOWNPSOBJ"});
  EXPECT_EQ(find_socket_error("EAGAIN")->aliases(), std::vector<std::string_view>{"EWOULDBLOCK"});
  EXPECT_TRUE(find_socket_error("WSAENETRESET")->aliases().empty());
}

TEST(lookup, malformed_queries_say_why) {
  for (const char* query : {"", "   ", "0x", "0xZZ", "12ab", "-5", "WSA-ENETRESET", "10052.0"}) {
    const auto result = lookup_socket_error(query, code_space::posix);
    EXPECT_EQ(result.entry, nullptr) << query;
    EXPECT_EQ(result.failure, lookup_failure::malformed) << query;
    EXPECT_FALSE(result.detail.empty()) << query;
  }
}

TEST(lookup, unknown_queries_say_so) {
  for (const char* query : {"10000", "0xFFFF", "WSAENOTREAL", "99999999999999999999", "4242"}) {
    const auto result = lookup_socket_error(query, code_space::posix);
    EXPECT_EQ(result.entry, nullptr) << query;
    EXPECT_EQ(result.failure, lookup_failure::unknown) << query;
    EXPECT_FALSE(result.detail.empty()) << query;
  }
}

TEST(endpoint_text, ipv4_is_address_colon_port) {
  const boost::asio::ip::tcp::endpoint e(boost::asio::ip::make_address("192.0.2.7"), 8080);
  EXPECT_EQ(lifeline::to_string(e), "192.0.2.7:8080");
}

TEST(endpoint_text, ipv6_is_bracketed) {
  const boost::asio::ip::tcp::endpoint e(boost::asio::ip::make_address("2001:db8::1"), 443);
  EXPECT_EQ(lifeline::to_string(e), "[2001:db8::1]:443");
  EXPECT_EQ(lifeline::to_string(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v6::loopback(), 80)),
            "[::1]:80");
}

TEST(endpoint_text, ipv4_mapped_ipv6_stays_ipv6) {
  const boost::asio::ip::tcp::endpoint e(boost::asio::ip::make_address("::ffff:127.0.0.1"), 80);
  EXPECT_EQ(lifeline::to_string(e), "[::ffff:127.0.0.1]:80");
}

TEST(endpoint_text, port_zero_is_written) {
  EXPECT_EQ(lifeline::to_string(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::any(), 0)),
            "0.0.0.0:0");
  EXPECT_EQ(lifeline::to_string(boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v6::any(), 0)),
            "[::]:0");
}

}  // namespace
