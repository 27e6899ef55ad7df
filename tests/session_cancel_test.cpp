// Per-operation cancellation of a session's operations over real loopback sockets: a read or a write
// raced against a timer ends with the timer and loses no byte, a shutdown's wait ends while its CLOSE
// stays sent, a connect stops, an accept ends and the next one still gets its session.
#include "support/io.hpp"
#include "support/session_pair.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_one;
using lifeline::session;
using lifeline::session_acceptor;
using lifeline::test::loopback;
using lifeline::test::pair_fixture;
using lifeline::test::pattern;
using lifeline::test::quick_options;
using lifeline::test::quick_server;
using lifeline::test::receive_stream;
using lifeline::test::send_stream;
using clock = std::chrono::steady_clock;

// A cancellation that does not work leaves its operation waiting forever: fail sooner than the default.
constexpr std::chrono::seconds limit{20};

double ms_since(clock::time_point start) {
  return std::chrono::duration<double, std::milli>(clock::now() - start).count();
}

// Waits `d` on the coroutine's executor.
awaitable<void> sleep(clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_awaitable);
}

TEST(session_cancel, a_read_raced_against_a_timer_ends_with_the_timer_and_leaves_the_bytes_for_the_next) {
  pair_fixture f;
  lifeline::test::run_bounded(
      f.io,
      [&]() -> awaitable<void> {
        co_await f.connect();
        std::array<std::uint8_t, 16> buffer{};
        // Asio's timeout pattern, as its timeout_watchdog example writes it; the peer is silent.
        asio::steady_timer timer(f.io, 200ms);
        auto start = clock::now();
        auto raced = co_await (f.client.async_read_some(asio::buffer(buffer), use_awaitable) ||
                               timer.async_wait(use_awaitable));
        const auto raced_ms = ms_since(start);
        std::printf("read || 200 ms timer ended after %.1f ms\n", raced_ms);
        EXPECT_EQ(raced.index(), 1u) << "the timer, not a read, ended the race";
        EXPECT_GE(raced_ms, 199.0);
        EXPECT_LT(raced_ms, 250.0);

        // The same race with both results in view: the read itself completes with operation_aborted.
        timer.expires_after(200ms);
        start = clock::now();
        auto [order, read_ec, read_n, timer_ec] =
            co_await make_parallel_group(f.client.async_read_some(asio::buffer(buffer), asio::deferred),
                                         timer.async_wait(asio::deferred))
                .async_wait(wait_for_one(), use_awaitable);
        const auto group_ms = ms_since(start);
        std::printf("read in a parallel group with a 200 ms timer: %s after %.1f ms\n",
                    read_ec.message().c_str(), group_ms);
        EXPECT_EQ(order[0], 1u);
        EXPECT_EQ(read_ec, asio::error::operation_aborted);
        EXPECT_EQ(read_n, 0u);
        EXPECT_LT(group_ms, 250.0);

        // Nothing was lost: the peer's next byte goes to the next read.
        co_await asio::async_write(*f.server, asio::buffer("x", 1), use_awaitable);
        const auto n = co_await f.client.async_read_some(asio::buffer(buffer), use_awaitable);
        EXPECT_EQ(n, 1u);
        EXPECT_EQ(buffer[0], 'x');
      },
      limit);
}

