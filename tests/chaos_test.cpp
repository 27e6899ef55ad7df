// `lifeline chaos` moving real bytes: each toxic's effect measured through the real binary over loopback
// sockets, toxics changed under live connections, 1,000 concurrent connections, and the in-process API.
#include "support/chaos_harness.hpp"

#include <lifeline/chaos.hpp>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/core.h>

#ifndef _WIN32
#include <sys/resource.h>
#endif
#include <bit>
#include <future>

namespace {

using namespace lifeline::test;
using outcome = client::outcome;

/// A chaos process with one proxy `p` in front of `upstream`.
struct proxied {
  explicit proxied(const upstream_server& upstream, const std::string& extra = "--seed 1234")
      : chaos("--proxy p=127.0.0.1:0=" + upstream.address() + " " + extra) {}
  chaos_process chaos;
  void add_toxic(const std::string& json) {
    const auto reply = http(chaos.api(), "POST", "/proxies/p/toxics", json);
    ASSERT_EQ(reply.status, 200) << json << " -> " << reply.body;
  }
  std::string address() const { return chaos.proxy("p"); }
};

TEST(chaos, starts_and_prints_its_seed_and_addresses) {
  upstream_server upstream;
  proxied px(upstream, "--seed 99");
  ASSERT_TRUE(px.chaos.ready());
  EXPECT_EQ(px.chaos.seed(), "99");
  EXPECT_FALSE(px.chaos.api().empty());
  EXPECT_FALSE(px.address().empty());
  EXPECT_NE(parse_endpoint(px.address()).port(), 0);
#ifndef _WIN32  // a clean exit on SIGTERM; Windows has no signal to send (child_process.hpp)
  EXPECT_EQ(px.chaos.stop(), 0);
  EXPECT_EQ(px.chaos.lines().back(), "chaos stopped by signal 15");
#endif
}

TEST(chaos, passes_data_both_ways_without_toxics) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  client c(px.address());
  std::string payload(100000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + 3);
  ASSERT_TRUE(c.send(payload));
  std::string echoed;
  ASSERT_EQ(c.read_exact(echoed, payload.size(), milliseconds(10000)), outcome::data);
  EXPECT_EQ(echoed, payload);
}

TEST(chaos, latency_delays_each_reply_by_at_least_the_latency) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"latency","attributes":{"latency":300}})");
  client c(px.address());
  for (int round = 0; round < 2; ++round) {
    const auto start = steady::now();
    ASSERT_TRUE(c.send("ping"));
    std::string reply;
    ASSERT_EQ(c.read_exact(reply, 4, milliseconds(5000)), outcome::data);
    const auto elapsed = ms_since(start);
    EXPECT_EQ(reply, "ping");
    EXPECT_GE(elapsed, 300);
    EXPECT_LT(elapsed, 300 + 2500) << "latency should be added once, not compounded";
  }
}

TEST(chaos, latency_toxics_add_up) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"name":"first","type":"latency","attributes":{"latency":200}})");
  px.add_toxic(R"({"name":"second","type":"latency","attributes":{"latency":200}})");
  client c(px.address());
  const auto start = steady::now();
  ASSERT_TRUE(c.send("ping"));
  std::string reply;
  ASSERT_EQ(c.read_exact(reply, 4, milliseconds(5000)), outcome::data);
  EXPECT_GE(ms_since(start), 400);
}

TEST(chaos, bandwidth_holds_the_rate) {
  constexpr std::size_t size = 300000;
  upstream_server upstream(send_then(std::string(size, 'b')));
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"bandwidth","attributes":{"rate":500}})");  // 500 KB/s: 300 KB take 600 ms
  const auto start = steady::now();
  client c(px.address());
  std::string received;
  ASSERT_EQ(c.read_exact(received, size, milliseconds(10000)), outcome::data);
  const auto elapsed = ms_since(start);
  EXPECT_EQ(received, std::string(size, 'b'));
  EXPECT_GE(elapsed, 550);
  EXPECT_LT(elapsed, 6000);
}

