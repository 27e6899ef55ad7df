// Links lifeline::core alone: exits 0 only when the error model and keep-alive answer as documented.
#include <lifeline/keepalive.hpp>
#include <lifeline/socket_errors.hpp>

#include <chrono>
#include <cstdio>
#include <system_error>

int main() {
  const auto* e = lifeline::find_socket_error("WSAENETRESET");
  if (e == nullptr || e->code != 10052) return 1;
  const std::error_code lost = lifeline::errc::network_reset;
  if (lost != lifeline::condition::connection_lost) return 1;
  // README: matched_options(10s, 2s, 5) finds a dead peer within 21.5 s.
  using namespace std::chrono_literals;
  if (lifeline::matched_options(10s, 2s, 5).bound() != 21500ms) return 1;
  std::printf("core: %.*s is %d\n", static_cast<int>(e->name.size()), e->name.data(), e->code);
  return 0;
}
