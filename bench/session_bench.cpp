// Session throughput against raw TCP in the same run, and the time from a reset to the first resumed
// byte. Each side runs its own io_context on its own thread, as two processes would.
// Usage: lifeline_session_bench [MiB per run = 1024] [runs = 3]
#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <fmt/core.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t chunk = 256 * 1024;

template <typename Stream>
awaitable<void> send_all(Stream& s, std::uint64_t total) {
  std::vector<char> buffer(chunk, 'x');
  for (std::uint64_t sent = 0; sent < total; sent += chunk) {
    co_await asio::async_write(s, asio::buffer(buffer, std::min<std::uint64_t>(chunk, total - sent)),
                               use_awaitable);
  }
}

template <typename Stream>
awaitable<void> receive_all(Stream& s, std::uint64_t total) {
  std::vector<char> buffer(chunk);
  for (std::uint64_t got = 0; got < total;)
    got += co_await s.async_read_some(asio::buffer(buffer), use_awaitable);
}

template <typename F>
void run(asio::io_context& io, F f) {
  // co_spawn keeps the callable, and so the lambda's captures, alive while the coroutine runs.
  asio::co_spawn(io, std::move(f), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

double raw_tcp(std::uint64_t total) {
  asio::io_context server_io, client_io;
  tcp::acceptor acceptor(server_io, {asio::ip::make_address("127.0.0.1"), 0});
  const auto ep = acceptor.local_endpoint();
  clock_type::time_point start, end;
  run(server_io, [&]() -> awaitable<void> {
    auto s = co_await acceptor.async_accept(use_awaitable);
    co_await receive_all(s, total);
    end = clock_type::now();
  });
  run(client_io, [&]() -> awaitable<void> {
    tcp::socket s(client_io);
    co_await s.async_connect(ep, use_awaitable);
    s.set_option(tcp::no_delay(true));
    start = clock_type::now();
    co_await send_all(s, total);
  });
  std::thread t([&] { server_io.run(); });
  client_io.run();
  t.join();
  return total / std::chrono::duration<double>(end - start).count();
}

double session_stream(std::uint64_t total) {
  asio::io_context server_io, client_io;
  lifeline::session_acceptor acceptor(server_io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0});
  const auto ep = acceptor.local_endpoint();
  clock_type::time_point start, end;
  run(server_io, [&]() -> awaitable<void> {
    auto s = co_await acceptor.async_accept(use_awaitable);
    co_await receive_all(s, total);
    end = clock_type::now();
    co_await s.async_shutdown(use_awaitable);
    char byte;
    boost::system::error_code ignored;
    co_await s.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(use_awaitable, ignored));  // EOF
    acceptor.close();
  });
  lifeline::session client(client_io.get_executor());
  run(client_io, [&]() -> awaitable<void> {
    co_await client.async_connect(ep, use_awaitable);
    start = clock_type::now();
    co_await send_all(client, total);
    co_await client.async_shutdown(use_awaitable);
  });
  std::thread t([&] { server_io.run(); });
  client_io.run();
  t.join();
  return total / std::chrono::duration<double>(end - start).count();
}

// From drop_connection() to the first byte written after it arriving at the server.
double resume_ms() {
  asio::io_context io;
  lifeline::session_options o;
  o.retry.base = std::chrono::milliseconds(1);
  lifeline::server_options so;
  so.session = o;
  lifeline::session_acceptor acceptor(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0}, so);
  lifeline::session client(io.get_executor(), o);
  double ms = 0;
  run(io, [&]() -> awaitable<void> {
    co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
    auto server = co_await acceptor.async_accept(use_awaitable);
    char byte = 1;
    co_await asio::async_write(client, asio::buffer(&byte, 1), use_awaitable);
    co_await asio::async_read(server, asio::buffer(&byte, 1), use_awaitable);
    const auto start = clock_type::now();
    client.drop_connection();
    co_await asio::async_write(client, asio::buffer(&byte, 1), use_awaitable);
    co_await asio::async_read(server, asio::buffer(&byte, 1), use_awaitable);
    ms = std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    client.close();
    acceptor.close();
  });
  io.run();
  return ms;
}

struct summary {
  double median, min, max;
};
summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::stoull(argv[1]) : 1024;
  const int runs = argc > 2 ? std::stoi(argv[2]) : 3;
  const std::uint64_t total = mib << 20;
  std::vector<double> raw, sess, resume;
  for (int i = 0; i < runs; ++i) {
    raw.push_back(raw_tcp(total) * 8 / 1e9);
    sess.push_back(session_stream(total) * 8 / 1e9);
    resume.push_back(resume_ms());
    fmt::print(stderr, "run {}/{}: raw {:.2f} Gbit/s, session {:.2f} Gbit/s, resume {:.2f} ms\n", i + 1, runs,
               raw.back(), sess.back(), resume.back());
  }
  const auto r = summarize(raw), s = summarize(sess), m = summarize(resume);
  fmt::print("| path | median | min | max | ratio to raw TCP |\n|---|---|---|---|---|\n");
  fmt::print("| raw TCP, Gbit/s | {:.2f} | {:.2f} | {:.2f} | 1.00 |\n", r.median, r.min, r.max);
  fmt::print("| lifeline session, Gbit/s | {:.2f} | {:.2f} | {:.2f} | {:.2f} |\n", s.median, s.min, s.max,
             s.median / r.median);
  fmt::print("| reset to first resumed byte, ms | {:.2f} | {:.2f} | {:.2f} | |\n", m.median, m.min, m.max);
  fmt::print(
      "{{\"mib\":{},\"runs\":{},\"raw_gbps\":{:.3f},\"session_gbps\":{:.3f},\"ratio\":{:.3f},\"resume_ms\":{:"
      ".3f},\"resume_ms_min\":{:.3f},\"resume_ms_max\":{:.3f}}}\n",
      mib, runs, r.median, s.median, s.median / r.median, m.median, m.min, m.max);
  return 0;
}
