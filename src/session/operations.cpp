// The application's operations on a session: reads from the receive ring, writes into the replay buffer
// (R14, R15), the half-close (R17); each completes through its handler's executor.
#include "session_impl.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>

#include <cstring>

namespace lifeline::detail {

void session_impl::deliver(wire::bytes fresh, bool from_io) {
  // The receive ring holds bytes that arrived before `fresh`, so it is drained first. A read that is
  // waiting takes the rest of a verified frame straight from the read buffer: one copy per byte instead
  // of two through the ring. What does not fit is kept in the ring (R15 made room for all of it).
  auto& in = state_.receive_buffer();
  std::size_t n = 0;
  if (read_handler_) {
    for (const auto& b : read_buffers_) {
      if (in.empty() && fresh.empty()) break;
      auto* out = static_cast<std::uint8_t*>(b.data());
      const auto from_ring = in.empty() ? 0 : in.peek(out, b.size());
      in.consume(from_ring);
      const auto from_frame = std::min(b.size() - from_ring, fresh.size());
      if (from_frame > 0) std::memcpy(out + from_ring, fresh.data(), from_frame);
      fresh = fresh.subspan(from_frame);
      n += from_ring + from_frame;
    }
  }
  in.push(fresh.data(), fresh.size());
  if (!read_handler_) return;
  boost::system::error_code ec;
  if (n > 0) {
    stats_.bytes_read += n;
    reader_wake_.cancel();
  } else if (state_.peer_closed() && (!state_.ack_pending() || failed_)) {
    // The end of file waits until the ACK of the peer's CLOSE is on its way: a program that closes its
    // session on end of file must not turn the peer's clean shutdown into an error (R17).
    ec = asio::error::eof;
  } else if (failed_) {
    ec = failed_;
  } else if (asio::buffer_size(read_buffers_) != 0) {
    return;  // nothing to give yet; a read of zero bytes completes at once
  }
  read_buffers_.clear();
  read_completing_ = n > 0;
  auto handler = std::move(*std::exchange(read_handler_, std::nullopt));
  if (from_io) {
    complete_from_io(strand_, std::move(handler), ec, n);
  } else {
    complete(strand_, std::move(handler), ec, n);
  }
}

void session_impl::fill() {
  if (!write_handler_) return;
  if (write_from_) {
    if (reading_into_ring_) return;  // the read's completion finishes the operation
    if (failed_) {
      write_from_ = nullptr;
      complete(strand_, std::move(*std::exchange(write_handler_, std::nullopt)),
               boost::system::error_code(failed_), std::size_t{0});
      return;
    }
    if (state_.replay_free() == 0) return;  // R14: wait for acknowledgements
    read_into_ring();
    return;
  }
  boost::system::error_code ec;
  std::size_t n = 0;
  if (failed_) {
    ec = failed_;
  } else {
    for (const auto& b : write_buffers_) {
      const auto copied = state_.write(b.data(), b.size());
      n += copied;
      if (copied < b.size()) break;
    }
    if (n == 0 && asio::buffer_size(write_buffers_) != 0) return;  // R14: wait for acknowledgements
    stats_.bytes_written += n;
    writer_wake_.cancel();
  }
  write_buffers_.clear();
  complete(strand_, std::move(*std::exchange(write_handler_, std::nullopt)), ec, n);
}

void session_impl::read_into_ring() {
  const auto space = state_.replay().prepare();
  reading_into_ring_ = true;
  auto on_read =
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->ring_read_cancel_.slot().clear();
        self->reading_into_ring_ = false;
        self->write_from_ = nullptr;
        auto handler = std::move(*std::exchange(self->write_handler_, std::nullopt));
        if (self->failed_) {  // the stream is over: bytes read now have nowhere to go
          self->state_.commit(0);
          return complete_from_io(self->strand_, std::move(handler), boost::system::error_code(self->failed_),
                                  std::size_t{0});
        }
        self->state_.commit(n);
        self->stats_.bytes_written += n;
        if (n > 0) self->writer_wake_.cancel();
        complete_from_io(self->strand_, std::move(handler), ec, n);
      });
  const auto buffer = asio::buffer(space.data(), space.size());
  // The socket read is the operation's to cancel only when the application can cancel it: a relay's
  // reads stay as they were otherwise.
  if (write_serial_ != 0) {
    write_from_->async_read_some(buffer,
                                 asio::bind_cancellation_slot(ring_read_cancel_.slot(), std::move(on_read)));
  } else {
    write_from_->async_read_some(buffer, std::move(on_read));
  }
}

bool session_impl::write_refused(session::read_handler& handler) {
  boost::system::error_code ec;
  if (write_handler_) {
    ec = asio::error::in_progress;
  } else if (state_.shutdown_requested() && !failed_) {
    ec = asio::error::shut_down;
  } else {
    return false;
  }
  complete(strand_, std::move(handler), ec, std::size_t{0});
  return true;
}

