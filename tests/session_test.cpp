// The resumable session over real loopback sockets: exactly-once delivery across resets, backpressure,
// half-close, and every kind of bad peer turned away precisely while other sessions go on.
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
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <random>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;
using lifeline::errc;
using lifeline::session;
using lifeline::session_acceptor;

using lifeline::test::frame;
using lifeline::test::loopback;
using lifeline::test::pair_fixture;
using lifeline::test::pattern;
using lifeline::test::quick_options;
using lifeline::test::quick_server;
using lifeline::test::raw_exchange;
using lifeline::test::receive_stream;
using lifeline::test::send_stream;

// 24 MiB each way while random ends drop the connection every 5-45 ms; `psk`: sealed frames (R21-R23),
// new keys on every resume.
void exactly_once_across_resets(const std::string& psk) {
  const std::uint64_t seed = 20261125;
  std::printf("fault seed: %llu\n", static_cast<unsigned long long>(seed));
  auto client_options = quick_options();
  auto server_options = quick_server();
  client_options.psk = server_options.session.psk = psk;
  pair_fixture f(client_options, server_options);
  const std::uint64_t total = 24u << 20;
  std::uint64_t up = 0, down = 0;
  int drops = 0;
  lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
    co_await f.connect();
    using namespace asio::experimental::awaitable_operators;
    bool transfer_done = false;
    auto faults = [&]() -> awaitable<void> {
      std::mt19937_64 rng(seed);
      asio::steady_timer t(co_await asio::this_coro::executor);
      while (!transfer_done) {
        t.expires_after(std::chrono::milliseconds(5 + rng() % 40));
        co_await t.async_wait(use_awaitable);
        if (transfer_done) break;
        (rng() % 2 ? f.client : *f.server).drop_connection();
        ++drops;
      }
    };
    auto transfer = [&]() -> awaitable<void> {
      auto [a, b] = co_await (receive_stream(*f.server, total, 1) && receive_stream(f.client, total, 2));
      up = a;
      down = b;
      transfer_done = true;
    };
    co_await (transfer() && faults() && send_stream(f.client, total, 1, seed) &&
              send_stream(*f.server, total, 2, seed + 1));
  });
  EXPECT_EQ(up, total) << "first wrong byte client to server";
  EXPECT_EQ(down, total) << "first wrong byte server to client";
  EXPECT_GT(drops, 5);
  const auto stats = f.client.stats();
  std::printf("drops %d, client resumes %llu, client resent %llu bytes, server resent %llu bytes\n", drops,
              static_cast<unsigned long long>(stats.resumes),
              static_cast<unsigned long long>(stats.bytes_resent),
              static_cast<unsigned long long>(f.server->stats().bytes_resent));
  EXPECT_GT(stats.resumes, 0u);
  EXPECT_EQ(stats.frames_rejected, 0u) << "a drop is a reset, never a frame that fails its check";
}

TEST(session, delivers_both_directions_exactly_once_across_repeated_resets) {
  exactly_once_across_resets("");
}

TEST(session, sealed_delivers_both_directions_exactly_once_across_repeated_resets) {
  exactly_once_across_resets("correct horse battery staple");
}

TEST(session, half_close_delivers_everything_then_eof) {
  pair_fixture f;
  lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
    co_await f.connect();
    co_await send_stream(f.client, 100000, 7, 1);
    co_await f.client.async_shutdown(use_awaitable);  // completes once the server acknowledged it all
    EXPECT_EQ(co_await receive_stream(*f.server, 100000, 7), 100000u);
    std::uint8_t byte;
    auto [ec, n] = co_await f.server->async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec, asio::error::eof);
    // The other direction is still open.
    co_await send_stream(*f.server, 5000, 8, 2);
    EXPECT_EQ(co_await receive_stream(f.client, 5000, 8), 5000u);
    auto [wec, wn] =
        co_await f.client.async_write_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
    EXPECT_EQ(wec, asio::error::shut_down);
  });
}

