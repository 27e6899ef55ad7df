// The session on a real network that fails: two namespaces joined by a veth pair, the path cut silently
// while a stream flows. The heartbeat must notice within its bound, and the stream must resume whole
// once the path returns. Needs root (CI runs as root).
#include "support/netns.hpp"

#include <lifeline/server.hpp>
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

// How the receiving application reads.
enum class reader {
  keeps_up,  ///< as fast as the paced writer sends
  slow,      ///< slower than the writer until the cut is found: its receive buffer fills and it pauses (R15)
};

struct detection {
  std::optional<clock_type::time_point> at;
  std::error_code cause;
};

// Streams 16 MiB from a client in the near namespace to a server in the peer namespace, cuts the path
// while it flows, and checks that both ends find the cut within the heartbeat timeout, resume once the
// path returns, and deliver every byte once and in order.
void cut_while_streaming(cut_method method, reader pace) {
  test_network net;
  asio::io_context server_io, client_io;
  std::optional<lifeline::session_acceptor> acceptor;
  std::mutex m;
  std::optional<clock_type::time_point> cut_at, resumed_at;
  detection client_found, server_found;
  const auto on_reset = [&](detection& d) {
    return [&m, &d, &resumed_at](const lifeline::session_event& e) {
      std::lock_guard lock(m);
      if (e.what == lifeline::session_event::kind::reset && !d.at) d = {clock_type::now(), e.cause};
      if (e.what == lifeline::session_event::kind::resumed && !resumed_at) resumed_at = clock_type::now();
    };
  };
  lifeline::server_options so;
  so.session = options();
  // The least receive buffer R15 allows, so that a slow reader pauses within the first second.
  if (pace == reader::slow) so.session.receive_capacity = 1u << 20;
  so.session.on_event = on_reset(server_found);
  net.run_in(side::peer, [&] {
    acceptor.emplace(server_io.get_executor(),
                     tcp::endpoint(asio::ip::make_address(net.address(side::peer)), 0), so);
  });
  const auto server_ep = acceptor->local_endpoint();
  auto client_options = options();
  client_options.on_event = on_reset(client_found);

  const std::uint64_t total = 16u << 20;
  std::atomic<std::uint64_t> written{0}, received{0}, first_wrong{total};
  std::atomic<bool> slow{pace == reader::slow};
  std::promise<void> connected;
  std::atomic<bool> client_done{false}, server_done{false}, server_finished{false};
  std::string client_error;

  // The server side reads and checks every byte; a slow reader takes 16 KiB every 10 ms (1.6 MiB/s).
  asio::co_spawn(
      server_io,
      [&]() -> awaitable<void> {
        auto s = co_await acceptor->async_accept(use_awaitable);
        std::vector<std::uint8_t> buffer(64 * 1024);
        asio::steady_timer wait(server_io);
        std::uint64_t got = 0;
        while (got < total) {
          const auto want = slow ? std::size_t{16 * 1024} : buffer.size();
          const auto n = co_await s.async_read_some(asio::buffer(buffer.data(), want), use_awaitable);
          for (std::size_t i = 0; i < n; ++i) {
            if (buffer[i] != pattern(got + i) && first_wrong == total) first_wrong = got + i;
          }
          got += n;
          received = got;
          if (slow) {
            wait.expires_after(10ms);
            co_await wait.async_wait(use_awaitable);
          }
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
            asio::steady_timer pace_timer(client_io);
            for (std::uint64_t sent = 0; sent < total; sent += chunk.size()) {
              for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern(sent + i);
              co_await asio::async_write(client, asio::buffer(chunk), use_awaitable);
              written = sent + chunk.size();
              // Against a reader that keeps up, about 4 MiB/s: still flowing at the cut. Against a slow
              // one, as fast as the session takes it.
              if (pace == reader::keeps_up && sent % (256u << 10) == 0) {
                pace_timer.expires_after(60ms);
                co_await pace_timer.async_wait(use_awaitable);
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
  std::this_thread::sleep_for(pace == reader::slow ? 1500ms : 500ms);
  const auto written_at_cut = written.load(), read_at_cut = received.load();
  net.cut(method);
  {
    std::lock_guard lock(m);
    cut_at = clock_type::now();
  }
  const auto deadline = clock_type::now() + heartbeat_timeout + 3s;
  while (clock_type::now() < deadline) {
    {
      std::lock_guard lock(m);
      if (client_found.at && server_found.at) break;
    }
    // Not under the lock: the sessions' event callbacks take it on their io threads, and a waiter that
    // slept holding it kept them (and every detection they report) waiting until this loop gave up.
    std::this_thread::sleep_for(10ms);
  }
  slow = false;
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
  std::printf("%s: at the cut %llu KiB written, %llu KiB read by the application\n", to_string(method),
              static_cast<unsigned long long>(written_at_cut >> 10),
              static_cast<unsigned long long>(read_at_cut >> 10));
  if (pace == reader::slow) {
    // Behind by more than its receive buffer: that buffer was full and the reader had paused.
    EXPECT_GT(written_at_cut - read_at_cut, 2 * so.session.receive_capacity);
  }
  for (const auto& [end, found] : {std::pair{"client", &client_found}, std::pair{"server", &server_found}}) {
    ASSERT_TRUE(found->at) << "the " << end << " never detected the cut";
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(*found->at - *cut_at);
    std::printf("%s: the %s detected the cut after %lld ms (%s; bound %lld ms + %lld ms tolerance)\n",
                to_string(method), end, static_cast<long long>(took.count()), found->cause.message().c_str(),
                static_cast<long long>(heartbeat_timeout.count()), static_cast<long long>(tolerance.count()));
    EXPECT_LE(took, heartbeat_timeout + tolerance) << "the " << end << " was late";
  }
  ASSERT_TRUE(resumed_at) << "the session did not resume after the path was restored";
  std::printf("resumed %lld ms after the path was restored\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(*resumed_at - restored_at).count()));
  EXPECT_TRUE(client_done) << "the writer never finished: " << client_error;
  EXPECT_TRUE(server_done);
  EXPECT_EQ(received.load(), total);
  EXPECT_EQ(first_wrong.load(), total) << "first wrong byte";
}

class session_on_test_network : public testing::TestWithParam<cut_method> {};

TEST_P(session_on_test_network, heartbeat_detects_a_silent_cut_within_its_bound_and_the_stream_resumes) {
  LIFELINE_REQUIRE_ROOT();
  cut_while_streaming(GetParam(), reader::keeps_up);
}

// R16 (a) with R15: a receiving application slower than the writer (a disk, a slow consumer) fills its
// receive buffer and pauses; it must still learn of the cut within the timeout.
TEST_P(session_on_test_network, a_reader_slower_than_the_writer_still_detects_a_cut_within_its_bound) {
  LIFELINE_REQUIRE_ROOT();
  cut_while_streaming(GetParam(), reader::slow);
}

INSTANTIATE_TEST_SUITE_P(cuts, session_on_test_network,
                         testing::Values(cut_method::drop_at_peer, cut_method::link_down,
                                         cut_method::blackhole_route),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
