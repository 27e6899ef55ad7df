// The session's state machine, shared by the client and the server side. Everything here runs on the
// session's strand; the coroutines that drive it hold a shared_ptr to it.
#pragma once

#include "handshake.hpp"
#include "stream_state.hpp"
#include "transport.hpp"

#include <lifeline/session.hpp>
#include <lifeline/wire.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <cstdint>
#include <optional>

namespace lifeline::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using strand_type = asio::strand<asio::any_io_executor>;

enum class role { client, server };

/// co_spawn's completion for the session's coroutines: they handle their errors, so an exception is a
/// bug to surface.
inline void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

/// Reads one whole frame into `buffer` within `timeout`; used by the handshakes.
asio::awaitable<std::error_code> read_frame(transport& s, std::vector<std::uint8_t>& buffer,
                                            std::chrono::milliseconds timeout, wire::frame& out);
/// Writes one frame within `timeout`.
asio::awaitable<std::error_code> write_frame(transport& s, wire::frame_type type, std::uint64_t value,
                                             wire::bytes payload, std::chrono::milliseconds timeout);
/// Writes one handshake frame and reads the answer into `out` (its payload in `buffer`): an ERROR ends
/// with its code (R18), another type than `answer` with malformed_frame.
asio::awaitable<std::error_code> ask(transport& s, wire::frame_type type, std::uint64_t value,
                                     wire::bytes payload, wire::frame_type answer,
                                     std::chrono::milliseconds timeout, std::vector<std::uint8_t>& buffer,
                                     wire::frame& out);
/// Runs a TLS handshake within `timeout` when the transport is TLS; nothing otherwise.
asio::awaitable<std::error_code> tls_handshake(transport& s, bool client, std::chrono::milliseconds timeout);
/// The error an ERROR frame carries (R18); malformed_frame for a code this build does not know.
std::error_code error_from_frame(const wire::frame& f);
/// Writes an ERROR frame (R18) and closes, ignoring failures: the peer is being turned away.
asio::awaitable<void> refuse(transport& s, errc code, std::string_view text);

// The handler, bound to run on its own executor. Its cancellation slot is left connected, as Asio's
// socket operations leave theirs: the handler connect_cancellation() installed is harmless after the
// operation completed (its serial no longer matches), and clearing it here would destroy it while a
// parallel group may be emitting on that slot from another thread (Boost 1.81's group emits from
// wherever its other operation completed; seen under ASan as a use after free, about 1 run in 100 of
// session_cancel_test's two-thread race).
template <typename Handler, typename... Args>
auto finishing(const strand_type& fallback, Handler handler, Args... args) {
  const auto ex = asio::get_associated_executor(handler, fallback);
  return asio::bind_executor(ex, [h = std::move(handler), ... args = std::move(args)]() mutable {
    std::move(h)(std::move(args)...);
  });
}

template <typename Handler, typename... Args>
void complete(const strand_type& fallback, Handler handler, Args... args) {
  // Through the handler's associated executor, never inline, as Asio's own operations complete.
  asio::post(fallback, finishing(fallback, std::move(handler), std::move(args)...));
}

// For an operation that completes because of I/O, not inside its initiating function: the handler runs
// at once when its executor is the one running (as Asio's socket operations complete from the reactor),
// which spares a trip through the scheduler per delivered read and lets the application ask for its
// next read before the read loop parses the next frame.
template <typename Handler, typename... Args>
void complete_from_io(const strand_type& fallback, Handler handler, Args... args) {
  asio::dispatch(fallback, finishing(fallback, std::move(handler), std::move(args)...));
}

/// The application operation a cancellation is meant for.
enum class operation { connect, read, write, shutdown, accept };

/// Connects the cancellation slot of an operation's handler, in the initiating call's context as Asio's
/// own operations do. A cancellation then runs `owner->cancel(op, serial, type)` on the owner's strand,
/// where `serial` tells whether the operation waiting there is still this one; the owner may be gone by
/// then. Returns that serial, or 0 when the handler has no slot to connect.
template <typename Owner, typename Handler>
std::uint64_t connect_cancellation(const std::shared_ptr<Owner>& owner, Handler& handler, operation op) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  if (!slot.is_connected()) return 0;
  const auto serial = ++owner->next_serial_;
  slot.assign([weak = std::weak_ptr<Owner>(owner), op, serial](asio::cancellation_type type) {
    if (auto self = weak.lock()) {
      asio::dispatch(self->strand_, [self, op, serial, type] { self->cancel(op, serial, type); });
    }
  });
  return serial;
}

