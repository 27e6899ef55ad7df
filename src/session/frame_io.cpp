// Whole frames over a transport within a timeout, for the handshakes of both sides (docs/protocol.md
// section 3), and the refusal that ends one (R18): sealed (R21) once the handshake has set the
// connection's cipher.
#include "session_impl.hpp"

#include "crypto.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace lifeline::detail {

using namespace asio::experimental::awaitable_operators;
using asio::use_awaitable;

std::error_code error_from_frame(const wire::frame& f) { return wire::error_from_code(f.value); }

asio::awaitable<std::error_code> read_frame(transport& s, std::vector<std::uint8_t>& buffer,
                                            std::chrono::milliseconds timeout, wire::frame& out) {
  asio::steady_timer timer(s.get_executor(), timeout);
  auto body = [&]() -> asio::awaitable<std::error_code> {
    buffer.resize(wire::header_size);
    auto [ec, n] = co_await asio::async_read(s, asio::buffer(buffer), asio::as_tuple(use_awaitable));
    if (ec) co_return ec;
    auto r = wire::decode(buffer);
    if (!r.error && r.consumed == 0) {
      // Handshake frames are small; anything longer than an ERROR's text is not one (R2, R4).
      if (r.needed > wire::header_size + wire::max_error_text)
        co_return make_error_code(errc::frame_too_large);
      buffer.resize(r.needed);
      auto [ec2, n2] = co_await asio::async_read(
          s, asio::buffer(buffer.data() + wire::header_size, r.needed - wire::header_size),
          asio::as_tuple(use_awaitable));
      if (ec2) co_return ec2;
      r = wire::decode(buffer);
    }
    if (r.error) co_return r.error;
    out = r.value;
    co_return std::error_code();
  };
  auto result = co_await (body() || timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::get<0>(result);
}

asio::awaitable<std::error_code> write_frame(transport& s, wire::frame_type type, std::uint64_t value,
                                             wire::bytes payload, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(s.get_executor(), timeout);
  wire::header_bytes header{};
  std::vector<std::uint8_t> sealed;
  std::array<asio::const_buffer, 2> buffers;
  if (s.cipher) {  // R21: after the handshake; the tag replaces the checksum
    s.cipher->seal(type, value, 0, payload, {}, sealed);
    buffers = {asio::buffer(sealed), asio::const_buffer()};
  } else {
    header = wire::encode_header(type, value, payload);
    buffers = {asio::buffer(header), asio::buffer(payload.data(), payload.size())};
  }
  auto result = co_await (asio::async_write(s, buffers, asio::as_tuple(use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::error_code(std::get<0>(std::get<0>(result)));
}

asio::awaitable<std::error_code> ask(transport& s, wire::frame_type type, std::uint64_t value,
                                     wire::bytes payload, wire::frame_type answer,
                                     std::chrono::milliseconds timeout, std::vector<std::uint8_t>& buffer,
                                     wire::frame& out) {
  if (auto ec = co_await write_frame(s, type, value, payload, timeout)) co_return ec;
  if (auto ec = co_await read_frame(s, buffer, timeout, out)) co_return ec;
  if (out.type == wire::frame_type::error) co_return error_from_frame(out);
  if (out.type != answer) co_return make_error_code(errc::malformed_frame);
  co_return std::error_code();
}

asio::awaitable<std::error_code> tls_handshake(transport& s, bool client, std::chrono::milliseconds timeout) {
#ifndef LIFELINE_WITH_TLS
  (void)s, (void)client, (void)timeout;
  co_return std::error_code();  // plain TCP only (validate() refuses a TLS context)
#else
  auto* tls = s.tls();
  if (!tls) co_return std::error_code();
  asio::steady_timer timer(s.get_executor(), timeout);
  const auto type = client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  auto result = co_await (tls->async_handshake(type, asio::as_tuple(use_awaitable)) ||
                          timer.async_wait(asio::as_tuple(use_awaitable)));
  if (result.index() == 1) co_return make_error_code(errc::handshake_timeout);
  co_return std::error_code(std::get<0>(std::get<0>(result)));
#endif
}

asio::awaitable<void> refuse(transport& s, errc code, std::string_view text) {
  text = text.substr(0, wire::max_error_text);
  co_await write_frame(s, wire::frame_type::error, wire::error_code_of(code), as_bytes(text),
                       std::chrono::milliseconds(1000));
  s.shutdown_send();
  s.close();
}

}  // namespace lifeline::detail
