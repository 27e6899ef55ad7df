// A peer that speaks the session protocol by hand, frame by frame, for tests that play a bad, foreign or
// older peer against lifeline's own (docs/protocol.md).
#pragma once

#include <lifeline/wire.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <string>
#include <vector>

namespace lifeline::test {

/// A whole plain frame: header and payload.
inline std::vector<std::uint8_t> frame(wire::frame_type type, std::uint64_t value, wire::bytes payload) {
  const auto header = wire::encode_header(type, value, payload);
  std::vector<std::uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

/// A frame read off a socket, with its payload copied.
struct read_frame_result {
  wire::frame_type type{};
  std::uint64_t value = 0;
  std::vector<std::uint8_t> payload;
  std::string text() const { return {payload.begin(), payload.end()}; }
};

/// Reads one plain frame; nothing when the connection ends first or the bytes are not a valid frame.
inline boost::asio::awaitable<std::optional<read_frame_result>> read_plain_frame(
    boost::asio::ip::tcp::socket& s) {
  namespace asio = boost::asio;
  std::vector<std::uint8_t> in(wire::header_size);
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(in), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return std::nullopt;
  auto r = wire::decode(in);
  if (r.consumed == 0 && r.needed > in.size()) {
    in.resize(r.needed);
    auto [ec2, n2] = co_await asio::async_read(
        s, asio::buffer(in.data() + wire::header_size, r.needed - wire::header_size),
        asio::as_tuple(asio::use_awaitable));
    if (ec2) co_return std::nullopt;
    r = wire::decode(in);
  }
  if (r.consumed == 0) co_return std::nullopt;
  co_return read_frame_result{r.value.type, r.value.value, {r.value.payload.begin(), r.value.payload.end()}};
}

/// Connects to a server, reads its SERVER_HELLO, sends `bytes`, and returns the frame the server answers
/// with (nothing if it closes without one).
inline boost::asio::awaitable<std::optional<read_frame_result>> raw_answer(
    boost::asio::ip::tcp::endpoint server, std::vector<std::uint8_t> bytes) {
  namespace asio = boost::asio;
  asio::ip::tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(server, asio::use_awaitable);
  if (!co_await read_plain_frame(s)) co_return std::nullopt;
  co_await asio::async_write(s, asio::buffer(bytes), asio::use_awaitable);
  co_return co_await read_plain_frame(s);
}

/// raw_answer()'s ERROR code (the errc's number on the wire), or 0 when the answer is not an ERROR.
inline boost::asio::awaitable<int> raw_exchange(boost::asio::ip::tcp::endpoint server,
                                                std::vector<std::uint8_t> bytes) {
  const auto f = co_await raw_answer(server, std::move(bytes));
  if (!f || f->type != wire::frame_type::error) co_return 0;
  co_return static_cast<int>(f->value);
}

}  // namespace lifeline::test