/// Whether the running coroutine was cancelled (by the parallel group the connection's loops run in).
inline asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

/// Points `target` at `value` while it lives: for an object a coroutine owns but others must reach.
template <typename T>
class scoped_pointer {
 public:
  scoped_pointer(T*& target, T& value) : target_(target) { target_ = &value; }
  scoped_pointer(const scoped_pointer&) = delete;
  scoped_pointer& operator=(const scoped_pointer&) = delete;
  ~scoped_pointer() { target_ = nullptr; }

 private:
  T*& target_;
};

class session_impl : public std::enable_shared_from_this<session_impl> {
 public:
  session_impl(strand_type strand, session_options options, role r);

  strand_type strand_;
  session_options options_;
  const role role_;

  // Identity (R8).
  wire::session_id id_{};
  wire::digest secret_{};

  // Client: where the server is.
  tcp::endpoint server_;
  // Server: how long a detached session waits for its client to resume (R20).
  std::chrono::milliseconds linger_{0};

  void start_connect(session::wait_handler handler);
  /// async_connect's handler, wrapped so that it completes with operation_aborted once cancel_connect()
  /// has taken effect. `serial`: from connect_cancellation().
  session::wait_handler cancellable_connect(session::wait_handler handler, std::uint64_t serial);
  void start_read(std::vector<asio::mutable_buffer> buffers, session::read_handler handler,
                  std::uint64_t serial);
  void start_write(std::vector<asio::const_buffer> buffers, session::read_handler handler,
                   std::uint64_t serial);
  void start_write_from(tcp::socket& from, session::read_handler handler, std::uint64_t serial);
  /// A second write while one is pending, or a write after shutdown: completes `handler` at once with
  /// in_progress or shut_down and returns true.
  bool write_refused(session::read_handler& handler);
  void start_shutdown(session::wait_handler handler, std::uint64_t serial);
  /// A cancellation of the application's operation `serial` (see connect_cancellation()); nothing when
  /// that operation has completed already or does not support `type`.
  void cancel(operation op, std::uint64_t serial, asio::cancellation_type type);
  void close();
  void drop_connection();

  /// Server: a new session's first connection, after WELCOME was sent.
  void start_server(std::shared_ptr<transport> s);
  /// Server: a verified resume; the session answers RESUMED itself once the old connection is stopped.
  void resume_with(std::shared_ptr<transport> s, std::uint64_t peer_received, const handshake::transcript& t,
                   const x25519_pair& own);
  /// Server: called when the session ends for good, to drop it from the acceptor's table.
  std::function<void()> on_finished;

  /// Serial numbers of the operations whose cancellation slot is connected; any thread.
  std::atomic<std::uint64_t> next_serial_{0};

  std::size_t memory() const noexcept { return state_.memory(); }
  bool finished() const noexcept { return finished_; }

  session_stats stats_;

 private:
  asio::awaitable<void> run_client(session::wait_handler connected);
  asio::awaitable<void> run_server(std::shared_ptr<transport> first);
  /// Connects and shakes hands, retrying under the retry policy (R19) until it succeeds, the deadline
  /// passes or a refusal that cannot change comes; `s` is the connection that succeeded.
  asio::awaitable<std::error_code> connect_retrying(bool resume, std::shared_ptr<transport>& s,
                                                    std::uint64_t& peer_received, unsigned& attempts);
  /// A new connection to the server: TCP (and TLS) to `server_`, or options_.dial's byte_stream; within
  /// the handshake timeout.
  asio::awaitable<std::error_code> connect(std::shared_ptr<transport>& s);
  /// The handshake of a new session or of a resume (R5-R9) on a connected transport.
  asio::awaitable<std::error_code> handshake(transport& s, bool resume, std::uint64_t& peer_received);
  asio::awaitable<std::error_code> run_connection(std::shared_ptr<transport> s, std::uint64_t peer_received);
  asio::awaitable<std::error_code> read_loop(std::shared_ptr<transport> s);
  asio::awaitable<std::error_code> write_loop(std::shared_ptr<transport> s);
  asio::awaitable<std::error_code> tick_loop();