TEST(chaos, reset_peer_sends_an_rst) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"reset_peer","stream":"upstream","attributes":{"timeout":200}})");
  client c(px.address());
  const auto start = steady::now();
  ASSERT_TRUE(c.send("hello"));
  std::string received;
  const auto ended = c.read_to_end(received, milliseconds(5000));
  EXPECT_TRUE(c.was_reset(ended)) << static_cast<int>(ended);
  EXPECT_GE(ms_since(start), 200);
  EXPECT_EQ(received, "") << "the chunk that triggers reset_peer is discarded";
}

TEST(chaos, limit_data_cuts_the_stream_at_the_limit) {
  upstream_server upstream(send_then("abcdef", "ghijkl", milliseconds(50)));
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"limit_data","attributes":{"bytes":7}})");
  client c(px.address());
  std::string received;
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  EXPECT_EQ(received, "abcdefg");
}

TEST(chaos, corrupt_flips_single_bits_at_the_given_rate) {
  constexpr std::size_t size = 200000;
  std::string payload(size, '\0');
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>((i * 131) >> 3);
  upstream_server upstream(send_then(payload, {}, milliseconds(0), false));
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"corrupt","attributes":{"probability":0.01}})");
  client c(px.address());
  std::string received;
  ASSERT_EQ(c.read_exact(received, size, milliseconds(10000)), outcome::data) << "seed " << px.chaos.seed();
  ASSERT_EQ(received.size(), size);
  std::size_t flipped = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const auto diff = static_cast<unsigned char>(received[i] ^ payload[i]);
    if (diff == 0) continue;
    ++flipped;
    EXPECT_EQ(std::popcount(diff), 1) << "byte " << i;
  }
  // 2,000 expected; the standard deviation is about 45.
  EXPECT_GT(flipped, 1500u) << "seed " << px.chaos.seed();
  EXPECT_LT(flipped, 2500u) << "seed " << px.chaos.seed();
}

TEST(chaos, timeout_zero_is_a_black_hole_until_removed) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"timeout","stream":"upstream","attributes":{"timeout":0}})");
  client c(px.address());
  ASSERT_TRUE(c.send("into the void"));
  std::string received;
  EXPECT_EQ(c.read_some(received, milliseconds(500)), outcome::timeout) << "data swallowed, connection open";
  EXPECT_TRUE(received.empty());
  // Removing a timeout toxic closes the connections it was attached to, as Toxiproxy does.
  EXPECT_EQ(http(px.chaos.api(), "DELETE", "/proxies/p/toxics/timeout_upstream").status, 204);
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  EXPECT_TRUE(received.empty());
  // New connections pass again.
  client fresh(px.address());
  ASSERT_TRUE(fresh.send("back"));
  EXPECT_EQ(fresh.read_exact(received, 4, milliseconds(5000)), outcome::data);
  EXPECT_EQ(received, "back");
}

TEST(chaos, timeout_closes_after_the_timeout_without_data) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"timeout","attributes":{"timeout":300}})");
  const auto start = steady::now();
  client c(px.address());
  std::string received;
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  EXPECT_GE(ms_since(start), 300);
}

TEST(chaos, slicer_splits_and_paces_the_data) {
  std::string payload(1000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  upstream_server upstream(send_then(payload, {}, milliseconds(0), false));
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  // 1000 bytes halve into 16 pieces of 62 or 63 bytes, with 20 ms after each.
  px.add_toxic(R"({"type":"slicer","attributes":{"average_size":100,"size_variation":0,"delay":20000}})");
  const auto start = steady::now();
  client c(px.address());
  std::string received;
  int reads = 0;
  ASSERT_EQ(c.read_exact(received, payload.size(), milliseconds(10000), &reads), outcome::data);
  EXPECT_EQ(received, payload);
  EXPECT_GE(ms_since(start), 15 * 20);
  EXPECT_GE(reads, 2);
}

TEST(chaos, slow_close_delays_the_close) {
  upstream_server upstream(send_then("bye"));
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"slow_close","attributes":{"delay":400}})");
  const auto start = steady::now();
  client c(px.address());
  std::string received;
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  EXPECT_EQ(received, "bye");
  EXPECT_GE(ms_since(start), 400);
}

