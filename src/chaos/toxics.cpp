// The toxics: what each toxic type does to a chunk passing through a link, to the end of the link's
// source, and to the link's idle deadline.
#include "server_impl.hpp"

#include <boost/asio/write.hpp>

#include <algorithm>
#include <utility>

namespace lifeline::chaos::detail {

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

}  // namespace lifeline::chaos::detail
