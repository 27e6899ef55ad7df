// The proxies: the server's registry of proxy_state by name (server_impl.hpp) and its operations on
// proxies and their toxics, as the API calls them.
#include "server_impl.hpp"

#include <fmt/core.h>

#include <cctype>
#include <utility>

namespace lifeline::chaos {

// ---- the server --------------------------------------------------------------------------------------

struct server::impl {
  impl(boost::asio::any_io_executor ex, std::uint64_t s)
      : executor(std::move(ex)), seed(s), rng(std::make_shared<std::mt19937_64>(s)) {}
  boost::asio::any_io_executor executor;
  std::uint64_t seed;
  std::shared_ptr<std::mt19937_64> rng;
  std::map<std::string, std::shared_ptr<detail::proxy_state>> proxies;
  std::uint64_t next_toxic_id = 1;
  std::shared_ptr<log_function> log = std::make_shared<log_function>();

  detail::proxy_state* find(const std::string& name) const {
    const auto it = proxies.find(name);
    return it == proxies.end() ? nullptr : it->second.get();
  }

  result<proxy_info> create(const proxy_options& o) {
    if (o.name.empty()) return api_error{400, "missing required field: name"};
    if (o.upstream.empty()) return api_error{400, "missing required field: upstream"};
    if (proxies.count(o.name) != 0) return api_error{409, "proxy already exists"};
    auto p = std::make_shared<detail::proxy_state>(executor, rng);
    p->log = log;
    p->name = o.name;
    p->listen = o.listen;
    p->upstream = o.upstream;
    if (o.enabled) {
      if (auto error = detail::start(*p)) return *error;
    }
    proxies[o.name] = p;
    return p->info();
  }

  void remove_toxic(detail::proxy_state& p, std::size_t index) {
    auto t = p.toxics[index];
    t->removed = true;
    p.toxics.erase(p.toxics.begin() + static_cast<std::ptrdiff_t>(index));
    // The toxic before it in the same direction restarts, as Toxiproxy's link does.
    std::set<std::uint64_t> redraw;
    for (std::size_t i = index; i-- > 0;) {
      if (p.toxics[i]->downstream == t->downstream) {
        redraw.insert(p.toxics[i]->id);
        break;
      }
    }
    p.rebuild_all(t->downstream, redraw);
    if (t->type == detail::kind::timeout) p.close_connections();  // Toxiproxy closes them (timeout_test.go)
  }
};

server::server(boost::asio::any_io_executor executor, std::uint64_t seed)
    : impl_(std::make_shared<impl>(std::move(executor), seed)) {}

server::~server() { close(); }

std::uint64_t server::seed() const { return impl_->seed; }

boost::asio::any_io_executor server::executor() const { return impl_->executor; }

void server::set_log(log_function log) { *impl_->log = std::move(log); }

void server::log(const std::string& line) const {
  if (*impl_->log) (*impl_->log)(line);
}

void server::close() {
  for (auto& [name, p] : impl_->proxies) detail::stop(*p);
  impl_->proxies.clear();
}

result<proxy_info> server::create_proxy(const proxy_options& options) { return impl_->create(options); }

result<proxy_info> server::update_proxy(const std::string& name, const proxy_update& update) {
  auto* p = impl_->find(name);
  if (p == nullptr) return api_error{404, "proxy not found"};
  if (update.listen || update.upstream) {
    const auto listen = update.listen.value_or(p->listen);
    const auto upstream = update.upstream.value_or(p->upstream);
    auto differs = detail::listen_differs(*p, listen);
    if (!differs) return differs.error();
    if (differs.value() || upstream != p->upstream) {
      const bool was_enabled = p->enabled;
      detail::stop(*p);
      p->listen = listen;
      p->upstream = upstream;
      if (was_enabled) {
        if (auto error = detail::start(*p)) return *error;
      }
    }
  }
  if (update.enabled) {
    if (*update.enabled && !p->enabled) {
      if (auto error = detail::start(*p)) return *error;
    } else if (!*update.enabled && p->enabled) {
      detail::stop(*p);
    }
  }
  return p->info();
}

result<proxy_info> server::set_enabled(const std::string& name, bool enabled) {
  proxy_update update;
  update.enabled = enabled;
  return update_proxy(name, update);
}

std::optional<api_error> server::remove_proxy(const std::string& name) {
  auto* p = impl_->find(name);
  if (p == nullptr) return api_error{404, "proxy not found"};
  detail::stop(*p);
  impl_->proxies.erase(name);
  return std::nullopt;
}

result<proxy_info> server::get_proxy(const std::string& name) const {
  auto* p = impl_->find(name);
  if (p == nullptr) return api_error{404, "proxy not found"};
  return p->info();
}

std::vector<proxy_info> server::proxies() const {
  std::vector<proxy_info> out;
  for (const auto& [name, p] : impl_->proxies) out.push_back(p->info());
  return out;
}

std::optional<api_error> server::populate(const std::vector<proxy_options>& proxies,
                                          std::vector<proxy_info>& done) {
  for (std::size_t i = 0; i < proxies.size(); ++i) {
    if (proxies[i].name.empty())
      return api_error{400, fmt::format("missing required field: name at proxy {}", i + 1)};
    if (proxies[i].upstream.empty()) {
      return api_error{400, fmt::format("missing required field: upstream at proxy {}", i + 1)};
    }
  }
  for (const auto& o : proxies) {
    if (auto* p = impl_->find(o.name)) {
      auto differs = detail::listen_differs(*p, o.listen);
      if (!differs) return differs.error();
      if (!differs.value() && o.upstream == p->upstream) {
        done.push_back(p->info());
        continue;
      }
      detail::stop(*p);
      impl_->proxies.erase(o.name);
    }
    auto created = impl_->create(o);
    if (!created) return created.error();
    done.push_back(created.value());
  }
  return std::nullopt;
}

std::optional<api_error> server::reset() {
  for (auto& [name, p] : impl_->proxies) {
    if (!p->enabled) {
      if (auto error = detail::start(*p)) return error;
    }
    while (!p->toxics.empty()) impl_->remove_toxic(*p, p->toxics.size() - 1);
  }
  return std::nullopt;
}

result<toxic_info> server::add_toxic(const std::string& proxy, const toxic_options& options) {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  std::string lower = options.stream;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower != "upstream" && lower != "downstream") {
    return api_error{400, "stream was invalid, can be either upstream or downstream"};
  }
  auto t = std::make_shared<detail::toxic_def>();
  t->info.name = options.name.empty() ? options.type + "_" + options.stream : options.name;
  auto attributes = make_attributes(options.type, {});
  if (!attributes) return attributes.error();  // an unknown type
  for (const auto& other : p->toxics) {
    if (other->info.name == t->info.name) return api_error{409, "toxic already exists"};
  }
  attributes = make_attributes(options.type, options.attributes);
  if (!attributes) return attributes.error();
  t->info.type = options.type;
  t->info.stream = options.stream;
  t->info.toxicity = options.toxicity;
  t->info.attributes = std::move(attributes).value();
  t->type = detail::kind_of(options.type);
  t->downstream = lower == "downstream";
  t->id = impl_->next_toxic_id++;
  t->load();
  // The toxic that was last in this direction restarts, as Toxiproxy's link does.
  std::set<std::uint64_t> redraw;
  for (auto it = p->toxics.rbegin(); it != p->toxics.rend(); ++it) {
    if ((*it)->downstream == t->downstream) {
      redraw.insert((*it)->id);
      break;
    }
  }
  p->toxics.push_back(t);
  p->rebuild_all(t->downstream, redraw);
  return t->info;
}

