// One connection's data path: dialling the upstream, then for each link its reader and its writer (the
// writer hands each chunk to the toxic chain in toxics.cpp).
#include "server_impl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>

#include <utility>

namespace lifeline::chaos::detail {

constexpr std::size_t queue_cap = 1024;  // chunks buffered per link, as Toxiproxy's channels
constexpr std::size_t queue_byte_cap =
    8 * 1024 * 1024;  // and bytes, so a held link cannot grow without bound
constexpr std::size_t read_size = 64 * 1024;

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

}  // namespace lifeline::chaos::detail
