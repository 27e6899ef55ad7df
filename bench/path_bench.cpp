// Throughput of one stream and small-message round-trip time over several paths to the same target, in
// the same run: raw TCP, a lifeline session, plain and sealed (a pre-shared key: protocol version 2's
// AES-256-GCM; client and server in this process, on their own threads, as session_bench), and any relays the
// caller started (socat, ssh -L, the lifeline tunnel, the chaos proxy) given as NAME=PORT. Every path ends at
// this program's target, which sinks or echoes depending on the first byte a connection sends, so every path
// carries the same bytes to the same code.
//
// Usage: path_bench --target-port P [--path NAME=PORT]... [--mib N] [--runs R] [--round-trips N]
//                   [--message-bytes N] [--json FILE] [--plot-data FILE]
#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <fmt/core.h>
#include <fmt/os.h>
#include <boost/asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t write_size = 128 * 1024;  // as the reference iperf3 run
constexpr char sink_mode = 'S';
constexpr char echo_mode = 'E';
// The sealed session's pre-shared key: a benchmark's, not a secret.
constexpr const char* bench_key = "path_bench key, not a secret";

struct settings {
  std::uint16_t target_port = 0;
  std::vector<std::pair<std::string, std::uint16_t>> relays;
  std::uint64_t mib = 1024;
  int runs = 3;
  int round_trips = 2000;
  std::size_t message_bytes = 64;
  std::string json_path, plot_path;
};

// The end of a stream: a half-close, which a session acknowledges and a socket just sends.
awaitable<void> finish(tcp::socket& s) {
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
  co_return;
}
awaitable<void> finish(lifeline::session& s) { co_await s.async_shutdown(use_awaitable); }

template <typename Stream>
awaitable<void> drain_to_eof(Stream& s) {
  char byte;
  boost::system::error_code ec;
  while (!ec) co_await s.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(use_awaitable, ec));
}

