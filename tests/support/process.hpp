// Runs a command through the shell and captures its standard output and exit status, for tests that
// drive lifeline's real binary.
#pragma once

#include <cstdio>
#include <string>

#ifndef _WIN32
#include <sys/wait.h>
#endif

namespace lifeline::test {

struct process_result {
  int status = -1;  ///< the exit status, or -1 when the command could not run or was killed
  std::string out;  ///< everything written to standard output
};

inline process_result run(const std::string& command) {
  process_result result;
#ifdef _WIN32
  FILE* pipe = _popen(command.c_str(), "r");
#else
  FILE* pipe = popen(command.c_str(), "r");
#endif
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
#ifdef _WIN32
  result.status = _pclose(pipe);
#else
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
#endif
  return result;
}

/// The lifeline binary under test, quoted for the shell.
inline std::string cli(const std::string& arguments) {
  return std::string("\"") + LIFELINE_CLI + "\" " + arguments;
}

}  // namespace lifeline::test
