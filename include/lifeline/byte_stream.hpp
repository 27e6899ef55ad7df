// A connection for a session to run over other than the TCP and TLS connections it makes itself: an
// in-memory pipe in tests (as Beast's test stream sits under a websocket::stream), a WebSocket, a
// connection through a proxy. The session frames its protocol on top (docs/protocol.md), so all it
// needs is an ordered, reliable stream of bytes that can fail.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>

namespace lifeline {

/// Cancellation: a read waiting for bytes must honour terminal cancellation through its handler's
/// associated cancellation slot, completing with asio::error::operation_aborted, as a socket's does (the
/// session ends a connection's loops that way); a dialer likewise for its connect.
/// Thread safety: the session calls every member on its own strand, at most one read and one write in
/// flight, as with a socket.
class byte_stream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using io_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

  virtual ~byte_stream() = default;

  virtual executor_type get_executor() = 0;
  /// Reads at least one byte into `buffer` (or fails), as a socket's async_read_some; asio::error::eof
  /// when the peer ended the stream.
  virtual void async_read_some(boost::asio::mutable_buffer buffer, io_handler handler) = 0;
  /// Writes at least one byte of `buffers` (or fails), as a socket's async_write_some. The span itself
  /// lives only during the call; the bytes it points to stay valid until the handler is called.
  virtual void async_write_some(std::span<const boost::asio::const_buffer> buffers, io_handler handler) = 0;
  /// Ends the sending direction: the peer reads eof after what was written.
  virtual void shutdown_send() = 0;
  /// Closes both directions at once; operations in flight complete with an error, and the peer's fail.
  virtual void close() = 0;
  virtual bool is_open() const = 0;
};

/// How a client session makes its connections when session_options::dial is set: calls `handler` with a
/// connected byte_stream to `server` (the endpoint given to async_connect), or with the error. Called on
/// the session's strand, once per connection attempt, under the handshake timeout.
using dial_handler =
    boost::asio::any_completion_handler<void(boost::system::error_code, std::unique_ptr<byte_stream>)>;
using dialer = std::function<void(const boost::asio::ip::tcp::endpoint& server, dial_handler handler)>;

}  // namespace lifeline
