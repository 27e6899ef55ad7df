// Uses the installed lifeline: exits 0 only when the error model answers as documented.
#include <lifeline/socket_errors.hpp>

#include <cerrno>
#include <cstdio>
#include <system_error>

int main() {
  const auto* e = lifeline::find_socket_error("WSAENETRESET");
  if (e == nullptr || e->code != 10052) return 1;
  const std::error_code lost = lifeline::errc::network_reset;
  if (lost != lifeline::condition::connection_lost) return 1;
  std::printf("consumer: %.*s is %d\n", static_cast<int>(e->name.size()), e->name.data(), e->code);
  return 0;
}
