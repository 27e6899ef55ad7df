// Starts one of lifeline's binaries (or any program) in the background, reads its standard output line
// by line with a deadline, and stops it when the test ends, even when the test fails.
#pragma once

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lifeline::test {

class child_process {
 public:
  /// Runs argv[0] with the arguments; its stderr joins its stdout.
  explicit child_process(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  bool running() const { return pid_ > 0 && status_ < 0; }
  /// The program's process id, for reading /proc/PID; -1 if it could not be started.
  pid_t pid() const { return pid_; }

  /// Reads lines until one matches `pattern`; returns the first capture group (or the whole line), or
  /// nothing if the deadline passed or the output ended.
  std::optional<std::string> wait_for(const std::string& pattern,
                                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      for (; next_line_ < lines_.size(); ++next_line_) {
        std::smatch m;
        if (std::regex_search(lines_[next_line_], m, re)) {
          ++next_line_;
          return m.size() > 1 ? m[1].str() : m[0].str();
        }
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(left)) return std::nullopt;
    }
  }

  /// Everything printed so far.
  std::string output() {
    while (read_some(std::chrono::milliseconds(0))) {
    }
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all + partial_;
  }

  /// Sends `signal` and waits for the exit; returns the exit status (or 128 + signal).
  int stop(int signal = SIGTERM, std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (pid_ <= 0) return -1;
    if (status_ < 0) {
      ::kill(pid_, signal);
      const auto deadline = std::chrono::steady_clock::now() + grace;
      while (status_ < 0 && std::chrono::steady_clock::now() < deadline) {
        reap(false);
        if (status_ < 0) ::usleep(10000);
      }
      if (status_ < 0) {
        ::kill(pid_, SIGKILL);
        reap(true);
      }
    }
    if (out_ >= 0) {
      output();
      ::close(out_);
      out_ = -1;
    }
    return status_;
  }

  /// Waits for the program to exit by itself; returns its status or -1 after the limit.
  int wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (status_ < 0 && std::chrono::steady_clock::now() < deadline) {
      reap(false);
      if (status_ < 0) ::usleep(10000);
    }
    return status_;
  }

 private:
  bool read_some(std::chrono::milliseconds limit) {
    if (out_ < 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char buffer[4096];
    const auto n = ::read(out_, buffer, sizeof buffer);
    if (n <= 0) return false;
    partial_.append(buffer, static_cast<std::size_t>(n));
    for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    return true;
  }

  void reap(bool block) {
    int raw = 0;
    if (::waitpid(pid_, &raw, block ? 0 : WNOHANG) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::vector<std::string> lines_;
  std::size_t next_line_ = 0;
  std::string partial_;
};

}  // namespace lifeline::test
