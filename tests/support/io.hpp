// Runs a test's coroutine on an io_context with a deadline, so that a network test bounds its own time.
#pragma once

#include <gtest/gtest.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <functional>

namespace lifeline::test {

/// Runs `body` to completion or fails the test after `limit`. Exceptions from the body fail the test.
inline void run_bounded(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> body,
                        std::chrono::seconds limit = std::chrono::seconds(60)) {
  bool finished = false;
  std::exception_ptr error;
  boost::asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    finished = true;
    error = e;
    io.stop();
  });
  io.run_for(limit);
  ASSERT_TRUE(finished) << "the test did not finish within " << limit.count() << " s";
  if (error) std::rethrow_exception(error);
}

}  // namespace lifeline::test
