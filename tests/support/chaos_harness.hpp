// What the chaos tests share: the real `lifeline chaos` binary as a child process (its address read
// from its stdout, SIGTERM at the end), a minimal HTTP/1.1 client, blocking sockets with deadlines, and
// upstream servers on loopback run by a thread of their own.
#pragma once

#include "child_process.hpp"

#include <gtest/gtest.h>
#include <boost/asio.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <poll.h>
#endif

namespace lifeline::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline long long ms_since(steady::time_point start) {
  return std::chrono::duration_cast<milliseconds>(steady::now() - start).count();
}

/// How many times `needle` occurs in `text`: lines of a log that say something.
inline std::size_t count_lines(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

/// `lifeline chaos --port 0 ARGS`, started and read until it prints "chaos ready" (10 s at most).
class chaos_process {
 public:
  explicit chaos_process(const std::string& arguments) : process_(command(arguments)) {
    const auto deadline = steady::now() + std::chrono::seconds(10);
    while (auto line = process_.next_line(deadline)) {
      std::istringstream in(*line);
      std::string chaos, what;
      in >> chaos >> what;
      if (what == "ready") {
        ready_ = true;
        break;
      }
      if (what == "api") in >> api_;
      if (what == "seed") in >> seed_;
      if (what == "proxy") {
        std::string name, listen;
        in >> name >> listen;
        proxies_[name] = listen;
      }
    }
  }
  ~chaos_process() {
#ifndef _WIN32  // Windows has no signal to stop it by: stop() terminates it there
    // A sanitizer report or a crash in the child shows here as a status other than 0.
    if (ready_ && !stopped_) {
      EXPECT_EQ(stop(), 0) << "lifeline chaos did not exit cleanly on SIGTERM";
    }
#endif
    stop();
  }
  chaos_process(const chaos_process&) = delete;
  chaos_process& operator=(const chaos_process&) = delete;

  /// SIGTERM (Windows: terminates it), then the exit status.
  int stop() {
    if (!stopped_) {
      status_ = process_.stop();
      stopped_ = true;
    }
    return status_;
  }

  bool ready() const { return ready_; }
  const std::string& api() const { return api_; }
  const std::string& seed() const { return seed_; }
  std::string proxy(const std::string& name) const {
    const auto it = proxies_.find(name);
    return it == proxies_.end() ? std::string() : it->second;
  }
  /// Every line it printed so far (standard output and error).
  const std::vector<std::string>& lines() { return process_.lines(); }

 private:
  static std::vector<std::string> command(const std::string& arguments) {
    std::vector<std::string> argv = {LIFELINE_CLI, "chaos", "--port", "0"};
    std::istringstream in(arguments);
    for (std::string word; in >> word;) argv.push_back(word);
    return argv;
  }

  child_process process_;
  int status_ = -1;
  bool stopped_ = false;
  bool ready_ = false;
  std::string api_, seed_;
  std::map<std::string, std::string> proxies_;
};

/// Waits up to `ms` for `events` (POLLIN, POLLOUT) on a socket; > 0 when ready.
inline int wait_socket(tcp::socket::native_handle_type socket, short events, int ms) {
#ifdef _WIN32
  WSAPOLLFD p{socket, events, 0};
  return ::WSAPoll(&p, 1, ms);
#else
  pollfd p{socket, events, 0};
  return ::poll(&p, 1, ms);
#endif
}

inline tcp::endpoint parse_endpoint(const std::string& address) {
  const auto colon = address.rfind(':');
  auto host = address.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {asio::ip::make_address(host), static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))};
}

/// A blocking client socket whose every read has a deadline.
class client {
 public:
  enum class outcome { data, eof, reset, timeout, error };

  client() : socket_(io_) {}
  explicit client(const tcp::endpoint& to) : socket_(io_) { connect(to); }
  explicit client(const std::string& to) : client(parse_endpoint(to)) {}

  boost::system::error_code connect(const tcp::endpoint& to) {
    boost::system::error_code ec;
    socket_.connect(to, ec);
    if (!ec) socket_.non_blocking(true, ec);
    return ec;
  }
  bool is_open() const { return socket_.is_open(); }

