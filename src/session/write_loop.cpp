// The write loop: what the streams have to send on the current connection (R11-R17), with the
// heartbeat's PINGs and PONGs (R16), batched into one gathered write.
#include "session_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace lifeline::detail {
namespace {

using asio::use_awaitable;

constexpr std::size_t max_data_frame = 256u << 10;
constexpr std::size_t max_batch = 1u << 20;

}  // namespace

asio::awaitable<std::error_code> session_impl::write_loop(std::shared_ptr<transport> s) {
  std::array<wire::header_bytes, 16> headers;
  std::vector<asio::const_buffer> buffers;
  std::vector<std::uint8_t> sealed;  // R21: the batch's sealed frames, when the connection has a cipher
  bool shut = false;
  while (true) {
    buffers.clear();
    sealed.clear();
    std::size_t count = 0;
    // One frame of the batch: a header and the payload in place (gathered, no copy), or sealed into
    // `sealed` (the one copy encryption makes).
    auto frame = [&](wire::frame_type type, std::uint64_t value, wire::bytes head, wire::bytes tail) {
      if (s->cipher) {
        s->cipher->seal(type, value, frame_flags(), head, tail, sealed);
        ++count;
        return;
      }
      headers[count] = wire::encode_header(type, value, head, tail, frame_flags());
      buffers.push_back(asio::buffer(headers[count++]));
      if (!head.empty()) buffers.push_back(asio::buffer(head.data(), head.size()));
      if (!tail.empty()) buffers.push_back(asio::buffer(tail.data(), tail.size()));
    };
    auto control = [&](wire::frame_type type, std::uint64_t value) { frame(type, value, {}, {}); };
    if (pong_due_) control(wire::frame_type::pong, *std::exchange(pong_due_, std::nullopt));
    const bool was_awaiting = awaiting_answer();
    if (ping_due_) {
      control(wire::frame_type::ping, static_cast<std::uint64_t>(clock::now().time_since_epoch().count()));
      ping_due_ = false;
      ping_outstanding_ = true;
    }
    std::size_t batch = 0;
    while (count < headers.size() - 2 && batch < max_batch) {
      const auto c = state_.next_data(max_data_frame);
      if (!c) break;
      frame(wire::frame_type::data, c->offset, c->head, c->tail);
      batch += c->head.size() + c->tail.size();
    }
    if (const auto close = state_.next_close()) control(wire::frame_type::close, *close);  // R17
    if (!was_awaiting && awaiting_answer()) last_progress_ = clock::now();
    if (state_.ack_wanted(ack_due_, batch > 0)) {  // R13
      control(wire::frame_type::ack, state_.take_ack());
      ack_due_ = false;
    }
    if (!sealed.empty()) buffers.push_back(asio::buffer(sealed));
    if (buffers.empty()) {
      if (done() && !shut) {  // everything sent and acknowledged both ways: end the TCP stream cleanly
        s->shutdown_send();
        shut = true;
      }
      co_await writer_wake_.async_wait(asio::as_tuple(use_awaitable));
      if (co_await cancelled() || failed_) co_return make_error_code(errc::connection_reset);
      continue;
    }
    auto [ec, n] = co_await asio::async_write(*s, buffers, asio::as_tuple(use_awaitable));
    if (ec) co_return ec;
    last_outbound_ = clock::now();
    if (state_.peer_closed() && read_handler_) deliver();  // the end of file waited for this ACK
  }
}

}  // namespace lifeline::detail
