// `lifeline chaos`: runs the fault-injection proxy and its Toxiproxy-compatible HTTP API until SIGINT or
// SIGTERM. Prints the seed, the API address and every proxy's address on stdout, one line each.
#include "commands.hpp"

#include <lifeline/chaos.hpp>

#include <fmt/core.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace lifeline::cli {
namespace {

struct chaos_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8474;
  std::string config;
  std::vector<std::string> proxies;
  std::vector<std::string> toxics;
  std::optional<std::uint64_t> seed;
};

int fail_usage(const std::string& message) {
  fmt::print(stderr, "lifeline chaos: {}\n", message);
  return exit_usage;
}

void print_proxy(const chaos::proxy_info& p) {
  fmt::print("chaos proxy {} {} -> {}{}\n", p.name, p.listen, p.upstream, p.enabled ? "" : " (disabled)");
}

// NAME=LISTEN=UPSTREAM
std::optional<chaos::proxy_options> parse_proxy_flag(const std::string& text) {
  const auto first = text.find('=');
  const auto second = first == std::string::npos ? first : text.find('=', first + 1);
  if (second == std::string::npos || text.find('=', second + 1) != std::string::npos) return std::nullopt;
  chaos::proxy_options o;
  o.name = text.substr(0, first);
  o.listen = text.substr(first + 1, second - first - 1);
  o.upstream = text.substr(second + 1);
  if (o.name.empty() || o.upstream.empty()) return std::nullopt;
  return o;
}

// PROXY:TYPE[:STREAM[:KEY=VALUE,...]]
std::optional<std::pair<std::string, chaos::toxic_options>> parse_toxic_flag(const std::string& text,
                                                                             std::string& why) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ':');) parts.push_back(part);
  if (parts.size() < 2 || parts.size() > 4 || parts[0].empty() || parts[1].empty()) {
    why = fmt::format("--toxic '{}': expected PROXY:TYPE[:STREAM[:KEY=VALUE,...]]", text);
    return std::nullopt;
  }
  chaos::toxic_options o;
  o.type = parts[1];
  if (parts.size() > 2 && !parts[2].empty()) o.stream = parts[2];
  if (parts.size() > 3) {
    std::stringstream list(parts[3]);
    for (std::string item; std::getline(list, item, ',');) {
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0) {
        why = fmt::format("--toxic '{}': attribute '{}' is not KEY=VALUE", text, item);
        return std::nullopt;
      }
      boost::system::error_code ec;
      auto value = boost::json::parse(item.substr(eq + 1), ec);
      if (ec || !value.is_number()) {
        why = fmt::format("--toxic '{}': attribute '{}' needs a number", text, item);
        return std::nullopt;
      }
      const auto key = item.substr(0, eq);
      if (key == "toxicity") {
        o.toxicity = static_cast<float>(value.to_number<double>());
      } else {
        o.attributes[key] = value;
      }
    }
  }
  return std::make_pair(parts[0], o);
}

int run_chaos(const chaos_options& o) {
  // Check every flag before anything binds.
  std::vector<chaos::proxy_options> from_config;
  if (!o.config.empty()) {
    std::ifstream file(o.config);
    if (!file) return fail_usage(fmt::format("--config {}: cannot read the file", o.config));
    std::stringstream text;
    text << file.rdbuf();
    auto parsed = chaos::parse_populate(text.str());
    if (!parsed) return fail_usage(fmt::format("--config {}: {}", o.config, parsed.error().message));
    from_config = std::move(parsed).value();
  }
  std::vector<chaos::proxy_options> from_flags;
  for (const auto& text : o.proxies) {
    auto p = parse_proxy_flag(text);
    if (!p) return fail_usage(fmt::format("--proxy '{}': expected NAME=LISTEN=UPSTREAM", text));
    from_flags.push_back(*p);
  }
  std::vector<std::pair<std::string, chaos::toxic_options>> toxics;
  for (const auto& text : o.toxics) {
    std::string why;
    auto t = parse_toxic_flag(text, why);
    if (!t) return fail_usage(why);
    toxics.push_back(std::move(*t));
  }

  const auto seed = o.seed ? *o.seed : std::random_device{}() * 0x100000000ull + std::random_device{}();
  boost::asio::io_context io(1);
  chaos::server proxies(io.get_executor(), seed);
  proxies.set_log([](const std::string& line) { fmt::print(stderr, "lifeline chaos: {}\n", line); });
  fmt::print("chaos seed {}\n", seed);

  std::vector<chaos::proxy_info> done;
  if (auto error = proxies.populate(from_config, done)) {
    fmt::print(stderr, "lifeline chaos: --config {}: {}\n", o.config, error->message);
    return exit_failure;
  }
  for (const auto& p : from_flags) {
    auto created = proxies.create_proxy(p);
    if (!created) {
      fmt::print(stderr, "lifeline chaos: --proxy {}: {}\n", p.name, created.error().message);
      return exit_failure;
    }
  }
  for (const auto& [proxy, t] : toxics) {
    auto added = proxies.add_toxic(proxy, t);
    if (!added) {
      fmt::print(stderr, "lifeline chaos: --toxic on {}: {}\n", proxy, added.error().message);
      return exit_failure;
    }
  }
  auto api = chaos::api::start(proxies, o.host, o.port);
  if (!api) {
    fmt::print(stderr, "lifeline chaos: API on {}:{}: {}\n", o.host, o.port, api.error().message);
    return exit_failure;
  }
  // Handlers are in place before "ready" is printed, so a SIGTERM right after it still stops cleanly.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
#ifdef SIGBREAK
  signals.add(SIGBREAK);  // Windows: Ctrl+Break, and what console tools send to stop a program
#endif
  int stopped_by = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    stopped_by = signal;
    api.value()->close();
    proxies.close();
    io.stop();
  });
  const auto endpoint = api->get()->endpoint();
  fmt::print("chaos api {}:{}\n", endpoint.address().to_string(), endpoint.port());
  for (const auto& p : proxies.proxies()) print_proxy(p);
  fmt::print("chaos ready\n");
  std::fflush(stdout);

  io.run();
  fmt::print("chaos stopped by signal {}\n", stopped_by);
  std::fflush(stdout);
  return exit_ok;
}

}  // namespace

command add_chaos(CLI::App& app) {
  auto options = std::make_shared<chaos_options>();
  auto* sub = app.add_subcommand(
      "chaos",
      "Run a fault-injection TCP proxy with Toxiproxy's HTTP API (latency, resets, black holes, ...)");
  sub->add_option("--host", options->host, "Address the HTTP API binds to")->capture_default_str();
  sub->add_option("--port", options->port, "Port of the HTTP API (0 picks a free one)")
      ->capture_default_str();
  sub->add_option("--config", options->config, "JSON file in Toxiproxy's /populate format");
  sub->add_option("--proxy", options->proxies,
                  "A proxy: NAME=LISTEN=UPSTREAM, e.g. db=127.0.0.1:0=127.0.0.1:5432");
  sub->add_option(
      "--toxic", options->toxics,
      "A toxic: PROXY:TYPE[:STREAM[:KEY=VALUE,...]], e.g. db:latency:downstream:latency=100,jitter=10");
  sub->add_option("--seed", options->seed, "Seed of the PRNG behind every random choice (printed at start)");
  return {sub, [options] { return run_chaos(*options); }};
}

}  // namespace lifeline::cli
