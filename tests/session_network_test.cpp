// The session on a real network that fails: two namespaces joined by a veth pair, the path cut silently
// while a stream flows. The heartbeat must notice within its bound, and the stream must resume whole
// once the path returns. Needs root (CI runs as root).
#include "support/netns.hpp"

#include <lifeline/session.hpp>

#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <atomic>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using lifeline::test::cut_method;
using lifeline::test::test_network;
using side = test_network::side;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto heartbeat_timeout = 1000ms;
// The heartbeat is checked every 20 ms; scheduling on a loaded 2-core machine adds the rest.
constexpr auto tolerance = 500ms;

std::uint8_t pattern(std::uint64_t offset) { return static_cast<std::uint8_t>((offset * 2654435761u) >> 13); }

lifeline::session_options options() {
  lifeline::session_options o;
  o.heartbeat_interval = 250ms;
  o.heartbeat_timeout = heartbeat_timeout;
  o.handshake_timeout = 500ms;
  o.retry.base = 20ms;
  o.retry.cap = 200ms;
  o.retry.deadline = 20s;
  return o;
}

class session_on_test_network : public testing::TestWithParam<cut_method> {};

TEST_P(session_on_test_network, heartbeat_detects_a_silent_cut_within_its_bound_and_the_stream_resumes) {
  LIFELINE_REQUIRE_ROOT();
  test_network net;
  asio::io_context server_io, client_io;
  std::optional<lifeline::session_acceptor> acceptor;
  lifeline::server_options so;
  so.session = options();
  net.run_in(side::peer, [&] {
    acceptor.emplace(server_io.get_executor(),
                     tcp::endpoint(asio::ip::make_address(net.address(side::peer)), 0), so);
  });
  const auto server_ep = acceptor->local_endpoint();

  std::mutex m;
  std::optional<clock_type::time_point> cut_at, reset_at, resumed_at;
  std::error_code reset_cause;
  auto client_options = options();
  client_options.on_event = [&](const lifeline::session_event& e) {
    std::lock_guard lock(m);
    if (e.what == lifeline::session_event::kind::reset && !reset_at) {
      reset_at = clock_type::now();
      reset_cause = e.cause;
    }
    if (e.what == lifeline::session_event::kind::resumed && !resumed_at) resumed_at = clock_type::now();
  };

  const std::uint64_t total = 16u << 20;
  std::atomic<std::uint64_t> received{0}, first_wrong{total};
  std::promise<void> connected;
  std::atomic<bool> client_done{false}, server_done{false}, server_finished{false};
  std::string client_error;

  // The server side reads and checks every byte.
  asio::co_spawn(
      server_io,
      [&]() -> awaitable<void> {
        auto s = co_await acceptor->async_accept(use_awaitable);
        std::vector<std::uint8_t> buffer(64 * 1024);
        std::uint64_t got = 0;
        while (got < total) {
          const auto n = co_await s.async_read_some(asio::buffer(buffer), use_awaitable);
          for (std::size_t i = 0; i < n; ++i) {
            if (buffer[i] != pattern(got + i) && first_wrong == total) first_wrong = got + i;
          }
          got += n;
          received = got;
        }
        // Stay until the client's end of stream, so that its shutdown is acknowledged.
        std::uint8_t byte;
        auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        server_done = ec == asio::error::eof;
        server_finished = true;
      },
      asio::detached);
  std::thread server_thread([&] { server_io.run_for(60s); });

  // The client side lives in the near namespace: every socket it opens, reconnects included, is there.
  std::thread client_thread([&] {
    net.run_in(side::near, [&] {
      lifeline::session client(client_io.get_executor(), client_options);
      asio::co_spawn(
          client_io,
          [&]() -> awaitable<void> {
            co_await client.async_connect(server_ep, use_awaitable);
            connected.set_value();
            std::vector<std::uint8_t> chunk(16 * 1024);
            asio::steady_timer pace(client_io);
            for (std::uint64_t sent = 0; sent < total; sent += chunk.size()) {
              for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern(sent + i);
              co_await asio::async_write(client, asio::buffer(chunk), use_awaitable);
              // About 4 MiB/s: still flowing at the cut, and slow enough that the receiver never falls behind
              // and pauses (R15), which would rightly stop its clocks and blur what this test measures.
              if (sent % (256u << 10) == 0) {
                pace.expires_after(60ms);
                co_await pace.async_wait(use_awaitable);
              }
            }
            co_await client.async_shutdown(use_awaitable);
            client_done = true;
            client_io.stop();
          },
          [&](std::exception_ptr e) {
            if (e) {
              try {
                std::rethrow_exception(e);
              } catch (const std::exception& ex) {
                client_error = ex.what();
              }
              client_io.stop();
            }
          });
      client_io.run_for(60s);
    });
  });

  ASSERT_EQ(connected.get_future().wait_for(10s), std::future_status::ready);
  std::this_thread::sleep_for(500ms);
  net.cut(GetParam());
  {
    std::lock_guard lock(m);
    cut_at = clock_type::now();
  }
  const auto deadline = clock_type::now() + heartbeat_timeout + 3s;
  while (clock_type::now() < deadline) {
    std::lock_guard lock(m);
    if (reset_at) break;
    std::this_thread::sleep_for(10ms);
  }
  const auto at_cut = received.load();
  std::this_thread::sleep_for(300ms);
  net.restore();
  const auto restored_at = clock_type::now();
  client_thread.join();
  // The client's shutdown completes when the server's session has the CLOSE; the server's reader sees
  // its end of stream a moment later, on its own thread: wait for that (bounded) before stopping it.
  for (const auto until = clock_type::now() + 5s; !server_finished && clock_type::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  server_io.stop();
  server_thread.join();

  std::lock_guard lock(m);
  ASSERT_TRUE(reset_at) << "the cut was never detected";
  const auto detection = std::chrono::duration_cast<std::chrono::milliseconds>(*reset_at - *cut_at);
  std::printf(
      "%s: detected after %lld ms (%s; bound %lld ms + %lld ms tolerance); %llu MiB had arrived at the cut\n",
      to_string(GetParam()), static_cast<long long>(detection.count()), reset_cause.message().c_str(),
      static_cast<long long>(heartbeat_timeout.count()), static_cast<long long>(tolerance.count()),
      static_cast<unsigned long long>(at_cut >> 20));
  EXPECT_LE(detection, heartbeat_timeout + tolerance);
  ASSERT_TRUE(resumed_at) << "the session did not resume after the path returned";
  std::printf("resumed %lld ms after the path was restored\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(*resumed_at - restored_at).count()));
  EXPECT_TRUE(client_done) << "the writer never finished: " << client_error;
  EXPECT_TRUE(server_done);
  EXPECT_EQ(received.load(), total);
  EXPECT_EQ(first_wrong.load(), total) << "first wrong byte";
}

INSTANTIATE_TEST_SUITE_P(cuts, session_on_test_network,
                         testing::Values(cut_method::drop_at_peer, cut_method::link_down,
                                         cut_method::blackhole_route),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
