// The two streams of a session (docs/protocol.md section 4): offsets, acknowledgements, the replay and
// receive buffers, and every decision R11-R17 make about a frame, as a value with no I/O, no clock and
// no Asio. The session's loops ask it what to send and tell it what arrived; tests feed it frames alone.
#pragma once

#include "byte_ring.hpp"

#include <lifeline/wire.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>

namespace lifeline::detail {

class stream_state {
 public:
  /// R13: received bytes not yet acknowledged that make an ACK due at once.
  static constexpr std::size_t ack_threshold = 256u << 10;

  stream_state(std::size_t replay_capacity, std::size_t receive_capacity)
      : out_(replay_capacity), in_(receive_capacity) {}

  // The outbound stream (R12, R14, R17). The replay buffer holds units [acked, written); `sent` is the
  // next to send on the current connection and `sent_high` the highest ever sent. The CLOSE takes the
  // unit after the last byte.

  std::uint64_t acked() const noexcept { return acked_; }
  std::uint64_t written() const noexcept { return written_; }
  std::uint64_t sent() const noexcept { return sent_; }
  std::uint64_t sent_high() const noexcept { return sent_high_; }
  bool shutdown_requested() const noexcept { return shutdown_requested_; }
  /// R17: the peer acknowledged our CLOSE.
  bool fin_acked() const noexcept { return fin_acked_; }
  /// Units sent that the peer has not acknowledged (R16 (b) waits for their ACK).
  bool awaiting_ack() const noexcept { return sent_high_ > acked_; }
  /// The replay buffer, for a read to fill in place (prepare(), then commit()).
  byte_ring& replay() noexcept { return out_; }
  std::size_t replay_free() const noexcept { return out_.free(); }

  /// R14: appends the application's bytes as far as the replay buffer has room; returns how many.
  std::size_t write(const void* data, std::size_t size) noexcept;
  /// R14: `n` bytes a read put into replay().prepare() join the stream.
  void commit(std::size_t n) noexcept;
  /// R17: no byte follows; the CLOSE goes out after the last.
  void request_shutdown() noexcept { shutdown_requested_ = true; }

  /// One DATA frame's worth of the replay buffer, at most two pieces; the frame's value is `offset`.
  struct chunk {
    std::uint64_t offset;
    wire::bytes head;
    wire::bytes tail;
  };
  /// The next DATA frame to send, of at most `limit` bytes, or none when everything written was sent.
  std::optional<chunk> next_data(std::size_t limit) noexcept;
  /// R17: everything written was sent and the CLOSE was not: take its unit and return its value.
  std::optional<std::uint64_t> next_close() noexcept;

  // The inbound stream (R11, R13, R15, R17): `received` units have arrived, `ack_sent` were
  // acknowledged to the peer, and the receive buffer holds what the application has not read.

  std::uint64_t received() const noexcept { return received_; }
  std::uint64_t ack_sent() const noexcept { return ack_sent_; }
  bool peer_closed() const noexcept { return peer_closed_; }
  byte_ring& receive_buffer() noexcept { return in_; }
  /// Received units not yet acknowledged.
  bool ack_pending() const noexcept { return received_ > ack_sent_; }
  bool ack_threshold_reached() const noexcept { return received_ - ack_sent_ >= ack_threshold; }

  /// R11, R15: how many bytes of a DATA frame at `offset` are new, that is need room in the receive
  /// buffer before the frame is taken.
  std::size_t fresh_bytes(std::uint64_t offset, std::size_t size) const noexcept;
  /// R15: whether the receive buffer has room for the new bytes of a DATA frame at `offset`; while it
  /// has not, the receiver stops reading and waits for the application.
  bool room_for(std::uint64_t offset, std::size_t size) const noexcept {
    return in_.free() >= fresh_bytes(offset, size);
  }
  /// R11: a DATA frame. Refuses one after the peer's CLOSE or beyond what was received (a gap) with
  /// malformed_frame; otherwise sets `fresh` to its new bytes (empty for a duplicate) and counts them
  /// as received. Delivering them is the caller's.
  std::error_code on_data(std::uint64_t offset, wire::bytes payload, wire::bytes& fresh) noexcept;

  /// What an acknowledgement changed.
  struct ack_effect {
    bool advanced = false;   ///< it acknowledged units not acknowledged before
    bool fin_acked = false;  ///< it acknowledged our CLOSE just now (R17)
  };
  /// R13: an ACK. Refuses one behind an earlier ACK or beyond what was ever sent (malformed_frame);
  /// otherwise frees the acknowledged bytes of the replay buffer.
  std::error_code on_ack(std::uint64_t value, ack_effect& effect) noexcept;

  /// R17: the peer's CLOSE, which must take the unit after its last byte. A repeat of it (resent after a
  /// reset) is accepted with `fresh` false; anything else is malformed_frame.
  std::error_code on_close(std::uint64_t value, bool& fresh) noexcept;

  /// R13: whether an ACK goes out in the batch being written: when units are unacknowledged and the
  /// delayed-ACK timer fired (`timer_due`), data goes out anyway (`sending_data`), the peer closed, or
  /// the threshold is reached.
  bool ack_wanted(bool timer_due, bool sending_data) const noexcept;
  /// An ACK of everything received goes out; returns its value.
  std::uint64_t take_ack() noexcept;

  /// R12: a new connection, the peer having received `peer_received` units: refuses an offset outside
  /// the replay buffer with offset_out_of_range; otherwise acknowledges up to it (`effect`), rewinds
  /// sending to it, and returns in `resent` how many units go out again. The resume handshake told the
  /// peer what we received.
  std::error_code attach(std::uint64_t peer_received, ack_effect& effect, std::uint64_t& resent) noexcept;

  /// Both streams ended and were acknowledged: the session is over (R17).
  bool done() const noexcept { return fin_acked_ && peer_closed_; }
  /// Heap bytes the two buffers hold.
  std::size_t memory() const noexcept { return out_.capacity() + in_.capacity(); }

 private:
  byte_ring out_;
  std::uint64_t acked_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t sent_high_ = 0;
  bool shutdown_requested_ = false;
  bool fin_acked_ = false;

  byte_ring in_;
  std::uint64_t received_ = 0;
  std::uint64_t ack_sent_ = 0;
  bool peer_closed_ = false;
};

}  // namespace lifeline::detail
