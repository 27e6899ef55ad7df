// The demo: source -> tunnel client -> chaos proxy -> tunnel server -> sink, all on one io_context, with
// a seeded schedule of resets and black holes injected through the chaos proxy's own API.
#include "run_demo.hpp"

#include <lifeline/chaos.hpp>
#include <lifeline/tunnel.hpp>

// The session's SHA-256 and random numbers (OpenSSL or CNG), from the library's private headers.
#include "session/crypto.hpp"

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <random>

namespace lifeline {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds since(clock::time_point t) { return std::chrono::duration_cast<milliseconds>(clock::now() - t); }

milliseconds median(std::vector<milliseconds> v) {
  if (v.empty()) return milliseconds(0);
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

demo_report run_demo(const demo_options& o, const std::function<void(const demo_progress&)>& progress) {
  demo_report report;
  report.seed = o.seed != 0 ? o.seed : detail::random_u64() % 1000000000;
  asio::io_context io;
  const auto loopback = asio::ip::make_address("127.0.0.1");
  demo_progress p;
  const auto start = clock::now();
  std::vector<milliseconds> detections, resumes;
  std::optional<clock::time_point> hole_started;
  auto tell = [&](std::string event) {
    p.elapsed = since(start);
    p.event = std::move(event);
    if (progress) progress(p);
    p.event.clear();
  };

  // The sink: the program at the far end, which hashes everything it receives.
  tcp::acceptor sink(io, {loopback, 0});
  detail::sha256 received_hash, sent_hash;
  bool sink_saw_end = false;

  tunnel_options server_opts;
  server_opts.session.heartbeat_interval = o.detection_bound / 4;
  server_opts.session.heartbeat_timeout = o.detection_bound;
  server_opts.session.handshake_timeout = o.detection_bound;
  server_opts.session.retry.base = milliseconds(10);
  server_opts.session.retry.cap = milliseconds(250);
  tunnel_server server(io.get_executor(), {loopback, 0}, "127.0.0.1",
                       std::to_string(sink.local_endpoint().port()), server_opts);

  chaos::server proxy(io.get_executor(), report.seed);
  const auto link =
      proxy.create_proxy({.name = "link",
                          .listen = "127.0.0.1:0",
                          .upstream = "127.0.0.1:" + std::to_string(server.local_endpoint().port()),
                          .enabled = true});
  if (!link) {
    report.error = "the chaos proxy could not start: " + link.error().message;
    return report;
  }

  auto client_opts = server_opts;
  client_opts.session.on_event = [&](const session_event& e) {
    if (e.what == session_event::kind::reset) {
      ++p.link_failures_seen;
      std::string how = e.cause.message();
      if (hole_started) {
        p.last_detection = since(*hole_started);
        detections.push_back(p.last_detection);
        how = fmt::format("black hole detected after {} ms (bound {} ms)", p.last_detection.count(),
                          o.detection_bound.count());
        hole_started.reset();
      }
      tell("link lost: " + how);
    } else if (e.what == session_event::kind::resumed) {
      ++p.resumes;
      p.bytes_resent += e.bytes_resent;
      p.last_resume = e.elapsed;
      resumes.push_back(e.elapsed);
      tell(fmt::format("resumed after {} ms, {} bytes resent", e.elapsed.count(), e.bytes_resent));
    }
  };
  tunnel_client client(io.get_executor(), {loopback, 0}, proxy.endpoint("link").value(), client_opts);

  bool finished = false;
  auto run = [&]() -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto sink_side = [&]() -> awaitable<void> {
      auto s = co_await sink.async_accept(use_awaitable);
      std::vector<char> buffer(256 * 1024);
      while (true) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable));
        if (ec) {
          sink_saw_end = ec == asio::error::eof;
          if (!sink_saw_end) report.error = "the sink's connection failed: " + ec.message();
          break;
        }
        received_hash.update(buffer.data(), n);
        p.bytes_received += n;
      }
      finished = true;
    };
    auto source_side = [&]() -> awaitable<void> {
      tcp::socket s(io);
      co_await s.async_connect(client.local_endpoint(), use_awaitable);
      std::mt19937_64 rng(report.seed);
      std::vector<std::uint64_t> words(32 * 1024);
      while (since(start) < o.duration && (o.max_bytes == 0 || p.bytes_sent < o.max_bytes)) {
        for (auto& w : words) w = rng();
        auto n = words.size() * sizeof(std::uint64_t);
        if (o.max_bytes != 0) n = std::min<std::uint64_t>(n, o.max_bytes - p.bytes_sent);
        sent_hash.update(words.data(), n);
        co_await asio::async_write(s, asio::buffer(words.data(), n), use_awaitable);
        p.bytes_sent += n;
      }
      s.shutdown(tcp::socket::shutdown_send);
      tell("source finished; waiting for the sink to receive everything");
      char byte;
      co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(use_awaitable));  // the sink's close
    };
    auto faults = [&]() -> awaitable<void> {
      std::mt19937_64 rng(report.seed ^ 0x5eed);
      std::exponential_distribution<double> gap(o.fault_rate > 0 ? o.fault_rate : 1.0);
      asio::steady_timer t(io);
      auto pause = [&](milliseconds d) -> awaitable<void> {
        t.expires_after(d);
        co_await t.async_wait(asio::as_tuple(use_awaitable));
      };
      while (!finished && o.fault_rate > 0) {
        co_await pause(milliseconds(static_cast<long>(gap(rng) * 1000)) + milliseconds(200));
        if (finished || since(start) >= o.duration) break;
        if (rng() % 2 == 0) {
          proxy.add_toxic("link", {.name = "reset",
                                   .type = "reset_peer",
                                   .stream = "upstream",
                                   .toxicity = 1.0f,
                                   .attributes = {{"timeout", 0}}});
          ++p.resets_injected;
          tell("injected: TCP reset");
          co_await pause(milliseconds(30));
          proxy.remove_toxic("link", "reset");
        } else {
          const auto length = o.detection_bound * 3 / 2 + milliseconds(rng() % 500);
          proxy.add_toxic("link", {.name = "hole",
                                   .type = "timeout",
                                   .stream = "downstream",
                                   .toxicity = 1.0f,
                                   .attributes = {{"timeout", 0}}});
          hole_started = clock::now();
          ++p.black_holes_injected;
          tell(fmt::format("injected: black hole for {} ms", length.count()));
          co_await pause(length);
          proxy.remove_toxic("link", "hole");
        }
      }
    };
    auto ticker = [&]() -> awaitable<void> {
      asio::steady_timer t(io);
      while (!finished) {
        t.expires_after(milliseconds(500));
        co_await t.async_wait(asio::as_tuple(use_awaitable));
        tell("");
      }
    };
    co_await (sink_side() && source_side() && faults() && ticker());
  };
  asio::co_spawn(io, run, [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        report.error = ex.what();
      }
    }
    client.close();
    server.close();
    proxy.close();
    io.stop();
  });
  // The demo bounds itself: the stream, then at most a minute more to drain.
  io.run_for(o.duration + std::chrono::seconds(60));
  if (!finished && report.error.empty())
    report.error = "the sink did not receive the end of the stream in time";

  p.elapsed = since(start);
  report.final = p;
  report.sha256_sent = sent_hash.hex();
  report.sha256_received = received_hash.hex();
  report.complete =
      sink_saw_end && p.bytes_received == p.bytes_sent && report.sha256_sent == report.sha256_received;
  report.median_detection = median(detections);
  report.max_detection =
      detections.empty() ? milliseconds(0) : *std::max_element(detections.begin(), detections.end());
  report.median_resume = median(resumes);
  report.max_resume = resumes.empty() ? milliseconds(0) : *std::max_element(resumes.begin(), resumes.end());
  return report;
}

}  // namespace lifeline
