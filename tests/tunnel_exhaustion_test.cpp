// `lifeline tunnel` out of descriptors, over real sockets: the tunnel client's RLIMIT_NOFILE is lowered
// while it runs, connections are opened through it until it cannot accept, and the test checks that what
// it holds keeps working, that it says why new connections wait, that it does not spin, and that it
// accepts again once descriptors come free. Linux: prlimit(2) and /proc/PID.
#include "support/tunnel_ends.hpp"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using lifeline::test::child_process;
using lifeline::test::tunnel_ends;
using namespace std::chrono_literals;

const auto loopback = asio::ip::make_address("127.0.0.1");

// A target that echoes every connection, on its own thread, until destroyed.
class echo_server {
 public:
  echo_server() {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~echo_server() {
    io_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      echo(std::make_shared<tcp::socket>(std::move(s)), std::make_shared<std::array<char, 4096>>());
      accept();
    });
  }
  static void echo(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::array<char, 4096>> buffer) {
    s->async_read_some(asio::buffer(*buffer), [s, buffer](boost::system::error_code ec, std::size_t n) {
      if (ec) {
        s->shutdown(tcp::socket::shutdown_send, ec);  // pass the end back, as the program's peer would
        return;
      }
      asio::async_write(*s, asio::buffer(*buffer, n),
                        [s, buffer](boost::system::error_code wec, std::size_t) {
                          if (!wec) echo(s, buffer);
                        });
    });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {loopback, 0}};
  std::thread thread_;
};

std::unique_ptr<tcp::socket> connect(asio::io_context& io, std::uint16_t port) {
  auto s = std::make_unique<tcp::socket>(io);
  s->connect({loopback, port});
  return s;
}

