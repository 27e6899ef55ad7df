// The streams' rules (docs/protocol.md R11-R17) on src/session/stream_state.hpp alone: no sockets, no
// clock. Each test is named for the rule it checks, feeds frames and looks at what the state decides.
#include "session/stream_state.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace {

using namespace lifeline;
using lifeline::detail::stream_state;

constexpr std::size_t replay_capacity = 64u << 10;
constexpr std::size_t receive_capacity = 1u << 20;

std::vector<std::uint8_t> counting(std::size_t n, std::uint8_t first = 0) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<std::uint8_t> joined(const stream_state::chunk& c) {
  std::vector<std::uint8_t> out(c.head.begin(), c.head.end());
  out.insert(out.end(), c.tail.begin(), c.tail.end());
  return out;
}

class stream_state_test : public ::testing::Test {
 protected:
  stream_state s{replay_capacity, receive_capacity};

  /// Writes `n` bytes and sends them all as one frame.
  stream_state::chunk write_and_send(std::size_t n) {
    const auto data = counting(n);
    EXPECT_EQ(s.write(data.data(), data.size()), n);
    const auto c = s.next_data(n);
    EXPECT_TRUE(c.has_value());
    return *c;
  }
  std::error_code ack(std::uint64_t value) {
    stream_state::ack_effect effect;
    return s.on_ack(value, effect);
  }
  std::error_code data(std::uint64_t offset, const std::vector<std::uint8_t>& payload, wire::bytes& fresh) {
    return s.on_data(offset, payload, fresh);
  }
};

// R11 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R11_data_at_the_received_offset_is_accepted_whole) {
  const auto payload = counting(100);
  wire::bytes fresh;
  ASSERT_FALSE(data(0, payload, fresh));
  EXPECT_EQ(std::vector<std::uint8_t>(fresh.begin(), fresh.end()), payload);
  EXPECT_EQ(s.received(), 100u);
}

TEST_F(stream_state_test, R11_bytes_already_received_are_discarded_and_the_rest_accepted) {
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(100), fresh));
  const auto again = counting(150, 60);  // offsets 60..209, of which 100..209 are new
  ASSERT_FALSE(data(60, again, fresh));
  ASSERT_EQ(fresh.size(), 110u);
  EXPECT_EQ(fresh.front(), 100);  // the byte at offset 100 in a stream whose byte n is n
  EXPECT_EQ(s.received(), 210u);
  EXPECT_EQ(s.fresh_bytes(60, 150), 0u);
}

TEST_F(stream_state_test, R11_a_frame_wholly_received_before_is_discarded) {
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(100), fresh));
  ASSERT_FALSE(data(0, counting(100), fresh));
  EXPECT_TRUE(fresh.empty());
  EXPECT_EQ(s.received(), 100u);
}

TEST_F(stream_state_test, R11_a_gap_is_malformed_and_changes_nothing) {
  wire::bytes fresh;
  EXPECT_EQ(data(1, counting(10), fresh), errc::malformed_frame);
  EXPECT_TRUE(fresh.empty());
  EXPECT_EQ(s.received(), 0u);
}

TEST_F(stream_state_test, R11_R17_data_after_the_peers_close_is_malformed) {
  bool fresh_close = false;
  ASSERT_FALSE(s.on_close(0, fresh_close));
  wire::bytes fresh;
  EXPECT_EQ(data(0, counting(1), fresh), errc::malformed_frame);
  EXPECT_EQ(data(1, counting(1), fresh), errc::malformed_frame);
}

TEST_F(stream_state_test, R11_R15_fresh_bytes_count_only_new_ones_for_the_receive_buffers_room) {
  EXPECT_EQ(s.fresh_bytes(0, 10), 10u);
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(10), fresh));
  EXPECT_EQ(s.fresh_bytes(5, 10), 5u);
  EXPECT_EQ(s.fresh_bytes(0, 10), 0u);
  EXPECT_EQ(s.fresh_bytes(10, 0), 0u);
}

// R12 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R12_after_a_resume_sending_restarts_at_the_peers_offset) {
  const auto data = counting(1000);
  write_and_send(1000);
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  ASSERT_FALSE(s.attach(400, effect, resent));
  EXPECT_EQ(resent, 600u);
  EXPECT_TRUE(effect.advanced);
  EXPECT_EQ(s.acked(), 400u);
  const auto again = s.next_data(1 << 20);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->offset, 400u);
  EXPECT_EQ(joined(*again), std::vector<std::uint8_t>(data.begin() + 400, data.end()));
}

