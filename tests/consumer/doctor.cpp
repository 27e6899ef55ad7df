// Links lifeline::doctor alone: its pure parts answer as documented.
#include <lifeline/doctor.hpp>

#include <cstdio>
#include <string>

int main() {
  lifeline::host_port target;
  std::string detail;
  if (lifeline::parse_host_port("[::1]:8080", target, detail) || target.host != "::1" || target.port != 8080)
    return 1;
  if (!lifeline::parse_host_port("localhost:0", target, detail)) return 1;
  const auto give_up = lifeline::retransmission_give_up(15).count();  // Linux's default: 924.6 s
  if (give_up < 924000 || give_up > 925000) return 1;
  std::printf("doctor: Linux gives up after %lld ms\n", static_cast<long long>(give_up));
  return 0;
}