TEST(chaos, toxicity_zero_never_acts) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"type":"timeout","toxicity":0,"attributes":{"timeout":0}})");
  client c(px.address());
  ASSERT_TRUE(c.send("still here"));
  std::string received;
  EXPECT_EQ(c.read_exact(received, 10, milliseconds(5000)), outcome::data);
  EXPECT_EQ(received, "still here");
}

TEST(chaos, updating_a_toxic_acts_on_a_live_connection_at_once) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"name":"slow","type":"latency","attributes":{"latency":8000}})");
  client c(px.address());
  const auto start = steady::now();
  ASSERT_TRUE(c.send("held"));
  std::string received;
  EXPECT_EQ(c.read_some(received, milliseconds(300)), outcome::timeout) << "held by the latency";
  const auto update =
      http(px.chaos.api(), "PATCH", "/proxies/p/toxics/slow", R"({"attributes":{"latency":0}})");
  ASSERT_EQ(update.status, 200) << update.body;
  ASSERT_EQ(c.read_exact(received, 4, milliseconds(5000)), outcome::data);
  EXPECT_EQ(received, "held");
  EXPECT_LT(ms_since(start), 4000) << "the update released the held chunk";
}

TEST(chaos, bandwidth_zero_holds_everything_until_the_rate_is_raised) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  px.add_toxic(R"({"name":"pipe","type":"bandwidth","attributes":{"rate":0}})");
  client c(px.address());
  ASSERT_TRUE(c.send("waiting"));
  std::string received;
  EXPECT_EQ(c.read_some(received, milliseconds(400)), outcome::timeout)
      << "rate 0: nothing passes, still open";
  ASSERT_EQ(http(px.chaos.api(), "POST", "/proxies/p/toxics/pipe", R"({"attributes":{"rate":1000}})").status,
            200);
  EXPECT_EQ(c.read_exact(received, 7, milliseconds(5000)), outcome::data);
  EXPECT_EQ(received, "waiting");
}

TEST(chaos, adding_a_toxic_acts_on_a_live_connection_at_once) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  client c(px.address());
  ASSERT_TRUE(c.send("one"));
  std::string received;
  ASSERT_EQ(c.read_exact(received, 3, milliseconds(5000)), outcome::data);
  px.add_toxic(R"({"type":"reset_peer","stream":"upstream","attributes":{"timeout":0}})");
  ASSERT_TRUE(c.send("two"));
  const auto ended = c.read_to_end(received, milliseconds(5000));
  EXPECT_TRUE(c.was_reset(ended)) << static_cast<int>(ended);
  EXPECT_EQ(received, "one");
}

TEST(chaos, disabling_closes_connections_and_refuses_new_ones) {
  upstream_server upstream;
  proxied px(upstream);
  ASSERT_TRUE(px.chaos.ready());
  client c(px.address());
  ASSERT_TRUE(c.send("x"));
  std::string received;
  ASSERT_EQ(c.read_exact(received, 1, milliseconds(5000)), outcome::data);
  ASSERT_EQ(http(px.chaos.api(), "POST", "/proxies/p", R"({"enabled":false})").status, 200);
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  client refused;
  EXPECT_EQ(refused.connect(parse_endpoint(px.address())), boost::asio::error::connection_refused);
  const auto enabled = http(px.chaos.api(), "PATCH", "/proxies/p", R"({"enabled":true})");
  ASSERT_EQ(enabled.status, 200);
  EXPECT_EQ(boost::json::parse(enabled.body).at("listen").as_string(), px.address()) << "the port is kept";
  client again(px.address());
  ASSERT_TRUE(again.send("y"));
  received.clear();
  EXPECT_EQ(again.read_exact(received, 1, milliseconds(5000)), outcome::data);
}

