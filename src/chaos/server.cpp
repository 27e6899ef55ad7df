// The proxies and their toxics: one coroutine accepts per proxy; each connection is two links (upstream,
// downstream), each a reader coroutine feeding a bounded queue and a writer coroutine that passes every
// chunk through that direction's toxic chain. Everything runs on one executor, so no locks.
#include "../accept_loop.hpp"
#include "../listener.hpp"
#include "engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <utility>

namespace lifeline::chaos {
namespace detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t queue_cap = 1024;  // chunks buffered per link, as Toxiproxy's channels
constexpr std::size_t queue_byte_cap =
    8 * 1024 * 1024;  // and bytes, so a held link cannot grow without bound
constexpr std::size_t read_size = 64 * 1024;

enum class kind { latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, corrupt };

kind kind_of(const std::string& type) {
  static const std::map<std::string, kind> kinds = {
      {"latency", kind::latency},       {"bandwidth", kind::bandwidth},
      {"slow_close", kind::slow_close}, {"timeout", kind::timeout},
      {"reset_peer", kind::reset_peer}, {"slicer", kind::slicer},
      {"limit_data", kind::limit_data}, {"noop", kind::noop},
      {"corrupt", kind::corrupt}};
  return kinds.at(type);
}

std::int64_t int_attribute(const boost::json::object& attributes, const char* name) {
  const auto* v = attributes.if_contains(name);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

/// One toxic on a proxy, shared by every link of its direction.
struct toxic_def {
  toxic_info info;
  kind type = kind::noop;
  bool downstream = true;
  bool removed = false;
  std::uint64_t id = 0;
  // The attributes, read once per change.
  std::int64_t a = 0, b = 0, c = 0;
  double probability = 0;

  void load() {
    const auto& at = info.attributes;
    switch (type) {
      case kind::latency:
        a = int_attribute(at, "latency"), b = int_attribute(at, "jitter");
        break;
      case kind::bandwidth:
        a = int_attribute(at, "rate");
        break;
      case kind::slow_close:
        a = int_attribute(at, "delay");
        break;
      case kind::timeout:
      case kind::reset_peer:
        a = int_attribute(at, "timeout");
        break;
      case kind::slicer:
        a = int_attribute(at, "average_size"), b = int_attribute(at, "size_variation"),
        c = int_attribute(at, "delay");
        break;
      case kind::limit_data:
        a = int_attribute(at, "bytes");
        break;
      case kind::corrupt: {
        const auto* p = at.if_contains("probability");
        probability = p != nullptr && p->is_number() ? p->to_number<double>() : 0.0;
        break;
      }
      case kind::noop:
        break;
    }
  }
};

/// A toxic's state on one link.
struct link_toxic {
  std::shared_ptr<toxic_def> def;
  bool active = false;               ///< the toxicity draw
  clock::time_point last_chunk;      ///< timeout: when the timer last restarted
  std::int64_t bytes_sent = 0;       ///< limit_data: survives updates
  clock::duration bandwidth_debt{};  ///< bandwidth: timing error carried forward
  bool fired = false;                ///< reset_peer
};

struct chunk {
  std::vector<char> data;
  clock::time_point arrival;
  bool eof = false;
};

struct connection;

struct link {
  explicit link(const asio::any_io_executor& ex, bool down)
      : downstream(down), idle(ex), hold(ex), room(ex), sleep(ex) {}
  bool downstream;
  std::deque<chunk> queue;
  std::size_t queued_bytes = 0;
  asio::steady_timer idle;   ///< the writer waits here for a chunk (or a timeout toxic's deadline)
  asio::steady_timer hold;   ///< the writer waits here while a toxic holds a chunk
  asio::steady_timer room;   ///< the reader waits here while the queue is full
  asio::steady_timer sleep;  ///< waits that no toxic change interrupts (reset_peer, slow_close)
  std::vector<std::shared_ptr<link_toxic>> chain;
  std::uint64_t generation = 0;  ///< bumped by every toxic change: releases held chunks

  void wake() {
    idle.cancel();
    hold.cancel();
    room.cancel();
  }
};

struct proxy_state;

struct connection : std::enable_shared_from_this<connection> {
  connection(tcp::socket c, tcp::socket u)
      : client(std::move(c)),
        upstream(std::move(u)),
        up(client.get_executor(), false),
        down(client.get_executor(), true) {}
  tcp::socket client;
  tcp::socket upstream;
  link up;    ///< client to upstream
  link down;  ///< upstream to client
  bool closed = false;
  std::weak_ptr<proxy_state> owner;

  void close(bool reset);
};

struct proxy_state : std::enable_shared_from_this<proxy_state> {
  proxy_state(asio::any_io_executor ex, std::shared_ptr<std::mt19937_64> r)
      : executor(std::move(ex)), rng(std::move(r)) {}
  asio::any_io_executor executor;
  std::shared_ptr<std::mt19937_64> rng;
  std::string name, listen, upstream;
  bool enabled = false;
  std::shared_ptr<tcp::acceptor> acceptor;
  tcp::endpoint bound;
  bool started_once = false;
  std::uint64_t run_generation = 0;  ///< bumped by every stop: connections dialled before it are dropped
  std::vector<std::shared_ptr<toxic_def>> toxics;  ///< insertion order, both directions
  std::set<std::shared_ptr<connection>> connections;
  std::shared_ptr<const log_function> log;  ///< the server's, set with server::set_log

  void report(const std::string& line) const {
    if (log && *log) (*log)(line);
  }

  double draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(*rng); }

  proxy_info info() const {
    proxy_info p{name, listen, upstream, enabled, {}};
    for (const bool down : {false, true}) {
      for (const auto& t : toxics) {
        if (t->downstream == down) p.toxics.push_back(t->info);
      }
    }
    return p;
  }

  /// Rebuilds one link's chain from the proxy's toxics, keeping the state of toxics that stay;
  /// toxics in `redraw` draw their toxicity again.
  void rebuild(link& l, const std::set<std::uint64_t>& redraw) {
    std::vector<std::shared_ptr<link_toxic>> chain;
    for (const auto& t : toxics) {
      if (t->downstream != l.downstream) continue;
      std::shared_ptr<link_toxic> state;
      for (const auto& old : l.chain) {
        if (old->def == t) state = old;
      }
      if (!state) {
        state = std::make_shared<link_toxic>();
        state->def = t;
        state->active = draw() < t->info.toxicity;
        state->last_chunk = clock::now();
      } else if (redraw.count(t->id) != 0) {
        state->active = draw() < t->info.toxicity;
        state->last_chunk = clock::now();
      }
      chain.push_back(std::move(state));
    }
    l.chain = std::move(chain);
    ++l.generation;
    l.wake();
  }

  void rebuild_all(bool downstream, const std::set<std::uint64_t>& redraw) {
    for (const auto& c : connections) rebuild(downstream ? c->down : c->up, redraw);
  }

  void close_connections() {
    auto all = connections;
    for (const auto& c : all) c->close(false);
  }
};

void connection::close(bool reset) {
  if (closed) return;
  closed = true;
  boost::system::error_code ignored;
  if (reset) {
    client.set_option(tcp::socket::linger(true, 0), ignored);
    upstream.set_option(tcp::socket::linger(true, 0), ignored);
  }
  client.close(ignored);
  upstream.close(ignored);
  up.wake();
  down.wake();
  up.sleep.cancel();
  down.sleep.cancel();
  if (auto p = owner.lock()) p->connections.erase(shared_from_this());
}

// ---- the data path -------------------------------------------------------------------------------

asio::awaitable<void> read_loop(std::shared_ptr<connection> c, link& l, tcp::socket& from) {
  std::vector<char> buffer(read_size);
  while (!c->closed) {
    if (l.queue.size() >= queue_cap || l.queued_bytes >= queue_byte_cap) {
      l.room.expires_at(clock::time_point::max());
      co_await l.room.async_wait(use_nothrow);
      continue;
    }
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), use_nothrow);
    if (c->closed) co_return;
    if (ec) {
      l.queue.push_back(chunk{{}, clock::now(), true});
      l.idle.cancel();
      co_return;
    }
    // A large read hands its buffer over; a small one is copied, so that memory follows the bytes held.
    std::vector<char> data;
    if (n >= read_size / 2) {
      buffer.resize(n);
      data = std::exchange(buffer, std::vector<char>(read_size));
    } else {
      data.assign(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
    l.queued_bytes += data.size();
    l.queue.push_back(chunk{std::move(data), clock::now(), false});
    l.idle.cancel();
  }
}

/// Waits until `deadline`; a toxic change on the link (or the connection closing) ends the wait early.
asio::awaitable<void> hold_until(connection& c, link& l, clock::time_point deadline) {
  const auto generation = l.generation;
  while (!c.closed && l.generation == generation && clock::now() < deadline) {
    l.hold.expires_at(deadline);
    co_await l.hold.async_wait(use_nothrow);
  }
}

/// Waits until `deadline`; only the connection closing ends the wait early.
asio::awaitable<void> sleep_until(connection& c, link& l, clock::time_point deadline) {
  while (!c.closed && clock::now() < deadline) {
    l.sleep.expires_at(deadline);
    co_await l.sleep.async_wait(use_nothrow);
  }
}

using chain_t = std::vector<std::shared_ptr<link_toxic>>;

// Splits by repeated halving, each cut moved by up to +-variation, until pieces are small enough.
void slice(std::vector<std::size_t>& cuts, std::size_t begin, std::size_t end, std::int64_t average,
           std::int64_t variation, std::mt19937_64& rng) {
  const auto size = static_cast<std::int64_t>(end - begin);
  if (size <= average + variation || size <= 1) {
    cuts.push_back(end);
    return;
  }
  std::int64_t mid = size / 2;
  if (variation > 0) {
    mid += std::uniform_int_distribution<std::int64_t>(-variation, variation - 1)(rng);
  }
  mid = std::clamp<std::int64_t>(mid, 1, size - 1);
  slice(cuts, begin, begin + static_cast<std::size_t>(mid), average, variation, rng);
  slice(cuts, begin + static_cast<std::size_t>(mid), end, average, variation, rng);
}

asio::awaitable<void> run_chain(std::shared_ptr<connection> c, link& l, proxy_state& p, chain_t chain,
                                std::size_t index, std::vector<char> data, clock::time_point arrival,
                                tcp::socket& to) {
  for (std::size_t i = index; i < chain.size(); ++i) {
    auto& t = *chain[i];
    if (c->closed) co_return;
    if (t.def->removed || !t.active) continue;
    const auto& d = *t.def;
    switch (d.type) {
      case kind::noop:
      case kind::slow_close:
        break;
      case kind::latency: {
        std::int64_t delay = d.a;
        if (d.b > 0) delay += std::uniform_int_distribution<std::int64_t>(-d.b, d.b - 1)(*p.rng);
        if (delay > 0) {
          co_await hold_until(*c, l, arrival + std::chrono::milliseconds(delay));
          // The next latency toxic counts from here, so that several add up, as in Toxiproxy.
          arrival = std::min(arrival + std::chrono::milliseconds(delay), clock::now());
        }
        break;
      }
      case kind::bandwidth: {
        if (d.a <= 0) {  // rate 0: nothing passes until the toxic changes
          co_await hold_until(*c, l, clock::time_point::max());
          break;
        }
        const auto rate = static_cast<std::size_t>(d.a);
        t.bandwidth_debt +=
            std::chrono::duration_cast<clock::duration>(std::chrono::microseconds(data.size() * 1000 / rate));
        if (data.size() > rate * 100) {
          std::size_t offset = 0;
          while (data.size() - offset > rate * 100) {
            co_await hold_until(*c, l, clock::now() + std::chrono::milliseconds(100));
            t.bandwidth_debt -= std::chrono::milliseconds(100);
            std::vector<char> piece(data.begin() + static_cast<std::ptrdiff_t>(offset),
                                    data.begin() + static_cast<std::ptrdiff_t>(offset + rate * 100));
            co_await run_chain(c, l, p, chain, i + 1, std::move(piece), arrival, to);
            offset += rate * 100;
          }
          data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(offset));
        }
        const auto start = clock::now();
        co_await hold_until(*c, l, start + t.bandwidth_debt);
        t.bandwidth_debt -= clock::now() - start;
        break;
      }
      case kind::timeout:
        t.last_chunk = clock::now();
        l.idle.cancel();
        co_return;  // swallowed
      case kind::reset_peer:
        if (!t.fired) {
          t.fired = true;
          co_await sleep_until(*c, l,
                               clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(d.a, 0)));
          c->close(true);
        }
        co_return;
      case kind::slicer: {
        std::vector<std::size_t> cuts;
        slice(cuts, 0, data.size(), std::max<std::int64_t>(d.a, 1), std::max<std::int64_t>(d.b, 0), *p.rng);
        std::size_t begin = 0;
        for (const auto end : cuts) {
          std::vector<char> piece(data.begin() + static_cast<std::ptrdiff_t>(begin),
                                  data.begin() + static_cast<std::ptrdiff_t>(end));
          co_await run_chain(c, l, p, chain, i + 1, std::move(piece), arrival, to);
          begin = end;
          if (d.c > 0) co_await hold_until(*c, l, clock::now() + std::chrono::microseconds(d.c));
        }
        co_return;
      }
      case kind::limit_data: {
        const auto remaining = std::max<std::int64_t>(d.a - t.bytes_sent, 0);
        if (static_cast<std::int64_t>(data.size()) > remaining)
          data.resize(static_cast<std::size_t>(remaining));
        t.bytes_sent += static_cast<std::int64_t>(data.size());
        if (!data.empty()) co_await run_chain(c, l, p, chain, i + 1, std::move(data), arrival, to);
        if (t.bytes_sent >= d.a) c->close(false);
        co_return;
      }
      case kind::corrupt: {
        if (d.probability <= 0) break;
        if (d.probability >= 1) {
          for (auto& byte : data)
            byte = static_cast<char>(byte ^ (1 << std::uniform_int_distribution<int>(0, 7)(*p.rng)));
          break;
        }
        // Skip ahead by a geometric gap between corrupted bytes: one draw per flip, not per byte.
        std::geometric_distribution<std::size_t> gap(d.probability);
        std::uniform_int_distribution<int> bit(0, 7);
        for (std::size_t at = gap(*p.rng); at < data.size(); at += 1 + gap(*p.rng)) {
          data[at] = static_cast<char>(data[at] ^ (1 << bit(*p.rng)));
        }
        break;
      }
    }
  }
  if (c->closed || data.empty()) co_return;
  auto [ec, n] = co_await asio::async_write(to, asio::buffer(data), use_nothrow);
  if (ec) c->close(false);
}

