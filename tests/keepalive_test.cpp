// keepalive_options: the bound they imply, their validation, and applying them to a real socket on
// loopback, including options the OS itself rejects.
#include <lifeline/keepalive.hpp>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include <cerrno>

namespace {

using namespace std::chrono_literals;
using lifeline::keepalive_options;

TEST(keepalive_options, defaults_find_a_dead_peer_within_twenty_seconds_plus_grace) {
  const keepalive_options o;
  EXPECT_EQ(o.idle_detection(), 20s);  // 10 s idle + 5 probes x 2 s
  EXPECT_EQ(o.user_timeout, 20s);      // matches, so data in flight is bounded alike
  EXPECT_EQ(o.os_bound(), 20s);
  EXPECT_EQ(o.bound(), 21500ms);
  EXPECT_FALSE(lifeline::validate(o));
}

TEST(keepalive_options, without_user_timeout_keepalive_counts_its_probes) {
  keepalive_options o;
  o.idle = 7s;
  o.interval = 3s;
  o.probes = 4;
  o.user_timeout = 0ms;
  o.grace = 500ms;
  EXPECT_EQ(o.idle_detection(), 19s);
  EXPECT_EQ(o.os_bound(), 19s);
  EXPECT_EQ(o.bound(), 19500ms);
}

TEST(keepalive_options, a_short_user_timeout_ends_keepalive_after_its_first_probe) {
  keepalive_options o;
  o.idle = 10s;
  o.interval = 5s;
  o.probes = 9;
  o.user_timeout = 2s;
  EXPECT_EQ(o.idle_detection(), 15s);  // Linux checks the user timeout only once a probe is out
  EXPECT_EQ(o.os_bound(), 15s);
}

TEST(keepalive_options, a_long_user_timeout_keeps_probing_past_the_probe_count) {
  keepalive_options o;
  o.idle = 2s;
  o.interval = 3s;
  o.probes = 1;
  o.user_timeout = 10s;
  EXPECT_EQ(o.idle_detection(), 11s);  // first probe tick at or after 10 s: 2 + 3 x 3
  EXPECT_EQ(o.os_bound(), 11s);
  o.user_timeout = 30s;
  o.interval = 1s;
  EXPECT_EQ(o.idle_detection(), 30s);
  EXPECT_EQ(o.os_bound(), 30s);
}

TEST(keepalive_options, matched_options_bound_data_in_flight_like_idle) {
  const auto o = lifeline::matched_options(1s, 1s, 2);
  EXPECT_EQ(o.user_timeout, 3s);
  EXPECT_EQ(o.idle_detection(), 3s);
  EXPECT_EQ(o.bound(), 4500ms);
}

TEST(keepalive_options, validate_names_the_value_out_of_range) {
  struct bad_case {
    keepalive_options options;
    const char* mentions;
  };
  std::vector<bad_case> cases;
  auto with = [](auto change) {
    keepalive_options o;
    change(o);
    return o;
  };
  cases.push_back({with([](auto& o) { o.idle = 0s; }), "idle"});
  cases.push_back({with([](auto& o) { o.idle = 86401s; }), "idle"});
  cases.push_back({with([](auto& o) { o.interval = 0s; }), "interval"});
  cases.push_back({with([](auto& o) { o.probes = 0; }), "probe"});
  cases.push_back({with([](auto& o) { o.probes = 256; }), "probe"});
  cases.push_back({with([](auto& o) { o.user_timeout = -1ms; }), "user timeout"});
  cases.push_back({with([](auto& o) { o.grace = 3601s; }), "grace"});
  for (const auto& c : cases) {
    std::string detail;
    const auto ec = lifeline::validate(c.options, &detail);
    EXPECT_EQ(ec, lifeline::errc::invalid_argument) << c.mentions;
    EXPECT_EQ(ec, lifeline::condition::caller_bug);
    EXPECT_NE(detail.find(c.mentions), std::string::npos) << detail;
  }
}

TEST(keepalive_apply, the_socket_holds_what_was_applied) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io, boost::asio::ip::tcp::v4());
  keepalive_options o;
  o.idle = 7s;
  o.interval = 3s;
  o.probes = 4;
  o.user_timeout = 4321ms;
  std::error_code os_error;
  lifeline::keepalive_effect effect;
  ASSERT_FALSE(lifeline::apply(socket, o, os_error, effect)) << os_error.message();
  keepalive_options held;
  held.idle = held.interval = 0s;
  held.probes = 0;
  held.user_timeout = 0ms;
  bool enabled = false;
  ASSERT_FALSE(lifeline::read_back(socket, held, enabled));
  EXPECT_TRUE(enabled);