TEST(chaos, unreachable_upstream_closes_the_client_and_the_proxy_keeps_serving) {
  tcp::endpoint dead;
  {
    boost::asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    dead = probe.local_endpoint();
  }
  upstream_server upstream;
  chaos_process chaos("--seed 5 --proxy dead=127.0.0.1:0=127.0.0.1:" + std::to_string(dead.port()) +
                      " --proxy live=127.0.0.1:0=" + upstream.address());
  ASSERT_TRUE(chaos.ready());
  client c(chaos.proxy("dead"));
  std::string received;
  const auto end = c.read_to_end(received, milliseconds(5000));
  EXPECT_TRUE(end == outcome::eof || end == outcome::reset);
  client live(chaos.proxy("live"));
  ASSERT_TRUE(live.send("ok"));
  EXPECT_EQ(live.read_exact(received, 2, milliseconds(5000)), outcome::data);
}

TEST(chaos, carries_a_thousand_concurrent_connections) {
  constexpr int connections = 1000;
#ifndef _WIN32  // Windows has no descriptor limit to raise
  // This process holds 2 descriptors per connection (client and upstream side); the proxy holds 2 more.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 3 * connections) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4 * connections + 100);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  }
  ASSERT_GE(limit.rlim_cur, 2 * connections + 100u) << "the hard descriptor limit is too low";
#endif
  upstream_server upstream;
  proxied px(upstream);  // the child inherits the raised limit
  ASSERT_TRUE(px.chaos.ready());
  const auto to = parse_endpoint(px.address());
  std::vector<std::unique_ptr<client>> clients;
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<client>();
    ASSERT_FALSE(c->connect(to)) << "connection " << i;
    clients.push_back(std::move(c));
  }
  for (int i = 0; i < connections; ++i) ASSERT_TRUE(clients[i]->send(fmt::format("conn-{:06}", i)));
  for (int i = 0; i < connections; ++i) {
    std::string received;
    ASSERT_EQ(clients[i]->read_exact(received, 11, milliseconds(10000)), outcome::data) << "connection " << i;
    EXPECT_EQ(received, fmt::format("conn-{:06}", i));
  }
  // All of them are open at once, and the API still answers.
  const auto reply = http(px.chaos.api(), "GET", "/proxies/p");
  EXPECT_EQ(reply.status, 200);
}

// ---- in-process ------------------------------------------------------------------------------------

/// A chaos::server on an io_context run by a thread of its own; calls go through the executor.
class in_process {
 public:
  explicit in_process(std::uint64_t seed) : server_(io_.get_executor(), seed), guard_(io_.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
  }
  template <class F>
  auto call(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }
  ~in_process() {
    call([this] {
      server_.close();
      return 0;
    });
    guard_.reset();
    thread_.join();
  }
  lifeline::chaos::server& server() { return server_; }

 private:
  boost::asio::io_context io_;
  lifeline::chaos::server server_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

TEST(chaos_in_process, create_proxy_add_and_remove_toxics) {
  upstream_server upstream;
  in_process chaos(42);
  auto created = chaos.call([&] {
    return chaos.server().create_proxy({"db", "127.0.0.1:0", upstream.address(), true});
  });
  ASSERT_TRUE(created) << created.error().message;
  const auto to = chaos.call([&] { return chaos.server().endpoint("db"); });
  ASSERT_TRUE(to);
  EXPECT_EQ(created->listen, "127.0.0.1:" + std::to_string(to->port()));
  EXPECT_EQ(chaos.server().seed(), 42u);

  auto added = chaos.call([&] {
    lifeline::chaos::toxic_options cut;
    cut.type = "limit_data";
    cut.attributes = {{"bytes", 5}};
    return chaos.server().add_toxic("db", cut);
  });
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->name, "limit_data_downstream");
  client c(to.value());
  ASSERT_TRUE(c.send("0123456789"));
  std::string received;
  EXPECT_EQ(c.read_to_end(received, milliseconds(5000)), outcome::eof);
  EXPECT_EQ(received, "01234");

