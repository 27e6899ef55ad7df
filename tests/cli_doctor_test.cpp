// `lifeline doctor`, run as a user runs it: against a listener on loopback, across the test network
// with the path cut, and with bad arguments.
#include "support/netns.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include <future>
#include <optional>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using lifeline::test::cli;
using lifeline::test::run;
using lifeline::test::test_network;
using side = test_network::side;

boost::json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << text;
    return {};
  }
  return value.as_object();
}

const boost::json::object* find_finding(const boost::json::object& report, std::string_view check) {
  for (const auto& f : report.at("findings").as_array()) {
    if (f.at("check").as_string() == check) return &f.as_object();
  }
  return nullptr;
}

/// Accepts one connection with a deadline; the socket, or nothing.
std::optional<tcp::socket> accept_one(asio::io_context& io, tcp::acceptor& acceptor,
                                      std::chrono::seconds within) {
  tcp::socket socket(io);
  std::optional<boost::system::error_code> accepted;
  acceptor.async_accept(socket, [&](boost::system::error_code ec) { accepted = ec; });
  io.run_for(within);
  io.restart();
  if (!accepted || *accepted) {
    acceptor.cancel();
    io.run_for(1s);
    io.restart();
    return std::nullopt;
  }
  return socket;
}

TEST(cli_doctor, reports_a_healthy_loopback_listener_as_json) {
  asio::io_context io;
  tcp::acceptor listener(io, {asio::ip::address_v4::loopback(), 0});
  const auto port = std::to_string(listener.local_endpoint().port());
  const auto result = run(cli("doctor --json 127.0.0.1:" + port + " --idle 3 --interval 1 --probes 4"));
  ASSERT_EQ(result.status, 0) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_EQ(report.at("target").as_string(), "127.0.0.1:" + port);
  EXPECT_EQ(report.at("connected_to").as_string(), "127.0.0.1:" + port);
  EXPECT_TRUE(report.at("connect_error").is_null());
  EXPECT_GE(report.at("connect_time_us").as_int64(), 0);
  EXPECT_TRUE(report.at("healthy").as_bool());
  const auto& options = report.at("options").as_object();
  EXPECT_EQ(options.at("idle_s").as_int64(), 3);
  EXPECT_EQ(options.at("user_timeout_ms").as_int64(), 7000);  // matched: 3 + 1 x 4 s
  EXPECT_EQ(options.at("bound_ms").as_int64(), 8500);
  const auto& descriptors = report.at("descriptors").as_object();
  EXPECT_TRUE(descriptors.at("in_use").is_int64() || descriptors.at("in_use").is_uint64());
  const auto& system = report.at("system_keepalive").as_object();
  EXPECT_GE(system.at("idle_s").as_int64(), 1);
  EXPECT_GE(system.at("probes").as_int64(), 1);
  const auto* connect = find_finding(report, "connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->at("level").as_string(), "ok");
  for (const char* check : {"descriptors", "keepalive_defaults", "resolve", "options"}) {
    EXPECT_NE(find_finding(report, check), nullptr) << check;
  }
}

TEST(cli_doctor, text_output_names_each_check_and_resolves_localhost) {
  asio::io_context io;
  tcp::acceptor listener(io, {asio::ip::address_v4::loopback(), 0});
  const auto port = std::to_string(listener.local_endpoint().port());
  const auto result = run(cli("doctor localhost:" + port + " 2>&1"));
  ASSERT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("connected to 127.0.0.1:" + port), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("a dead peer is found within 21.5 s"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("no problems found"), std::string::npos);
}

TEST(cli_doctor, a_closed_port_is_a_problem_with_advice) {
  asio::io_context io;
  std::string port;
  {
    tcp::acceptor closed(io, {asio::ip::address_v4::loopback(), 0});
    port = std::to_string(closed.local_endpoint().port());
  }
  const auto result = run(cli("doctor --json 127.0.0.1:" + port));
  EXPECT_EQ(result.status, 1) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_FALSE(report.at("healthy").as_bool());
  EXPECT_EQ(report.at("connect_error").at("condition").as_string(), "refused");
  const auto* connect = find_finding(report, "connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->at("level").as_string(), "problem");
  EXPECT_FALSE(connect->at("advice").as_string().empty());
}

TEST(cli_doctor, options_the_os_rejects_are_reported_not_ignored) {
  asio::io_context io;
  tcp::acceptor listener(io, {asio::ip::address_v4::loopback(), 0});
  const auto port = std::to_string(listener.local_endpoint().port());
  // 40000 s is within lifeline's range but above Linux's 32767 s.
  const auto result = run(cli("doctor --json 127.0.0.1:" + port + " --idle 40000"));
  EXPECT_EQ(result.status, 1) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_EQ(report.at("options_error").at("message").as_string(), "Invalid argument");
  const auto* options = find_finding(report, "options");
  ASSERT_NE(options, nullptr);
  EXPECT_EQ(options->at("level").as_string(), "problem");
}

TEST(cli_doctor, bad_arguments_exit_2_with_a_precise_message) {
  struct bad_case {
    const char* arguments;
    const char* says;
  };
  const bad_case cases[] = {
      {"foo", "expected HOST:PORT"},
      {":80", "the host is empty"},
      {"host:", "the port must be a number from 1 to 65535"},
      {"host:0", "the port must be a number from 1 to 65535"},
      {"host:65536", "the port must be a number from 1 to 65535"},
      {"host:12x", "the port must be a number from 1 to 65535"},
      {"[::1", "'[' without ']'"},
      {"[::1]80", "expected ':PORT' after ']'"},
      {"::1:80", "write an IPv6 address in brackets"},
      {"'bad host:80'", "characters a host name cannot"},
      {"host:80 --probes 0", "--probes"},
      {"host:80 --idle 0", "--idle"},
      {"host:80 --interval 99999999", "--interval"},
      {"host:80 --user-timeout -5", "--user-timeout"},
      {"host:80 --watch-for 0", "--watch-for"},
      {"host:80 --timeout 0", "--timeout"},
      {"", "target is required"},
  };
  for (const auto& c : cases) {
    const auto result = run(cli(std::string("doctor ") + c.arguments + " 2>&1"));
    EXPECT_EQ(result.status, 2) << c.arguments << ": " << result.out;
    EXPECT_NE(result.out.find(c.says), std::string::npos) << c.arguments << ": " << result.out;
  }
}

TEST(cli_doctor, watch_reports_a_peer_that_closes_in_order) {
  asio::io_context io;
  tcp::acceptor listener(io, {asio::ip::address_v4::loopback(), 0});
  const auto port = std::to_string(listener.local_endpoint().port());
  auto watching = std::async(
      std::launch::async, [&] { return run(cli("doctor --json --watch --watch-for 30 127.0.0.1:" + port)); });
  auto peer = accept_one(io, listener, 10s);
  ASSERT_TRUE(peer) << "the doctor did not connect";
  peer->shutdown(tcp::socket::shutdown_both);
  peer->close();
  const auto result = watching.get();
  EXPECT_EQ(result.status, 1) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_EQ(report.at("outcome").as_string(), "closed_by_peer");
  EXPECT_TRUE(report.at("error").is_null());
}

TEST(cli_doctor, watch_ends_alive_when_its_time_is_up) {
  asio::io_context io;
  tcp::acceptor listener(io, {asio::ip::address_v4::loopback(), 0});
  const auto port = std::to_string(listener.local_endpoint().port());
  const auto result = run(cli("doctor --watch --watch-for 1 127.0.0.1:" + port));
  EXPECT_EQ(result.status, 0) << result.out;
  EXPECT_NE(result.out.find("still alive after"), std::string::npos) << result.out;
}

// The seed's scenario end to end: the doctor holds an idle connection across the test network, the
// peer goes silent, and the doctor reports the failure and how long finding it took.
TEST(cli_doctor_network, watch_reports_a_silent_peer_within_the_bound) {
  LIFELINE_REQUIRE_ROOT();
  test_network net;
  asio::io_context io;
  tcp::acceptor listener(io);
  net.run_in(side::peer, [&] {
    listener.open(tcp::v4());
    listener.bind({asio::ip::make_address_v4(net.address(side::peer)), 0});
    listener.listen();
  });
  const auto target = net.address(side::peer) + ":" + std::to_string(listener.local_endpoint().port());
  auto watching = std::async(std::launch::async, [&] {
    return run("ip netns exec " + net.name(side::near) + " " +
               cli("doctor --json --watch --watch-for 30 --idle 1 --interval 1 --probes 2 " + target));
  });
  auto peer = accept_one(io, listener, 10s);
  ASSERT_TRUE(peer) << "the doctor did not connect";
  net.cut(lifeline::test::cut_method::drop_at_peer);
  const auto result = watching.get();
  EXPECT_EQ(result.status, 1) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_EQ(report.at("outcome").as_string(), "lost") << result.out;
  EXPECT_EQ(report.at("error").at("category").as_string(), "lifeline");
  EXPECT_EQ(report.at("error").at("value").as_int64(), 1);  // network_reset
  EXPECT_EQ(report.at("error").at("condition").as_string(), "connection_lost");
  EXPECT_EQ(report.at("bound_ms").as_int64(), 4500);
  ASSERT_TRUE(report.at("detection_ms").is_int64()) << result.out;
  const auto detection = report.at("detection_ms").as_int64();
  std::printf("doctor --watch: detected after %lld ms of silence (bound 4500 ms), by %s\n",
              static_cast<long long>(detection), report.at("detected_by").as_string().c_str());
  EXPECT_GE(detection, 3000);        // not before keep-alive could know: 1 s + 2 x 1 s
  EXPECT_LE(detection, 4500 + 500);  // the bound, plus the tests' stated scheduling tolerance
}

TEST(cli_doctor_network, a_silent_path_times_out_the_connect_within_its_deadline) {
  LIFELINE_REQUIRE_ROOT();
  test_network net;
  asio::io_context io;
  tcp::acceptor listener(io);
  net.run_in(side::peer, [&] {
    listener.open(tcp::v4());
    listener.bind({asio::ip::make_address_v4(net.address(side::peer)), 0});
    listener.listen();
  });
  net.cut(lifeline::test::cut_method::drop_at_peer);
  const auto target = net.address(side::peer) + ":" + std::to_string(listener.local_endpoint().port());
  const auto result =
      run("ip netns exec " + net.name(side::near) + " " + cli("doctor --json --timeout 1000 " + target));
  EXPECT_EQ(result.status, 1) << result.out;
  const auto report = parse_object(result.out);
  EXPECT_EQ(report.at("connect_error").at("message").as_string(), "Connection timed out") << result.out;
  const auto* connect = find_finding(report, "connect");
  ASSERT_NE(connect, nullptr);
  EXPECT_EQ(connect->at("level").as_string(), "problem");
}

}  // namespace