// The target's side of one connection: 'S' + 64-bit length, then that many bytes, answered with one
// byte once all have arrived; or 'E', then everything echoed until the peer's end of stream.
template <typename Stream>
awaitable<void> serve(Stream s) {
  char header[9];
  co_await asio::async_read(s, asio::buffer(header, 1), use_awaitable);
  std::vector<char> buffer(256 * 1024);
  if (header[0] == sink_mode) {
    co_await asio::async_read(s, asio::buffer(header + 1, 8), use_awaitable);
    std::uint64_t total;
    std::memcpy(&total, header + 1, 8);
    for (std::uint64_t got = 0; got < total;)
      got += co_await s.async_read_some(
          asio::buffer(buffer, std::min<std::uint64_t>(buffer.size(), total - got)), use_awaitable);
    co_await asio::async_write(s, asio::buffer("k", 1), use_awaitable);
    co_await drain_to_eof(s);
  } else if (header[0] == echo_mode) {
    boost::system::error_code ec;
    for (;;) {
      const auto n =
          co_await s.async_read_some(asio::buffer(buffer), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      co_await asio::async_write(s, asio::buffer(buffer.data(), n), use_awaitable);
    }
  }
  co_await finish(s);
}

void spawn_detached(asio::any_io_executor ex, awaitable<void> a) {
  // A connection the peer broke ends its coroutine; the bench's own checks catch missing bytes.
  asio::co_spawn(ex, std::move(a), asio::detached);
}

/// The common end of every path: a TCP listener on a given port and a lifeline session listener, on one
/// thread of their own.
class target {
 public:
  explicit target(std::uint16_t port)
      : tcp_(io_, {asio::ip::make_address("127.0.0.1"), port}),
        sessions_(io_.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}),
        sealed_(io_.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}, sealed_server()) {
    tcp_.set_option(tcp::no_delay(true));
    asio::co_spawn(io_, accept_tcp(), asio::detached);
    asio::co_spawn(io_, accept_sessions(sessions_), asio::detached);
    asio::co_spawn(io_, accept_sessions(sealed_), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~target() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t tcp_port() const { return tcp_.local_endpoint().port(); }
  /// The session listener: plain, or sealed (a pre-shared key: protocol version 2's AES-256-GCM).
  tcp::endpoint session_endpoint(bool sealed) const {
    return sealed ? sealed_.local_endpoint() : sessions_.local_endpoint();
  }

 private:
  awaitable<void> accept_tcp() {
    for (;;) {
      auto s = co_await tcp_.async_accept(use_awaitable);
      s.set_option(tcp::no_delay(true));
      spawn_detached(io_.get_executor(), serve(std::move(s)));
    }
  }
  awaitable<void> accept_sessions(lifeline::session_acceptor& a) {
    for (;;) spawn_detached(io_.get_executor(), serve(co_await a.async_accept(use_awaitable)));
  }
  static lifeline::server_options sealed_server() {
    lifeline::server_options o;
    o.session.psk = bench_key;
    return o;
  }
  asio::io_context io_;
  tcp::acceptor tcp_;
  lifeline::session_acceptor sessions_;
  lifeline::session_acceptor sealed_;
  std::thread thread_;
};

struct path {
  std::string name;
  std::uint16_t port = 0;  // 0: the in-process lifeline session
  bool sealed = false;     // that session with a pre-shared key
  std::vector<double> gbps, p50_us, p99_us;
};

template <typename Stream>
awaitable<double> push(Stream& s, std::uint64_t total) {
  std::vector<char> block(write_size, 'x');
  char header[9] = {sink_mode};
  std::memcpy(header + 1, &total, 8);
  const auto start = clock_type::now();
  co_await asio::async_write(s, asio::buffer(header), use_awaitable);
  for (std::uint64_t sent = 0; sent < total;) {
    const auto n = std::min<std::uint64_t>(block.size(), total - sent);
    co_await asio::async_write(s, asio::buffer(block.data(), n), use_awaitable);
    sent += n;
  }
  char ack = 0;
  co_await asio::async_read(s, asio::buffer(&ack, 1), use_awaitable);
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  if (ack != 'k') throw std::runtime_error("the sink did not confirm");
  co_await finish(s);
  co_await drain_to_eof(s);
  co_return static_cast<double>(total) * 8 / seconds / 1e9;
}

/// Round trips of `bytes`-byte messages; returns every round trip in microseconds, after a warm-up.
template <typename Stream>
awaitable<std::vector<double>> ping_pong(Stream& s, int count, std::size_t bytes) {
  std::vector<char> out(bytes, 'p'), in(bytes);
  std::vector<double> us;
  us.reserve(count);
  co_await asio::async_write(s, asio::buffer(&echo_mode, 1), use_awaitable);
  for (int i = -20; i < count; ++i) {
    const auto start = clock_type::now();
    co_await asio::async_write(s, asio::buffer(out), use_awaitable);
    co_await asio::async_read(s, asio::buffer(in), use_awaitable);
    if (i >= 0) us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
    if (in != out) throw std::runtime_error("the echo differs from what was sent");
  }
  co_await finish(s);
  co_await drain_to_eof(s);
  co_return us;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// Runs `work` over a fresh connection on `p`, on this thread, within `limit`; exits on failure.
template <typename Result, typename Work>
Result over(const path& p, const target& t, std::chrono::seconds limit, Work work) {
  asio::io_context io;
  std::optional<Result> result;
  std::string failure;
  auto body = [&]() -> awaitable<void> {
    if (p.port == 0) {
      lifeline::session_options o;
      if (p.sealed) o.psk = bench_key;
      lifeline::session s(io.get_executor(), o);
      co_await s.async_connect(t.session_endpoint(p.sealed), use_awaitable);
      result = co_await work(s);
    } else {
      tcp::socket s(io);
      co_await s.async_connect({asio::ip::make_address("127.0.0.1"), p.port}, use_awaitable);
      s.set_option(tcp::no_delay(true));
      result = co_await work(s);
    }
  };
  asio::co_spawn(io, body, [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      failure = x.what();
    }
  });
  io.run_for(limit);
  if (!result) {
    fmt::print(stderr, "path_bench: {}: {}\n", p.name, failure.empty() ? "did not finish in time" : failure);
    std::exit(1);
  }
  return *result;
}

/// Waits for a relay to accept and answer one round trip: relays started by the caller may still be
/// starting. Bounded by `limit`.
void wait_ready(const path& p, const target& t, std::chrono::seconds limit) {
  const auto deadline = clock_type::now() + limit;
  for (;;) {
    asio::io_context io;
    tcp::socket probe(io);
    boost::system::error_code ec;
    if (p.port == 0) break;
    probe.connect({asio::ip::make_address("127.0.0.1"), p.port}, ec);
    if (!ec) break;
    if (clock_type::now() > deadline) {
      fmt::print(stderr, "path_bench: {} (port {}) is not listening: {}\n", p.name, p.port, ec.message());
      std::exit(1);
    }
    std::this_thread::sleep_for(50ms);
  }
  over<std::vector<double>>(p, t, limit, [](auto& s) { return ping_pong(s, 1, 1); });
}

struct summary {
  double median, min, max;
};
summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

int parse(int argc, char** argv, settings& s) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      fmt::print(stderr, "path_bench: {} needs a value\n", arg);
      return 2;
    }
    const std::string value = argv[++i];
    try {
      if (arg == "--target-port") {
        s.target_port = static_cast<std::uint16_t>(std::stoul(value));
      } else if (arg == "--path") {
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0) throw std::invalid_argument("expected NAME=PORT");
        const auto port = std::stoul(value.substr(eq + 1));
        if (port == 0 || port > 65535) throw std::invalid_argument("port out of range");
        s.relays.emplace_back(value.substr(0, eq), static_cast<std::uint16_t>(port));
      } else if (arg == "--mib") {
        s.mib = std::stoull(value);
      } else if (arg == "--runs") {
        s.runs = std::stoi(value);
      } else if (arg == "--round-trips") {
        s.round_trips = std::stoi(value);
      } else if (arg == "--message-bytes") {
        s.message_bytes = std::stoul(value);
      } else if (arg == "--json") {
        s.json_path = value;
      } else if (arg == "--plot-data") {
        s.plot_path = value;
      } else {
        fmt::print(stderr, "path_bench: unknown option {}\n", arg);
        return 2;
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "path_bench: {} {}: {}\n", arg, value, e.what());
      return 2;
    }
  }
  if (s.mib == 0 || s.runs < 1 || s.round_trips < 1 || s.message_bytes == 0) {
    fmt::print(stderr, "path_bench: --mib, --runs, --round-trips and --message-bytes must be positive\n");
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  if (const int status = parse(argc, argv, s)) return status;
  target t(s.target_port);

  std::vector<path> paths;
  paths.push_back({"raw TCP", t.tcp_port(), false, {}, {}, {}});
  paths.push_back({"lifeline session", 0, false, {}, {}, {}});
  paths.push_back({"lifeline session, sealed", 0, true, {}, {}, {}});
  for (const auto& [name, port] : s.relays) paths.push_back({name, port, false, {}, {}, {}});
  for (const auto& p : paths) wait_ready(p, t, 10s);

  const std::uint64_t total = s.mib << 20;
  // Generous: a path slower than 0.1 Gbit/s is broken, not slow.
  const auto limit = std::chrono::seconds(30 + total * 8 / 100'000'000);
  fmt::print(stderr, "path_bench: {} MiB per stream in {}-byte writes, {} round trips of {} bytes, {} runs\n",
             s.mib, write_size, s.round_trips, s.message_bytes, s.runs);
  for (int r = 0; r < s.runs; ++r) {
    for (auto& p : paths) {  // interleaved, so that load from other work hits every path alike
      p.gbps.push_back(over<double>(p, t, limit, [&](auto& st) { return push(st, total); }));
      const auto us = over<std::vector<double>>(
          p, t, limit, [&](auto& st) { return ping_pong(st, s.round_trips, s.message_bytes); });
      p.p50_us.push_back(percentile(us, 0.50));
      p.p99_us.push_back(percentile(us, 0.99));
      fmt::print(stderr, "  run {}/{} {:<22} {:7.2f} Gbit/s   p50 {:6.1f} us   p99 {:6.1f} us\n", r + 1,
                 s.runs, p.name, p.gbps.back(), p.p50_us.back(), p.p99_us.back());
    }
  }

  const auto raw = summarize(paths[0].gbps);
  const auto raw50 = summarize(paths[0].p50_us);
  fmt::print(
      "| path | throughput Gbit/s median (min-max) | ratio to raw | RTT p50 us median (min-max) | "
      "RTT p99 us median (min-max) | p50 ratio to raw |\n|---|---|---|---|---|---|\n");
  std::string json = fmt::format(
      "{{\"mib_per_stream\":{},\"write_bytes\":{},\"runs\":{},\"round_trips\":{},\"message_bytes\":{},"
      "\"paths\":[",
      s.mib, write_size, s.runs, s.round_trips, s.message_bytes);
  std::string plot;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const auto& p = paths[i];
    const auto g = summarize(p.gbps), a = summarize(p.p50_us), b = summarize(p.p99_us);
    fmt::print(
        "| {} | {:.2f} ({:.2f}-{:.2f}) | {:.2f} | {:.1f} ({:.1f}-{:.1f}) | {:.1f} ({:.1f}-{:.1f}) | {:.2f} "
        "|\n",
        p.name, g.median, g.min, g.max, g.median / raw.median, a.median, a.min, a.max, b.median, b.min, b.max,
        a.median / raw50.median);
    auto runs = [](const std::vector<double>& v) {
      std::string out = "[";
      for (std::size_t k = 0; k < v.size(); ++k) out += fmt::format("{}{:.3f}", k ? "," : "", v[k]);
      return out + "]";
    };
    json += fmt::format(
        "{}{{\"name\":\"{}\",\"gbps\":{{\"median\":{:.3f},\"min\":{:.3f},\"max\":{:.3f},\"runs\":{}}},"
        "\"ratio_to_raw\":{:.3f},\"rtt_p50_us\":{{\"median\":{:.1f},\"min\":{:.1f},\"max\":{:.1f}}},"
        "\"rtt_p99_us\":{{\"median\":{:.1f},\"min\":{:.1f},\"max\":{:.1f}}},\"rtt_p50_ratio_to_raw\":{:.3f}}"
        "}",
        i ? "," : "", p.name, g.median, g.min, g.max, runs(p.gbps), g.median / raw.median, a.median, a.min,
        a.max, b.median, b.min, b.max, a.median / raw50.median);
    plot += fmt::format("\"{}\" {:.3f} {:.3f} {:.3f} {:.1f} {:.1f} {:.1f} {:.1f}\n", p.name, g.median, g.min,
                        g.max, a.median, a.min, a.max, b.median);
  }
  json += "]}\n";
  if (!s.json_path.empty()) fmt::output_file(s.json_path).print("{}", json);
  if (!s.plot_path.empty()) fmt::output_file(s.plot_path).print("{}", plot);
  return 0;
}
