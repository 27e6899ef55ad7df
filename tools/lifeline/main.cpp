// The lifeline command: parses the command line and hands over to one subcommand.
#include "commands.hpp"

#include <fmt/core.h>

#include <cstdio>

int main(int argc, char** argv) {
  using namespace lifeline::cli;
  CLI::App app{"lifeline: keeps network connections alive through failures", "lifeline"};
  app.require_subcommand(1);
  app.set_version_flag("--version", LIFELINE_VERSION);

  const command commands[] = {
      add_explain(app), add_doctor(app),
#ifdef LIFELINE_WITH_SESSION
      add_tunnel(app),  add_keygen(app), add_demo(app),
#endif
      add_chaos(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? exit_ok : exit_usage;
  }
  for (const auto& c : commands) {
    if (c.parser->parsed()) return c.run();
  }
  return exit_usage;
}