TEST(session, full_replay_buffer_blocks_the_writer_until_acknowledged) {
  asio::io_context io;
  // Short heartbeats: a peer that does not read for many heartbeat timeouts is paused, not dead (R15,
  // R16), and must not be reset.
  auto server_opts = quick_server();
  server_opts.session.receive_capacity = 1u << 20;
  server_opts.session.heartbeat_interval = 100ms;
  server_opts.session.heartbeat_timeout = 400ms;
  session_acceptor acceptor(io.get_executor(), loopback, server_opts);
  auto client_opts = quick_options();
  client_opts.replay_capacity = 256u << 10;
  client_opts.heartbeat_interval = 100ms;
  client_opts.heartbeat_timeout = 400ms;
  session client(io.get_executor(), client_opts);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
    auto server = co_await acceptor.async_accept(use_awaitable);
    // The server reads nothing: its receive buffer, the sockets and then the replay buffer fill up.
    const std::uint64_t total = 16u << 20;
    bool written = false;
    using namespace asio::experimental::awaitable_operators;
    auto writer = [&]() -> awaitable<void> {
      co_await send_stream(client, total, 3, 9);
      written = true;
    };
    auto observer = [&]() -> awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, 1500ms);
      co_await t.async_wait(use_awaitable);
      EXPECT_FALSE(written) << "a full replay buffer must make the writer wait";
      const auto s = client.stats();
      // Everything accepted but not yet acknowledged sits in the replay buffer, which never exceeds its cap.
      EXPECT_LT(s.bytes_written, total);
      EXPECT_EQ(s.bytes_read, 0u);
      EXPECT_EQ(s.resets, 0u) << "a paused peer was taken for a dead one";
      EXPECT_EQ(co_await receive_stream(server, total, 3), total);
    };
    co_await (writer() && observer());
    EXPECT_TRUE(written);
  });
}

TEST(session, write_some_from_moves_a_socket_into_the_stream_exactly_once_across_resets) {
  // async_write_some_from reads a TCP socket straight into the replay buffer. A replay buffer of 64 KiB
  // makes it wait for acknowledgements (R14) and wrap around many times; drops on the way make the
  // session resend from that buffer. Every byte must arrive once, in order, then the end of stream.
  asio::io_context io;
  session_acceptor acceptor(io.get_executor(), loopback, quick_server());
  auto client_opts = quick_options();
  client_opts.replay_capacity = 64u << 10;
  session client(io.get_executor(), client_opts);
  tcp::acceptor source_listener(io, loopback);
  const std::uint64_t total = 8u << 20;
  const std::uint64_t seed = 11;  // the program's write sizes
  std::uint64_t received = 0;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
    auto server = co_await acceptor.async_accept(use_awaitable);
    tcp::socket program(io);
    co_await program.async_connect(source_listener.local_endpoint(), use_awaitable);
    auto source = co_await source_listener.async_accept(use_awaitable);
    using namespace asio::experimental::awaitable_operators;
    auto program_writes = [&]() -> awaitable<void> {
      std::mt19937_64 rng(seed);
      std::vector<std::uint8_t> chunk(100'000);
      asio::steady_timer pause(io);
      for (std::uint64_t sent = 0, writes = 0; sent < total; ++writes) {
        const auto n = std::min<std::uint64_t>(total - sent, 1 + rng() % chunk.size());
        for (std::uint64_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i, 5);
        co_await asio::async_write(program, asio::buffer(chunk.data(), n), use_awaitable);
        sent += n;
        if (writes % 16 == 15) {
          // Until everything so far has arrived and, a few ACK ticks (R13) later, been acknowledged:
          // the replay buffer empties while a read into it waits.
          while (received < sent) {
            pause.expires_after(5ms);
            co_await pause.async_wait(use_awaitable);
          }
          pause.expires_after(60ms);
          co_await pause.async_wait(use_awaitable);
        }
      }
      program.shutdown(tcp::socket::shutdown_send);
    };
    std::uint64_t taken = 0, drops = 0;
    boost::system::error_code end;
    auto relay = [&]() -> awaitable<void> {
      while (true) {
        auto [ec, n] = co_await client.async_write_some_from(source, asio::as_tuple(use_awaitable));
        taken += n;
        if (ec) {
          end = ec;
          break;
        }
        if (taken >= (drops + 1) * (2u << 20)) {
          ++drops;
          client.drop_connection();
        }
      }
      co_await client.async_shutdown(use_awaitable);
    };
    auto receive = [&]() -> awaitable<void> {
      std::vector<std::uint8_t> buffer(64 * 1024);
      std::uint64_t first_wrong = total;
      while (received < total) {
        const auto n = co_await server.async_read_some(asio::buffer(buffer), use_awaitable);
        for (std::size_t i = 0; i < n && first_wrong == total; ++i) {
          if (buffer[i] != pattern(received + i, 5)) first_wrong = received + i;
        }
        received += n;
      }
      EXPECT_EQ(first_wrong, total) << "first wrong byte";
      std::uint8_t byte;
      auto [ec, n] = co_await server.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
      EXPECT_EQ(ec, asio::error::eof);
    };
    co_await (program_writes() && relay() && receive());
    EXPECT_EQ(end, asio::error::eof) << "the source's end of file ends the operation";
    EXPECT_EQ(taken, total);
    EXPECT_EQ(client.stats().bytes_written, total);
    EXPECT_GE(client.stats().resets, 1u);
  });
}