// The peer writes a counting pattern in small bursts while the reader races each read against a timer
// of a few milliseconds, so that bytes arrive before, during and after the cancellation. A parallel group
// shows the losing read's result too: a read that completed with data despite its cancellation counts,
// and one cancelled in time took nothing. The concatenation must be the stream exactly. With `threads`
// threads running the io_context, the test's coroutines run on a strand of their own and the sessions'
// strands run beside it, so that cancellations reach a session from another thread.
void race_reads_against_timers(int threads) {
  const std::uint64_t seed = 20261204;
  std::printf("seed %llu, %d threads\n", static_cast<unsigned long long>(seed), threads);
  pair_fixture f;
  const int rounds = 500;
  std::uint64_t written = 0, got = 0, first_wrong = ~std::uint64_t{0};
  int aborted = 0, with_data = 0, late_data = 0;
  auto test = [&]() -> awaitable<void> {
    co_await f.connect();
    bool reading = true;
    auto writer = [&]() -> awaitable<void> {
      std::mt19937_64 rng(seed);
      std::vector<std::uint8_t> chunk(64);
      while (reading) {
        const auto n = 1 + rng() % chunk.size();
        for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(written + i, 1);
        co_await asio::async_write(*f.server, asio::buffer(chunk.data(), n), use_awaitable);
        written += n;
        co_await sleep(std::chrono::microseconds(rng() % 3000));
      }
    };
    auto check = [&](const std::uint8_t* p, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i) {
        if (p[i] != pattern(got + i, 1) && first_wrong == ~std::uint64_t{0}) first_wrong = got + i;
      }
      got += n;
    };
    auto reader = [&]() -> awaitable<void> {
      std::mt19937_64 rng(seed + 1);
      std::array<std::uint8_t, 32> buffer{};
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int round = 0; round < rounds; ++round) {
        timer.expires_after(std::chrono::microseconds(rng() % 3000));
        auto [order, ec, n, timer_ec] =
            co_await make_parallel_group(f.client.async_read_some(asio::buffer(buffer), asio::deferred),
                                         timer.async_wait(asio::deferred))
                .async_wait(wait_for_one(), use_awaitable);
        if (ec == asio::error::operation_aborted) {
          ++aborted;
          EXPECT_EQ(n, 0u) << "a cancelled read took bytes";
        } else {
          EXPECT_FALSE(ec) << ec.message();
          ++with_data;
          if (order[0] == 1) ++late_data;  // the timer won, yet the read had its data already
        }
        check(buffer.data(), n);
      }
      reading = false;
      // Whatever the writer sent after the last round.
      co_await sleep(20ms);
      while (got < written) {
        const auto n = co_await f.client.async_read_some(asio::buffer(buffer), use_awaitable);
        check(buffer.data(), n);
      }
    };
    co_await (writer() && reader());
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back([&] { f.io.run_for(limit); });
  lifeline::test::run_bounded(
      f.io, [&]() { return asio::co_spawn(asio::make_strand(f.io), test(), use_awaitable); }, limit);
  for (auto& t : others) t.join();
  std::printf("%d rounds: %d cancelled, %d with data (%d of them completed after the timer); %llu bytes\n",
              rounds, aborted, with_data, late_data, static_cast<unsigned long long>(got));
  EXPECT_EQ(first_wrong, ~std::uint64_t{0}) << "first wrong byte";
  EXPECT_EQ(got, written);
  EXPECT_GT(aborted, 0);
  EXPECT_GT(with_data, 0);
}

TEST(session_cancel, reads_raced_against_short_timers_get_every_byte_exactly_once) {
  race_reads_against_timers(1);
}

TEST(session_cancel, reads_raced_against_short_timers_on_two_threads_get_every_byte_exactly_once) {
  race_reads_against_timers(2);
}

