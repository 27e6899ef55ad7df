// Peers of protocol version 1 meeting this build's version 2 (docs/protocol.md R4, R6), over real
// loopback sockets, the older peer played frame by frame as lifeline 1 sends them: each side is told, in
// the ERROR's text, which versions the other speaks, and the refusal is final (no retries, R19).
#include "support/io.hpp"
#include "support/raw_peer.hpp"
#include "support/session_pair.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session.hpp>
#include <lifeline/wire.hpp>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <string>

namespace {

namespace asio = boost::asio;
namespace wire = lifeline::wire;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using lifeline::errc;
using lifeline::test::frame;
using lifeline::test::loopback;
using lifeline::test::quick_options;
using lifeline::test::quick_server;
using lifeline::test::raw_answer;
using lifeline::test::read_plain_frame;

// Version 1's CLIENT_HELLO and RESUME: magic, version 1, then 16 + 32 or 16 + 32 bytes: 58 bytes each.
std::vector<std::uint8_t> version_1_payload() {
  std::vector<std::uint8_t> p(wire::magic.begin(), wire::magic.end());
  p.push_back(0);
  p.push_back(1);
  p.resize(58, 0x42);
  return p;
}

TEST(protocol_version, a_version_1_client_is_told_which_version_the_server_speaks) {
  asio::io_context io;
  lifeline::session_acceptor acceptor(io.get_executor(), loopback, quick_server());
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    // SERVER_HELLO says 2 to 2, in the layout version 1 reads too.
    tcp::socket s(io);
    co_await s.async_connect(acceptor.local_endpoint(), use_awaitable);
    const auto hello = co_await read_plain_frame(s);
    EXPECT_TRUE(hello);
    if (!hello) co_return;
    wire::server_hello h;
    EXPECT_FALSE(wire::parse(hello->payload, h));
    EXPECT_EQ(h.min_version, 2);
    EXPECT_EQ(h.max_version, 2);

    for (auto type : {wire::frame_type::client_hello, wire::frame_type::resume}) {
      const auto answer = co_await raw_answer(acceptor.local_endpoint(), frame(type, 0, version_1_payload()));
      EXPECT_TRUE(answer);
      if (!answer) co_return;
      EXPECT_EQ(answer->type, wire::frame_type::error);
      EXPECT_EQ(wire::error_from_code(answer->value), errc::unsupported_version);
      EXPECT_EQ(answer->text(), "the client speaks protocol version 1; this server speaks 2 only");
    }
  });
}

TEST(protocol_version, a_version_1_server_is_told_and_the_client_fails_at_once) {
  asio::io_context io;
  tcp::acceptor old_server(io, loopback);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    std::string told;
    int connections = 0;
    auto serve = [&]() -> awaitable<void> {
      // As lifeline 1 does: SERVER_HELLO with versions 1 to 1, then read what the client says.
      auto s = co_await old_server.async_accept(use_awaitable);
      ++connections;
      wire::server_hello h;
      h.min_version = h.max_version = 1;
      co_await asio::async_write(s, asio::buffer(frame(wire::frame_type::server_hello, 0, wire::encode(h))),
                                 use_awaitable);
      if (const auto f = co_await read_plain_frame(s); f && f->type == wire::frame_type::error) {
        EXPECT_EQ(wire::error_from_code(f->value), errc::unsupported_version);
        told = f->text();
      }
    };
    auto connect = [&]() -> awaitable<void> {
      lifeline::session client(io.get_executor(), quick_options());
      auto [ec] = co_await client.async_connect(old_server.local_endpoint(), asio::as_tuple(use_awaitable));
      EXPECT_EQ(ec, errc::unsupported_version) << ec.message();
    };
    co_await (serve() && connect());
    EXPECT_EQ(told, "this client speaks protocol version 2; the server speaks 1 to 1");
    EXPECT_EQ(connections, 1) << "an unsupported version is not retried (R19)";
  });
}

TEST(protocol_version, the_server_logs_why_a_client_turned_it_down) {
  asio::io_context io;
  auto options = quick_server();
  std::vector<std::string> reports;
  options.on_error = [&](const tcp::endpoint&, std::error_code ec, const std::string& text) {
    reports.push_back(ec.message() + ": " + text);
  };
  lifeline::session_acceptor acceptor(io.get_executor(), loopback, options);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    // What a version 1 client answers to SERVER_HELLO 2..2.
    const std::string text = "client speaks version 1";
    const wire::bytes payload(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    co_await raw_answer(
        acceptor.local_endpoint(),
        frame(wire::frame_type::error, wire::error_code_of(errc::unsupported_version), payload));
  });
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(
      reports[0].find("the client refused: client speaks version 1 (this server speaks protocol version 2)"),
      std::string::npos)
      << reports[0];
  EXPECT_EQ(reports[0].find(lifeline::make_error_code(errc::unsupported_version).message()), 0u)
      << reports[0];
}

}  // namespace
