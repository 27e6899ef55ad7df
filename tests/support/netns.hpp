// A real network to fail: two network namespaces joined by a veth pair, made by the test that uses
// them, with silent cuts (the peer drops our packets, our link goes down, a black-hole route) and a
// teardown that runs even when the test fails. Needs root; see LIFELINE_REQUIRE_ROOT.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace lifeline::test {

/// True when the process may create namespaces (effective uid 0).
bool running_as_root();
/// True when the environment says tests needing root must run (LIFELINE_TESTS_AS_ROOT=1, set by
/// scripts/test.sh in CI): such a test then fails instead of skipping.
bool root_required();

/// How a path is cut. None of them tells the sender anything at once: each looks like a peer gone
/// silent until the sender's own timers give up.
enum class cut_method {
  drop_at_peer,     ///< `iptables -I INPUT -s NEAR -j DROP` inside the peer's namespace
  link_down,        ///< the near side's veth set down (the near side loses carrier)
  blackhole_route,  ///< `ip route add blackhole PEER/32` inside the near namespace
};
const char* to_string(cut_method m);
inline void PrintTo(cut_method m, std::ostream* os) { *os << to_string(m); }  // for GoogleTest

/// Two namespaces, `near` (the side under test) and `peer`, joined by a veth pair and addressed from
/// 198.18.0.0/15 (RFC 2544's benchmarking range), used only inside them. Names are unique per process
/// and per instance, so tests run in parallel. Constructing throws std::runtime_error with the failing
/// command and its output; destroying removes both namespaces, which removes the veth pair and every
/// rule and route made inside them.
class test_network {
 public:
  enum class side { near, peer };

  test_network();
  ~test_network();
  test_network(const test_network&) = delete;
  test_network& operator=(const test_network&) = delete;

  const std::string& name(side s) const { return s == side::near ? near_ : peer_; }
  /// The side's IPv4 address, as text.
  std::string address(side s) const { return s == side::near ? "198.18.0.1" : "198.18.0.2"; }

  /// Cuts the path silently; restore() undoes the last cut.
  void cut(cut_method method);
  void restore();

  /// Sets a sysctl inside one namespace only (net.ipv4.tcp_retries2, net.ipv4.tcp_keepalive_time...).
  void sysctl(side s, const std::string& key, const std::string& value);

  /// Runs `fn` on a thread that has entered the side's namespace, and waits for it. Sockets opened
  /// there belong to that namespace for life and may be used from any thread afterwards. Exceptions
  /// thrown by `fn` are rethrown here.
  void run_in(side s, const std::function<void()>& fn);

  /// Runs a shell command; throws std::runtime_error with its output when it fails.
  static void shell(const std::string& command);

 private:
  std::string near_, peer_, near_link_, peer_link_;
  bool cut_active_ = false;
  cut_method cut_{};
};

}  // namespace lifeline::test

/// For tests that need root: skips when not root, but fails when LIFELINE_TESTS_AS_ROOT=1.
#define LIFELINE_REQUIRE_ROOT()                                                           \
  do {                                                                                    \
    if (!::lifeline::test::running_as_root()) {                                           \
      if (::lifeline::test::root_required()) {                                            \
        FAIL() << "needs root, and LIFELINE_TESTS_AS_ROOT=1 says this run must not skip"; \
      }                                                                                   \
      GTEST_SKIP() << "needs root to create network namespaces";                          \
    }                                                                                     \
  } while (false)
