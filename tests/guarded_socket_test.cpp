// guarded_socket over real loopback connections: data flows, an orderly close stays an orderly close,
// a reset latches (pending operations: network_reset; later ones: connection_reset), and cancelling
// or destroying it behaves like a plain socket.
#include <lifeline/guarded_socket.hpp>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct loopback_pair {
  tcp::socket local;
  tcp::socket peer;
};

loopback_pair connect_loopback(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  tcp::socket local(io);
  local.connect(acceptor.local_endpoint());
  tcp::socket peer = acceptor.accept();
  return {std::move(local), std::move(peer)};
}

struct outcome {
  std::optional<boost::system::error_code> ec;
  std::size_t bytes = 0;
  auto handler() {
    return [this](boost::system::error_code e, std::size_t n) {
      ec = e;
      bytes = n;
    };
  }
};

TEST(guarded_socket, carries_data_both_ways_under_async_read_and_write) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  ASSERT_FALSE(guarded.set_options(lifeline::matched_options(5s, 1s, 3)));

  const std::string request = "ping over a guarded socket";
  outcome wrote;
  asio::async_write(guarded, asio::buffer(request), wrote.handler());
  std::string echoed(request.size(), '\0');
  outcome read;
  asio::async_read(guarded, asio::buffer(echoed), read.handler());
  std::string received(request.size(), '\0');
  asio::read(pair.peer, asio::buffer(received));
  asio::write(pair.peer, asio::buffer(received));
  io.run_for(5s);

  ASSERT_TRUE(wrote.ec && read.ec);
  EXPECT_FALSE(*wrote.ec);
  EXPECT_FALSE(*read.ec) << read.ec->message();
  EXPECT_EQ(received, request);
  EXPECT_EQ(echoed, request);
  EXPECT_FALSE(guarded.failed());
}

TEST(guarded_socket, an_orderly_close_is_end_of_file_not_a_failure) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  std::array<char, 16> buffer{};
  outcome read;
  guarded.async_read_some(asio::buffer(buffer), read.handler());
  pair.peer.shutdown(tcp::socket::shutdown_send);
  io.run_for(5s);
  ASSERT_TRUE(read.ec);
  EXPECT_EQ(*read.ec, asio::error::eof);
  EXPECT_FALSE(guarded.failed());
}

TEST(guarded_socket,
     a_reset_fails_pending_operations_with_network_reset_and_later_ones_with_connection_reset) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  std::array<char, 16> buffer{};
  outcome pending;
  guarded.async_read_some(asio::buffer(buffer), pending.handler());
  pair.peer.set_option(asio::socket_base::linger(true, 0));  // close() now sends RST
  pair.peer.close();
  io.run_for(5s);
  io.restart();

  ASSERT_TRUE(pending.ec);
  EXPECT_EQ(*pending.ec, lifeline::errc::network_reset) << pending.ec->message();
  EXPECT_EQ(*pending.ec, lifeline::condition::connection_lost);
  EXPECT_TRUE(guarded.failed());
  EXPECT_EQ(guarded.cause(), std::errc::connection_reset);
  EXPECT_FALSE(guarded.detected_by_deadline());

  outcome later_read, later_write;
  guarded.async_read_some(asio::buffer(buffer), later_read.handler());
  guarded.async_write_some(asio::buffer("x", 1), later_write.handler());
  EXPECT_FALSE(later_read.ec) << "completed inside the initiating call";
  io.run_for(5s);
  ASSERT_TRUE(later_read.ec && later_write.ec);
  EXPECT_EQ(*later_read.ec, lifeline::errc::connection_reset);
  EXPECT_EQ(*later_write.ec, lifeline::errc::connection_reset);
  EXPECT_EQ(*later_write.ec, lifeline::condition::connection_lost);
}

TEST(guarded_socket, a_write_into_a_reset_connection_latches_the_failure) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  pair.peer.set_option(asio::socket_base::linger(true, 0));
  pair.peer.close();  // on loopback the RST has arrived when close() returns
  outcome wrote;
  guarded.async_write_some(asio::buffer("x", 1), wrote.handler());
  io.run_for(5s);
  ASSERT_TRUE(wrote.ec);
  EXPECT_EQ(*wrote.ec, lifeline::errc::network_reset) << wrote.ec->message();
  EXPECT_EQ(guarded.cause(), std::errc::connection_reset);
}

