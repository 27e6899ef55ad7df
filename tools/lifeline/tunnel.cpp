// `lifeline tunnel server|client`: carries any TCP program's connections over resumable sessions.
#include "commands.hpp"

#include <lifeline/doctor.hpp>
#include <lifeline/endpoint.hpp>
#include <lifeline/socket_errors.hpp>
#include <lifeline/tunnel.hpp>

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>

namespace lifeline::cli {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct tunnel_args {
  std::string config;
  std::string listen;
  std::string target;  // server: --to; client: --server
  std::string psk_file;
  std::string tls_cert, tls_key, tls_ca, tls_name;
  bool insecure = false;
  std::size_t max_connections = 1024;
  std::size_t replay_kib = 8192;
  std::size_t receive_kib = 8192;
  std::size_t max_memory_mib = 4096;
  unsigned heartbeat_ms = 1000;
  unsigned timeout_ms = 5000;
  unsigned deadline_s = 60;
};

// Parses an address flag; on failure says which and why, in the tunnel's words.
std::optional<host_port> address(const std::string& text, bool listening, const char* who) {
  host_port out;
  std::string detail;
  if (!parse_host_port(text, out, detail, listening)) return out;
  const auto prefix = "'" + text + "': ";  // parse_host_port's sentences start by quoting the text
  if (detail.rfind(prefix, 0) == 0) detail.erase(0, prefix.size());
  fmt::print(stderr, "{}: '{}' is not HOST:PORT: {}\n", who, text, detail);
  return std::nullopt;
}

std::string now() {
  return fmt::format("{:%H:%M:%S}",
                     std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

void say(const std::string& line) {
  fmt::print("{} {}\n", now(), line);
  std::fflush(stdout);
}

int run_tunnel(const tunnel_args& a, bool server_side) {
  const char* who = server_side ? "lifeline tunnel server" : "lifeline tunnel client";
  const auto listen = address(a.listen, true, who);
  const auto target = listen ? address(a.target, false, who) : std::nullopt;
  if (!listen || !target) return exit_usage;

  tunnel_options options;
  options.max_connections = a.max_connections;
  options.session.replay_capacity = a.replay_kib * 1024;
  options.session.receive_capacity = a.receive_kib * 1024;
  options.session.heartbeat_interval = std::chrono::milliseconds(a.heartbeat_ms);
  options.session.heartbeat_timeout = std::chrono::milliseconds(a.timeout_ms);
  options.session.retry.deadline = std::chrono::seconds(a.deadline_s);
  // A resume attempt into a dead link is given up after the same silence that declares a link dead, and
  // attempts are no further apart than that: otherwise the 5 s defaults turn a 300 ms --timeout-ms into
  // pauses of ten seconds. The defaults (5000 ms) keep the session's own defaults.
  options.session.handshake_timeout = std::chrono::milliseconds(a.timeout_ms);
  options.session.retry.cap = std::chrono::milliseconds(std::clamp(a.timeout_ms, 100u, 5000u));
  options.log = say;
  std::string why;
  // The environment's key, when no key file is named, is held to the key file's rules but for the mode.
  const char* env = std::getenv("LIFELINE_PSK");
  const bool bad_env_key =
      a.psk_file.empty() && env && *env && parse_key(env, "LIFELINE_PSK", options.session.psk, &why);
  const tunnel_credentials credentials{.psk_file = a.psk_file,
                                       .tls_cert = a.tls_cert,
                                       .tls_key = a.tls_key,
                                       .tls_ca = a.tls_ca,
                                       .tls_server_name = a.tls_name};
  if (bad_env_key || load_credentials(credentials, server_side, options.session, &why) ||
      options.session.validate(&why)) {
    fmt::print(stderr, "{}: {}\n", who, why);
    return exit_usage;
  }

  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto listen_results = resolver.resolve(listen->host, std::to_string(listen->port), ec);
  if (ec || listen_results.empty()) {
    fmt::print(stderr, "{}: cannot resolve the listen address '{}': {}\n", who, a.listen, ec.message());
    return exit_usage;
  }
  const tcp::endpoint listen_ep = *listen_results.begin();
  const bool authenticated = !options.session.psk.empty() || options.session.tls;
  if (!authenticated && !listen_ep.address().is_loopback()) {
    if (!a.insecure) {
      fmt::print(stderr,
                 "{}: refusing to listen on {} without authentication; give --psk-file (or LIFELINE_PSK) or "
                 "TLS files, or --insecure to accept anyone who can reach it\n",
                 who, to_string(listen_ep));
      return exit_usage;
    }
    say(fmt::format("warning: listening on {} with no authentication (--insecure)", to_string(listen_ep)));
  } else if (!authenticated) {
    say("note: no pre-shared key and no TLS; listening on loopback only");
  }

  try {
    std::unique_ptr<tunnel_server> server;
    std::unique_ptr<tunnel_client> client;
    // Before the "listening" line: a signal sent as soon as that line appears must find the handler set
    // (asio queues it until the wait below), not end the process by the default action.
    asio::signal_set signals(io, SIGINT, SIGTERM);
#ifdef SIGBREAK
    signals.add(SIGBREAK);  // Windows: Ctrl+Break, and what console tools send to stop a program
#endif
    asio::steady_timer grace(io);
    if (server_side) {
      server = std::make_unique<tunnel_server>(io.get_executor(), listen_ep, target->host,
                                               std::to_string(target->port), options, a.max_memory_mib << 20);
      say(fmt::format("tunnel server listening on {}, forwarding to {}", to_string(server->local_endpoint()),
                      a.target));
    } else {
      const auto server_results = resolver.resolve(target->host, std::to_string(target->port), ec);
      if (ec || server_results.empty()) {
        fmt::print(stderr, "{}: cannot resolve the server address '{}': {}\n", who, a.target, ec.message());
        return exit_usage;
      }
      client =
          std::make_unique<tunnel_client>(io.get_executor(), listen_ep, *server_results.begin(), options);
      say(fmt::format("tunnel client listening on {}, tunnelling to {}", to_string(client->local_endpoint()),
                      to_string(*server_results.begin())));
    }
    // A signal aborts every connection (each peer is told) and the loop runs until the last one has
    // ended, so that nothing is left half-done; a second signal, or the grace period, cuts it short.
    signals.async_wait([&](boost::system::error_code ec, int signal) {
      if (ec) return;
      say(fmt::format("signal {}: shutting down", signal));
      auto closed = [&] {
        signals.cancel();
        grace.cancel();
      };
      if (server) server->close(closed);
      if (client) client->close(closed);
      grace.expires_after(options.session.handshake_timeout + std::chrono::seconds(1));
      grace.async_wait([&](boost::system::error_code gec) {
        if (gec) return;
        say("connections still open after the grace period; stopping anyway");
        io.stop();
      });
      signals.async_wait([&](boost::system::error_code sec, int again) {
        if (sec) return;
        say(fmt::format("signal {} again: stopping now", again));
        io.stop();
      });
    });
    io.run();
    say(fmt::format("{} stopped", who));
  } catch (const boost::system::system_error& e) {
    // The tunnel's listener names the address and the step that failed ("127.0.0.1:80: bind") before
    // Boost's ": <message> [<code>]"; the message is replaced by lifeline's text for the code.
    const std::string what = e.what(), tail = ": " + e.code().what();
    const auto where = what.ends_with(tail) ? what.substr(0, what.size() - tail.size()) : a.listen;
    fmt::print(stderr, "{}: cannot listen on {}: {}\n", who, where, error_text(e.code()));
    return exit_failure;
  }
  return exit_ok;
}

void add_common(CLI::App* sub, tunnel_args& a) {
  sub->add_option(
      "--psk-file", a.psk_file,
      "File holding the pre-shared key: one line of at least 16 bytes, mode 600 (`lifeline keygen FILE` "
      "writes one); or env LIFELINE_PSK");
  sub->add_option("--tls-cert", a.tls_cert, "TLS certificate chain (PEM); the server's, or the client's own")
      ->check(CLI::ExistingFile);
  sub->add_option("--tls-key", a.tls_key, "TLS private key (PEM) for --tls-cert")->check(CLI::ExistingFile);
  sub->add_option("--tls-ca", a.tls_ca,
                  "CA to trust: the server's on the client; clients' (required) on the server")
      ->check(CLI::ExistingFile);
  sub->add_flag("--insecure", a.insecure, "Allow listening beyond loopback without authentication");
  sub->add_option("--max-connections", a.max_connections, "Connections open at once")
      ->check(CLI::Range(1, 1000000));
  sub->add_option("--replay-kib", a.replay_kib, "Replay buffer per connection, KiB")
      ->check(CLI::Range(64, 1 << 20));
  sub->add_option("--receive-kib", a.receive_kib,
                  "Received bytes held per connection until the program reads them, KiB (at least one frame)")
      ->check(CLI::Range(1024, 1 << 20));
  sub->add_option("--heartbeat-ms", a.heartbeat_ms, "Heartbeat interval")->check(CLI::Range(10, 600000));
  sub->add_option("--timeout-ms", a.timeout_ms, "Silence after which the link is declared dead")
      ->check(CLI::Range(20, 3600000));
  sub->add_option("--deadline-s", a.deadline_s, "Give a broken connection up after this long")
      ->check(CLI::Range(1, 86400));
  sub->add_option("--config", a.config,
                  "Read these options from a TOML or INI file (KEY = VALUE, keys as the long options "
                  "without dashes); the command line wins");
}

// CLI11 2.1 reads configuration files only for the top-level command, never for a subcommand's own
// --config, so the file is applied here: each key must be one of the subcommand's long options, and an
// option given on the command line keeps its value. Returns an error message, or nothing.
std::optional<std::string> apply_config(CLI::App& sub, const std::string& file) {
  std::vector<CLI::ConfigItem> items;
  {
    std::ifstream probe(file);
    if (!probe) return fmt::format("cannot read the config file '{}'", file);
  }
  try {
    items = sub.get_config_formatter()->from_file(file);
  } catch (const CLI::Error& e) {
    return fmt::format("config file '{}': {}", file, e.what());
  }
  for (const auto& item : items) {
    const auto key = item.fullname();
    CLI::Option* option = item.parents.empty() && item.name != "config" && item.name != "help"
                              ? sub.get_option_no_throw("--" + item.name)
                              : nullptr;
    if (option == nullptr) return fmt::format("config file '{}': unknown option '{}'", file, key);
    if (option->count() > 0) continue;
    try {
      if (option->get_expected_min() == 0) {
        option->add_result(sub.get_config_formatter()->to_flag(item));
      } else {
        option->add_result(item.inputs);
      }
      option->run_callback();
    } catch (const CLI::Error& e) {
      return fmt::format("config file '{}': {}", file, e.what());
    }
  }
  return std::nullopt;
}

// --config first, then the options every tunnel end needs, wherever they came from.
int configure_and_run(CLI::App& sub, tunnel_args& a, bool server_side, const char* target_flag) {
  const char* who = server_side ? "lifeline tunnel server" : "lifeline tunnel client";
  if (!a.config.empty()) {
    if (auto why = apply_config(sub, a.config)) {
      fmt::print(stderr, "{}: {}\n", who, *why);
      return exit_usage;
    }
  }
  for (const auto& [value, flag] : {std::pair{&a.listen, "--listen"}, std::pair{&a.target, target_flag}}) {
    if (value->empty()) {
      fmt::print(stderr, "{}: {} is required (on the command line or in --config)\n", who, flag);
      return exit_usage;
    }
  }
  return run_tunnel(a, server_side);
}

}  // namespace

command add_tunnel(CLI::App& app) {
  auto server_args = std::make_shared<tunnel_args>();
  auto client_args = std::make_shared<tunnel_args>();
  auto* tunnel =
      app.add_subcommand("tunnel", "Carry TCP connections over sessions that survive a dropped link");
  tunnel->require_subcommand(1);
  auto* server =
      tunnel->add_subcommand("server", "Accept tunnel clients and connect each connection to a target");
  server->add_option("--listen", server_args->listen,
                     "Address to accept tunnel clients on, HOST:PORT (required)");
  server->add_option("--to", server_args->target,
                     "Target to connect each connection to, HOST:PORT (required)");
  server->add_option("--max-memory-mib", server_args->max_memory_mib, "Replay memory for all sessions, MiB")
      ->check(CLI::Range(1, 1 << 20));
  add_common(server, *server_args);
  auto* client =
      tunnel->add_subcommand("client", "Accept local connections and carry each to the tunnel server");
  client->add_option("--listen", client_args->listen,
                     "Local address programs connect to, HOST:PORT (required)");
  client->add_option("--server", client_args->target, "The tunnel server, HOST:PORT (required)");
  client->add_option("--tls-name", client_args->tls_name,
                     "Name to verify the server's certificate against (and SNI)");
  add_common(client, *client_args);
  return {tunnel, [=] {
            return server->parsed() ? configure_and_run(*server, *server_args, true, "--to")
                                    : configure_and_run(*client, *client_args, false, "--server");
          }};
}

}  // namespace lifeline::cli