TEST_F(stream_state_test, R12_a_peer_offset_below_the_replay_buffer_is_out_of_range) {
  write_and_send(1000);
  ASSERT_FALSE(ack(500));
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  EXPECT_EQ(s.attach(499, effect, resent), errc::offset_out_of_range);
  EXPECT_EQ(s.sent(), 1000u);  // untouched
}

TEST_F(stream_state_test, R12_a_peer_offset_beyond_what_was_sent_is_out_of_range) {
  write_and_send(1000);
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  EXPECT_EQ(s.attach(1001, effect, resent), errc::offset_out_of_range);
  EXPECT_FALSE(s.attach(1000, effect, resent));
  EXPECT_EQ(resent, 0u);
}

TEST_F(stream_state_test, R12_a_resume_counts_what_we_received_as_acknowledged_to_the_peer) {
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(10), fresh));
  EXPECT_TRUE(s.ack_pending());
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  ASSERT_FALSE(s.attach(0, effect, resent));
  EXPECT_FALSE(s.ack_pending());  // the resume handshake carried it
}

// R13 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R13_an_ack_frees_the_acknowledged_bytes_of_the_replay_buffer) {
  write_and_send(1000);
  EXPECT_EQ(s.replay_free(), replay_capacity - 1000);
  stream_state::ack_effect effect;
  ASSERT_FALSE(s.on_ack(600, effect));
  EXPECT_TRUE(effect.advanced);
  EXPECT_EQ(s.replay_free(), replay_capacity - 400);
  ASSERT_FALSE(s.on_ack(600, effect));  // the same again: allowed, changes nothing
  EXPECT_FALSE(effect.advanced);
}

TEST_F(stream_state_test, R13_an_ack_that_decreases_is_malformed) {
  write_and_send(1000);
  ASSERT_FALSE(ack(600));
  EXPECT_EQ(ack(599), errc::malformed_frame);
  EXPECT_EQ(s.acked(), 600u);
}

TEST_F(stream_state_test, R13_an_ack_beyond_what_was_sent_is_malformed) {
  const auto data = counting(1000);
  s.write(data.data(), data.size());
  ASSERT_TRUE(s.next_data(500));
  EXPECT_EQ(ack(501), errc::malformed_frame);  // written, not yet sent
  EXPECT_FALSE(ack(500));
}

TEST_F(stream_state_test, R13_an_ack_goes_out_with_data_when_the_timer_fires_or_at_the_threshold) {
  EXPECT_FALSE(s.ack_wanted(true, true));  // nothing to acknowledge
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(10), fresh));
  EXPECT_FALSE(s.ack_wanted(false, false));  // delayed: waits for the timer
  EXPECT_TRUE(s.ack_wanted(true, false));
  EXPECT_TRUE(s.ack_wanted(false, true));  // rides with data
  EXPECT_EQ(s.take_ack(), 10u);
  EXPECT_FALSE(s.ack_pending());
  const auto big = counting(stream_state::ack_threshold);
  ASSERT_FALSE(data(10, big, fresh));
  EXPECT_TRUE(s.ack_threshold_reached());
  EXPECT_TRUE(s.ack_wanted(false, false));
}

// R14 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R14_a_write_takes_only_what_the_replay_buffer_has_room_for) {
  const auto data = counting(replay_capacity + 100);
  EXPECT_EQ(s.write(data.data(), data.size()), replay_capacity);
  EXPECT_EQ(s.written(), replay_capacity);
  EXPECT_EQ(s.write(data.data(), 1), 0u);  // full until acknowledged: the writer waits, nothing dropped
  ASSERT_TRUE(s.next_data(replay_capacity));
  ASSERT_FALSE(ack(100));
  EXPECT_EQ(s.write(data.data() + replay_capacity, 100), 100u);
  EXPECT_EQ(s.written(), replay_capacity + 100);
}

TEST_F(stream_state_test, R14_bytes_a_read_put_in_place_join_the_stream_in_order) {
  const auto space = s.replay().prepare();
  ASSERT_GE(space.size(), 3u);
  space[0] = 'a', space[1] = 'b', space[2] = 'c';
  s.commit(3);
  const auto c = s.next_data(10);
  ASSERT_TRUE(c);
  EXPECT_EQ(joined(*c), (std::vector<std::uint8_t>{'a', 'b', 'c'}));
}

