// Throughput of the chaos proxy with no toxic, against raw TCP and against socat, measured in the same run
// over loopback: one connection pushes N bytes to a sink that counts them. Prints MB/s and the ratios.
// Usage: chaos_bench [--bytes N] [--runs R]   (the median of R runs is reported)
#include <lifeline/chaos.hpp>

#include <fmt/core.h>
#include <boost/asio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

/// Accepts connections one at a time and counts what each delivers until EOF.
class sink {
 public:
  sink() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~sink() {
    // A blocking accept is not woken by close() from another thread: connect once to end it.
    stopping_ = true;
    boost::system::error_code ignored;
    tcp::socket wake(io_);
    wake.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  /// The byte count and finish time of the next connection that delivers anything.
  std::future<std::pair<std::uint64_t, steady::time_point>> next() {
    promise_ = {};
    return promise_.get_future();
  }

 private:
  void run() {
    std::vector<char> buffer(1 << 20);
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      std::uint64_t total = 0;
      for (;;) {
        const auto n = socket.read_some(asio::buffer(buffer), ec);
        if (ec) break;
        total += n;
      }
      if (total > 0) promise_.set_value({total, steady::now()});
    }
  }
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::promise<std::pair<std::uint64_t, steady::time_point>> promise_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Pushes `bytes` through `port` to the sink; MB/s from connect to the sink's last byte.
double measure(sink& s, std::uint16_t port, std::uint64_t bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  const tcp::endpoint to(asio::ip::make_address("127.0.0.1"), port);
  auto done = s.next();
  const auto deadline = steady::now() + std::chrono::seconds(5);
  boost::system::error_code ec;
  for (;;) {  // socat may still be starting: connection refused until it listens
    socket.connect(to, ec);
    if (!ec || steady::now() > deadline) break;
    socket.close();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (ec) {
    fmt::print(stderr, "chaos_bench: connect to {}: {}\n", port, ec.message());
    std::exit(1);
  }
  const auto start = steady::now();
  std::vector<char> block(256 * 1024, 'x');
  for (std::uint64_t sent = 0; sent < bytes;) {
    const auto n = std::min<std::uint64_t>(block.size(), bytes - sent);
    asio::write(socket, asio::buffer(block.data(), n));
    sent += n;
  }
  socket.shutdown(tcp::socket::shutdown_send);
  if (done.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    fmt::print(stderr, "chaos_bench: the sink did not finish\n");
    std::exit(1);
  }
  const auto [received, finished] = done.get();
  if (received != bytes) {
    fmt::print(stderr, "chaos_bench: sent {} bytes, sink received {}\n", bytes, received);
    std::exit(1);
  }
  const double seconds = std::chrono::duration<double>(finished - start).count();
  return static_cast<double>(bytes) / seconds / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t bytes = 256ull << 20;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--bytes")
      bytes = std::stoull(argv[i + 1]);
    else if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
  }
  sink s;

  // The proxy, in-process on one io_context thread, as `lifeline chaos` runs it.
  asio::io_context io(1);
  lifeline::chaos::server proxies(io.get_executor(), 1);
  const auto created =
      proxies.create_proxy({"bench", "127.0.0.1:0", "127.0.0.1:" + std::to_string(s.port()), true});
  if (!created) {
    fmt::print(stderr, "chaos_bench: {}\n", created.error().message);
    return 1;
  }
  const auto proxy_port = proxies.endpoint("bench").value().port();
  // A second proxy with a noop toxic in each direction: the cost of passing through a toxic chain.
  proxies.create_proxy({"noop", "127.0.0.1:0", "127.0.0.1:" + std::to_string(s.port()), true});
  for (const char* stream : {"upstream", "downstream"}) {
    lifeline::chaos::toxic_options noop;
    noop.type = "noop";
    noop.stream = stream;
    proxies.add_toxic("noop", noop);
  }
  const auto noop_port = proxies.endpoint("noop").value().port();
  auto guard = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });

  // socat, forking per connection as it is usually run.
  const auto socat_port = free_port();
  const auto socat_pid = fork();
  if (socat_pid == 0) {
    const auto listen = fmt::format("TCP-LISTEN:{},bind=127.0.0.1,reuseaddr,fork", socat_port);
    const auto connect = fmt::format("TCP:127.0.0.1:{}", s.port());
    execlp("socat", "socat", listen.c_str(), connect.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }

  std::vector<double> raw, chaos, noop, socat;
  for (int r = 0; r < runs; ++r) {  // interleaved, so that load from other work hits all three alike
    raw.push_back(measure(s, s.port(), bytes));
    chaos.push_back(measure(s, proxy_port, bytes));
    noop.push_back(measure(s, noop_port, bytes));
    socat.push_back(measure(s, socat_port, bytes));
  }
  kill(socat_pid, SIGTERM);
  waitpid(socat_pid, nullptr, 0);
  asio::post(io, [&] { proxies.close(); });
  guard.reset();
  loop.join();

  const auto r = median(raw), c = median(chaos), n = median(noop), so = median(socat);
  fmt::print("chaos_bench: {} MiB per run, median of {} runs, one connection over loopback\n", bytes >> 20,
             runs);
  fmt::print("  raw TCP        {:9.1f} MB/s\n", r);
  fmt::print("  lifeline chaos {:9.1f} MB/s\n", c);
  fmt::print("  chaos + noop   {:9.1f} MB/s   (a noop toxic in each direction)\n", n);
  fmt::print("  socat          {:9.1f} MB/s\n", so);
  fmt::print("  chaos / raw    {:9.2f}\n", c / r);
  fmt::print("  chaos / socat  {:9.2f}\n", c / so);
  return 0;
}
