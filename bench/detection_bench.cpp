// How long finding a dead peer really takes, against the bound the options promise: repeated silent
// cuts of a connection across the test network, at a seeded random moment of the keep-alive cycle,
// reported as min / median / max and as a ratio to the bound. The OS defaults are the reference.
//
// Usage: detection_bench [--cuts N] [--seed S] [--idle S] [--interval S] [--probes N]   (as root)
#include "support/netns.hpp"

#include <lifeline/doctor.hpp>
#include <lifeline/guarded_socket.hpp>

#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using lifeline::test::cut_method;
using lifeline::test::test_network;
using clock_type = std::chrono::steady_clock;
using side = test_network::side;
using std::chrono::milliseconds;

struct settings {
  int cuts = 5;
  std::uint64_t seed = 0;
  int idle = 1;
  int interval = 1;
  int probes = 2;
};

enum class load { idle, in_flight, in_flight_no_user_timeout };

const char* to_string(load l) {
  switch (l) {
    case load::idle:
      return "idle";
    case load::in_flight:
      return "in flight";
    case load::in_flight_no_user_timeout:
      return "in flight, no user timeout";
  }
  return "?";
}

struct sample {
  milliseconds since_cut{0};  ///< what a program waits for, counted from the cut
  milliseconds silence{0};    ///< counted from when the peer was last heard: what bound() bounds
  bool by_deadline = false;
  bool ok = false;
  std::string error;
};

tcp::socket connect_across(test_network& net, asio::io_context& io, tcp::acceptor& acceptor,
                           tcp::socket& peer) {
  tcp::socket near(io);
  net.run_in(side::near, [&] { near.open(tcp::v4()); });
  std::optional<boost::system::error_code> accepted, connected;
  acceptor.async_accept(peer, [&](boost::system::error_code ec) { accepted = ec; });
  near.async_connect(acceptor.local_endpoint(), [&](boost::system::error_code ec) { connected = ec; });
  io.run_for(5s);
  io.restart();
  if (!accepted || !connected || *accepted || *connected) throw std::runtime_error("could not connect");
  return near;
}

sample measure_one(test_network& net, cut_method method, load mode,
                   const lifeline::keepalive_options& options, milliseconds delay) {
  asio::io_context io;
  tcp::acceptor acceptor(io);
  net.run_in(side::peer, [&] {
    acceptor.open(tcp::v4());
    acceptor.bind({asio::ip::make_address_v4(net.address(side::peer)), 0});
    acceptor.listen();
  });
  tcp::socket peer(io);
  lifeline::guarded_socket guarded(connect_across(net, io, acceptor, peer));
  if (auto ec = guarded.set_options(options)) throw std::runtime_error("options: " + ec.message());

  std::array<char, 64> buffer{};
  std::optional<boost::system::error_code> result;
  auto done_at = clock_type::now();
  guarded.async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, std::size_t) {
    result = ec;
    done_at = clock_type::now();
  });
  io.run_for(delay);  // a random point of the keep-alive cycle
  io.restart();
  net.cut(method);
  const auto cut_at = clock_type::now();
  const std::string request(1000, 'q');
  if (mode != load::idle) asio::async_write(guarded, asio::buffer(request), [](auto, auto) {});
  io.run_for(options.bound() + 10s);
  net.restore();

  sample s;
  s.ok = result && *result == lifeline::errc::network_reset;
  s.error = result ? result->message() : "still pending";
  s.since_cut = std::chrono::duration_cast<milliseconds>(done_at - cut_at);
  s.silence = guarded.silence_at_failure().value_or(milliseconds(-1));
  s.by_deadline = guarded.detected_by_deadline();
  return s;
}

