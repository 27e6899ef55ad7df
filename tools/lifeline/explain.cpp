// `lifeline explain`: looks a socket error up by number, hex or name and says what to do about it.
#include "commands.hpp"

#include <lifeline/socket_errors.hpp>

#include <fmt/core.h>
#include <boost/json.hpp>

#include <memory>
#include <string>

namespace lifeline::cli {
namespace {

struct explain_options {
  std::string query;
  bool windows = false;
  bool posix = false;
  bool json = false;
  bool list = false;
};

std::string label(const socket_error& e) { return fmt::format("{} ({}, {})", e.name, e.code, e.hex()); }

boost::json::object to_json(const socket_error& e) {
  boost::json::object o;
  o["name"] = e.name;
  o["code"] = e.code;
  o["hex"] = e.hex();
  o["space"] = to_string(e.space);
  o["message"] = e.message;
  o["meaning"] = e.meaning;
  o["action"] = e.action;
  o["class"] = to_string(e.cls);
  o["advice"] = advice(e.cls);
  if (e.twin.empty()) {
    o["twin"] = nullptr;
  } else {
    o["twin"] = e.twin;
  }
  boost::json::array related;
  for (auto name : e.related_names()) related.emplace_back(name);
  o["related"] = std::move(related);
  boost::json::array aliases;
  for (auto name : e.aliases()) aliases.emplace_back(name);
  o["aliases"] = std::move(aliases);
  return o;
}

// Wraps text to the terminal's customary width, indenting continuation lines to `indent`.
std::string wrap(std::string_view text, std::size_t indent, std::size_t width = 100) {
  std::string out;
  std::size_t column = indent;
  while (!text.empty()) {
    const auto space = text.find(' ');
    const auto word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (column > indent && column + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
  return out;
}

void print_entry(const socket_error& e) {
  constexpr std::size_t indent = 11;
  fmt::print("{}  [{}]\n", label(e), to_string(e.space));
  std::string aliases;
  for (auto name : e.aliases()) aliases += (aliases.empty() ? "" : ", ") + std::string(name);
  if (!aliases.empty()) fmt::print("  alias    {}\n", aliases);
  fmt::print("  message  {}\n", wrap(e.message, indent));
  fmt::print("  meaning  {}\n", wrap(e.meaning, indent));
  fmt::print("  action   {}\n", wrap(e.action, indent));
  fmt::print("  class    {}: {}\n", to_string(e.cls), advice(e.cls));
  if (const auto* twin = e.twin.empty() ? nullptr : find_socket_error(e.twin)) {
    fmt::print("  twin     {}  [{}]\n", label(*twin), to_string(twin->space));
  }
  std::string related;
  for (auto name : e.related_names()) {
    if (const auto* r = find_socket_error(name)) related += (related.empty() ? "" : ", ") + label(*r);
  }
  if (!related.empty()) fmt::print("  related  {}\n", wrap(related, indent));
}

int run_list(const explain_options& o) {
  boost::json::array rows;
  for (const auto& e : socket_errors()) {
    if ((o.windows && e.space != code_space::windows) || (o.posix && e.space != code_space::posix)) continue;
    if (o.json) {
      rows.push_back(to_json(e));
    } else {
      fmt::print("{:<26} {:>6} {:>7}  {:<18} {}\n", e.name, e.code, e.hex(), to_string(e.cls), e.message);
    }
  }
  if (o.json) fmt::print("{}\n", boost::json::serialize(rows));
  return exit_ok;
}

int run_explain(const explain_options& o) {
  if (o.list) return run_list(o);
  if (o.query.empty()) {
    fmt::print(stderr,
               "lifeline explain: give an error code, hex code or name, e.g. 10052, 0x2744, WSAENETRESET\n");
    return exit_usage;
  }
  const auto space = o.windows ? code_space::windows : o.posix ? code_space::posix : native_code_space();
  const auto result = lookup_socket_error(o.query, space);
  if (!result.entry) {
    if (o.json) {
      boost::json::object error{{"error", result.detail}, {"query", o.query}};
      fmt::print("{}\n", boost::json::serialize(error));
    }
    fmt::print(stderr, "lifeline explain: {}\n", result.detail);
    return exit_usage;
  }
  if (o.json) {
    fmt::print("{}\n", boost::json::serialize(to_json(*result.entry)));
  } else {
    print_entry(*result.entry);
  }
  return exit_ok;
}

}  // namespace

command add_explain(CLI::App& app) {
  auto options = std::make_shared<explain_options>();
  auto* sub =
      app.add_subcommand("explain", "Explain a socket error: lifeline explain 10052 | 0x2744 | WSAENETRESET");
  sub->add_option("query", options->query, "Error number (decimal or 0x hex) or name, in any case");
  auto* windows = sub->add_flag("--windows", options->windows, "Read numbers below 10000 as Windows codes");
  auto* posix =
      sub->add_flag("--posix", options->posix, "Read numbers below 10000 as POSIX (Linux) errno values");
  windows->excludes(posix);
  sub->add_flag("--json", options->json, "Print JSON instead of text");
  sub->add_flag("--list", options->list, "Print the whole table (filtered by --windows or --posix)");
  return {sub, [options] { return run_explain(*options); }};
}

}  // namespace lifeline::cli
