// The session through lifeline's real chaos proxy: a large stream both ways while resets, black holes,
// slicing and corrupted bytes are injected many times; every byte arrives once, in order.
#include "support/io.hpp"

#include <lifeline/chaos.hpp>
#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
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

// XXH3-128 of a stream, fed piece by piece: a digest independent of the session's own checksums
// (XXH3-64 per frame), so a byte lost, repeated or reordered anywhere shows.
class stream_digest {
 public:
  stream_digest() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }
  ~stream_digest() { XXH3_freeState(state_); }
  stream_digest(const stream_digest&) = delete;
  stream_digest& operator=(const stream_digest&) = delete;
  void update(const void* p, std::size_t n) { XXH3_128bits_update(state_, p, n); }
  std::string hex() {
    const auto d = XXH3_128bits_digest(state_);
    return fmt::format("{:016x}{:016x}", d.high64, d.low64);
  }

 private:
  XXH3_state_t* state_;
};

awaitable<std::string> send_random(lifeline::session& s, std::uint64_t total, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  stream_digest hash;
  std::vector<std::uint64_t> words(32 * 1024);
  for (std::uint64_t sent = 0; sent < total;) {
    for (auto& w : words) w = rng();
    const auto n = std::min<std::uint64_t>(total - sent, 1 + rng() % (words.size() * 8));
    hash.update(words.data(), n);
    co_await asio::async_write(s, asio::buffer(words.data(), n), use_awaitable);
    sent += n;
  }
  co_return hash.hex();
}

awaitable<std::string> receive_all(lifeline::session& s, std::uint64_t total) {
  stream_digest hash;
  std::vector<char> buffer(128 * 1024);
  for (std::uint64_t got = 0; got < total;) {
    const auto n = co_await s.async_read_some(
        asio::buffer(buffer, std::min<std::uint64_t>(buffer.size(), total - got)), use_awaitable);
    hash.update(buffer.data(), n);
    got += n;
  }
  co_return hash.hex();
}

lifeline::session_options fast_detection() {
  lifeline::session_options o;
  o.heartbeat_interval = 100ms;
  o.heartbeat_timeout = 400ms;
  o.handshake_timeout = 500ms;
  o.retry.base = 5ms;
  o.retry.cap = 100ms;
  o.retry.deadline = 30s;
  return o;
}

TEST(session_through_chaos, large_stream_both_ways_survives_resets_black_holes_slicing_and_corruption) {
  const std::uint64_t seed = 424242;
  std::printf("chaos seed %llu (fault schedule and proxy PRNG)\n", static_cast<unsigned long long>(seed));
  asio::io_context io;
  lifeline::server_options so;
  so.session = fast_detection();
  lifeline::session_acceptor acceptor(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}, so);
  lifeline::chaos::server chaos(io.get_executor(), seed);
  const auto proxy =
      chaos.create_proxy({.name = "link",
                          .listen = "127.0.0.1:0",
                          .upstream = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()),
                          .enabled = true});
  ASSERT_TRUE(proxy) << proxy.error().message;
  ASSERT_TRUE(chaos.add_toxic(
      "link", {.name = "slices",
               .type = "slicer",
               .stream = "downstream",
               .toxicity = 1.0f,
               .attributes = {{"average_size", 1500}, {"size_variation", 1000}, {"delay", 0}}}));
  auto client_options = fast_detection();
  int resets = 0, black_holes = 0, corruptions = 0;
  client_options.on_event = [](const lifeline::session_event&) {};
  lifeline::session client(io.get_executor(), client_options);
  const std::uint64_t total = 96u << 20;
  std::string sent_up, sent_down, got_up, got_down;

  lifeline::test::run_bounded(
      io,
      [&]() -> awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        co_await client.async_connect(chaos.endpoint("link").value(), use_awaitable);
        auto server = co_await acceptor.async_accept(use_awaitable);
        bool done = false;
        auto faults = [&]() -> awaitable<void> {
          std::mt19937_64 rng(seed);
          asio::steady_timer t(io);
          auto pause = [&](std::chrono::milliseconds d) -> awaitable<void> {
            t.expires_after(d);
            co_await t.async_wait(use_awaitable);
          };
          while (!done) {
            co_await pause(std::chrono::milliseconds(50 + rng() % 150));
            if (done) break;
            switch (rng() % 3) {
              case 0:  // a TCP reset on the next packet
                chaos.add_toxic("link", {.name = "reset",
                                         .type = "reset_peer",
                                         .stream = "upstream",
                                         .toxicity = 1.0f,
                                         .attributes = {{"timeout", 0}}});
                co_await pause(20ms);
                chaos.remove_toxic("link", "reset");
                ++resets;
                break;
              case 1:  // a black hole long enough for the heartbeat to notice
                chaos.add_toxic("link", {.name = "hole",
                                         .type = "timeout",
                                         .stream = rng() % 2 ? "upstream" : "downstream",
                                         .toxicity = 1.0f,
                                         .attributes = {{"timeout", 0}}});
                co_await pause(600ms);
                chaos.remove_toxic("link", "hole");
                ++black_holes;
                break;
              case 2:  // flipped bits: checksums must catch every one
                chaos.add_toxic("link", {.name = "bits",
                                         .type = "corrupt",
                                         .stream = "downstream",
                                         .toxicity = 1.0f,
                                         .attributes = {{"probability", 0.000002}}});
                co_await pause(100ms);
                chaos.remove_toxic("link", "bits");
                ++corruptions;
                break;
            }
          }
        };
        auto transfer = [&]() -> awaitable<void> {
          std::tie(got_up, got_down) = co_await (receive_all(server, total) && receive_all(client, total));
          done = true;
        };
        auto senders = [&]() -> awaitable<void> {
          std::tie(sent_up, sent_down) =
              co_await (send_random(client, total, seed) && send_random(server, total, seed + 1));
        };
        co_await (senders() && transfer() && faults());
      },
      std::chrono::seconds(240));
  const auto stats = client.stats();
  std::printf(
      "%llu MiB each way; %d resets, %d black holes, %d corruption bursts; client: %llu resets, %llu "
      "resumes, %llu bytes resent, %llu frames rejected\n",
      static_cast<unsigned long long>(total >> 20), resets, black_holes, corruptions,
      static_cast<unsigned long long>(stats.resets), static_cast<unsigned long long>(stats.resumes),
      static_cast<unsigned long long>(stats.bytes_resent),
      static_cast<unsigned long long>(stats.frames_rejected));
  EXPECT_EQ(got_up, sent_up) << "client to server stream differs";
  EXPECT_EQ(got_down, sent_down) << "server to client stream differs";
  EXPECT_GT(resets + black_holes + corruptions, 10);
  EXPECT_GT(stats.resumes, 5u);
}

}  // namespace