/// What the chain does with the end of its source: reset_peer resets, slow_close waits, then the whole
/// connection closes (Toxiproxy does not pass half-closes on).
asio::awaitable<void> run_eof(std::shared_ptr<connection> c, link& l) {
  const auto chain = l.chain;
  for (const auto& t : chain) {
    if (c->closed) co_return;
    if (t->def->removed || !t->active) continue;
    if (t->def->type == kind::reset_peer && !t->fired) {
      t->fired = true;
      co_await sleep_until(*c, l,
                           clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(t->def->a, 0)));
      c->close(true);
      co_return;
    }
    if (t->def->type == kind::slow_close) {
      co_await sleep_until(*c, l,
                           clock::now() + std::chrono::milliseconds(std::max<std::int64_t>(t->def->a, 0)));
    }
  }
  c->close(false);
}

clock::time_point idle_deadline(const link& l) {
  auto deadline = clock::time_point::max();
  for (const auto& t : l.chain) {
    if (t->def->removed || !t->active || t->def->type != kind::timeout || t->def->a <= 0) continue;
    deadline = std::min(deadline, t->last_chunk + std::chrono::milliseconds(t->def->a));
  }
  return deadline;
}

asio::awaitable<void> write_loop(std::shared_ptr<connection> c, std::shared_ptr<proxy_state> p, link& l,
                                 tcp::socket& to) {
  while (!c->closed) {
    if (l.queue.empty()) {
      const auto deadline = idle_deadline(l);
      if (clock::now() >= deadline) {
        c->close(false);
        co_return;
      }
      l.idle.expires_at(deadline);
      co_await l.idle.async_wait(use_nothrow);
      continue;
    }
    chunk next = std::move(l.queue.front());
    l.queue.pop_front();
    l.queued_bytes -= next.data.size();
    l.room.cancel();
    if (next.eof) {
      co_await run_eof(c, l);
      co_return;
    }
    co_await run_chain(c, l, *p, l.chain, 0, std::move(next.data), next.arrival, to);
  }
}

