// Links lifeline::session alone: options are checked, and a session is made and destroyed on an
// io_context without touching the network.
#include <lifeline/session.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>

int main() {
  lifeline::session_options options;
  if (options.validate()) return 1;
  options.receive_capacity = 1;  // R15: at least 1 MiB
  if (options.validate() != lifeline::errc::invalid_argument) return 1;

  boost::asio::io_context io;
  { lifeline::session unused(io.get_executor(), lifeline::session_options{}); }
  io.run();
  std::printf("session: options checked, a session made and destroyed\n");
  return 0;
}