  std::error_code attach(std::uint64_t peer_received);
  std::error_code on_frame(const wire::frame& f);
  /// What an acknowledgement (an ACK, or a resume's offset) means for the application's operations and
  /// for R16 (b).
  void acknowledged(const stream_state::ack_effect& effect);
  /// Completes a waiting read from the receive ring and then from `fresh`, the new bytes of a verified
  /// DATA frame; keeps in the ring what the read does not take. `from_io`: called by the read loop, not
  /// by an initiating function, so the read may complete inline.
  void deliver(wire::bytes fresh = {}, bool from_io = false);
  void fill();
  void read_into_ring();
  void fail(std::error_code ec);
  /// async_connect cancelled: fails the session if it is not established yet, aborting the handshake.
  void cancel_connect(std::uint64_t serial);
  void emit(session_event e);
  /// Both streams ended and were acknowledged: the session is over.
  void finish_cleanly();
  bool done() const noexcept { return state_.done(); }
  /// When the peer was last heard from (R16 (a)).
  clock::time_point peer_heard_at(clock::time_point now) const;
  bool awaiting_answer() const noexcept { return state_.awaiting_ack() || ping_outstanding_; }
  std::uint8_t frame_flags() const noexcept { return rx_paused_ ? wire::flag_paused : 0; }

  // Both streams (R11-R17).
  stream_state state_;

  // The current connection.
  std::shared_ptr<transport> conn_;
  std::shared_ptr<transport> pending_conn_;  // server: a resumed connection waiting to take over
  std::uint64_t pending_peer_received_ = 0;
  handshake::transcript pending_transcript_;  // its handshake so far, for RESUMED (R9, R22)
  x25519_pair pending_pair_;
  clock::time_point last_inbound_{};
  clock::time_point last_outbound_{};
  bool rx_paused_ = false;
  // R16 (b): is the peer answering? Set when we start waiting for an ACK or a PONG, renewed by each
  // ACK that advances and each PONG; not counted while the peer says it is paused.
  clock::time_point last_progress_{};
  bool ping_outstanding_ = false;
  bool peer_paused_ = false;
  bool ping_due_ = false;
  bool ack_due_ = false;
  std::optional<std::uint64_t> pong_due_;
  std::error_code drop_reason_;

  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;
  asio::steady_timer attach_wake_;
  asio::steady_timer ticker_;   // the current connection's tick_loop
  bool ticker_asleep_ = false;  // waiting for a heartbeat deadline, not for the next tick

  // Application operations: at most one of each in flight.
  std::optional<session::read_handler> read_handler_;
  std::vector<asio::mutable_buffer> read_buffers_;
  bool read_completing_ = false;  // a read completed with data and the next has not been asked for yet
  std::optional<session::read_handler> write_handler_;
  std::vector<asio::const_buffer> write_buffers_;
  tcp::socket* write_from_ = nullptr;  // async_write_some_from: the socket read into the replay buffer
  bool reading_into_ring_ = false;     // that read is in flight
  std::optional<session::wait_handler> shutdown_handler_;
  // The serials of the operations above, so that a late cancellation cannot hit a later operation.
  std::uint64_t read_serial_ = 0;
  std::uint64_t write_serial_ = 0;
  std::uint64_t shutdown_serial_ = 0;
  asio::cancellation_signal ring_read_cancel_;  // async_write_some_from's cancellation, for its socket read
  // Client: async_connect until its handler is called; the transport of the handshake in progress and
  // the backoff timer, which fail() aborts and wakes.
  std::uint64_t connect_serial_ = 0;
  bool connect_pending_ = false;
  bool connect_cancelled_ = false;
  transport* handshaking_ = nullptr;
  asio::steady_timer* backing_off_ = nullptr;  // client: the wait between connection attempts (R19)
  asio::steady_timer* dialing_ = nullptr;      // client: the timeout of options_.dial's connection

  std::error_code failed_;
  bool finished_ = false;
  // Reconnect jitter (R19). splitmix64: eight bytes of state where an mt19937_64 held 2.5 KiB in each of
  // a server's thousands of sessions, for a handful of draws per reset.
  std::uint64_t jitter_state_;
  std::uint64_t next_jitter() noexcept {
    std::uint64_t z = (jitter_state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

}  // namespace lifeline::detail