result<toxic_info> server::update_toxic(const std::string& proxy, const std::string& toxic,
                                        const toxic_update& update) {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  for (const auto& t : p->toxics) {
    if (t->info.name != toxic) continue;
    auto attributes = make_attributes(t->info.type, update.attributes, t->info.attributes);
    if (!attributes) return attributes.error();
    t->info.attributes = std::move(attributes).value();
    if (update.toxicity) t->info.toxicity = *update.toxicity;
    t->load();
    p->rebuild_all(t->downstream, {t->id});
    return t->info;
  }
  return api_error{404, "toxic not found"};
}

std::optional<api_error> server::remove_toxic(const std::string& proxy, const std::string& toxic) {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  for (std::size_t i = 0; i < p->toxics.size(); ++i) {
    if (p->toxics[i]->info.name == toxic) {
      impl_->remove_toxic(*p, i);
      return std::nullopt;
    }
  }
  return api_error{404, "toxic not found"};
}

result<toxic_info> server::get_toxic(const std::string& proxy, const std::string& toxic) const {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  for (const auto& t : p->toxics) {
    if (t->info.name == toxic) return t->info;
  }
  return api_error{404, "toxic not found"};
}

result<std::vector<toxic_info>> server::toxics(const std::string& proxy) const {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  return p->info().toxics;
}

result<boost::asio::ip::tcp::endpoint> server::endpoint(const std::string& proxy) const {
  auto* p = impl_->find(proxy);
  if (p == nullptr) return api_error{404, "proxy not found"};
  if (!p->enabled) return api_error{409, "proxy is disabled"};
  return p->bound;
}

std::size_t server::connection_count(const std::string& proxy) const {
  auto* p = impl_->find(proxy);
  return p == nullptr ? 0 : p->connections.size();
}

}  // namespace lifeline::chaos
