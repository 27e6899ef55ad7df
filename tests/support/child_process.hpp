// Starts one of lifeline's binaries (or any program) in the background, reads its standard output line
// by line with a deadline, and stops it when the test ends, even when the test fails. POSIX: fork and
// exec, stopped by a signal. Windows: CreateProcess; Windows has no signal to send to another process
// (and Wine cannot deliver a console Ctrl+Break: docs/windows.md), so stop() terminates it there.
#pragma once

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace lifeline::test {

class child_process {
 public:
  /// Runs argv[0] with the arguments; its stderr joins its stdout.
  explicit child_process(const std::vector<std::string>& argv) { start(argv); }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { stop(); }

  bool running() {
    if (status_ < 0 && started()) reap(false);
    return started() && status_ < 0;
  }

  /// Reads lines until one matches `pattern`; returns the first capture group (or the whole line), or
  /// nothing if the deadline passed or the output ended.
  std::optional<std::string> wait_for(const std::string& pattern,
                                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (auto line = next_line(deadline)) {
      std::smatch m;
      if (std::regex_search(*line, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
    }
    return std::nullopt;
  }

  /// The next line not yet returned, waiting for it until `deadline`.
  std::optional<std::string> next_line(std::chrono::steady_clock::time_point deadline) {
    while (next_line_ >= lines_.size()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(left)) return std::nullopt;
    }
    return lines_[next_line_++];
  }

  /// Everything printed so far.
  std::string output() {
    while (read_some(std::chrono::milliseconds(0))) {
    }
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all + partial_;
  }

  /// Every complete line printed so far.
  const std::vector<std::string>& lines() {
    output();
    return lines_;
  }

  /// POSIX: sends `signal` and waits for the exit (SIGKILL after `grace`); returns the exit status, or
  /// 128 + the signal that ended it. Windows: terminates the program (exit status 128 + `signal`) unless
  /// it has already exited.
  int stop(int signal = SIGTERM, std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    if (!started()) return -1;
    if (status_ < 0) {
#ifdef _WIN32
      (void)grace;
      reap(false);
      if (status_ < 0) {
        ::TerminateProcess(process_, static_cast<UINT>(128 + signal));
        reap(true);
      }
#else
      ::kill(pid_, signal);
      const auto deadline = std::chrono::steady_clock::now() + grace;
      while (status_ < 0 && std::chrono::steady_clock::now() < deadline) {
        reap(false);
        if (status_ < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (status_ < 0) {
        ::kill(pid_, SIGKILL);
        reap(true);
      }
#endif
    }
    close_output();
    return status_;
  }

  /// Waits for the program to exit by itself; returns its status or -1 after the limit.
  int wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (status_ < 0 && started() && std::chrono::steady_clock::now() < deadline) {
      reap(false);
      if (status_ < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status_;
  }

 private:
  void add_output(const char* data, std::size_t n) {
    partial_.append(data, n);
    for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
      auto line = partial_.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();  // Windows' text-mode newlines
      lines_.push_back(std::move(line));
      partial_.erase(0, nl + 1);
    }
  }

#ifdef _WIN32
 public:
  /// The program's process id; 0 if it could not be started.
  DWORD pid() const { return pid_; }

 private:
  bool started() const { return process_ != nullptr; }

  void start(const std::vector<std::string>& argv) {
    SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE write_end = nullptr;
    if (!::CreatePipe(&out_, &write_end, &inherit, 0)) return;
    ::SetHandleInformation(out_, HANDLE_FLAG_INHERIT, 0);
    std::string command;
    for (const auto& a : argv) {  // quoted for CommandLineToArgv; no argument here holds a quote
      if (!command.empty()) command += ' ';
      command += a.find_first_of(" \t") == std::string::npos && !a.empty() ? a : '"' + a + '"';
    }
    STARTUPINFOA startup{};
    startup.cb = sizeof startup;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = ::GetStdHandle(STD_INPUT_HANDLE);
    startup.hStdOutput = write_end;
    startup.hStdError = write_end;
    PROCESS_INFORMATION info{};
    if (::CreateProcessA(nullptr, command.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &startup,
                         &info)) {
      process_ = info.hProcess;
      pid_ = info.dwProcessId;
      ::CloseHandle(info.hThread);
    }
    ::CloseHandle(write_end);
  }

  bool read_some(std::chrono::milliseconds limit) {
    if (out_ == nullptr) return false;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      DWORD available = 0;
      if (!::PeekNamedPipe(out_, nullptr, 0, nullptr, &available, nullptr)) return false;  // ended
      if (available > 0) break;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    char buffer[4096];
    DWORD n = 0;
    if (!::ReadFile(out_, buffer, sizeof buffer, &n, nullptr) || n == 0) return false;
    add_output(buffer, n);
    return true;
  }

  void reap(bool block) {
    if (::WaitForSingleObject(process_, block ? INFINITE : 0) != WAIT_OBJECT_0) return;
    DWORD code = 0;
    ::GetExitCodeProcess(process_, &code);
    status_ = static_cast<int>(code);
  }

  void close_output() {
    if (out_ != nullptr) {
      output();
      ::CloseHandle(out_);
      out_ = nullptr;
    }
    if (process_ != nullptr && status_ >= 0) {
      ::CloseHandle(process_);
      process_ = nullptr;
    }
  }

  HANDLE process_ = nullptr;
  DWORD pid_ = 0;
  HANDLE out_ = nullptr;
#else
 public:
  /// The program's process id, for reading /proc/PID; -1 if it could not be started.
  pid_t pid() const { return pid_; }

 private:
  bool started() const { return pid_ > 0; }

  void start(const std::vector<std::string>& argv) {
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

  bool read_some(std::chrono::milliseconds limit) {
    if (out_ < 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char buffer[4096];
    const auto n = ::read(out_, buffer, sizeof buffer);
    if (n <= 0) return false;
    add_output(buffer, static_cast<std::size_t>(n));
    return true;
  }

  void reap(bool block) {
    int raw = 0;
    if (::waitpid(pid_, &raw, block ? 0 : WNOHANG) == pid_) {
      status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    }
  }

  void close_output() {
    if (out_ >= 0) {
      output();
      ::close(out_);
      out_ = -1;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
#endif

  int status_ = -1;
  std::vector<std::string> lines_;
  std::size_t next_line_ = 0;
  std::string partial_;
};

}  // namespace lifeline::test
