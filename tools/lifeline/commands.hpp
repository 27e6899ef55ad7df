// The CLI's subcommands. Each file adds one to the app; main() runs the one chosen.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace lifeline::cli {

/// Exit statuses shared by every subcommand.
enum exit_status : int {
  exit_ok = 0,
  exit_failure = 1,  ///< the command ran and what it checked or served failed
  exit_usage = 2,    ///< bad arguments or a query that does not resolve
};

/// A subcommand: its parser, and its body, run after parsing, returning the process's exit status.
struct command {
  CLI::App* parser;
  std::function<int()> run;
};

command add_explain(CLI::App& app);
command add_doctor(CLI::App& app);
command add_tunnel(CLI::App& app);
command add_chaos(CLI::App& app);
command add_demo(CLI::App& app);
command add_keygen(CLI::App& app);

}  // namespace lifeline::cli
