// Memory and CPU per idle session: a server process holds N lifeline sessions, each with a read pending,
// while the clients (this process) stay silent but for the heartbeats. The server's resident memory is
// read from /proc before and after the sessions open, and its CPU time over an idle window.
//
// Usage: idle_bench [--sessions N = 10000] [--idle-s S = 10] [--json FILE]
#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <fmt/core.h>
#include <fmt/os.h>
#include <boost/asio.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Resident memory of `pid` in KiB, from /proc/PID/status.
long rss_kib(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

/// User + system CPU time of `pid` in seconds, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(all.substr(all.rfind(')') + 2));  // the name may hold spaces
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// Raises the descriptor limit to what `wanted` needs; returns the limit now in force.
rlim_t raise_nofile(rlim_t wanted) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= wanted) return limit.rlim_cur;
  rlimit raised{wanted, std::max(wanted, limit.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {  // beyond the hard limit needs privilege
    raised = {limit.rlim_max, limit.rlim_max};
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

lifeline::server_options server_options_for(std::size_t sessions) {
  lifeline::server_options o;
  o.max_sessions = sessions + 16;
  // The caps are summed, not allocated: pages of a ring that is never written are never resident.
  o.max_memory = (sessions + 16) * (o.session.replay_capacity + o.session.receive_capacity);
  return o;
}

/// The server: accepts sessions and keeps a read pending on each until it ends. Writes its port to `out`.
[[noreturn]] void serve(int out, std::size_t sessions) {
  asio::io_context io(1);
  lifeline::session_acceptor acceptor(io.get_executor(), {asio::ip::make_address("127.0.0.1"), 0},
                                      server_options_for(sessions));
  const std::uint16_t port = acceptor.local_endpoint().port();
  if (::write(out, &port, sizeof port) != sizeof port) _exit(1);
  ::close(out);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        for (;;) {
          auto s = std::make_shared<lifeline::session>(co_await acceptor.async_accept(use_awaitable));
          asio::co_spawn(
              io,
              [s]() -> awaitable<void> {
                char byte;
                boost::system::error_code ec;
                while (!ec)
                  co_await s->async_read_some(asio::buffer(&byte, 1),
                                              asio::redirect_error(use_awaitable, ec));
              },
              asio::detached);
        }
      },
      asio::detached);
  asio::signal_set stop(io, SIGTERM);
  stop.async_wait([&](auto, int) { io.stop(); });
  io.run();
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t sessions = 10000;
  int idle_s = 10;
  std::string json_path;
  for (int i = 1; i < argc; i += 2) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      fmt::print(stderr, "idle_bench: {} needs a value\n", arg);
      return 2;
    }
    const std::string value = argv[i + 1];
    try {
      if (arg == "--sessions") {
        sessions = std::stoul(value);
      } else if (arg == "--idle-s") {
        idle_s = std::stoi(value);
      } else if (arg == "--json") {
        json_path = value;
      } else {
        fmt::print(stderr, "idle_bench: unknown option {}\n", arg);
        return 2;
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "idle_bench: {} {}: expected a whole number ({})\n", arg, value, e.what());
      return 2;
    }
  }
  if (sessions == 0 || idle_s < 1) {
    fmt::print(stderr, "idle_bench: --sessions and --idle-s must be positive\n");
    return 2;
  }
  const rlim_t nofile = raise_nofile(sessions + 256);
  if (nofile < sessions + 64) {
    fmt::print(stderr, "idle_bench: {} sessions need about {} descriptors; the limit is {}\n", sessions,
               sessions + 64, nofile);
    return 1;
  }

  // Fork before any thread or io_context exists.
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return 1;
  const pid_t server = fork();
  if (server == 0) {
    ::close(pipe_fds[0]);
    serve(pipe_fds[1], sessions);
  }
  ::close(pipe_fds[1]);
  std::uint16_t port = 0;
  const bool got_port = ::read(pipe_fds[0], &port, sizeof port) == sizeof port;
  ::close(pipe_fds[0]);
  auto stop_server = [&] {
    kill(server, SIGTERM);
    waitpid(server, nullptr, 0);
  };
  if (!got_port) {
    fmt::print(stderr, "idle_bench: the server did not start\n");
    stop_server();
    return 1;
  }
  std::this_thread::sleep_for(200ms);
  const long server_before = rss_kib(server), client_before = rss_kib(getpid());

  // Open the sessions in waves, so that the server's listen backlog is never the limit.
  asio::io_context io(1);
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  std::vector<std::unique_ptr<lifeline::session>> clients;
  clients.reserve(sessions);
  std::size_t failed = 0;
  std::string first_error;
  const auto open_start = clock_type::now();
  constexpr std::size_t wave = 256;
  for (std::size_t done = 0; done < sessions;) {
    const auto n = std::min(wave, sessions - done);
    std::size_t pending = n;
    for (std::size_t i = 0; i < n; ++i) {
      clients.push_back(std::make_unique<lifeline::session>(io.get_executor()));
      clients.back()->async_connect(ep, [&](boost::system::error_code ec) {
        --pending;
        if (ec && failed++ == 0) first_error = ec.message();
      });
    }
    const auto deadline = clock_type::now() + 30s;
    while (pending > 0 && clock_type::now() < deadline) io.run_one_for(1s);
    if (pending > 0) {
      fmt::print(stderr, "idle_bench: {} connects did not finish within 30 s\n", pending);
      stop_server();
      return 1;
    }
    done += n;
  }
  const double open_s = std::chrono::duration<double>(clock_type::now() - open_start).count();
  if (failed > 0) {
    fmt::print(stderr, "idle_bench: {} of {} sessions failed to open; the first: {}\n", failed, sessions,
               first_error);
    stop_server();
    return 1;
  }
  io.restart();
  io.run_for(1s);  // the server hands the last sessions over

  // Idle: only heartbeats flow.
  const double server_cpu0 = cpu_seconds(server), client_cpu0 = cpu_seconds(getpid());
  const auto idle_start = clock_type::now();
  io.run_for(std::chrono::seconds(idle_s));
  const double window = std::chrono::duration<double>(clock_type::now() - idle_start).count();
  const double server_cpu = cpu_seconds(server) - server_cpu0,
               client_cpu = cpu_seconds(getpid()) - client_cpu0;
  const long server_after = rss_kib(server), client_after = rss_kib(getpid());

  std::size_t alive = 0;
  for (const auto& c : clients) alive += c->id().empty() ? 0 : 1;
  clients.clear();
  stop_server();

  const double n = static_cast<double>(sessions);
  const double server_mib = static_cast<double>(server_after - server_before) / 1024.0;
  const double client_mib = static_cast<double>(client_after - client_before) / 1024.0;
  fmt::print("| idle sessions on one server | {} (opened in {:.1f} s, {} established) |\n|---|---|\n",
             sessions, open_s, alive);
  fmt::print("| server RSS before / after, MiB | {:.1f} / {:.1f} |\n", server_before / 1024.0,
             server_after / 1024.0);
  fmt::print("| server memory per session, KiB | {:.1f} (total {:.1f} MiB) |\n", server_mib * 1024.0 / n,
             server_mib);
  fmt::print("| server CPU over {:.0f} s idle, % of one core | {:.2f} ({:.4f} per session) |\n", window,
             100.0 * server_cpu / window, 100.0 * server_cpu / window / n);
  fmt::print("| client process (all {} client ends) memory, MiB / CPU % | {:.1f} / {:.2f} |\n", sessions,
             client_mib, 100.0 * client_cpu / window);
  const auto json = fmt::format(
      "{{\"sessions\":{},\"established\":{},\"open_s\":{:.2f},\"idle_window_s\":{:.1f},"
      "\"server_rss_before_kib\":{},\"server_rss_after_kib\":{},\"server_mib\":{:.2f},"
      "\"server_kib_per_session\":{:.2f},\"server_cpu_percent\":{:.3f},\"server_cpu_percent_per_session\":{:."
      "6f},\"client_mib\":{:.2f},\"client_cpu_percent\":{:.3f}}}\n",
      sessions, alive, open_s, window, server_before, server_after, server_mib, server_mib * 1024.0 / n,
      100.0 * server_cpu / window, 100.0 * server_cpu / window / n, client_mib, 100.0 * client_cpu / window);
  if (!json_path.empty()) fmt::output_file(json_path).print("{}", json);
  return alive == sessions ? 0 : 1;
}
