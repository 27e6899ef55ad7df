// The accept loop every listener runs (src/accept_loop.hpp): which errors pause, retry or stop it, and
// its pace and logging driven by a scripted acceptor. tunnel_exhaustion_test runs it out of descriptors
// for real.
#include "accept_loop.hpp"
#include "support/io.hpp"

#include <gtest/gtest.h>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <deque>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using lifeline::detail::accept_episode;
using lifeline::detail::accept_step;
using lifeline::detail::after_accept_error;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::error_code from_asio(asio::error::basic_errors e) { return boost::system::error_code(e); }

TEST(accept_loop, pauses_on_resource_errors_retries_lost_connections_and_stops_when_aborted) {
  EXPECT_EQ(after_accept_error(from_asio(asio::error::no_descriptors)), accept_step::pause);  // EMFILE
  EXPECT_EQ(after_accept_error(std::make_error_code(std::errc::too_many_files_open_in_system)),
            accept_step::pause);  // ENFILE
  EXPECT_EQ(after_accept_error(from_asio(asio::error::no_buffer_space)), accept_step::pause);
  EXPECT_EQ(after_accept_error(std::make_error_code(std::errc::not_enough_memory)), accept_step::pause);
  EXPECT_EQ(after_accept_error(from_asio(asio::error::connection_aborted)), accept_step::retry);
  EXPECT_EQ(after_accept_error(std::make_error_code(std::errc::interrupted)), accept_step::retry);
  EXPECT_EQ(after_accept_error(from_asio(asio::error::operation_aborted)), accept_step::stop);
  // An error with no known cause must not spin either.
  EXPECT_EQ(after_accept_error(from_asio(asio::error::invalid_argument)), accept_step::pause);
}

TEST(accept_loop, an_episode_is_logged_when_it_starts_changes_and_ends_not_per_retry) {
  accept_episode episode;
  const auto t0 = clock_type::now();
  const auto emfile = from_asio(asio::error::no_descriptors);
  const auto first = episode.failed(emfile, accept_step::pause, t0);
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("cannot accept connections"), std::string::npos) << *first;
  EXPECT_NE(first->find("out of resources"), std::string::npos) << *first;
  EXPECT_NE(first->find("100 ms"), std::string::npos) << *first;
  EXPECT_FALSE(episode.failed(emfile, accept_step::pause, t0 + 100ms));
  EXPECT_FALSE(episode.failed(emfile, accept_step::pause, t0 + 200ms));
  EXPECT_TRUE(episode.failed(from_asio(asio::error::no_buffer_space), accept_step::pause, t0 + 300ms));
  const auto end = episode.succeeded(t0 + 450ms);
  ASSERT_TRUE(end);
  EXPECT_EQ(*end, "accepting connections again after 4 failed accepts in 450 ms");
  EXPECT_FALSE(episode.succeeded(t0 + 500ms));
  EXPECT_TRUE(episode.failed(emfile, accept_step::pause, t0 + 600ms)) << "a new episode is logged again";
}

// An acceptor that completes each accept with the next result of its script, then with
// operation_aborted; it records when each accept was started.
struct scripted_acceptor {
  asio::any_io_executor executor;
  std::deque<boost::system::error_code> script;
  std::vector<clock_type::time_point> started;

  template <typename Token>
  auto async_accept(Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, int)>(
        [this](auto handler) {
          started.push_back(clock_type::now());
          boost::system::error_code ec = asio::error::operation_aborted;
          if (!script.empty()) {
            ec = script.front();
            script.pop_front();
          }
          asio::post(executor, asio::append(std::move(handler), ec, static_cast<int>(started.size())));
        },
        token);
  }
};

TEST(accept_loop, waits_after_each_resource_error_and_accepts_again_at_once_after_a_lost_connection) {
  asio::io_context io;
  const boost::system::error_code ok, emfile = asio::error::no_descriptors,
                                      aborted = asio::error::connection_aborted;
  scripted_acceptor acceptor{io.get_executor(), {emfile, emfile, emfile, ok, aborted, aborted, ok}, {}};
  std::vector<int> accepted;
  std::vector<std::string> lines;
  lifeline::test::run_bounded(
      io,
      [&]() -> asio::awaitable<void> {
        co_await lifeline::detail::accept_loop(
            acceptor,
            lifeline::detail::accept_handlers<int>{
                .accepted = [&](int n) { accepted.push_back(n); },
                .log = [&](const std::error_code&, const std::string& line) { lines.push_back(line); },
                .closed = nullptr});
      },
      10s);
  EXPECT_EQ(accepted, (std::vector<int>{4, 7}));
  ASSERT_EQ(acceptor.started.size(), 8u) << "the loop ends at operation_aborted";
  const auto gap = [&](std::size_t i) { return acceptor.started[i + 1] - acceptor.started[i]; };
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_GE(gap(i), lifeline::detail::accept_pause) << "no pause after resource error " << i;
  }
  EXPECT_LT(gap(4), 50ms) << "a connection lost before its accept is no reason to wait";
  EXPECT_LT(gap(5), 50ms);
  ASSERT_EQ(lines.size(), 4u) << "one line to start and one to end each of the two episodes";
  EXPECT_NE(lines[0].find("cannot accept connections"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("after 3 failed accepts"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("accept failed"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("after 2 failed accepts"), std::string::npos) << lines[3];
}

}  // namespace