TEST(session, closing_a_session_at_end_of_file_does_not_fail_the_peers_shutdown) {
  // The reader gets its end of file only once the ACK of the peer's CLOSE is on its way (R17), so a
  // program that closes its session as soon as it reads the end does not turn the peer's clean shutdown
  // into session_closed. Repeated: whether the CLOSE arrives with the last data or alone varies.
  for (int round = 0; round < 20; ++round) {
    pair_fixture f;
    lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
      co_await f.connect();
      using namespace asio::experimental::awaitable_operators;
      auto writer = [&]() -> awaitable<void> {
        co_await send_stream(f.client, 300'000, 7, static_cast<std::uint64_t>(round));
        auto [ec] = co_await f.client.async_shutdown(asio::as_tuple(use_awaitable));
        EXPECT_FALSE(ec) << "round " << round << ": " << ec.message();
      };
      auto reader = [&]() -> awaitable<void> {
        EXPECT_EQ(co_await receive_stream(*f.server, 300'000, 7), 300'000u);
        std::uint8_t byte;
        auto [ec, n] =
            co_await f.server->async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec, asio::error::eof);
        f.server.reset();  // closes the session at once
      };
      co_await (writer() && reader());
    });
  }
}

TEST(session, write_some_from_while_another_write_is_in_flight_is_refused) {
  pair_fixture f;
  tcp::acceptor source_listener(f.io, loopback);
  lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
    co_await f.connect();
    tcp::socket program(f.io);
    co_await program.async_connect(source_listener.local_endpoint(), use_awaitable);
    auto source = co_await source_listener.async_accept(use_awaitable);
    using namespace asio::experimental::awaitable_operators;
    // The first operation waits for the program, which sends nothing until the second was refused.
    auto first = [&]() -> awaitable<void> {
      auto [ec, n] = co_await f.client.async_write_some_from(source, asio::as_tuple(use_awaitable));
      EXPECT_FALSE(ec) << ec.message();
      EXPECT_EQ(n, 3u);
    };
    auto second = [&]() -> awaitable<void> {
      co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
      auto [ec, n] = co_await f.client.async_write_some(asio::buffer("x", 1), asio::as_tuple(use_awaitable));
      EXPECT_EQ(ec, asio::error::in_progress);
      auto [sec] = co_await f.client.async_shutdown(asio::as_tuple(use_awaitable));
      EXPECT_EQ(sec, asio::error::in_progress)
          << "a shutdown would put the CLOSE before the bytes being read";
      co_await asio::async_write(program, asio::buffer("abc", 3), use_awaitable);
    };
    co_await (first() && second());
    std::array<char, 3> got{};
    co_await asio::async_read(*f.server, asio::buffer(got), use_awaitable);
    EXPECT_EQ(std::string(got.data(), 3), "abc");
  });
}

TEST(session, forged_resume_is_rejected_and_the_real_session_is_untouched) {
  pair_fixture f;
  lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
    co_await f.connect();
    const auto id_hex = f.client.id();
    EXPECT_EQ(id_hex.size(), 32u);
    if (id_hex.size() != 32u) co_return;
    lifeline::wire::resume_request forged;
    for (std::size_t i = 0; i < 16; ++i)
      forged.id[i] = static_cast<std::uint8_t>(std::stoi(id_hex.substr(2 * i, 2), nullptr, 16));
    forged.proof.fill(0xAB);
    const auto payload = lifeline::wire::encode(forged);
    EXPECT_EQ(co_await raw_exchange(f.acceptor.local_endpoint(),
                                    frame(lifeline::wire::frame_type::resume, 0, payload)),
              static_cast<int>(errc::resume_rejected));
    forged.id[0] ^= 1;  // an id the server never issued
    const auto unknown = lifeline::wire::encode(forged);
    EXPECT_EQ(co_await raw_exchange(f.acceptor.local_endpoint(),
                                    frame(lifeline::wire::frame_type::resume, 0, unknown)),
              static_cast<int>(errc::session_not_found));
    co_await send_stream(f.client, 300000, 4, 1);
    EXPECT_EQ(co_await receive_stream(*f.server, 300000, 4), 300000u);
    EXPECT_EQ(f.client.stats().resets, 0u);
  });
}

