// The proxies and their toxics: one coroutine accepts per proxy; each connection is two links (upstream,
// downstream), each a reader coroutine feeding a bounded queue and a writer coroutine that passes every
// chunk through that direction's toxic chain. Everything runs on one executor, so no locks.
// This header is their shared state; server.cpp keeps the proxies, listener.cpp accepts, link.cpp runs
// each connection's links, toxics.cpp passes chunks through the toxics.
#pragma once

#include "engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace lifeline::chaos::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

enum class kind { latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, corrupt };

/// The kind named by a toxic type that make_attributes accepts.
kind kind_of(const std::string& type);

/// An integer attribute, 0 when it is missing or not an integer.
std::int64_t int_attribute(const boost::json::object& attributes, const char* name);

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

// ---- the data path (link.cpp, toxics.cpp) --------------------------------------------------------

/// Dials the upstream for an accepted client, then runs the connection's four coroutines.
asio::awaitable<void> serve(std::shared_ptr<proxy_state> p, tcp::socket client);

using chain_t = std::vector<std::shared_ptr<link_toxic>>;

/// Passes one chunk through `chain` from `index` on, then writes what is left of it to `to`.
asio::awaitable<void> run_chain(std::shared_ptr<connection> c, link& l, proxy_state& p, chain_t chain,
                                std::size_t index, std::vector<char> data, clock::time_point arrival,
                                tcp::socket& to);

/// What the chain does with the end of its source: reset_peer resets, slow_close waits, then the whole
/// connection closes (Toxiproxy does not pass half-closes on).
asio::awaitable<void> run_eof(std::shared_ptr<connection> c, link& l);

/// The earliest deadline of the link's active timeout toxics, or time_point::max().
clock::time_point idle_deadline(const link& l);

// ---- the listener (listener.cpp) -----------------------------------------------------------------

/// Listens on the proxy's address and accepts; an error in Toxiproxy's words.
std::optional<api_error> start(proxy_state& p);

/// Stops accepting and closes the proxy's connections.
void stop(proxy_state& p);

/// Whether a listen request names a different address than the one the proxy holds.
result<bool> listen_differs(const proxy_state& p, const std::string& listen);

}  // namespace lifeline::chaos::detail
