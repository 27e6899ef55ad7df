// The resumable session: an exactly-once, in-order byte stream in each direction that survives any
// number of broken TCP connections (docs/protocol.md). A session models Asio's AsyncReadStream and
// AsyncWriteStream, so asio::async_read, asio::async_write and coroutines use it as a tcp::socket.
#pragma once

#include <lifeline/byte_stream.hpp>
#include <lifeline/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace lifeline {

namespace detail {
class session_impl;
class acceptor_impl;
}  // namespace detail

/// Reconnection policy (docs/protocol.md R19): exponential backoff with full jitter, a cap, and an
/// overall deadline counted from the failure.
struct retry_policy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{5000};
  std::chrono::milliseconds deadline{60000};

  /// The wait before attempt `attempt` (0-based), given a uniformly random 64-bit value.
  std::chrono::milliseconds delay(unsigned attempt, std::uint64_t random) const noexcept;
};

/// Something a session reports for logging. Called on the session's executor.
struct session_event {
  enum class kind {
    established,  ///< a new session was set up
    reset,        ///< the connection broke; `cause` says why. The session will resume.
    resumed,      ///< the stream resumed `elapsed` after the reset, resending `bytes_resent`
    failed,       ///< the session cannot continue; `cause` says why
    closed,       ///< both directions ended cleanly
  };
  kind what{};
  std::error_code cause;
  std::chrono::milliseconds elapsed{0};
  std::uint64_t bytes_resent = 0;
  unsigned attempts = 0;  ///< established, resumed: the connections tried, the one that worked included
};

std::string to_string(const session_event& e);

struct session_options {
  /// Unacknowledged bytes kept for retransmission; a full buffer makes writes wait (R14).
  std::size_t replay_capacity = 8u << 20;
  /// Received bytes not yet read by the application; at least 1 MiB (R15).
  std::size_t receive_capacity = 8u << 20;
  /// R16: a PING after this much silence on the sending side.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// R16: nothing heard from the peer for this long, or no answer to what was sent, means the connection
  /// is dead.
  std::chrono::milliseconds heartbeat_timeout{5000};
  /// R5: each handshake step, and the TCP connect, must finish within this.
  std::chrono::milliseconds handshake_timeout{5000};
  retry_policy retry;
  /// A pre-shared key (R7). Empty: none.
  std::string psk;
  /// TLS as the transport where set: a client context (with the CA to trust and verify_peer) on the
  /// client, a server context (certificate, key, and a CA with verify_fail_if_no_peer_cert to require
  /// client certificates) on the server. Null: plain TCP.
  std::shared_ptr<boost::asio::ssl::context> tls;
  /// Client with TLS: the name to send as SNI and to verify the server's certificate against; empty
  /// verifies the chain only.
  std::string tls_server_name;
  /// Client: makes each connection with this instead of a TCP connect to async_connect's endpoint (and
  /// without TLS): a transport of the application's own (include/lifeline/byte_stream.hpp).
  dialer dial;
  /// Seeds the jitter of reconnects; 0 draws a seed from the system.
  std::uint64_t seed = 0;
  /// Called for every session_event.
  std::function<void(const session_event&)> on_event;

  /// An error for options out of range (errc::invalid_argument), with a message in `why`.
  std::error_code validate(std::string* why = nullptr) const;
};

/// Counters a session keeps; read them on the session's executor.
struct session_stats {
  std::uint64_t bytes_written = 0;    ///< accepted from the application
  std::uint64_t bytes_read = 0;       ///< delivered to the application
  std::uint64_t bytes_resent = 0;     ///< retransmitted after resumes
  std::uint64_t resets = 0;           ///< connections lost
  std::uint64_t resumes = 0;          ///< successful resumes
  std::uint64_t frames_rejected = 0;  ///< frames that failed their checksum or the format
};