  EXPECT_FALSE(chaos.call([&] { return chaos.server().remove_toxic("db", "limit_data_downstream"); }));
  const auto missing = chaos.call([&] { return chaos.server().remove_toxic("db", "limit_data_downstream"); });
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  client clean(to.value());
  ASSERT_TRUE(clean.send("0123456789"));
  received.clear();
  EXPECT_EQ(clean.read_exact(received, 10, milliseconds(5000)), outcome::data);
  EXPECT_EQ(chaos.call([&] { return chaos.server().connection_count("db"); }), 1u);
}

TEST(chaos_in_process, bad_toxics_are_refused_with_toxiproxys_errors) {
  upstream_server upstream;
  in_process chaos(1);
  ASSERT_TRUE(chaos.call([&] {
    return chaos.server().create_proxy({"db", "127.0.0.1:0", upstream.address()});
  }));
  const auto add = [&](lifeline::chaos::toxic_options o) {
    return chaos.call([&] { return chaos.server().add_toxic("db", o); });
  };
  lifeline::chaos::toxic_options bogus;
  bogus.type = "bogus";
  EXPECT_EQ(add(bogus).error().status, 400);
  EXPECT_EQ(add(bogus).error().message, "invalid toxic type");
  lifeline::chaos::toxic_options fraction;
  fraction.type = "latency";
  fraction.attributes = {{"latency", 1.5}};
  EXPECT_EQ(add(fraction).error().status, 400);
  lifeline::chaos::toxic_options sideways;
  sideways.type = "noop";
  sideways.stream = "sideways";
  EXPECT_EQ(add(sideways).error().message, "stream was invalid, can be either upstream or downstream");
  lifeline::chaos::toxic_options ok;
  ok.type = "noop";
  EXPECT_TRUE(add(ok));
  EXPECT_EQ(add(ok).error().status, 409);
  lifeline::chaos::toxic_options elsewhere;
  elsewhere.type = "noop";
  EXPECT_EQ(chaos.call([&] { return chaos.server().add_toxic("nope", elsewhere); }).error().status, 404);
}

/// Which of `count` connections a toxicity-0.5 toxic cut, in order: the draws of one seeded server.
std::string toxicity_pattern(std::uint64_t seed, int count) {
  upstream_server upstream;
  in_process chaos(seed);
  const auto created = chaos.call([&] {
    return chaos.server().create_proxy({"db", "127.0.0.1:0", upstream.address()});
  });
  EXPECT_TRUE(created);
  const auto added = chaos.call([&] {
    lifeline::chaos::toxic_options cut;
    cut.type = "limit_data";
    cut.toxicity = 0.5f;
    return chaos.server().add_toxic("db", cut);
  });
  EXPECT_TRUE(added);
  const auto to = chaos.call([&] { return chaos.server().endpoint("db"); }).value();
  std::string pattern;
  for (int i = 0; i < count; ++i) {
    client c(to);
    EXPECT_TRUE(c.send("x"));
    std::string received;
    const auto r = c.read_some(received, milliseconds(5000));
    pattern += r == outcome::data ? '.' : r == outcome::eof ? 'X' : '?';
  }
  return pattern;
}

TEST(chaos_in_process, the_seed_decides_every_toxicity_draw) {
  const auto first = toxicity_pattern(2024, 24);
  const auto second = toxicity_pattern(2024, 24);
  EXPECT_EQ(first, second) << "same seed, same draws";
  EXPECT_EQ(first.find('?'), std::string::npos) << first;
  EXPECT_NE(first.find('X'), std::string::npos) << first;
  EXPECT_NE(first.find('.'), std::string::npos) << first;
  EXPECT_NE(toxicity_pattern(7, 24), first) << "another seed, other draws";
}

}  // namespace
