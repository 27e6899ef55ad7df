// The session's life before and after its connections, over real loopback sockets: a new session's
// first connection is retried through resets and refusals as a resume is (R19), and a server keeps a
// detached session for its linger time and no longer (R20).
#include "support/io.hpp"
#include "support/session_pair.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using lifeline::errc;
using lifeline::session;
using lifeline::session_acceptor;

using lifeline::test::loopback;

// Heartbeats quick enough for the linger test's server to find its silent client in 300 ms.
lifeline::session_options quick_options() {
  auto o = lifeline::test::quick_options();
  o.heartbeat_interval = 100ms;
  o.heartbeat_timeout = 300ms;
  return o;
}

long long ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Copies one direction until either side ends.
awaitable<void> copy(tcp::socket& from, tcp::socket& to) {
  std::array<std::uint8_t, 4096> buffer;
  while (true) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
    if (ec) break;
    auto [ec2, m] =
        co_await asio::async_write(to, asio::buffer(buffer.data(), n), asio::as_tuple(use_awaitable));
    if (ec2) break;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

// A relay in front of the server whose first `cuts` connections are reset by a TCP RST once the server's
// first bytes (SERVER_HELLO) have passed to the client: in the middle of the handshake.
awaitable<void> relay(tcp::acceptor& listener, tcp::endpoint server, int cuts, std::atomic<int>& accepted) {
  while (true) {
    auto [ec, client] = co_await listener.async_accept(asio::as_tuple(use_awaitable));
    if (ec) co_return;
    const bool cut = accepted++ < cuts;
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [client = std::move(client), server, cut]() mutable -> awaitable<void> {
          tcp::socket upstream(client.get_executor());
          co_await upstream.async_connect(server, use_awaitable);
          if (cut) {
            std::array<std::uint8_t, 16> some;
            co_await upstream.async_read_some(asio::buffer(some), use_awaitable);
            co_await asio::async_write(client, asio::buffer(some), use_awaitable);
            client.set_option(asio::socket_base::linger(true, 0));
            client.close();
            co_return;
          }
          asio::co_spawn(co_await asio::this_coro::executor, copy(upstream, client), asio::detached);
          co_await copy(client, upstream);
          // Keep both sockets until the other direction ends too.
          asio::steady_timer linger(client.get_executor(), 10s);
          co_await linger.async_wait(asio::as_tuple(use_awaitable));
        },
        asio::detached);
  }
}

TEST(session_first_connection, a_reset_during_the_handshake_is_retried_and_the_stream_works) {
  asio::io_context io;
  lifeline::server_options so;
  so.session = quick_options();
  session_acceptor acceptor(io.get_executor(), loopback, so);
  tcp::acceptor listener(io, loopback);
  std::atomic<int> accepted{0};
  const int cuts = 3;
  asio::co_spawn(io, relay(listener, acceptor.local_endpoint(), cuts, accepted), asio::detached);

  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    unsigned attempts = 0;
    auto options = quick_options();
    options.on_event = [&](const lifeline::session_event& e) {
      if (e.what == lifeline::session_event::kind::established) attempts = e.attempts;
    };
    session client(io.get_executor(), options);
    const auto started = clock_type::now();
    co_await client.async_connect(listener.local_endpoint(), use_awaitable);
    std::printf("connected after %lld ms, %u attempts, %d connections reset mid-handshake\n",
                ms(clock_type::now() - started), attempts, cuts);
    EXPECT_EQ(attempts, unsigned(cuts + 1));
    auto server = co_await acceptor.async_accept(use_awaitable);
    const std::string text = "exactly once";
    co_await asio::async_write(client, asio::buffer(text), use_awaitable);
    std::string got(text.size(), '\0');
    co_await asio::async_read(server, asio::buffer(got), use_awaitable);
    EXPECT_EQ(got, text);
    listener.close();
  });
}

TEST(session_first_connection, a_server_that_starts_late_is_waited_for_within_the_deadline) {
  asio::io_context io;
  // A port with nobody listening yet: connections are refused until the server starts.
  tcp::endpoint ep;
  {
    tcp::acceptor probe(io, loopback);
    ep = probe.local_endpoint();
  }
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    std::optional<session_acceptor> acceptor;
    asio::steady_timer later(io, 300ms);
    later.async_wait([&](boost::system::error_code) {
      lifeline::server_options so;
      so.session = quick_options();
      acceptor.emplace(io.get_executor(), ep, so);
    });
    session client(io.get_executor(), quick_options());
    const auto started = clock_type::now();
    auto [ec] = co_await client.async_connect(ep, asio::as_tuple(use_awaitable));
    std::printf("connected %lld ms after the first attempt (the server started after 300 ms)\n",
                ms(clock_type::now() - started));
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_GE(clock_type::now() - started, 300ms);
  });
}