void session_impl::start_write_from(tcp::socket& from, session::read_handler handler, std::uint64_t serial) {
  if (write_refused(handler)) return;
  write_from_ = &from;
  write_handler_ = std::move(handler);
  write_serial_ = serial;
  fill();
}

void session_impl::start_read(std::vector<asio::mutable_buffer> buffers, session::read_handler handler,
                              std::uint64_t serial) {
  if (read_handler_) {
    return complete(strand_, std::move(handler), boost::system::error_code(asio::error::in_progress),
                    std::size_t{0});
  }
  read_buffers_ = std::move(buffers);
  read_handler_ = std::move(handler);
  read_serial_ = serial;
  read_completing_ = false;
  deliver();
}

void session_impl::start_write(std::vector<asio::const_buffer> buffers, session::read_handler handler,
                               std::uint64_t serial) {
  if (write_refused(handler)) return;
  write_buffers_ = std::move(buffers);
  write_handler_ = std::move(handler);
  write_serial_ = serial;
  fill();
}

void session_impl::start_shutdown(session::wait_handler handler, std::uint64_t serial) {
  // While a read fills the replay buffer, its bytes would come after the CLOSE (R17): wait for it first.
  if (failed_ || shutdown_handler_ || write_from_) {
    const boost::system::error_code ec =
        failed_ ? boost::system::error_code(failed_) : boost::system::error_code(asio::error::in_progress);
    return complete(strand_, std::move(handler), ec);
  }
  if (!state_.shutdown_requested()) {
    state_.request_shutdown();
    writer_wake_.cancel();
  } else if (state_.fin_acked()) {  // a shutdown again: the first's CLOSE was acknowledged already
    return complete(strand_, std::move(handler), boost::system::error_code());
  }
  // Again after a cancelled one: the CLOSE is out (a stream cannot be reopened), so wait for its ACK again.
  shutdown_handler_ = std::move(handler);
  shutdown_serial_ = serial;
}

session::wait_handler session_impl::cancellable_connect(session::wait_handler handler, std::uint64_t serial) {
  connect_serial_ = serial;
  connect_pending_ = true;
  // On the strand, where run_client() completes it and cancel_connect() decides.
  return asio::bind_executor(
      strand_, [self = shared_from_this(), h = std::move(handler)](boost::system::error_code ec) mutable {
        self->connect_pending_ = false;
        if (self->connect_cancelled_) ec = asio::error::operation_aborted;
        complete(self->strand_, std::move(h), ec);
      });
}

void session_impl::cancel_connect(std::uint64_t serial) {
  // Once the session is established the connect has succeeded, whether or not its handler ran yet.
  if (!connect_pending_ || connect_serial_ != serial || id_ != wire::session_id{}) return;
  connect_cancelled_ = true;
  fail(boost::system::error_code(asio::error::operation_aborted));  // aborts the handshake's transport
}

void session_impl::cancel(operation op, std::uint64_t serial, asio::cancellation_type type) {
  using type_t = asio::cancellation_type;
  const boost::system::error_code aborted = asio::error::operation_aborted;
  switch (op) {
    case operation::read:
      // A waiting read has taken no byte (deliver() completes it when it takes any): nothing to undo, so
      // every type of cancellation, total included.
      if (!read_handler_ || read_serial_ != serial) return;
      read_buffers_.clear();
      return complete(strand_, std::move(*std::exchange(read_handler_, std::nullopt)), aborted,
                      std::size_t{0});
    case operation::write:
      if (!write_handler_ || write_serial_ != serial) return;
      // async_write_some_from reading its socket: that read's cancellation, whose completion reports
      // what it committed to the replay buffer.
      if (reading_into_ring_) return ring_read_cancel_.emit(type);
      // Waiting for room in the replay buffer (R14) with no byte taken (fill() completes a write that
      // takes any): every type, as for a read.
      write_from_ = nullptr;
      write_buffers_.clear();
      return complete(strand_, std::move(*std::exchange(write_handler_, std::nullopt)), aborted,
                      std::size_t{0});
    case operation::shutdown:
      // The CLOSE cannot be taken back; only the wait for its ACK ends: terminal and partial, not total.
      if ((type & (type_t::terminal | type_t::partial)) == type_t::none) return;
      if (!shutdown_handler_ || shutdown_serial_ != serial) return;
      return complete(strand_, std::move(*std::exchange(shutdown_handler_, std::nullopt)), aborted);
    case operation::connect:
      if ((type & type_t::terminal) != type_t::none) cancel_connect(serial);
      return;
    case operation::accept:  // the acceptor's
      return;
  }
}

}  // namespace lifeline::detail
