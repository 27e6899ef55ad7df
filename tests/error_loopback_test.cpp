// Errors the operating system really reports on loopback sockets, read through Asio and classified
// into lifeline's conditions. The same source runs on Linux (errno values) and on Windows, under Wine
// in CI (Winsock codes), where it also shows that Asio starts Winsock: the test never calls WSAStartup.
#include <lifeline/error.hpp>

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <cerrno>
#include <chrono>
#include <exception>
#include <string>
#include <tuple>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using lifeline::condition;

// A bound on each test's socket work, not a measure of speed: loopback operations finish at once.
constexpr auto deadline = std::chrono::seconds(10);
constexpr auto with_error = asio::as_tuple(asio::use_awaitable);

// Runs `body(io)` as a coroutine on a fresh io_context until it finishes or the deadline passes, and
// rethrows what it threw. Returns whether it finished.
template <class Body>
bool run_bounded(Body body) {
  asio::io_context io;
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(io, body(io), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
  });
  io.run_for(deadline);
  if (failure) std::rethrow_exception(failure);
  return finished;
}

// The platform's own code for a reset connection and a refused one.
#ifdef _WIN32
constexpr int reset_code = 10054;    // WSAECONNRESET
constexpr int refused_code = 10061;  // WSAECONNREFUSED
#else
constexpr int reset_code = ECONNRESET;
constexpr int refused_code = ECONNREFUSED;
#endif

TEST(loopback_errors, a_round_trip_works_without_the_program_starting_winsock) {
  std::string received;
  ASSERT_TRUE(run_bounded([&](asio::io_context& io) -> asio::awaitable<void> {
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    tcp::socket client(io);
    co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    auto server = co_await acceptor.async_accept(asio::use_awaitable);
    co_await asio::async_write(client, asio::buffer(std::string("ping")), asio::use_awaitable);
    received.resize(4);
    co_await asio::async_read(server, asio::buffer(received), asio::use_awaitable);
  }));
  EXPECT_EQ(received, "ping");
}

TEST(loopback_errors, connecting_to_a_closed_port_is_refused) {
  boost::system::error_code error;
  ASSERT_TRUE(run_bounded([&](asio::io_context& io) -> asio::awaitable<void> {
    tcp::endpoint closed;
    {
      // A port that was just free on loopback, closed again: nothing listens there.
      tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
      closed = acceptor.local_endpoint();
    }
    tcp::socket client(io);
    std::tie(error) = co_await client.async_connect(closed, with_error);
  }));
  EXPECT_EQ(error.value(), refused_code) << error.message();
  const std::error_code ec = error;
  EXPECT_EQ(ec, condition::refused) << ec.category().name() << " " << ec.value();
  EXPECT_EQ(lifeline::classify(ec), condition::refused);
}

TEST(loopback_errors, a_reset_from_the_peer_is_connection_lost_for_reads_and_later_writes) {
  boost::system::error_code read_error, write_error;
  ASSERT_TRUE(run_bounded([&](asio::io_context& io) -> asio::awaitable<void> {
    tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    tcp::socket client(io);
    co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    auto server = co_await acceptor.async_accept(asio::use_awaitable);
    server.set_option(asio::socket_base::linger(true, 0));
    server.close();  // an abortive close: the client receives a reset
    char byte = 0;
    std::tie(read_error, std::ignore) = co_await client.async_read_some(asio::buffer(&byte, 1), with_error);
    std::tie(write_error, std::ignore) =
        co_await asio::async_write(client, asio::buffer(std::string("late")), with_error);
  }));
  // Every outcome is connection_lost. The exact codes differ: Linux fails the read with ECONNRESET
  // and the write with EPIPE or ECONNRESET. Windows documents WSAECONNRESET for both; Wine 8 ends the
  // read as end-of-file instead (Asio's eof, also connection_lost) and fails the write with
  // WSAECONNRESET (docs/windows.md).
#ifdef _WIN32
  EXPECT_EQ(write_error.value(), reset_code) << write_error.message();
#else
  EXPECT_EQ(read_error.value(), reset_code) << read_error.message();
#endif
  const std::error_code read_ec = read_error;
  EXPECT_EQ(read_ec, condition::connection_lost) << read_ec.category().name() << " " << read_ec.value();
  const std::error_code write_ec = write_error;
  ASSERT_TRUE(write_ec) << "a write after the reset succeeded";
  EXPECT_EQ(write_ec, condition::connection_lost) << write_ec.category().name() << " " << write_ec.value();
}

}  // namespace