TEST(session_first_connection, a_refusal_that_cannot_change_fails_at_once) {
  asio::io_context io;
  lifeline::server_options so;
  so.session = quick_options();
  so.session.psk = "the right key";
  session_acceptor acceptor(io.get_executor(), loopback, so);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    auto wrong = quick_options();
    wrong.psk = "a wrong key";
    session client(io.get_executor(), wrong);
    const auto started = clock_type::now();
    auto [ec] = co_await client.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec, errc::resume_rejected) << ec.message();
    EXPECT_LT(clock_type::now() - started, 1s) << "a wrong key must not be retried";
  });
}

TEST(session_first_connection, nobody_listening_fails_with_the_cause_when_the_deadline_passes) {
  asio::io_context io;
  tcp::endpoint ep;
  {
    tcp::acceptor probe(io, loopback);
    ep = probe.local_endpoint();
  }
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    auto options = quick_options();
    options.retry.deadline = 500ms;
    session client(io.get_executor(), options);
    const auto started = clock_type::now();
    auto [ec] = co_await client.async_connect(ep, asio::as_tuple(use_awaitable));
    const auto took = clock_type::now() - started;
    std::printf("gave up after %lld ms: %s\n", ms(took), ec.message().c_str());
    EXPECT_EQ(std::error_code(ec), std::errc::connection_refused) << ec.message();
    EXPECT_GE(took, 400ms);
    EXPECT_LE(took, 500ms + 500ms);
  });
}

// R20: the server keeps a detached session for server_options::linger, then forgets it and fails it
// with session_not_found.
TEST(session_server, keeps_a_detached_session_for_its_linger_time_and_no_longer) {
  asio::io_context io, client_io;
  lifeline::server_options so;
  so.session = quick_options();
  so.linger = 800ms;
  std::optional<clock_type::time_point> detached;
  so.session.on_event = [&](const lifeline::session_event& e) {
    if (e.what == lifeline::session_event::kind::reset && !detached) detached = clock_type::now();
  };
  session_acceptor acceptor(io.get_executor(), loopback, so);

  // The client connects, then its executor stops: from then on it answers nothing, as a client whose
  // machine went away, and it never comes back.
  session client(client_io.get_executor(), quick_options());
  std::atomic<bool> connected{false};
  client.async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    connected = true;
    client_io.stop();
  });
  std::thread client_thread([&] { client_io.run_for(10s); });

  std::optional<session> server;
  std::optional<clock_type::time_point> read_failed;
  boost::system::error_code read_error;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        server.emplace(co_await acceptor.async_accept(use_awaitable));
        std::uint8_t byte;
        auto [ec, n] =
            co_await server->async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        read_error = ec;
        read_failed = clock_type::now();
      },
      asio::detached);
  std::optional<std::size_t> held_midway;
  for (const auto until = clock_type::now() + 10s; !read_failed && clock_type::now() < until;) {
    io.run_for(10ms);
    if (detached && !held_midway && clock_type::now() >= *detached + so.linger / 2)
      held_midway = acceptor.session_count();
  }
  client_thread.join();
  ASSERT_TRUE(connected);
  ASSERT_TRUE(detached) << "the server never noticed its client was gone";
  ASSERT_TRUE(read_failed) << "the detached session was kept beyond the linger time";
  const auto kept = *read_failed - *detached;
  std::printf("detached session kept for %lld ms (linger %lld ms)\n", ms(kept),
              static_cast<long long>(so.linger.count()));
  EXPECT_EQ(held_midway, std::optional<std::size_t>(1)) << "the session was not held while lingering";
  EXPECT_EQ(read_error, errc::session_not_found) << read_error.message();
  EXPECT_GE(kept, so.linger - 20ms);
  EXPECT_LE(kept, so.linger + 500ms);
  EXPECT_EQ(acceptor.session_count(), 0u);
}

TEST(session_server, a_linger_that_is_not_positive_is_refused) {
  asio::io_context io;
  lifeline::server_options so;
  so.linger = 0ms;
  try {
    session_acceptor acceptor(io.get_executor(), loopback, so);
    ADD_FAILURE() << "a zero linger was taken";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("linger"), std::string::npos) << e.what();
  }
}

}  // namespace