#ifdef _WIN32
  if (effect.probes != o.probes) {
    // SIO_KEEPALIVE_VALS (older Windows, Wine): ten probes, spaced so that the OS gives up after
    // 7 s + 4 x 3 s all the same. Windows cannot report what the ioctl set, so nothing is read back.
    EXPECT_EQ(effect.probes, 10);
    EXPECT_EQ(effect.interval, 1200ms);
    EXPECT_EQ(held.idle, 0s);
    EXPECT_EQ(held.probes, 0);
    // Wine has no TCP_MAXRT; Windows rounds it up to whole seconds.
    if (effect.user_timeout_held) {
      EXPECT_EQ(held.user_timeout, 5s);
    }
    return;
  }
  EXPECT_EQ(effect.interval, 3s);
  EXPECT_TRUE(effect.user_timeout_held);
  EXPECT_EQ(held.idle, 7s);
  EXPECT_EQ(held.interval, 3s);
  EXPECT_EQ(held.probes, 4);
  EXPECT_EQ(held.user_timeout, 5s);
#else
  EXPECT_EQ(effect.interval, 3s);
  EXPECT_EQ(effect.probes, 4);
  EXPECT_TRUE(effect.user_timeout_held);
  EXPECT_EQ(held.idle, 7s);
  EXPECT_EQ(held.interval, 3s);
  EXPECT_EQ(held.probes, 4);
  EXPECT_EQ(held.user_timeout, 4321ms);
#endif
}

TEST(keepalive_apply, an_option_the_os_rejects_is_an_error) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io, boost::asio::ip::tcp::v4());
  // Valid for lifeline (some systems take them) but above Linux's limits: 32767 s and 127 probes.
  keepalive_options idle_too_long;
  idle_too_long.idle = 40000s;
  std::error_code os_error;
  lifeline::keepalive_effect effect;
#ifdef _WIN32
  // Windows may take 40000 s; Wine hands the ioctl to Linux, which refuses it. Either the socket
  // holds the value or the call fails with the OS's error, never silence.
  const auto ec = lifeline::apply(socket, idle_too_long, os_error, effect);
  if (!ec) {
    keepalive_options held;
    held.idle = 0s;
    bool enabled = false;
    ASSERT_FALSE(lifeline::read_back(socket, held, enabled));
    ASSERT_EQ(effect.probes, idle_too_long.probes) << "accepted by the ioctl, which cannot be read back";
    EXPECT_EQ(held.idle, 40000s);
    return;
  }
  EXPECT_EQ(ec, lifeline::errc::option_rejected);
  EXPECT_EQ(ec, lifeline::condition::unsupported);
  EXPECT_EQ(os_error.value(), 10022) << os_error.message();  // WSAEINVAL
  EXPECT_EQ(os_error, lifeline::condition::caller_bug);
#else
  EXPECT_EQ(lifeline::apply(socket, idle_too_long, os_error), lifeline::errc::option_rejected);
  EXPECT_EQ(os_error, std::errc::invalid_argument) << os_error.message();

  keepalive_options too_many_probes;
  too_many_probes.probes = 200;
  EXPECT_EQ(lifeline::apply(socket, too_many_probes, os_error), lifeline::errc::option_rejected);
  EXPECT_EQ(os_error.value(), EINVAL);
  EXPECT_EQ(lifeline::apply(socket, too_many_probes), lifeline::condition::unsupported);
#endif
}

TEST(keepalive_apply, invalid_options_and_closed_sockets_are_refused) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  EXPECT_TRUE(lifeline::apply(socket, keepalive_options{}));  // not open
  socket.open(boost::asio::ip::tcp::v4());
  keepalive_options bad;
  bad.probes = 0;
  EXPECT_EQ(lifeline::apply(socket, bad), lifeline::errc::invalid_argument);
}

}  // namespace
