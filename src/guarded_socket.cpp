// guarded_socket's failure latch and lifeline's own detection deadline.
#include <lifeline/guarded_socket.hpp>

#include "platform/platform.hpp"

namespace lifeline {
namespace detail {
namespace {

native_socket handle_of(boost::asio::ip::tcp::socket& socket) {
  return static_cast<native_socket>(socket.native_handle());
}

bool is_end_of_stream(const std::error_code& ec) {
  return ec == std::error_code(boost::system::error_code(boost::asio::error::eof)) || is_broken_pipe(ec);
}

}  // namespace

guard_state::guard_state(boost::asio::ip::tcp::socket socket)
    : socket_(std::move(socket)), deadline_(socket_.get_executor()) {}

std::error_code guard_state::set_options(const keepalive_options& options, std::error_code& os_error) {
  if (auto ec = apply(socket_, options, os_error)) return ec;
  bound_ = options.bound();
  return {};
}

std::error_code guard_state::begin() {
  if (failed_) return errc::connection_reset;
  ++pending_;
  if (bound_ && !deadline_armed_) {
    if (const auto silence = peer_silence(handle_of(socket_))) {
      arm_deadline(*silence < *bound_ ? *bound_ - *silence : std::chrono::milliseconds(0));
    }
  }
  return {};
}

boost::system::error_code guard_state::finish(const boost::system::error_code& result) {
  const std::error_code ec = result;
  --pending_;
  if (pending_ == 0 && deadline_armed_) deadline_.cancel();
  if (failed_) {
    // Pending when the failure was found: whatever this call saw (end-of-file, EPIPE, our own
    // cancellation) is the same failure. Bytes that arrived before it are still delivered.
    if (!ec) return {};
    if (!cause_ && is_connection_failure(ec)) cause_ = ec;
    return std::error_code(errc::network_reset);
  }
  if (!ec) return {};
  // Closed by its owner (close() or the destructor): an abort, whatever the OS called it.
  if (!socket_.is_open() && is_aborted_by_close(ec)) return boost::asio::error::operation_aborted;
  if (is_connection_failure(ec)) {
    latch(ec, false);
    return std::error_code(errc::network_reset);
  }
  // Linux hands the error to one call; the other sees end-of-file or EPIPE on a connection the
  // kernel has already torn down. An orderly close leaves it in CLOSE_WAIT instead.
  if (is_end_of_stream(ec) && connection_torn_down(handle_of(socket_))) {
    latch({}, false);
    return std::error_code(errc::network_reset);
  }
  return result;
}

void guard_state::latch(std::error_code cause, bool by_deadline) {
  failed_ = true;
  cause_ = cause;
  by_deadline_ = by_deadline;
  failed_at_ = std::chrono::steady_clock::now();
  if (socket_.is_open()) {
    if (!silence_at_failure_) silence_at_failure_ = peer_silence(handle_of(socket_));
    boost::system::error_code ignored;
    socket_.cancel(ignored);  // the other pending operation, if any, completes now
  }
  if (deadline_armed_) deadline_.cancel();
}

void guard_state::arm_deadline(std::chrono::milliseconds after) {
  deadline_armed_ = true;
  deadline_.expires_after(after);
  deadline_.async_wait([weak = weak_from_this()](const boost::system::error_code&) {
    if (auto self = weak.lock()) self->on_deadline();
  });
}

void guard_state::on_deadline() {
  deadline_armed_ = false;
  if (failed_ || pending_ == 0 || !bound_ || !socket_.is_open()) return;
  const auto silence = peer_silence(handle_of(socket_));
  if (!silence) return;
  if (*silence >= *bound_) {
    silence_at_failure_ = silence;
    latch(std::make_error_code(std::errc::timed_out), true);
    return;
  }
  arm_deadline(*bound_ - *silence);
}

void guard_state::close() noexcept {
  boost::system::error_code ignored;
  deadline_.cancel();
  socket_.close(ignored);
}

}  // namespace detail

guarded_socket::guarded_socket(next_layer_type socket)
    : state_(std::make_shared<detail::guard_state>(std::move(socket))) {}
guarded_socket::guarded_socket(guarded_socket&&) noexcept = default;
guarded_socket& guarded_socket::operator=(guarded_socket&& other) noexcept {
  if (this != &other) {
    if (state_) state_->close();
    state_ = std::move(other.state_);
  }
  return *this;
}
guarded_socket::~guarded_socket() {
  if (state_) state_->close();
}

std::error_code guarded_socket::set_options(const keepalive_options& options) {
  std::error_code os_error;
  return state_->set_options(options, os_error);
}
std::error_code guarded_socket::set_options(const keepalive_options& options, std::error_code& os_error) {
  return state_->set_options(options, os_error);
}

guarded_socket::executor_type guarded_socket::get_executor() noexcept {
  return state_->socket_.get_executor();
}
guarded_socket::next_layer_type& guarded_socket::next_layer() noexcept { return state_->socket_; }
bool guarded_socket::failed() const noexcept { return state_->failed_; }
std::error_code guarded_socket::cause() const noexcept { return state_->cause_; }
bool guarded_socket::detected_by_deadline() const noexcept { return state_->by_deadline_; }
std::optional<std::chrono::milliseconds> guarded_socket::silence_at_failure() const noexcept {
  return state_->silence_at_failure_;
}
std::chrono::steady_clock::time_point guarded_socket::failed_at() const noexcept {
  return state_->failed_at_;
}
void guarded_socket::close() noexcept { state_->close(); }

}  // namespace lifeline