/// One end of a session. At most one read and one write may be in flight at a time, as with a socket.
/// Resets are invisible to reads and writes: they wait while the session resumes, and fail only when it
/// cannot (deadline passed, the server lost the session, a rejected proof).
/// Destroying the session aborts it.
///
/// Every operation supports per-operation cancellation through its completion handler's associated
/// cancellation slot (asio::bind_cancellation_slot, awaitable operators, parallel groups), as Asio's
/// objects do. A cancelled operation completes with asio::error::operation_aborted:
/// - async_connect, void(error_code): terminal only, as Asio's connect. The attempt stops at once (its
///   connection is closed, or the wait before the next attempt ends) and the session is left failed.
///   Partial and total are ignored, and so is any cancellation once the session is established.
/// - async_read_some, void(error_code, std::size_t): terminal, partial and total. A read waits only while
///   it has taken no byte, so a cancelled read completes with 0 bytes and leaves every byte in the receive
///   buffer for the next read.
/// - async_write_some, void(error_code, std::size_t): terminal, partial and total. A write waits (for room
///   in the replay buffer, R14) only while it has taken no byte: one that takes any completes at once with
///   that count. So a cancelled write completes with 0 bytes and has written nothing.
/// - async_write_some_from, void(error_code, std::size_t): waiting for room in the replay buffer, as
///   async_write_some; while reading `from`, the cancellation type is passed to that socket read, and the
///   bytes it committed stay written and are reported with the error (a cancelled read of an Asio socket
///   has read none: 0).
/// - async_shutdown, void(error_code): terminal and partial, not total. The CLOSE cannot be taken back:
///   the stream stays ended (writes fail with shut_down) and the peer still gets it; only the wait for its
///   acknowledgement ends. Calling async_shutdown again waits for that acknowledgement again.
/// The session decides on its strand: an operation that completed before the cancellation got there
/// completes as it would have (a read with its bytes), as a socket's does; an `||` of awaitable operators
/// then drops that result, asio::experimental::make_parallel_group shows it. As with Asio's sockets, a
/// completed operation leaves its handler in the slot; a cancellation emitted later does nothing.
///
/// Thread safety: Distinct objects: Safe. Shared objects: Unsafe. The session runs on a strand of its
/// own (get_executor()): initiating functions, close() and drop_connection() hand their work to it and
/// may be called from any thread, one at a time; handlers run on their associated executors. Emit a
/// cancellation where the operation was started (a cancellation slot is not thread-safe). stats() and
/// id() read the strand's state: call them on get_executor().
class session {
 public:
  using executor_type = boost::asio::any_io_executor;
  using read_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
  using wait_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  /// A client-side session; call async_connect.
  session(executor_type ex, session_options options = {});
  session(session&&) noexcept;
  session& operator=(session&&) noexcept;
  ~session();

  executor_type get_executor() const noexcept;

  /// Connects to a lifeline server and establishes a new session. Signature: void(error_code).
  /// Cancellation: terminal only; it leaves the session failed.
  template <typename Token>
  auto async_connect(boost::asio::ip::tcp::endpoint server, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler, boost::asio::ip::tcp::endpoint ep) { start_connect(ep, std::move(handler)); },
        token, server);
  }

  /// Reads some bytes. Signature: void(error_code, std::size_t). Completes with asio::error::eof after
  /// the peer's stream ended and everything before it was read. Cancellation: all types; a cancelled
  /// read took no byte.
  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          start_read(to_vector<boost::asio::mutable_buffer>(b), std::move(handler));
        },
        token, buffers);
  }

  /// Writes some bytes into the replay buffer; waits while it is full. Signature:
  /// void(error_code, std::size_t). Cancellation: all types; a cancelled write took no byte.
  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          start_write(to_vector<boost::asio::const_buffer>(b), std::move(handler));
        },
        token, buffers);
  }

  /// Reads from `from` straight into the replay buffer: what reading into a buffer and writing it would
  /// do, without the copy between the two, for relays from TCP into a session. Waits while the replay
  /// buffer is full (R14). Signature: void(error_code, std::size_t): the bytes taken, or the session's
  /// error, or the read's (asio::error::eof when `from` has ended). It is the session's one write in
  /// flight and completes when the read does; `from` must run on the same thread of execution as the
  /// session's executor. Cancellation: all types, passed to the read of `from` while it is in flight.
  template <typename Token>
  auto async_write_some_from(boost::asio::ip::tcp::socket& from, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this, &from](auto handler) { start_write_from(from, std::move(handler)); }, token);
  }

  /// Ends this side's stream (a half-close) and completes once the peer has acknowledged everything
  /// written before it. Signature: void(error_code). Cancellation: terminal and partial; they end the
  /// wait for the acknowledgement, not the half-close.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) { start_shutdown(std::move(handler)); }, token);
  }

  /// Aborts the session: pending operations complete with operation_aborted.
  void close();

  session_stats stats() const;
  /// The session id in hex, for logs; empty before the session is established.
  std::string id() const;
  /// Breaks the current connection as a network failure would (for tests and fault drills): the
  /// session resumes as after any other reset.
  void drop_connection();

 private:
  friend class detail::acceptor_impl;
  explicit session(std::shared_ptr<detail::session_impl> impl) noexcept;
  static session from_impl(std::shared_ptr<detail::session_impl> impl);

  template <typename Buffer, typename Sequence>
  static std::vector<Buffer> to_vector(const Sequence& s) {
    return {boost::asio::buffer_sequence_begin(s), boost::asio::buffer_sequence_end(s)};
  }
  void start_connect(boost::asio::ip::tcp::endpoint ep, wait_handler handler);
  void start_read(std::vector<boost::asio::mutable_buffer> buffers, read_handler handler);
  void start_write(std::vector<boost::asio::const_buffer> buffers, read_handler handler);
  void start_write_from(boost::asio::ip::tcp::socket& from, read_handler handler);
  void start_shutdown(wait_handler handler);

  std::shared_ptr<detail::session_impl> impl_;
};

}  // namespace lifeline
