// What the session's tests share: a byte stream whose every byte is checkable, quick reconnect options,
// and an established client and server session pair on loopback.
#pragma once

#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace lifeline::test {

inline const boost::asio::ip::tcp::endpoint loopback{boost::asio::ip::make_address("127.0.0.1"), 0};

// The byte at each stream offset is a function of the offset, so the receiver checks order and content
// of every byte without keeping a copy.
inline std::uint8_t pattern(std::uint64_t offset, std::uint64_t salt) {
  std::uint64_t z = (offset / 8) * 0x9E3779B97F4A7C15ull + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<std::uint8_t>(z >> ((offset % 8) * 8));
}

/// Writes the stream's bytes [from, total) in writes of random sizes drawn from `seed`.
inline boost::asio::awaitable<void> send_stream(session& s, std::uint64_t total, std::uint64_t salt,
                                                std::uint64_t seed, std::uint64_t from = 0) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> chunk(256 * 1024);
  std::uint64_t sent = from;
  while (sent < total) {
    const auto n = std::min<std::uint64_t>(total - sent, 1 + rng() % chunk.size());
    for (std::uint64_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i, salt);
    co_await boost::asio::async_write(s, boost::asio::buffer(chunk.data(), n), boost::asio::use_awaitable);
    sent += n;
  }
}

// Reads until `total` bytes arrived; returns the offset of the first wrong byte, or total.
inline boost::asio::awaitable<std::uint64_t> receive_stream(session& s, std::uint64_t total,
                                                            std::uint64_t salt) {
  std::vector<std::uint8_t> chunk(64 * 1024);
  std::uint64_t got = 0;
  while (got < total) {
    const auto n = co_await s.async_read_some(boost::asio::buffer(chunk), boost::asio::use_awaitable);
    for (std::size_t i = 0; i < n; ++i) {
      if (chunk[i] != pattern(got + i, salt)) co_return got + i;
    }
    got += n;
  }
  co_return got;
}

inline session_options quick_options() {
  using namespace std::chrono_literals;
  session_options o;
  o.retry.base = 5ms;
  o.retry.cap = 50ms;
  o.retry.deadline = 10s;
  o.handshake_timeout = 2s;
  return o;
}

inline server_options quick_server() {
  server_options o;
  o.session = quick_options();
  return o;
}

// An established client and server session pair on loopback.
struct pair_fixture {
  explicit pair_fixture(session_options client_options = quick_options(),
                        server_options server_options = quick_server())
      : acceptor(io.get_executor(), loopback, std::move(server_options)),
        client(io.get_executor(), std::move(client_options)) {}

  boost::asio::io_context io;
  session_acceptor acceptor;
  session client;
  std::optional<session> server;

  boost::asio::awaitable<void> connect() {
    co_await client.async_connect(acceptor.local_endpoint(), boost::asio::use_awaitable);
    server.emplace(co_await acceptor.async_accept(boost::asio::use_awaitable));
  }
};

}  // namespace lifeline::test
