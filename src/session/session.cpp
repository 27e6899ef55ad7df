// The public session object (include/lifeline/session.hpp): each operation connects its cancellation
// slot in the initiating call's context, then moves to the session's strand (session_impl).
#include "session_impl.hpp"

#include <fmt/format.h>
#include <boost/asio/dispatch.hpp>

namespace lifeline {

session::session(executor_type ex, session_options options)
    : impl_(std::make_shared<detail::session_impl>(boost::asio::make_strand(ex), std::move(options),
                                                   detail::role::client)) {}
session::session(std::shared_ptr<detail::session_impl> impl) noexcept : impl_(std::move(impl)) {}
session::session(session&&) noexcept = default;
session& session::operator=(session&& other) noexcept {
  if (this != &other) {
    if (impl_) close();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
session::~session() {
  if (impl_) close();
}

session session::from_impl(std::shared_ptr<detail::session_impl> impl) { return session(std::move(impl)); }

session::executor_type session::get_executor() const noexcept { return impl_->strand_; }

// Each operation's cancellation slot is connected here, in the initiating call's context, before the
// operation moves to the strand.

void session::start_connect(boost::asio::ip::tcp::endpoint ep, wait_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::connect);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, ep, serial, h = std::move(handler)]() mutable {
    impl->server_ = ep;
    impl->start_connect(impl->cancellable_connect(std::move(h), serial));
  });
}

void session::start_read(std::vector<boost::asio::mutable_buffer> buffers, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::read);
  boost::asio::dispatch(impl_->strand_,
                        [impl = impl_, serial, b = std::move(buffers), h = std::move(handler)]() mutable {
                          impl->start_read(std::move(b), std::move(h), serial);
                        });
}

void session::start_write(std::vector<boost::asio::const_buffer> buffers, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::write);
  boost::asio::dispatch(impl_->strand_,
                        [impl = impl_, serial, b = std::move(buffers), h = std::move(handler)]() mutable {
                          impl->start_write(std::move(b), std::move(h), serial);
                        });
}

void session::start_write_from(boost::asio::ip::tcp::socket& from, read_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::write);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, &from, serial, h = std::move(handler)]() mutable {
    impl->start_write_from(from, std::move(h), serial);
  });
}

void session::start_shutdown(wait_handler handler) {
  const auto serial = detail::connect_cancellation(impl_, handler, detail::operation::shutdown);
  boost::asio::dispatch(impl_->strand_, [impl = impl_, serial, h = std::move(handler)]() mutable {
    impl->start_shutdown(std::move(h), serial);
  });
}

void session::close() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->close(); });
}

void session::drop_connection() {
  boost::asio::dispatch(impl_->strand_, [impl = impl_] { impl->drop_connection(); });
}

session_stats session::stats() const { return impl_->stats_; }

std::string session::id() const {
  if (impl_->id_ == wire::session_id{}) return {};
  std::string out;
  for (auto b : impl_->id_) out += fmt::format("{:02x}", b);
  return out;
}

std::chrono::milliseconds retry_policy::delay(unsigned attempt, std::uint64_t random) const noexcept {
  const auto ceiling = attempt >= 30 ? cap : std::min(cap, base * (std::int64_t{1} << attempt));
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(random % (static_cast<std::uint64_t>(ceiling.count()) + 1));
}

std::error_code session_options::validate(std::string* why) const {
  auto bad = [&](std::string text) {
    if (why) *why = std::move(text);
    return make_error_code(errc::invalid_argument);
  };
  if (replay_capacity < 64 * 1024) return bad("replay_capacity must be at least 64 KiB");
  if (receive_capacity < wire::max_payload) return bad("receive_capacity must be at least 1 MiB (R15)");
  if (heartbeat_interval.count() <= 0) return bad("heartbeat_interval must be positive");
  if (heartbeat_timeout <= heartbeat_interval) return bad("heartbeat_timeout must exceed heartbeat_interval");
  if (handshake_timeout.count() <= 0) return bad("handshake_timeout must be positive");
  if (retry.base.count() <= 0 || retry.cap < retry.base) return bad("retry: need 0 < base <= cap");
  if (retry.deadline.count() <= 0) return bad("retry: deadline must be positive");
#ifndef LIFELINE_WITH_TLS
  if (tls)
    return bad("TLS is not available: this build of lifeline has no OpenSSL (the Windows build); use a psk");
#endif
  return {};
}

std::string to_string(const session_event& e) {
  switch (e.what) {
    case session_event::kind::established:
      return e.attempts > 1 ? fmt::format("session established after {} attempts", e.attempts)
                            : std::string("session established");
    case session_event::kind::reset:
      return fmt::format("connection reset: {}", e.cause.message());
    case session_event::kind::resumed:
      return fmt::format("resumed after {} ms, {} bytes resent, {} attempts", e.elapsed.count(),
                         e.bytes_resent, e.attempts);
    case session_event::kind::failed:
      return fmt::format("session failed: {}", e.cause.message());
    case session_event::kind::closed:
      return "session closed";
  }
  return "unknown event";
}

}  // namespace lifeline