asio::awaitable<void> serve(std::shared_ptr<proxy_state> p, tcp::socket client) {
  const auto generation = p->run_generation;
  std::string host, port;
  tcp::socket upstream(client.get_executor());
  bool ok = split_host_port(p->upstream, host, port);
  if (ok) {
    tcp::resolver resolver(client.get_executor());
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, use_nothrow);
    ok = !rec;
    if (ok) {
      auto [cec, ep] = co_await asio::async_connect(upstream, endpoints, use_nothrow);
      ok = !cec;
    }
  }
  if (!ok || p->run_generation != generation || !p->enabled) {
    boost::system::error_code ignored;
    client.close(ignored);
    upstream.close(ignored);
    co_return;
  }
  boost::system::error_code ignored;
  client.set_option(tcp::no_delay(true), ignored);
  upstream.set_option(tcp::no_delay(true), ignored);
  auto c = std::make_shared<connection>(std::move(client), std::move(upstream));
  c->owner = p;
  p->connections.insert(c);
  p->rebuild(c->up, {});
  p->rebuild(c->down, {});
  const auto ex = p->executor;
  asio::co_spawn(ex, read_loop(c, c->up, c->client), asio::detached);
  asio::co_spawn(ex, write_loop(c, p, c->up, c->upstream), asio::detached);
  asio::co_spawn(ex, read_loop(c, c->down, c->upstream), asio::detached);
  asio::co_spawn(ex, write_loop(c, p, c->down, c->client), asio::detached);
}

