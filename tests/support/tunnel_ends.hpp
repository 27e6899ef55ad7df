// Both ends of `lifeline tunnel` started from the real binary, optionally with the real `lifeline chaos`
// between them, for the tunnel's tests.
#pragma once

#include "chaos_harness.hpp"
#include "child_process.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lifeline::test {

// The tunnel server in front of a target, `lifeline chaos` in front of the tunnel server, and the
// tunnel client pointed at the chaos proxy: program -> client -> chaos -> server -> target.
struct tunnel_ends {
  std::unique_ptr<child_process> server, client;
  std::unique_ptr<chaos_process> chaos;
  std::uint16_t port = 0;                   ///< the tunnel client's, where programs connect
  std::string problem;                      ///< what went wrong in start()
  std::vector<std::string> client_wrapper;  ///< put before the client's command, such as env VAR=VALUE
  /// Something of the test's own between the ends: given the address the client would connect to, starts
  /// and returns the one it connects to instead.
  std::function<std::string(const std::string&)> between;

  /// `seed` 0 leaves the chaos proxy out: the client connects to the server directly.
  bool start(std::uint16_t target_port, std::uint64_t seed, const std::vector<std::string>& both,
             const std::vector<std::string>& client_only = {},
             const std::vector<std::string>& server_only = {}) {
    std::vector<std::string> s = {LIFELINE_CLI,
                                  "tunnel",
                                  "server",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--to",
                                  "127.0.0.1:" + std::to_string(target_port)};
    s.insert(s.end(), both.begin(), both.end());
    s.insert(s.end(), server_only.begin(), server_only.end());
    server = std::make_unique<child_process>(s);
    const auto server_port = server->wait_for(R"(tunnel server listening on 127\.0\.0\.1:(\d+))");
    if (!server_port) return fail("tunnel server did not start:\n" + server->output());
    std::string server_address = "127.0.0.1:" + *server_port;
    if (seed != 0) {
      chaos = std::make_unique<chaos_process>("--seed " + std::to_string(seed) +
                                              " --proxy link=127.0.0.1:0=" + server_address);
      if (!chaos->ready() || chaos->proxy("link").empty()) return fail("lifeline chaos did not start");
      server_address = chaos->proxy("link");
    }
    if (between) server_address = between(server_address);
    std::vector<std::string> c = client_wrapper;
    for (const std::string arg : {LIFELINE_CLI, "tunnel", "client", "--listen", "127.0.0.1:0", "--server"})
      c.push_back(arg);
    c.push_back(server_address);
    c.insert(c.end(), both.begin(), both.end());
    c.insert(c.end(), client_only.begin(), client_only.end());
    client = std::make_unique<child_process>(c);
    const auto client_port = client->wait_for(R"(tunnel client listening on 127\.0\.0\.1:(\d+))");
    if (!client_port) return fail("tunnel client did not start:\n" + client->output());
    port = static_cast<std::uint16_t>(std::stoi(*client_port));
    return true;
  }

  int add_toxic(const std::string& json) {
    return http(chaos->api(), "POST", "/proxies/link/toxics", json).status;
  }
  int remove_toxic(const std::string& name) {
    return http(chaos->api(), "DELETE", "/proxies/link/toxics/" + name).status;
  }

 private:
  bool fail(std::string why) {
    problem = std::move(why);
    return false;
  }
};

}  // namespace lifeline::test