TEST(session, bad_peers_get_a_precise_error_and_the_server_keeps_serving) {
  pair_fixture f;
  lifeline::test::run_bounded(f.io, [&]() -> awaitable<void> {
    co_await f.connect();
    const auto ep = f.acceptor.local_endpoint();
    std::vector<std::uint8_t> garbage(64, 0x5A);
    EXPECT_EQ(co_await raw_exchange(ep, garbage), static_cast<int>(errc::malformed_frame));

    auto oversized = frame(lifeline::wire::frame_type::client_hello, 0, {});
    oversized[5] = 0x20;  // 2 MiB announced
    EXPECT_EQ(co_await raw_exchange(ep, oversized), static_cast<int>(errc::frame_too_large));

    lifeline::wire::client_hello future;
    future.version = 99;
    EXPECT_EQ(co_await raw_exchange(
                  ep, frame(lifeline::wire::frame_type::client_hello, 0, lifeline::wire::encode(future))),
              static_cast<int>(errc::unsupported_version));

    auto corrupted = frame(lifeline::wire::frame_type::client_hello, 0,
                           lifeline::wire::encode(lifeline::wire::client_hello{}));
    corrupted[30] ^= 0x01;
    EXPECT_EQ(co_await raw_exchange(ep, corrupted), static_cast<int>(errc::integrity_error));

    EXPECT_EQ(co_await raw_exchange(ep, frame(lifeline::wire::frame_type::data, 0, garbage)),
              static_cast<int>(errc::malformed_frame));

    // The established session was never disturbed, and new sessions are still served.
    co_await send_stream(*f.server, 200000, 5, 1);
    EXPECT_EQ(co_await receive_stream(f.client, 200000, 5), 200000u);
    session other(f.io.get_executor(), quick_options());
    co_await other.async_connect(ep, use_awaitable);
    auto other_server = co_await f.acceptor.async_accept(use_awaitable);
    co_await send_stream(other, 1000, 6, 1);
    EXPECT_EQ(co_await receive_stream(other_server, 1000, 6), 1000u);
  });
}

TEST(session_acceptor, reports_a_peer_lost_in_the_handshake_by_its_address) {
  asio::io_context io;
  std::vector<std::pair<tcp::endpoint, std::error_code>> reported;
  auto options = quick_server();
  options.on_error = [&](const tcp::endpoint& peer, std::error_code ec, const std::string&) {
    reported.emplace_back(peer, ec);
  };
  session_acceptor acceptor(io.get_executor(), loopback, options);
  tcp::endpoint client_end;
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    tcp::socket s(io);
    co_await s.async_connect(acceptor.local_endpoint(), use_awaitable);
    client_end = s.local_endpoint();
    std::vector<std::uint8_t> hello(lifeline::wire::header_size);
    co_await asio::async_read(s, asio::buffer(hello), use_awaitable);
    s.set_option(asio::socket_base::linger(true, 0));  // a reset in the middle of the handshake
    s.close();
    asio::steady_timer pause(io);
    for (int i = 0; i < 300 && reported.empty(); ++i) {
      pause.expires_after(10ms);
      co_await pause.async_wait(use_awaitable);
    }
  });
  ASSERT_EQ(reported.size(), 1u);
  // Read when the connection was accepted: the failed socket itself can no longer say.
  EXPECT_EQ(reported[0].first, client_end);
  EXPECT_EQ(lifeline::classify(reported[0].second), lifeline::condition::connection_lost)
      << reported[0].second.message();
}