TEST_F(stream_state_test, R14_frames_are_cut_at_the_limit_and_continue_where_the_last_ended) {
  const auto data = counting(250);
  s.write(data.data(), data.size());
  std::vector<std::uint8_t> out;
  std::uint64_t expected_offset = 0;
  while (const auto c = s.next_data(100)) {
    EXPECT_EQ(c->offset, expected_offset);
    EXPECT_LE(c->head.size() + c->tail.size(), 100u);
    const auto bytes = joined(*c);
    out.insert(out.end(), bytes.begin(), bytes.end());
    expected_offset += bytes.size();
  }
  EXPECT_EQ(out, data);
  EXPECT_EQ(s.sent_high(), 250u);
}

// R15 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R15_a_frame_waits_until_the_receive_buffer_has_room_for_its_new_bytes) {
  EXPECT_TRUE(s.room_for(0, receive_capacity));
  EXPECT_FALSE(s.room_for(0, receive_capacity + 1));
  wire::bytes fresh;
  const auto first = counting(1000);
  ASSERT_FALSE(data(0, first, fresh));
  s.receive_buffer().push(fresh.data(), fresh.size());  // the application has not read them
  EXPECT_FALSE(s.room_for(1000, receive_capacity));
  EXPECT_TRUE(s.room_for(1000, receive_capacity - 1000));
  EXPECT_TRUE(s.room_for(0, receive_capacity));  // old bytes need no room: they are discarded (R11)
  s.receive_buffer().consume(1000);              // read
  EXPECT_TRUE(s.room_for(1000, receive_capacity));
}

// R17 ------------------------------------------------------------------------------------------------

TEST_F(stream_state_test, R17_close_takes_the_unit_after_the_last_byte_once_everything_was_sent) {
  const auto data = counting(10);
  s.write(data.data(), data.size());
  s.request_shutdown();
  ASSERT_TRUE(s.next_data(4));
  EXPECT_FALSE(s.next_close());  // bytes still to send first
  ASSERT_TRUE(s.next_data(100));
  const auto close = s.next_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(*close, 10u);
  EXPECT_EQ(s.sent_high(), 11u);
  EXPECT_FALSE(s.next_close());  // sent once per connection
}

TEST_F(stream_state_test, R17_the_ack_of_the_close_is_its_offset_plus_one) {
  const auto data = counting(10);
  s.write(data.data(), data.size());
  s.request_shutdown();
  ASSERT_TRUE(s.next_data(100));
  ASSERT_TRUE(s.next_close());
  stream_state::ack_effect effect;
  ASSERT_FALSE(s.on_ack(10, effect));
  EXPECT_FALSE(effect.fin_acked);
  ASSERT_FALSE(s.on_ack(11, effect));
  EXPECT_TRUE(effect.fin_acked);
  EXPECT_TRUE(s.fin_acked());
  ASSERT_FALSE(s.on_ack(11, effect));  // repeated: reported once
  EXPECT_FALSE(effect.fin_acked);
}

TEST_F(stream_state_test, R17_the_close_is_resent_after_a_resume_until_acknowledged) {
  s.request_shutdown();
  ASSERT_TRUE(s.next_close());
  stream_state::ack_effect effect;
  std::uint64_t resent = 0;
  ASSERT_FALSE(s.attach(0, effect, resent));
  EXPECT_EQ(resent, 1u);
  const auto again = s.next_close();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0u);
}

TEST_F(stream_state_test, R17_the_peers_close_must_take_the_unit_after_its_last_byte) {
  wire::bytes fresh;
  ASSERT_FALSE(data(0, counting(5), fresh));
  bool fresh_close = false;
  EXPECT_EQ(s.on_close(4, fresh_close), errc::malformed_frame);
  EXPECT_EQ(s.on_close(6, fresh_close), errc::malformed_frame);
  ASSERT_FALSE(s.on_close(5, fresh_close));
  EXPECT_TRUE(fresh_close);
  EXPECT_TRUE(s.peer_closed());
  EXPECT_EQ(s.received(), 6u);
}

TEST_F(stream_state_test, R17_the_peers_close_resent_after_a_resume_is_accepted_once) {
  bool fresh_close = false;
  ASSERT_FALSE(s.on_close(0, fresh_close));
  ASSERT_FALSE(s.on_close(0, fresh_close));
  EXPECT_FALSE(fresh_close);
  EXPECT_EQ(s.received(), 1u);
  EXPECT_EQ(s.on_close(1, fresh_close), errc::malformed_frame);
}

TEST_F(stream_state_test, R17_a_side_is_done_when_its_close_was_acknowledged_and_it_received_one) {
  s.request_shutdown();
  ASSERT_TRUE(s.next_close());
  ASSERT_FALSE(ack(1));
  EXPECT_FALSE(s.done());
  bool fresh_close = false;
  ASSERT_FALSE(s.on_close(0, fresh_close));
  EXPECT_TRUE(s.done());
}

}  // namespace