TEST(session_cancel, a_read_cancelled_while_the_session_resumes_leaves_the_stream_exact) {
  pair_fixture f;
  lifeline::test::run_bounded(
      f.io,
      [&]() -> awaitable<void> {
        co_await f.connect();
        co_await send_stream(f.client, 50'000, 3, 1);
        EXPECT_EQ(co_await receive_stream(*f.server, 50'000, 3), 50'000u);
        // Both ends wait in a read; the client breaks the connection and both reads are cancelled at once,
        // while the client is backing off or reconnecting and the server is waiting for it.
        struct outcome {
          asio::cancellation_signal cancel;
          boost::system::error_code ec;
          std::size_t n = 99;
          bool done = false;
          std::uint64_t resumes = 0;  // the client's, when the read completed
          std::array<std::uint8_t, 16> buffer{};
        } client, server;
        auto read = [&](session& s, outcome& o) {
          s.async_read_some(asio::buffer(o.buffer),
                            asio::bind_cancellation_slot(o.cancel.slot(), [&](auto ec, auto n) {
                              o.ec = ec, o.n = n, o.done = true, o.resumes = f.client.stats().resumes;
                            }));
        };
        read(f.client, client);
        read(*f.server, server);
        co_await sleep(10ms);
        const auto resumes_before = f.client.stats().resumes;
        f.client.drop_connection();
        client.cancel.emit(asio::cancellation_type::terminal);
        server.cancel.emit(asio::cancellation_type::total);
        const auto start = clock::now();
        while (!client.done || !server.done) co_await sleep(1ms);
        std::printf("both reads cancelled within %.1f ms of the drop\n", ms_since(start));
        for (const auto* o : {&client, &server}) {
          EXPECT_EQ(o->resumes, resumes_before) << "the resume was over before the cancellation";
          EXPECT_EQ(o->ec, asio::error::operation_aborted);
          EXPECT_EQ(o->n, 0u);
        }
        // The stream goes on where it was, both ways, once resumed.
        co_await (send_stream(f.client, 300'000, 3, 2, 50'000) && send_stream(*f.server, 200'000, 4, 3));
        std::vector<std::uint8_t> rest(250'000);
        co_await asio::async_read(*f.server, asio::buffer(rest), use_awaitable);
        for (std::size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] != pattern(50'000 + i, 3)) {
            ADD_FAILURE() << "client to server: wrong byte at " << 50'000 + i;
            break;
          }
        }
        EXPECT_EQ(co_await receive_stream(f.client, 200'000, 4), 200'000u);
        EXPECT_GE(f.client.stats().resumes, resumes_before + 1);
      },
      limit);
}

// Writes the stream (salt `salt`) until a write has waited `patience` for room in the replay buffer
// (R14) and was cancelled; returns the bytes the session took. The peer must not be reading.
awaitable<std::uint64_t> write_until_a_write_waits(session& s, std::uint64_t salt, clock::duration patience) {
  std::vector<std::uint8_t> chunk(64 * 1024);
  std::uint64_t taken = 0;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (true) {
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = pattern(taken + i, salt);
    timer.expires_after(patience);
    const auto start = clock::now();
    auto [order, ec, n, timer_ec] =
        co_await make_parallel_group(s.async_write_some(asio::buffer(chunk), asio::deferred),
                                     timer.async_wait(asio::deferred))
            .async_wait(wait_for_one(), use_awaitable);
    taken += n;
    if (ec == asio::error::operation_aborted) {
      std::printf(
          "after %llu bytes a write waited; cancelled, it ended %.1f ms into a %.0f ms timer, taking %zu\n",
          static_cast<unsigned long long>(taken), ms_since(start),
          std::chrono::duration<double, std::milli>(patience).count(), n);
      EXPECT_EQ(n, 0u) << "a write that waits has taken nothing";
      const double patience_ms = std::chrono::duration<double, std::milli>(patience).count();
      EXPECT_LT(ms_since(start), patience_ms + 50);
      co_return taken;
    }
    EXPECT_FALSE(ec) << ec.message();
    if (ec) co_return taken;
  }
}

// A client whose replay buffer (64 KiB) is full before a server with the least receive buffer (R15) that
// reads nothing yet: the client's next write or shutdown waits.
struct full_replay_buffer : pair_fixture {
  full_replay_buffer() : pair_fixture(small_replay(), small_receive()) {}

  static lifeline::session_options small_replay() {
    auto o = quick_options();
    o.replay_capacity = 64u << 10;
    return o;
  }
  static lifeline::server_options small_receive() {
    auto o = quick_server();
    o.session.receive_capacity = 1u << 20;
    return o;
  }

  /// Connects and writes the stream (salt `salt`) until a write waits.
  awaitable<void> fill(std::uint64_t salt) {
    co_await connect();
    taken = co_await write_until_a_write_waits(client, salt, 300ms);
  }
  std::uint64_t taken = 0;  ///< what the session took from the writes
};

TEST(session_cancel, a_write_waiting_for_room_in_the_replay_buffer_is_cancelled_having_taken_nothing) {
  full_replay_buffer f;
  lifeline::test::run_bounded(
      f.io,
      [&]() -> awaitable<void> {
        co_await f.fill(5);
        EXPECT_EQ(f.client.stats().bytes_written, f.taken);
        // The stream is what was taken, then what is written next: no byte of the cancelled write.
        const auto total = f.taken + 500'000;
        co_await (send_stream(f.client, total, 5, 7, f.taken) && [&]() -> awaitable<void> {
          EXPECT_EQ(co_await receive_stream(*f.server, total, 5), total);
        }());
      },
      limit);
}

TEST(session_cancel, a_cancelled_shutdown_stops_waiting_while_its_close_stays_sent) {
  full_replay_buffer f;
  lifeline::test::run_bounded(
      f.io,
      [&]() -> awaitable<void> {
        // The peer reads nothing, so the CLOSE waits behind the data and is not acknowledged.
        co_await f.fill(6);
        asio::steady_timer timer(f.io, 200ms);
        const auto start = clock::now();
        auto raced = co_await (f.client.async_shutdown(use_awaitable) || timer.async_wait(use_awaitable));
        std::printf("async_shutdown || 200 ms timer ended after %.1f ms\n", ms_since(start));
        EXPECT_EQ(raced.index(), 1u);
        EXPECT_LT(ms_since(start), 250.0);
        // The stream has ended all the same: no more writes, and the peer reads everything, then the end.
        auto [wec, wn] =
            co_await f.client.async_write_some(asio::buffer("x", 1), asio::as_tuple(use_awaitable));
        EXPECT_EQ(wec, asio::error::shut_down);
        EXPECT_EQ(co_await receive_stream(*f.server, f.taken, 6), f.taken);
        std::uint8_t byte;
        auto [ec, n] =
            co_await f.server->async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec, asio::error::eof);
        // Shutting down again waits for the acknowledgement of that CLOSE.
        auto [sec] = co_await f.client.async_shutdown(asio::as_tuple(use_awaitable));
        EXPECT_FALSE(sec) << sec.message();
      },
      limit);
}

TEST(session_cancel, write_some_from_cancelled_stops_reading_its_socket_and_loses_nothing) {
  pair_fixture f;
  tcp::acceptor source_listener(f.io, loopback);
  lifeline::test::run_bounded(
      f.io,
      [&]() -> awaitable<void> {
        co_await f.connect();
        tcp::socket program(f.io);
        co_await program.async_connect(source_listener.local_endpoint(), use_awaitable);
        auto source = co_await source_listener.async_accept(use_awaitable);
        // The program is silent: the read into the replay buffer waits, and the timer cancels it.
        asio::steady_timer timer(f.io, 100ms);
        const auto start = clock::now();
        auto [order, ec, n, timer_ec] =
            co_await make_parallel_group(f.client.async_write_some_from(source, asio::deferred),
                                         timer.async_wait(asio::deferred))
                .async_wait(wait_for_one(), use_awaitable);
        std::printf("write_some_from with a 100 ms timer: %s, %zu bytes, after %.1f ms\n",
                    ec.message().c_str(), n, ms_since(start));
        EXPECT_EQ(ec, asio::error::operation_aborted);
        EXPECT_EQ(n, 0u);
        EXPECT_LT(ms_since(start), 150.0);
        // The socket is untouched: what the program sends next goes through the next operation.
        co_await asio::async_write(program, asio::buffer("abc", 3), use_awaitable);
        const auto taken = co_await f.client.async_write_some_from(source, use_awaitable);
        EXPECT_EQ(taken, 3u);
        std::array<char, 3> got{};
        co_await asio::async_read(*f.server, asio::buffer(got), use_awaitable);
        EXPECT_EQ(std::string(got.data(), 3), "abc");
      },
      limit);
}

// async_connect with a cancellation signal bound to it.
struct cancellable_connect {
  asio::cancellation_signal signal;
  bool done = false;
  boost::system::error_code result;
  clock::time_point completed_at{};

  void start(session& s, const tcp::endpoint& server) {
    s.async_connect(server, asio::bind_cancellation_slot(signal.slot(), [this](boost::system::error_code ec) {
                      done = true;
                      result = ec;
                      completed_at = clock::now();
                    }));
  }
  /// Cancels (terminal) and waits for the completion; returns how long it took, in milliseconds.
  awaitable<double> cancel() {
    const auto emitted_at = clock::now();
    signal.emit(asio::cancellation_type::terminal);
    while (!done) co_await sleep(1ms);
    const auto took = std::chrono::duration<double, std::milli>(completed_at - emitted_at).count();
    std::printf("connect cancelled: %s, %.1f ms after the cancellation\n", result.message().c_str(), took);
    co_return took;
  }
};

TEST(session_cancel, a_cancelled_connect_stops_at_once_and_leaves_the_session_failed) {
  asio::io_context io;
  // Accepts TCP connections and never says a word: the client's handshake waits for SERVER_HELLO.
  tcp::acceptor mute(io, loopback);
  auto options = quick_options();
  options.handshake_timeout = 5s;
  session client(io.get_executor(), options);
  lifeline::test::run_bounded(
      io,
      [&]() -> awaitable<void> {
        cancellable_connect connect;
        connect.start(client, mute.local_endpoint());
        auto peer = co_await mute.async_accept(use_awaitable);
        co_await sleep(100ms);
        // A connect supports terminal cancellation only, as Asio's: a partial one changes nothing.
        connect.signal.emit(asio::cancellation_type::partial);
        co_await sleep(100ms);
        EXPECT_FALSE(connect.done) << "partial cancellation ended the connect";
        EXPECT_LT(co_await connect.cancel(), 50.0);
        EXPECT_EQ(connect.result, asio::error::operation_aborted);
        // The attempt stopped: the listener's side of the connection ends.
        std::uint8_t byte;
        auto [pec, pn] = co_await peer.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        EXPECT_TRUE(pec == asio::error::eof || pec == asio::error::connection_reset) << pec.message();
        // And the session is failed: its operations complete with an error at once.
        auto [rec, rn] =
            co_await client.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        EXPECT_TRUE(rec) << "a read on a session whose connect was cancelled";
      },
      limit);
}

TEST(session_cancel, a_connect_retrying_a_refusing_server_is_cancelled_between_attempts_at_once) {
  // Nothing listens: the first attempt is refused at once and the session waits before the next (R19).
  asio::io_context io;
  tcp::endpoint closed;
  {
    tcp::acceptor gone(io, loopback);
    closed = gone.local_endpoint();
  }
  auto options = quick_options();
  options.retry.base = 1s;
  options.retry.cap = 1s;
  options.seed = 9;  // the first backoff is 849 ms: the cancellation at 300 ms falls in it
  session client(io.get_executor(), options);
  lifeline::test::run_bounded(
      io,
      [&]() -> awaitable<void> {
        cancellable_connect connect;
        connect.start(client, closed);
        co_await sleep(300ms);
        EXPECT_FALSE(connect.done) << connect.result.message();
        EXPECT_LT(co_await connect.cancel(), 50.0);
        EXPECT_EQ(connect.result, asio::error::operation_aborted);
      },
      limit);
}

TEST(session_cancel, a_cancelled_accept_ends_and_the_next_accept_gets_the_session) {
  asio::io_context io;
  session_acceptor acceptor(io.get_executor(), loopback, quick_server());
  session client(io.get_executor(), quick_options());
  lifeline::test::run_bounded(
      io,
      [&]() -> awaitable<void> {
        asio::steady_timer timer(io, 100ms);
        auto start = clock::now();
        auto raced = co_await (acceptor.async_accept(use_awaitable) || timer.async_wait(use_awaitable));
        std::printf("async_accept || 100 ms timer ended after %.1f ms\n", ms_since(start));
        EXPECT_EQ(raced.index(), 1u);
        EXPECT_LT(ms_since(start), 150.0);

        // A session set up while no accept waits is kept for the next one.
        co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
        co_await sleep(50ms);
        start = clock::now();
        auto server = co_await acceptor.async_accept(use_awaitable);
        std::printf("the next accept got the session after %.1f ms\n", ms_since(start));
        EXPECT_EQ(server.id(), client.id());
        co_await send_stream(client, 10'000, 8, 1);
        EXPECT_EQ(co_await receive_stream(server, 10'000, 8), 10'000u);
        EXPECT_EQ(acceptor.session_count(), 1u);
      },
      limit);
}

}  // namespace