TEST(session, a_server_that_lost_the_session_gives_the_client_a_clear_error) {
  asio::io_context io;
  auto acceptor = std::make_unique<session_acceptor>(io.get_executor(), loopback, quick_server());
  const auto ep = acceptor->local_endpoint();
  session client(io.get_executor(), quick_options());
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    co_await client.async_connect(ep, use_awaitable);
    { auto server = co_await acceptor->async_accept(use_awaitable); }  // the server drops it
    acceptor.reset();
    // A new server on the same port: it has never heard of this session.
    session_acceptor restarted(io.get_executor(), ep, quick_server());
    client.drop_connection();
    std::uint8_t byte;
    auto [ec, n] = co_await client.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));
    EXPECT_TRUE(ec == errc::session_not_found || ec == errc::session_closed) << ec.message();
    EXPECT_EQ(ec, lifeline::condition::session_lost);
  });
}

TEST(session, pre_shared_key_admits_the_right_key_only) {
  asio::io_context io;
  auto server_opts = quick_server();
  server_opts.session.psk = "correct horse battery staple";
  session_acceptor acceptor(io.get_executor(), loopback, server_opts);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    auto wrong_opts = quick_options();
    wrong_opts.psk = "wrong";
    session wrong(io.get_executor(), wrong_opts);
    auto [ec] = co_await wrong.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec, errc::resume_rejected);

    session none(io.get_executor(), quick_options());
    auto [ec2] = co_await none.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec2, errc::resume_rejected);

    auto right_opts = quick_options();
    right_opts.psk = server_opts.session.psk;
    session right(io.get_executor(), right_opts);
    co_await right.async_connect(acceptor.local_endpoint(), use_awaitable);
    auto server = co_await acceptor.async_accept(use_awaitable);
    right.drop_connection();  // resuming proves the derived secret matches on both sides
    co_await send_stream(right, 50000, 1, 1);
    EXPECT_EQ(co_await receive_stream(server, 50000, 1), 50000u);
  });
}

TEST(session, session_limit_refuses_new_sessions_with_a_clear_error) {
  asio::io_context io;
  auto server_opts = quick_server();
  server_opts.max_sessions = 1;
  session_acceptor acceptor(io.get_executor(), loopback, server_opts);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    session first(io.get_executor(), quick_options());
    co_await first.async_connect(acceptor.local_endpoint(), use_awaitable);
    session second(io.get_executor(), quick_options());
    auto [ec] = co_await second.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_EQ(ec, errc::session_limit_reached);
    EXPECT_EQ(acceptor.session_count(), 1u);
  });
}

TEST(session_options, out_of_range_values_are_refused_with_a_reason) {
  lifeline::session_options o;
  std::string why;
  EXPECT_FALSE(o.validate(&why));
  o.receive_capacity = 1000;
  EXPECT_EQ(o.validate(&why), errc::invalid_argument);
  EXPECT_NE(why.find("receive_capacity"), std::string::npos);
  o = {};
  o.heartbeat_timeout = o.heartbeat_interval;
  EXPECT_EQ(o.validate(&why), errc::invalid_argument);
  EXPECT_NE(why.find("heartbeat_timeout"), std::string::npos);
}

TEST(retry_policy, full_jitter_stays_under_the_capped_exponential) {
  lifeline::retry_policy p;
  p.base = 100ms;
  p.cap = 1000ms;
  EXPECT_EQ(p.delay(0, 100), 100ms);  // 100 % (100 + 1)
  EXPECT_LE(p.delay(3, 123456789), 800ms);
  EXPECT_LE(p.delay(20, ~0ull), 1000ms);
  EXPECT_EQ(p.delay(5, 0), 0ms);
  std::mt19937_64 rng(7);
  for (unsigned attempt = 0; attempt < 40; ++attempt) {
    EXPECT_LE(p.delay(attempt, rng()),
              std::min(1000ms, attempt < 30 ? 100ms * (1 << std::min(attempt, 20u)) : 1000ms));
  }
}

}  // namespace

#ifdef LIFELINE_WITH_TLS
#include "support/certs.hpp"

#include <boost/asio/ssl.hpp>

