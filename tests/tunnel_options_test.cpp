// The pieces that go with tunnel_options, without a tunnel running: the counters a session's events feed.
#include <lifeline/tunnel.hpp>

#include <gtest/gtest.h>

namespace {

using lifeline::session_event;
using lifeline::tunnel_stats;

session_event event(session_event::kind what, std::uint64_t bytes_resent = 0) {
  session_event e;
  e.what = what;
  e.bytes_resent = bytes_resent;
  return e;
}

TEST(tunnel_stats, counts_resets_resumes_and_the_bytes_resent) {
  tunnel_stats stats;
  stats.count(event(session_event::kind::reset));
  stats.count(event(session_event::kind::resumed, 1000));
  stats.count(event(session_event::kind::reset));
  stats.count(event(session_event::kind::resumed, 24));
  EXPECT_EQ(stats.resets, 2u);
  EXPECT_EQ(stats.resumes, 2u);
  EXPECT_EQ(stats.bytes_resent, 1024u);
}

TEST(tunnel_stats, other_events_count_nothing) {
  tunnel_stats stats;
  for (auto what :
       {session_event::kind::established, session_event::kind::failed, session_event::kind::closed}) {
    stats.count(event(what, 7));
  }
  EXPECT_EQ(stats.resets, 0u);
  EXPECT_EQ(stats.resumes, 0u);
  EXPECT_EQ(stats.bytes_resent, 0u);
  EXPECT_EQ(stats.connections, 0u);
}

}  // namespace
