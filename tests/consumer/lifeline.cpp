// Links lifeline::lifeline, every layer: one call into each.
#include <lifeline/chaos.hpp>
#include <lifeline/doctor.hpp>
#include <lifeline/socket_errors.hpp>
#ifdef LIFELINE_WITH_SESSION
#include <lifeline/session.hpp>
#endif

#include <cstdio>
#include <string>

int main() {
  if (lifeline::find_socket_error("ECONNRESET") == nullptr) return 1;
  lifeline::host_port target;
  std::string detail;
  if (lifeline::parse_host_port("127.0.0.1:22", target, detail)) return 1;
  if (!lifeline::chaos::make_attributes("latency", {})) return 1;
#ifdef LIFELINE_WITH_SESSION
  if (lifeline::session_options{}.validate()) return 1;
#endif
  std::printf("lifeline: every layer answered\n");
  return 0;
}
