// The session over an in-memory pipe (tests/support/pipe_stream.hpp) rather than TCP: the transport
// interface under it (include/lifeline/byte_stream.hpp) carries the protocol unchanged, and faults made
// to order (a reset at a chosen byte, a flipped byte, a black hole) give the same guarantees as on real
// sockets: every byte once and in order, nothing forged delivered, a dead link found within the bound.
#include "support/io.hpp"
#include "support/pipe_stream.hpp"
#include "support/session_pair.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace lifeline;
using namespace lifeline::test;
using namespace std::chrono_literals;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

// A client and a server session whose every connection is a new in-memory pipe, handed to the acceptor.
struct pipe_pair : pair_fixture {
  explicit pipe_pair(session_options client_options = quick_options(), server_options server = quick_server())
      : pair_fixture(with_dialer(std::move(client_options)), std::move(server)) {}

  std::vector<std::shared_ptr<pipe_link>> links;
  int dials = 0;

  pipe_link& current() { return *links.back(); }

  // A pipe's pending operations live outside the io_context, holding the sessions' coroutines, which
  // hold the pipe: reset every link and let the operations complete, as destroying the io_context
  // destroys a socket's.
  ~pipe_pair() {
    for (auto& link : links) link->reset();
    client.close();
    if (server) server->close();
    io.restart();
    io.run_for(std::chrono::milliseconds(200));
  }

 private:
  session_options with_dialer(session_options o) {
    o.dial = [this](const asio::ip::tcp::endpoint&, dial_handler handler) {
      ++dials;
      auto [client_end, server_end] = pipe_link::make(io.get_executor(), acceptor.get_executor());
      links.push_back(client_end->link());
      acceptor.adopt(std::move(server_end));
      asio::post(io, asio::append(std::move(handler), boost::system::error_code(),
                                  std::unique_ptr<byte_stream>(std::move(client_end))));
    };
    return o;
  }
};

// Sends `total` bytes each way at once on a connected pair and checks both streams: the offset of the
// first wrong byte, or total.
asio::awaitable<std::tuple<std::uint64_t, std::uint64_t>> exchange(pipe_pair& p, std::uint64_t total) {
  co_return co_await ((send_stream(p.client, total, 1, 11) && send_stream(*p.server, total, 2, 12)) &&
                      (receive_stream(*p.server, total, 1) && receive_stream(p.client, total, 2)));
}

TEST(session_pipe, a_session_carries_both_streams_over_an_in_memory_pipe) {
  pipe_pair p;
  std::tuple<std::uint64_t, std::uint64_t> got;
  run_bounded(p.io, [&]() -> asio::awaitable<void> {
    co_await p.connect();
    got = co_await exchange(p, 4u << 20);
  });
  EXPECT_EQ(std::get<0>(got), 4u << 20) << "first wrong byte client to server";
  EXPECT_EQ(std::get<1>(got), 4u << 20) << "first wrong byte server to client";
  EXPECT_EQ(p.dials, 1);
  EXPECT_EQ(p.client.stats().resets, 0u);
}

TEST(session_pipe, resets_of_the_pipe_in_mid_stream_lose_and_repeat_no_byte) {
  pipe_pair p;
  constexpr std::uint64_t total = 16u << 20;
  std::tuple<std::uint64_t, std::uint64_t> got;
  int resets = 0;
  run_bounded(p.io, [&]() -> asio::awaitable<void> {
    co_await p.connect();
    bool done = false;
    auto faults = [&]() -> asio::awaitable<void> {
      asio::steady_timer t(p.io);
      // A reset of whichever pipe is current after each MiB the two streams deliver: in bytes, not in
      // time, so that a slow (loaded, sanitized) run gets as many resets and still makes progress.
      std::uint64_t last = 0;
      while (!done) {
        t.expires_after(2ms);
        co_await t.async_wait(asio::use_awaitable);
        const auto delivered = p.client.stats().bytes_read + p.server->stats().bytes_read;
        if (done || delivered < last + (1u << 20)) continue;
        last = delivered;
        p.current().reset();
        ++resets;
      }
    };
    auto transfer = [&]() -> asio::awaitable<void> {
      got = co_await exchange(p, total);
      done = true;
    };
    co_await (transfer() && faults());
  });
  EXPECT_EQ(std::get<0>(got), total) << "first wrong byte client to server";
  EXPECT_EQ(std::get<1>(got), total) << "first wrong byte server to client";
  EXPECT_GT(resets, 3);
  EXPECT_GT(p.client.stats().resumes, 0u);
  EXPECT_GE(p.dials, 1 + static_cast<int>(p.client.stats().resumes));  // resets hit handshakes too
}

TEST(session_pipe, a_flipped_byte_is_never_delivered_and_the_stream_resumes_whole) {
  pipe_pair p;
  constexpr std::uint64_t total = 1u << 20;
  std::tuple<std::uint64_t, std::uint64_t> got;
  run_bounded(p.io, [&]() -> asio::awaitable<void> {
    co_await p.connect();
    p.current().corrupt_after(100000);  // a byte of the client's DATA, past the handshake
    got = co_await exchange(p, total);
  });
  // receive_stream stops at the first wrong byte: the flipped one never reached the application.
  EXPECT_EQ(std::get<0>(got), total);
  EXPECT_EQ(std::get<1>(got), total);
  EXPECT_EQ(p.server->stats().frames_rejected, 1u);
  EXPECT_EQ(p.client.stats().resumes, 1u);
}

TEST(session_pipe, a_black_holed_pipe_is_found_dead_within_the_heartbeat_timeout_and_resumed) {
  auto options = quick_options();
  options.heartbeat_interval = 100ms;
  options.heartbeat_timeout = 400ms;
  auto server = quick_server();
  server.session.heartbeat_interval = options.heartbeat_interval;
  server.session.heartbeat_timeout = options.heartbeat_timeout;
  std::optional<std::chrono::steady_clock::time_point> reset_at;
  options.on_event = [&](const session_event& e) {
    if (e.what == session_event::kind::reset && !reset_at) reset_at = std::chrono::steady_clock::now();
  };
  pipe_pair p(options, server);
  std::tuple<std::uint64_t, std::uint64_t> got;
  std::chrono::steady_clock::time_point cut_at;
  run_bounded(p.io, [&]() -> asio::awaitable<void> {
    co_await p.connect();
    cut_at = std::chrono::steady_clock::now();
    p.current().black_hole();  // nothing fails; only silence says the link is dead
    got = co_await exchange(p, 1u << 20);
  });
  EXPECT_EQ(std::get<0>(got), 1u << 20);
  EXPECT_EQ(std::get<1>(got), 1u << 20);
  ASSERT_TRUE(reset_at);
  // R16: silence for the timeout, plus at most a heartbeat interval of the liveness check's sleep.
  EXPECT_LE(*reset_at - cut_at, options.heartbeat_timeout + options.heartbeat_interval + 100ms);
  EXPECT_GE(*reset_at - cut_at, options.heartbeat_timeout - options.heartbeat_interval);  // not early
}

}  // namespace