namespace {

std::shared_ptr<asio::ssl::context> server_tls(const lifeline::test::test_certs& c, bool require_client) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->use_certificate_chain_file(c.server_cert.string());
  ctx->use_private_key_file(c.server_key.string(), asio::ssl::context::pem);
  if (require_client) {
    ctx->load_verify_file(c.ca.string());
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

std::shared_ptr<asio::ssl::context> client_tls(const std::filesystem::path& ca,
                                               const lifeline::test::test_certs* cert) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->load_verify_file(ca.string());
  ctx->set_verify_mode(asio::ssl::verify_peer);
  if (cert) {
    ctx->use_certificate_chain_file(cert->client_cert.string());
    ctx->use_private_key_file(cert->client_key.string(), asio::ssl::context::pem);
  }
  return ctx;
}

TEST(session_tls, carries_the_stream_and_resumes_over_tls_with_client_certificates) {
  lifeline::test::test_certs certs;
  ASSERT_TRUE(certs.make()) << "the openssl command could not make test certificates";
  asio::io_context io;
  auto server_opts = quick_server();
  server_opts.session.tls = server_tls(certs, true);
  session_acceptor acceptor(io.get_executor(), loopback, server_opts);
  auto client_opts = quick_options();
  client_opts.tls = client_tls(certs.ca, &certs);
  client_opts.tls_server_name = "localhost";
  session client(io.get_executor(), client_opts);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
    auto server = co_await acceptor.async_accept(use_awaitable);
    co_await send_stream(client, 3u << 20, 11, 1);
    client.drop_connection();
    co_await send_stream(server, 1u << 20, 12, 2);
    EXPECT_EQ(co_await receive_stream(server, 3u << 20, 11), 3u << 20);
    EXPECT_EQ(co_await receive_stream(client, 1u << 20, 12), 1u << 20);
    EXPECT_EQ(client.stats().resumes, 1u);
  });
}

TEST(session_tls, refuses_an_untrusted_server_and_a_client_without_a_certificate) {
  lifeline::test::test_certs certs;
  ASSERT_TRUE(certs.make()) << "the openssl command could not make test certificates";
  asio::io_context io;
  auto server_opts = quick_server();
  server_opts.session.tls = server_tls(certs, true);
  session_acceptor acceptor(io.get_executor(), loopback, server_opts);
  lifeline::test::run_bounded(io, [&]() -> awaitable<void> {
    auto untrusting = quick_options();
    untrusting.tls = client_tls(certs.other_ca, &certs);
    session a(io.get_executor(), untrusting);
    auto [ec] = co_await a.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_TRUE(ec) << "a server whose certificate the client does not trust must be refused";

    auto anonymous = quick_options();
    anonymous.tls = client_tls(certs.ca, nullptr);
    session b(io.get_executor(), anonymous);
    auto [ec2] = co_await b.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_TRUE(ec2) << "a client without a certificate must be refused";

    auto wrong_name = quick_options();
    wrong_name.tls = client_tls(certs.ca, &certs);
    wrong_name.tls_server_name = "not-localhost.example";
    session c(io.get_executor(), wrong_name);
    auto [ec3] = co_await c.async_connect(acceptor.local_endpoint(), asio::as_tuple(use_awaitable));
    EXPECT_TRUE(ec3) << "a certificate for another name must be refused";
    EXPECT_EQ(acceptor.session_count(), 0u);
  });
}

}  // namespace
#else  // a build without OpenSSL (Windows): TLS is refused, never silently replaced by plain TCP

namespace {

// A non-null context pointer that is never dereferenced: such a build cannot make a real one.
std::shared_ptr<asio::ssl::context> some_tls_context() {
  static int stand_in = 0;
  return {std::shared_ptr<void>(), reinterpret_cast<asio::ssl::context*>(&stand_in)};
}

TEST(session_tls, a_build_without_tls_refuses_a_tls_context_on_both_sides) {
  lifeline::session_options o;
  o.tls = some_tls_context();
  std::string why;
  EXPECT_EQ(o.validate(&why), lifeline::errc::invalid_argument);
  EXPECT_NE(why.find("TLS is not available"), std::string::npos) << why;

  asio::io_context io;
  lifeline::server_options server;
  server.session.tls = some_tls_context();
  try {
    lifeline::session_acceptor acceptor(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, server);
    ADD_FAILURE() << "the acceptor took a TLS context it cannot use";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), lifeline::errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("TLS is not available"), std::string::npos) << e.what();
  }

  lifeline::session client(io.get_executor(), o);
  std::error_code result;
  client.async_connect({asio::ip::address_v4::loopback(), 9},
                       [&](boost::system::error_code ec) { result = ec; });
  io.run_for(std::chrono::seconds(5));
  EXPECT_EQ(result, lifeline::errc::invalid_argument);
}

}  // namespace
#endif
