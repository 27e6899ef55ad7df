// The streams' rules (docs/protocol.md R11-R17), free of I/O.
#include "stream_state.hpp"

#include <algorithm>

namespace lifeline::detail {

std::size_t stream_state::write(const void* data, std::size_t size) noexcept {
  const auto n = out_.push(data, size);
  written_ += n;
  return n;
}

void stream_state::commit(std::size_t n) noexcept {
  out_.commit(n);
  written_ += n;
}

std::optional<stream_state::chunk> stream_state::next_data(std::size_t limit) noexcept {
  if (sent_ >= written_) return std::nullopt;
  const auto n = std::min<std::uint64_t>(limit, written_ - sent_);
  const auto [head, tail] = out_.view(sent_ - acked_, n);
  const chunk c{sent_, head, tail};
  sent_ += n;
  sent_high_ = std::max(sent_high_, sent_);
  return c;
}

std::optional<std::uint64_t> stream_state::next_close() noexcept {
  if (!shutdown_requested_ || sent_ != written_) return std::nullopt;
  sent_ = written_ + 1;
  sent_high_ = std::max(sent_high_, sent_);
  return written_;
}

std::size_t stream_state::fresh_bytes(std::uint64_t offset, std::size_t size) const noexcept {
  const auto end = offset + size;
  return end > received_ ? end - std::max(offset, received_) : 0;
}

std::error_code stream_state::on_data(std::uint64_t offset, wire::bytes payload,
                                      wire::bytes& fresh) noexcept {
  fresh = {};
  if (peer_closed_ || offset > received_) return make_error_code(errc::malformed_frame);
  const auto skip = received_ - offset;
  if (skip >= payload.size()) return {};  // R11: all of it arrived before
  fresh = payload.subspan(skip);
  received_ += fresh.size();
  return {};
}

std::error_code stream_state::on_ack(std::uint64_t value, ack_effect& effect) noexcept {
  effect = {};
  if (value < acked_ || value > sent_high_) return make_error_code(errc::malformed_frame);
  effect.advanced = value > acked_;
  out_.consume(std::min(value, written_) - std::min(acked_, written_));
  acked_ = value;
  // After a resume rewound sending (R12), an ACK may cover units the old connection carried and this
  // one has not resent yet: sending goes on after them.
  sent_ = std::max(sent_, value);
  if (shutdown_requested_ && value == written_ + 1 && !fin_acked_) {
    fin_acked_ = true;
    effect.fin_acked = true;
  }
  return {};
}

std::error_code stream_state::on_close(std::uint64_t value, bool& fresh) noexcept {
  fresh = false;
  if (peer_closed_ && value + 1 == received_) return {};  // the same CLOSE again, after a resume
  if (peer_closed_ || value != received_) return make_error_code(errc::malformed_frame);
  received_ += 1;
  peer_closed_ = true;
  fresh = true;
  return {};
}

bool stream_state::ack_wanted(bool timer_due, bool sending_data) const noexcept {
  return ack_pending() && (timer_due || sending_data || peer_closed_ || ack_threshold_reached());
}

std::uint64_t stream_state::take_ack() noexcept {
  ack_sent_ = received_;
  return received_;
}

std::error_code stream_state::attach(std::uint64_t peer_received, ack_effect& effect,
                                     std::uint64_t& resent) noexcept {
  effect = {};
  resent = 0;
  if (peer_received < acked_ || peer_received > sent_high_) return make_error_code(errc::offset_out_of_range);
  if (peer_received > acked_) on_ack(peer_received, effect);
  resent = sent_high_ - peer_received;
  sent_ = peer_received;
  ack_sent_ = received_;
  return {};
}

}  // namespace lifeline::detail