  bool send(std::string_view data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      boost::system::error_code ec;
      sent += socket_.write_some(asio::buffer(data.substr(sent)), ec);
      if (ec == asio::error::would_block) {
        wait_socket(socket_.native_handle(), POLLOUT, 1000);
      } else if (ec) {
        return false;
      }
    }
    return true;
  }

  /// Whether a read's `result` means the peer reset the connection. Under Wine a reset reaches reads as
  /// an end of file (docs/windows.md); a socket that was reset then refuses to send, while one that got a
  /// FIN still sends, so on Windows an end of file is checked that way.
  bool was_reset(outcome result) {
    if (result == outcome::reset) return true;
#ifdef _WIN32
    if (result == outcome::eof) return !send("?");
#endif
    return false;
  }

  /// One read: whatever arrives first before `timeout`.
  outcome read_some(std::string& into, milliseconds timeout) {
    if (wait_socket(socket_.native_handle(), POLLIN, static_cast<int>(timeout.count())) <= 0) {
      return outcome::timeout;
    }
    char buffer[65536];
    boost::system::error_code ec;
    const auto n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::eof) return outcome::eof;
    if (ec == asio::error::connection_reset) return outcome::reset;
    if (ec == asio::error::would_block) return outcome::timeout;
    if (ec) return outcome::error;
    into.append(buffer, n);
    return outcome::data;
  }

  /// Reads until `size` bytes, the end of the stream or the deadline; says what ended it.
  outcome read_exact(std::string& into, std::size_t size, milliseconds timeout, int* reads = nullptr) {
    const auto deadline = steady::now() + timeout;
    while (into.size() < size) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return outcome::timeout;
      const auto r = read_some(into, left);
      if (r != outcome::data) return r;
      if (reads != nullptr) ++*reads;
    }
    return outcome::data;
  }

  /// Reads until the stream ends (eof or reset) or the deadline.
  outcome read_to_end(std::string& into, milliseconds timeout) {
    const auto deadline = steady::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return outcome::timeout;
      const auto r = read_some(into, left);
      if (r != outcome::data) return r;
    }
  }

  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// One request on a fresh connection (Connection: close), 5 s at most.
inline http_reply http(const std::string& api, const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::string& extra_headers = {}) {
  http_reply reply;
  client c(api);
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: chaos-test\r\nConnection: close\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
  if (!c.send(request)) return reply;
  std::string raw;
  c.read_to_end(raw, milliseconds(5000));
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return reply;
  std::istringstream head(raw.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  reply.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

/// An upstream server on 127.0.0.1 with a thread of its own. For every connection it runs
/// `behaviour(socket)`, a coroutine; the default echoes.
class upstream_server {
 public:
  using behaviour_t = std::function<asio::awaitable<void>(tcp::socket)>;

  static asio::awaitable<void> echo(tcp::socket socket) {
    char buffer[16384];
    for (;;) {
      auto [ec, n] =
          co_await socket.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto [wec, w] =
          co_await asio::async_write(socket, asio::buffer(buffer, n), asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
    }
  }

  explicit upstream_server(behaviour_t behaviour = echo)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        behaviour_(std::move(behaviour)) {
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~upstream_server() {
    io_.stop();
    thread_.join();
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(endpoint().port()); }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(io_, behaviour_(std::move(socket)), asio::detached);
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  behaviour_t behaviour_;
  std::thread thread_;
};

/// Sends `data` on connect, waits `pause`, sends `more`, then closes (when `close_after`).
inline upstream_server::behaviour_t send_then(std::string data, std::string more = {},
                                              milliseconds pause = milliseconds(0), bool close_after = true) {
  return [=](tcp::socket socket) -> asio::awaitable<void> {
    auto& s = socket;
    co_await asio::async_write(s, asio::buffer(data), asio::as_tuple(asio::use_awaitable));
    if (!more.empty()) {
      asio::steady_timer timer(s.get_executor(), pause);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      co_await asio::async_write(s, asio::buffer(more), asio::as_tuple(asio::use_awaitable));
    }
    if (!close_after) {
      char buffer[1024];
      for (;;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
      }
    }
    boost::system::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
    s.close(ignored);
  };
}

}  // namespace lifeline::test
