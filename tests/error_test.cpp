// The error model: lifeline's own codes and the conditions platform codes compare equal to.
#include <lifeline/error.hpp>
#include <lifeline/socket_errors.hpp>

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>

#include <cerrno>

namespace {

using lifeline::condition;
using lifeline::errc;

std::error_code native(int value) { return {value, std::system_category()}; }

TEST(condition, enetreset_is_connection_lost_on_this_platform) {
#ifdef _WIN32
  EXPECT_EQ(native(10052), condition::connection_lost);
#else
  EXPECT_EQ(native(ENETRESET), condition::connection_lost);
#endif
}

// What each platform's sockets report when keep-alive finds the peer dead: real Windows documents
// WSAENETRESET for the operation in progress and WSAECONNRESET for later ones; Wine reports
// WSAETIMEDOUT then WSAECONNRESET; Linux reports ETIMEDOUT (or ENETRESET) then ECONNRESET or EPIPE.
TEST(condition, keepalive_failures_are_connection_lost_as_the_os_reports_them) {
#ifdef _WIN32
  const int codes[] = {10052, 10054, 10060,
                       10053};  // WSAENETRESET WSAECONNRESET WSAETIMEDOUT WSAECONNABORTED
#else
  const int codes[] = {ENETRESET, ECONNRESET, ETIMEDOUT, ECONNABORTED, EPIPE};
#endif
  for (int value : codes) {
    EXPECT_EQ(native(value), condition::connection_lost) << value;
    EXPECT_EQ(lifeline::classify(native(value)), condition::connection_lost) << value;
    // Asio reports them in Boost.System's system category, which on MinGW converts to a category of
    // Boost's own rather than std::system_category().
    const std::error_code through_boost = boost::system::error_code(value, boost::system::system_category());
    EXPECT_EQ(through_boost, condition::connection_lost) << value << " " << through_boost.category().name();
    EXPECT_EQ(boost::system::error_code(value, boost::system::system_category()), condition::connection_lost);
  }
}

TEST(condition, winsock_codes_are_read_as_winsock_only_on_windows) {
  // 10035 is WSAEWOULDBLOCK on Windows and no errno value on Linux; 11 is EAGAIN on Linux and
  // ERROR_BAD_FORMAT, no socket error, on Windows.
#ifdef _WIN32
  EXPECT_EQ(native(10035), condition::would_block);
  EXPECT_EQ(native(10061), condition::refused);
  EXPECT_EQ(lifeline::classify(native(11)), condition{});
#else
  EXPECT_EQ(lifeline::classify(native(10035)), condition{});
  EXPECT_EQ(native(EAGAIN), condition::would_block);
#endif
}

TEST(condition, reset_aborted_pipe_and_timeout_are_connection_lost) {
  for (int value : {ECONNRESET, ECONNABORTED, EPIPE, ETIMEDOUT, ENETRESET}) {
    EXPECT_EQ(std::error_code(value, std::generic_category()), condition::connection_lost) << value;
  }
}

TEST(condition, classes_drive_distinct_behaviour) {
  EXPECT_EQ(std::make_error_code(std::errc::resource_unavailable_try_again), condition::would_block);
  EXPECT_EQ(std::make_error_code(std::errc::operation_in_progress), condition::would_block);
  EXPECT_EQ(std::make_error_code(std::errc::interrupted), condition::transient);
  EXPECT_EQ(std::make_error_code(std::errc::bad_address), condition::caller_bug);
  EXPECT_EQ(std::make_error_code(std::errc::bad_file_descriptor), condition::caller_bug);
  EXPECT_EQ(std::make_error_code(std::errc::invalid_argument), condition::caller_bug);
  EXPECT_EQ(std::make_error_code(std::errc::not_a_socket), condition::caller_bug);
  EXPECT_EQ(std::make_error_code(std::errc::too_many_files_open), condition::resource_limit);
  EXPECT_EQ(std::make_error_code(std::errc::no_buffer_space), condition::resource_limit);
  EXPECT_EQ(std::make_error_code(std::errc::network_unreachable), condition::unreachable);
  EXPECT_EQ(std::make_error_code(std::errc::host_unreachable), condition::unreachable);
  EXPECT_EQ(std::make_error_code(std::errc::connection_refused), condition::refused);
  EXPECT_EQ(std::make_error_code(std::errc::address_in_use), condition::configuration);
  EXPECT_EQ(std::make_error_code(std::errc::operation_canceled), condition::cancelled);
  EXPECT_NE(std::make_error_code(std::errc::connection_reset), condition::would_block);
  EXPECT_NE(std::make_error_code(std::errc::bad_address), condition::connection_lost);
}

TEST(condition, asio_errors_compare_equal_through_boost_system) {
  const boost::system::error_code reset = boost::asio::error::connection_reset;
  EXPECT_EQ(reset, condition::connection_lost);
  const boost::system::error_code would_block = boost::asio::error::would_block;
  EXPECT_EQ(would_block, condition::would_block);
  const boost::system::error_code eof = boost::asio::error::eof;
  EXPECT_EQ(eof, condition::connection_lost);
  const boost::system::error_code not_found = boost::asio::error::host_not_found;
  EXPECT_EQ(not_found, condition::name_resolution);
  const boost::system::error_code aborted = boost::asio::error::operation_aborted;
  EXPECT_EQ(aborted, condition::cancelled);
}

TEST(condition, codes_outside_the_table_match_no_condition) {
  EXPECT_EQ(lifeline::classify(native(99999)), condition{});
  EXPECT_NE(native(99999), condition::connection_lost);
  EXPECT_EQ(lifeline::classify(std::error_code()), condition{});
}

TEST(errc, network_reset_and_connection_reset_are_connection_lost) {
  EXPECT_EQ(make_error_code(errc::network_reset), condition::connection_lost);
  EXPECT_EQ(make_error_code(errc::connection_reset), condition::connection_lost);
  EXPECT_NE(make_error_code(errc::network_reset), make_error_code(errc::connection_reset));
  EXPECT_EQ(make_error_code(errc::integrity_error), condition::protocol_error);
  EXPECT_EQ(make_error_code(errc::resume_rejected), condition::authentication);
  EXPECT_EQ(make_error_code(errc::session_not_found), condition::session_lost);
}

TEST(errc, every_code_has_a_message_and_a_condition) {
  for (int value = 1; value <= static_cast<int>(errc::session_closed); ++value) {
    const std::error_code ec(value, lifeline::error_category());
    EXPECT_EQ(ec.message().find("unknown"), std::string::npos) << value;
    EXPECT_NE(lifeline::classify(ec), condition{}) << value;
  }
  EXPECT_STREQ(lifeline::error_category().name(), "lifeline");
}

TEST(errc, survives_conversion_to_boost_system_error_code) {
  const boost::system::error_code ec = make_error_code(errc::network_reset);
  EXPECT_EQ(ec, condition::connection_lost);
  EXPECT_EQ(ec, make_error_code(errc::network_reset));
}

TEST(condition, every_condition_has_a_name_and_advice) {
  for (int value = 1; value <= static_cast<int>(condition::session_lost); ++value) {
    const auto c = static_cast<condition>(value);
    EXPECT_NE(lifeline::to_string(c), "unknown") << value;
    EXPECT_FALSE(lifeline::advice(c).empty()) << value;
    EXPECT_EQ(lifeline::make_error_condition(c).message(), lifeline::to_string(c));
  }
}

}  // namespace