double seconds_of(milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

void report(const char* what, std::vector<milliseconds> values, milliseconds bound) {
  std::sort(values.begin(), values.end());
  const auto median = values[values.size() / 2];
  fmt::print(
      "    {:<22} min {:7.3f} s  median {:7.3f} s  max {:7.3f} s   median/bound {:.3f}  max/bound {:.3f}\n",
      what, seconds_of(values.front()), seconds_of(median), seconds_of(values.back()),
      seconds_of(median) / seconds_of(bound), seconds_of(values.back()) / seconds_of(bound));
}

int parse(int argc, char** argv, settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      fmt::print(stderr, "detection_bench: {} needs a value\n", arg);
      return 2;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    const auto number = std::strtoull(value.c_str(), &end, 10);
    const bool is_seed = arg == "--seed";
    if (end == value.c_str() || *end != '\0' || number == 0 || (!is_seed && number > 100000)) {
      fmt::print(stderr, "detection_bench: {} {}: expected a whole number from 1 to {}\n", arg, value,
                 is_seed ? "2^64-1" : "100000");
      return 2;
    }
    if (arg == "--cuts") {
      s.cuts = static_cast<int>(number);
    } else if (arg == "--seed") {
      s.seed = number;
    } else if (arg == "--idle") {
      s.idle = static_cast<int>(number);
    } else if (arg == "--interval") {
      s.interval = static_cast<int>(number);
    } else if (arg == "--probes") {
      s.probes = static_cast<int>(number);
    } else {
      fmt::print(stderr, "detection_bench: unknown option {}\n", arg);
      return 2;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (const int status = parse(argc, argv, s)) return status;
  if (!lifeline::test::running_as_root()) {
    fmt::print(stderr, "detection_bench: needs root to create network namespaces\n");
    return 1;
  }
  if (s.seed == 0) s.seed = std::random_device{}() | 1u;
  fmt::print("detection_bench: seed {} (replay with --seed {}), {} cuts per case\n", s.seed, s.seed, s.cuts);
  std::mt19937_64 random(s.seed);

  auto options =
      lifeline::matched_options(std::chrono::seconds(s.idle), std::chrono::seconds(s.interval), s.probes);
  fmt::print(
      "options: idle {} s, interval {} s x {} probes, user timeout {} ms; OS bound {:.3f} s, promised bound "
      "{:.3f} s\n",
      s.idle, s.interval, s.probes, options.user_timeout.count(), seconds_of(options.os_bound()),
      seconds_of(options.bound()));

  test_network net;
  {
    // The reference: what the same namespace's defaults promise to a socket that sets nothing.
    lifeline::keepalive_options defaults;
    FILE* pipe = ::popen(("ip netns exec " + net.name(side::near) +
                          " sysctl -n net.ipv4.tcp_keepalive_time net.ipv4.tcp_keepalive_intvl "
                          "net.ipv4.tcp_keepalive_probes net.ipv4.tcp_retries2")
                             .c_str(),
                         "r");
    long long idle = 0, intvl = 0, probes = 0, retries2 = 0;
    if (pipe && std::fscanf(pipe, "%lld %lld %lld %lld", &idle, &intvl, &probes, &retries2) == 4) {
      const auto keepalive = std::chrono::seconds(idle + intvl * probes);
      const auto in_flight = lifeline::retransmission_give_up(static_cast<int>(retries2));
      fmt::print(
          "OS defaults (reference, not waited for): keep-alive {} s + {} x {} s = {} s when idle; "
          "tcp_retries2={} -> ~{:.1f} s with data in flight; lifeline's bound is {:.5f} and {:.5f} of "
          "them\n",
          idle, probes, intvl, keepalive.count(), retries2, seconds_of(in_flight),
          seconds_of(options.bound()) / static_cast<double>(keepalive.count()),
          seconds_of(options.bound()) / seconds_of(in_flight));
    }
    if (pipe) ::pclose(pipe);
  }

  struct bench_case {
    cut_method method;
    load mode;
  };
  const bench_case cases[] = {
      {cut_method::drop_at_peer, load::idle},
      {cut_method::link_down, load::idle},
      {cut_method::blackhole_route, load::idle},
      {cut_method::drop_at_peer, load::in_flight},
      {cut_method::drop_at_peer, load::in_flight_no_user_timeout},
  };
  int failures = 0;
  for (const auto& c : cases) {
    auto case_options = options;
    if (c.mode == load::in_flight_no_user_timeout) case_options.user_timeout = 0ms;
    std::vector<milliseconds> since_cut, silence;
    int by_deadline = 0;
    for (int i = 0; i < s.cuts; ++i) {
      // Anywhere in the first two keep-alive cycles, so some cuts fall after an answered probe.
      std::uniform_int_distribution<int> phase(0, 2 * s.idle * 1000 - 1);
      const auto delay = milliseconds(phase(random));
      const auto one = measure_one(net, c.method, c.mode, case_options, delay);
      if (!one.ok) {
        ++failures;
        fmt::print("  cut {} ({}, delay {} ms): FAILED: {}\n", lifeline::test::to_string(c.method),
                   to_string(c.mode), delay.count(), one.error);
        continue;
      }
      since_cut.push_back(one.since_cut);
      silence.push_back(one.silence);
      by_deadline += one.by_deadline ? 1 : 0;
    }
    fmt::print("  {} / {}: {} of {} detected, {} by lifeline's deadline; bound {:.3f} s\n",
               lifeline::test::to_string(c.method), to_string(c.mode), since_cut.size(), s.cuts, by_deadline,
               seconds_of(case_options.bound()));
    if (!since_cut.empty()) {
      report("from the cut", since_cut, case_options.bound());
      report("peer silent (bounded)", silence, case_options.bound());
    }
  }
  return failures == 0 ? 0 : 1;
}