// Linux gives the error to one call only; the other sees end-of-file or EPIPE. Both must report the
// failure, not an orderly close.
TEST(guarded_socket, both_pending_operations_report_the_failure_one_error_between_them) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  // Fill the send buffer (the peer never reads) so that the next write stays pending.
  guarded.next_layer().non_blocking(true);
  const std::string chunk(64 * 1024, 'x');
  boost::system::error_code fill;
  std::size_t filled = 0;
  while (!fill && filled < (256u << 20)) filled += guarded.next_layer().write_some(asio::buffer(chunk), fill);
  ASSERT_EQ(fill, asio::error::would_block) << "the send buffer did not fill: " << fill.message();

  std::array<char, 16> buffer{};
  outcome read, wrote;
  guarded.async_read_some(asio::buffer(buffer), read.handler());
  guarded.async_write_some(asio::buffer(chunk), wrote.handler());
  io.poll();
  ASSERT_FALSE(read.ec || wrote.ec) << "an operation completed before the reset";
  pair.peer.set_option(asio::socket_base::linger(true, 0));
  pair.peer.close();
  io.run_for(5s);
  ASSERT_TRUE(read.ec && wrote.ec);
  EXPECT_EQ(*read.ec, lifeline::errc::network_reset) << read.ec->message();
  EXPECT_EQ(*wrote.ec, lifeline::errc::network_reset) << wrote.ec->message();
  EXPECT_EQ(guarded.cause(), std::errc::connection_reset);
}

// The same rule when the error went to a call outside the wrapper: the pending read then sees only
// end-of-file on a connection the kernel has torn down, which is not an orderly close.
TEST(guarded_socket, end_of_file_on_a_torn_down_connection_is_a_failure) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  std::array<char, 16> buffer{};
  outcome read;
  guarded.async_read_some(asio::buffer(buffer), read.handler());
  io.poll();
  pair.peer.set_option(asio::socket_base::linger(true, 0));
  pair.peer.close();
  boost::system::error_code consumed;
  guarded.next_layer().write_some(asio::buffer("x", 1), consumed);  // takes the ECONNRESET
  ASSERT_EQ(consumed, asio::error::connection_reset);
  io.run_for(5s);
  ASSERT_TRUE(read.ec);
  EXPECT_EQ(*read.ec, lifeline::errc::network_reset) << read.ec->message();
  EXPECT_TRUE(guarded.failed());
}

TEST(guarded_socket, cancelling_is_not_a_failure) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  lifeline::guarded_socket guarded(std::move(pair.local));
  ASSERT_FALSE(guarded.set_options(lifeline::matched_options(5s, 1s, 3)));
  std::array<char, 16> buffer{};
  outcome read;
  guarded.async_read_some(asio::buffer(buffer), read.handler());
  asio::post(io, [&] { guarded.next_layer().cancel(); });
  io.run_for(5s);
  ASSERT_TRUE(read.ec);
  EXPECT_EQ(*read.ec, asio::error::operation_aborted);
  EXPECT_FALSE(guarded.failed());
}

TEST(guarded_socket, destroying_it_aborts_pending_operations_and_its_deadline) {
  asio::io_context io;
  auto pair = connect_loopback(io);
  std::array<char, 16> buffer{};
  outcome read;
  {
    lifeline::guarded_socket guarded(std::move(pair.local));
    ASSERT_FALSE(guarded.set_options(lifeline::matched_options(5s, 1s, 3)));
    guarded.async_read_some(asio::buffer(buffer), read.handler());
  }
  const auto started = std::chrono::steady_clock::now();
  io.run_for(10s);
  ASSERT_TRUE(read.ec);
  EXPECT_EQ(*read.ec, asio::error::operation_aborted);
  // run_for returned because no work was left, not because the 10 s passed: the deadline was
  // cancelled with its owner. (Not a speed assertion: any leftover timer would hold it for 6.5 s.)
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
}

}  // namespace