void send(tcp::socket& s, const std::string& text) {
  ASSERT_EQ(::send(s.native_handle(), text.data(), text.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(text.size()));
}

// Reads `text.size()` bytes within `limit` and says whether they were `text`; false on a timeout, reset or
// EOF. poll() bounds the wait: Asio's blocking read would poll again without end after SO_RCVTIMEO.
bool echoed(tcp::socket& s, const std::string& text, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string got;
  while (got.size() < text.size()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{s.native_handle(), POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[256];
    const auto n = ::recv(s.native_handle(), buffer, std::min(sizeof buffer, text.size() - got.size()), 0);
    if (n <= 0) return false;
    got.append(buffer, static_cast<std::size_t>(n));
  }
  return got == text;
}

bool round_trip(tcp::socket& s, const std::string& text, std::chrono::milliseconds limit = 5s) {
  send(s, text);
  return echoed(s, text, limit);
}

// How many descriptors below `limit` the process has free: 0 means out of descriptors.
int free_descriptors(pid_t pid, int limit) {
  std::set<int> open;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    open.insert(std::stoi(entry.path().filename().string()));
  }
  int n = 0;
  for (int fd = 0; fd < limit; ++fd) n += open.count(fd) == 0 ? 1 : 0;
  return n;
}

// The descriptor the process would get next: its lowest free number.
int lowest_free_descriptor(pid_t pid) {
  int n = 0;
  while (free_descriptors(pid, n + 1) == 0) ++n;
  return n;
}

void set_descriptor_limit(pid_t pid, int limit) {
  const rlimit lowered{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
  ASSERT_EQ(::prlimit(pid, RLIMIT_NOFILE, &lowered, nullptr), 0) << std::strerror(errno);
}

// utime + stime from /proc/PID/stat: the CPU time the process has used.
std::chrono::milliseconds cpu_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // the name may hold spaces
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15, counted from 1
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return std::chrono::milliseconds((utime + stime) * 1000 /
                                   static_cast<unsigned long long>(::sysconf(_SC_CLK_TCK)));
}

// Takes `end` (the tunnel's client or server) out of descriptors while connections run through `t`.
void exhaust(const tunnel_ends& t, child_process& end, const std::string& name) {
  const pid_t pid = end.pid();
  asio::io_context io;

  // Fill the client up: room for about eight connections, then connections until one is not served.
  std::vector<std::unique_ptr<tcp::socket>> held;
  set_descriptor_limit(pid, lowest_free_descriptor(pid) + 16);
  for (int i = 0; i < 16; ++i) {
    auto s = connect(io, t.port);
    if (!round_trip(*s, "hello " + std::to_string(i), 1500ms))
      break;  // closed here: its fate does not matter
    held.push_back(std::move(s));
  }
  ASSERT_GE(held.size(), 4u) << end.output();
  ASSERT_LT(held.size(), 16u) << "descriptors never ran out: " << end.output();
  // Each connection takes two descriptors (its socket and its session's), so the last one may be left
  // free, and a connection then accepted finds none for its session: reset, not waiting. Take it too.
  const auto limit = lowest_free_descriptor(pid);
  set_descriptor_limit(pid, limit);
  std::cout << name << " holds " << held.size() << " connections; RLIMIT_NOFILE " << limit << "\n";
  ::testing::Test::RecordProperty("connections_held", static_cast<int>(held.size()));

  // (b) New connections wait, unserved, and the client says why.
  auto waiting = connect(io, t.port);
  send(*waiting, "waiting");
  auto another = connect(io, t.port);
  send(*another, "another");
  EXPECT_FALSE(echoed(*waiting, "waiting", 1s)) << "served although out of descriptors";
  EXPECT_FALSE(echoed(*another, "another", 100ms)) << "served although out of descriptors";
  const auto reason = end.wait_for("cannot accept connections: (.*)", 2s);
  EXPECT_TRUE(reason) << end.output();
  EXPECT_NE(reason.value_or("").find("Too many open files"), std::string::npos) << reason.value_or("");

  // (c) It does not spin while they wait, nor log each retry: the client's CPU time and its output over
  // two seconds of exhaustion.
  const auto lines_before = end.lines().size();
  const auto cpu_before = cpu_time(pid);
  const auto wall_before = std::chrono::steady_clock::now();
  while (end.next_line(wall_before + 2s)) {
  }  // reads what it prints meanwhile, so that a client logging every retry is not held up by a full pipe
  const auto cpu = cpu_time(pid) - cpu_before;
  const auto wall =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - wall_before);
  const double share = 100.0 * static_cast<double>(cpu.count()) / static_cast<double>(wall.count());
  std::cout << name << " CPU while out of descriptors: " << cpu.count() << " ms in " << wall.count()
            << " ms (" << share << " % of one core)\n";
  ::testing::Test::RecordProperty("cpu_percent_exhausted", std::to_string(share));
  EXPECT_LT(share, 10.0) << "the accept loop spins";
  EXPECT_EQ(end.lines().size(), lines_before) << "logged again while the episode lasted:\n" << end.output();

  // (a) What it holds keeps carrying data both ways.
  for (std::size_t i = 0; i < held.size(); ++i) {
    EXPECT_TRUE(round_trip(*held[i], "still " + std::to_string(i))) << "held connection " << i << " stopped";
  }

  // (d) Closing four frees eight descriptors: the two waiting connections are accepted and served, with
  // the bytes they sent while they waited, and once the four are gone a new one works.
  for (int i = 0; i < 4; ++i) {
    held.back()->close();
    held.pop_back();
  }
  EXPECT_TRUE(echoed(*waiting, "waiting", 5s)) << end.output();
  EXPECT_TRUE(echoed(*another, "another", 5s)) << end.output();
  const auto all = end.output();
  const auto recovered = all.find("accepting connections again after");
  ASSERT_NE(recovered, std::string::npos) << all;
  std::cout << name << ": " << all.substr(recovered, all.find('\n', recovered) - recovered) << "\n";
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (free_descriptors(pid, limit) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  auto fresh = connect(io, t.port);
  EXPECT_TRUE(round_trip(*fresh, "fresh")) << end.output();
}

// A sanitizer's need, not the tunnel's: UBSan checks a vptr it has not seen by writing the object's
// memory to a pipe (sanitizer_common's IsAccessibleMemoryRange), which it cannot make out of descriptors,
// and then calls the object bad. So each end first serves and closes a connection and sees a connection
// reset (an OS error) while it still has descriptors; UBSan remembers those checks.
void rehearse(tunnel_ends& t, child_process& end, std::uint16_t reset_port, bool reset_after_hello,
              const std::string& reset_logged) {
  asio::io_context io;
  auto normal = connect(io, t.port);
  ASSERT_TRUE(round_trip(*normal, "normal")) << end.output();
  normal->close();
  ASSERT_TRUE(end.wait_for("connection 1: closed")) << end.output();
  auto reset = connect(io, reset_port);
  if (reset_after_hello) {  // the server speaks first
    pollfd hello{reset->native_handle(), POLLIN, 0};
    ASSERT_EQ(::poll(&hello, 1, 5000), 1) << "no SERVER_HELLO";
  } else {
    ASSERT_TRUE(round_trip(*reset, "reset")) << end.output();
  }
  reset->set_option(asio::socket_base::linger(true, 0));
  reset->close();
  ASSERT_TRUE(end.wait_for(reset_logged)) << end.output();
}

TEST(tunnel_exhaustion, out_of_descriptors_the_client_keeps_its_connections_pauses_and_recovers) {
  echo_server target;
  tunnel_ends t;
  ASSERT_TRUE(t.start(target.port(), 0, {})) << t.problem;
  rehearse(t, *t.client, t.port, false, "connection 2: aborted");
  if (HasFatalFailure()) return;
  exhaust(t, *t.client, "tunnel client");
}

// The server's accepts are the session acceptor's. A program's connection waits at the client, whose
// session waits in the server's backlog: --timeout-ms gives its handshake time to outlast the episode.
TEST(tunnel_exhaustion, out_of_descriptors_the_server_keeps_its_sessions_pauses_and_recovers) {
  echo_server target;
  tunnel_ends t;
  ASSERT_TRUE(t.start(target.port(), 0, {"--timeout-ms", "20000"})) << t.problem;
  std::smatch listening;
  const auto started = t.server->output();
  ASSERT_TRUE(std::regex_search(started, listening, std::regex(R"(listening on 127\.0\.0\.1:(\d+))")));
  rehearse(t, *t.server, static_cast<std::uint16_t>(std::stoi(listening[1].str())), true,
           "connection lost during the handshake");
  if (HasFatalFailure()) return;
  exhaust(t, *t.server, "tunnel server");
}

}  // namespace