// A proxy out of descriptors pauses its accepts; the other proxies carry on.
asio::awaitable<void> accept_loop(std::shared_ptr<proxy_state> p, std::shared_ptr<tcp::acceptor> acceptor) {
  co_await lifeline::detail::accept_loop(
      *acceptor, lifeline::detail::accept_handlers<tcp::socket>{
                     .accepted =
                         [&](tcp::socket socket) {
                           asio::co_spawn(p->executor, serve(p, std::move(socket)), asio::detached);
                         },
                     .log = [&](const std::error_code&,
                                const std::string& line) { p->report("proxy " + p->name + ": " + line); },
                     .closed = [&] { return p->acceptor != acceptor; }});
}

/// Resolves a listen address as Go's net.ResolveTCPAddr does, preferring IPv4; "" is every interface.
result<tcp::endpoint> resolve_listen(const asio::any_io_executor& ex, const std::string& listen) {
  if (listen.empty()) {
    boost::system::error_code ec;
    tcp::acceptor probe(ex);
    probe.open(tcp::v6(), ec);
    return tcp::endpoint(ec ? tcp::v4() : tcp::v6(), 0);
  }
  std::string host, port;
  if (!split_host_port(listen, host, port)) {
    const bool colons = listen.find(':') != std::string::npos;
    return api_error{500, fmt::format("address {}: {}", listen,
                                      colons ? "too many colons in address" : "missing port in address")};
  }
  tcp::resolver resolver(ex);
  boost::system::error_code ec;
  auto results = resolver.resolve(host.empty() ? std::string("0.0.0.0") : host, port,
                                  tcp::resolver::numeric_service, ec);
  if (ec) {
    results = resolver.resolve(host.empty() ? std::string("0.0.0.0") : host, port, ec);
  }
  if (ec || results.empty()) {
    return api_error{500, fmt::format("lookup {}: {}", listen, ec ? ec.message() : "no such host")};
  }
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) return entry.endpoint();
  }
  return results.begin()->endpoint();
}

