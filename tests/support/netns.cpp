// The test network's namespaces, veth pair and cuts, driven through iproute2 and iptables.
#include "support/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <thread>

namespace lifeline::test {
namespace {

std::atomic<int> next_instance{0};

}  // namespace

bool running_as_root() { return ::geteuid() == 0; }

bool root_required() {
  const char* value = std::getenv("LIFELINE_TESTS_AS_ROOT");
  return value != nullptr && std::string(value) == "1";
}

const char* to_string(cut_method m) {
  switch (m) {
    case cut_method::drop_at_peer:
      return "drop_at_peer";
    case cut_method::link_down:
      return "link_down";
    case cut_method::blackhole_route:
      return "blackhole_route";
  }
  return "unknown";
}

void test_network::shell(const std::string& command) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run: " + command);
  std::string output;
  char buffer[512];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error("command failed: " + command + ": " + output);
}

test_network::test_network() {
  const auto id = std::to_string(::getpid()) + "x" + std::to_string(next_instance++);
  near_ = "lifeline-" + id + "-near";
  peer_ = "lifeline-" + id + "-peer";
  near_link_ = "ll" + id + "n";  // interface names hold 15 characters
  peer_link_ = "ll" + id + "p";
  try {
    shell("ip netns add " + near_);
    shell("ip netns add " + peer_);
    shell("ip link add " + near_link_ + " netns " + near_ + " type veth peer name " + peer_link_ + " netns " +
          peer_);
    shell("ip -n " + near_ + " addr add " + address(side::near) + "/30 dev " + near_link_);
    shell("ip -n " + peer_ + " addr add " + address(side::peer) + "/30 dev " + peer_link_);
    for (const auto* ns : {&near_, &peer_}) shell("ip -n " + *ns + " link set lo up");
    shell("ip -n " + near_ + " link set " + near_link_ + " up");
    shell("ip -n " + peer_ + " link set " + peer_link_ + " up");
  } catch (...) {
    std::system(("ip netns del " + near_ + " >/dev/null 2>&1").c_str());
    std::system(("ip netns del " + peer_ + " >/dev/null 2>&1").c_str());
    throw;
  }
}

test_network::~test_network() {
  // Deleting a namespace deletes its end of the veth pair, which deletes the other end too.
  std::system(("ip netns del " + near_ + " >/dev/null 2>&1").c_str());
  std::system(("ip netns del " + peer_ + " >/dev/null 2>&1").c_str());
}

void test_network::cut(cut_method method) {
  if (cut_active_) restore();
  switch (method) {
    case cut_method::drop_at_peer:
      shell("ip netns exec " + peer_ + " iptables -I INPUT -s " + address(side::near) + " -j DROP");
      break;
    case cut_method::link_down:
      shell("ip -n " + near_ + " link set " + near_link_ + " down");
      break;
    case cut_method::blackhole_route:
      shell("ip -n " + near_ + " route add blackhole " + address(side::peer) + "/32");
      break;
  }
  cut_active_ = true;
  cut_ = method;
}

void test_network::restore() {
  if (!cut_active_) return;
  switch (cut_) {
    case cut_method::drop_at_peer:
      shell("ip netns exec " + peer_ + " iptables -D INPUT -s " + address(side::near) + " -j DROP");
      break;
    case cut_method::link_down:
      // The kernel puts the connected route back with the link.
      shell("ip -n " + near_ + " link set " + near_link_ + " up");
      break;
    case cut_method::blackhole_route:
      shell("ip -n " + near_ + " route del blackhole " + address(side::peer) + "/32");
      break;
  }
  cut_active_ = false;
}

void test_network::sysctl(side s, const std::string& key, const std::string& value) {
  shell("ip netns exec " + name(s) + " sysctl -q -w " + key + "=" + value);
}

void test_network::run_in(side s, const std::function<void()>& fn) {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      const std::string path = "/run/netns/" + name(s);
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open " + path);
      const int entered = ::setns(fd, CLONE_NEWNET);
      ::close(fd);
      if (entered != 0) throw std::runtime_error("setns into " + name(s) + " failed");
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace lifeline::test