std::optional<api_error> start(proxy_state& p) {
  auto endpoint = resolve_listen(p.executor, p.listen);
  if (!endpoint) return endpoint.error();
  auto acceptor = std::make_shared<tcp::acceptor>(p.executor);
  const auto failed = [&](const char* step, const boost::system::error_code& ec) {
    return api_error{500, fmt::format("listen tcp {}: {}: {}", format_endpoint(endpoint.value()), step,
                                      os_error_text(ec))};
  };
  const char* step = "listen";
  if (auto ec = lifeline::detail::listen_on(*acceptor, endpoint.value(), &step,
                                            lifeline::detail::ipv6_listen::dual_stack)) {
    return failed(step, ec);
  }
  boost::system::error_code ec;
  p.bound = acceptor->local_endpoint(ec);
  if (ec) return failed("getsockname", ec);
  p.listen = format_endpoint(p.bound);
  p.acceptor = acceptor;
  p.enabled = true;
  p.started_once = true;
  asio::co_spawn(p.executor, accept_loop(p.shared_from_this(), acceptor), asio::detached);
  return std::nullopt;
}

void stop(proxy_state& p) {
  if (p.acceptor) {
    boost::system::error_code ignored;
    p.acceptor->close(ignored);
    p.acceptor.reset();
  }
  ++p.run_generation;
  p.enabled = false;
  p.close_connections();
}

/// Whether a listen request names a different address than the one the proxy holds.
result<bool> listen_differs(const proxy_state& p, const std::string& listen) {
  auto wanted = resolve_listen(p.executor, listen);
  if (!wanted) return wanted.error();
  if (wanted->port() == 0) return true;
  if (p.started_once) return wanted.value() != p.bound;
  auto current = resolve_listen(p.executor, p.listen);
  return !current || wanted.value() != current.value();
}

}  // namespace detail

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
