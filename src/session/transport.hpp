// One connection under a session: plain TCP, TLS over TCP (OpenSSL through Asio) where configured, or a
// byte_stream of the application's (include/lifeline/byte_stream.hpp: an in-memory pipe, a WebSocket).
// It is an AsyncReadStream and AsyncWriteStream, so the session's loops do not care which; TCP and TLS,
// the paths that carry the bulk, are called directly, the others through byte_stream's virtual calls.
// A build without OpenSSL (LIFELINE_WITH_TLS unset: Windows) has no TLS; session_options::validate()
// refuses a TLS context there.
#pragma once

#include "frame_cipher.hpp"

#include <lifeline/byte_stream.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#ifdef LIFELINE_WITH_TLS
#include <boost/asio/ssl.hpp>
#else
namespace boost::asio::ssl {
class context;
}
#endif

#include <array>
#include <cstdlib>
#include <memory>
#include <variant>

namespace lifeline::detail {

class transport {
 public:
  using tcp = boost::asio::ip::tcp;
#ifdef LIFELINE_WITH_TLS
  using tls_stream = boost::asio::ssl::stream<tcp::socket>;
  using stream_type = std::variant<tcp::socket, tls_stream, std::unique_ptr<byte_stream>>;
#else
  struct tls_stream {};  // never held
  using stream_type = std::variant<tcp::socket, std::unique_ptr<byte_stream>>;
#endif
  using other_stream = std::unique_ptr<byte_stream>;
  using executor_type = tcp::socket::executor_type;

#ifdef LIFELINE_WITH_TLS
  /// Plain TCP when `tls` is null.
  transport(const executor_type& ex, const std::shared_ptr<boost::asio::ssl::context>& tls)
      : stream_(tls ? stream_type(std::in_place_type<tls_stream>, ex, *tls)
                    : stream_type(std::in_place_type<tcp::socket>, ex)) {}
  /// Wraps an accepted socket.
  transport(tcp::socket socket, const std::shared_ptr<boost::asio::ssl::context>& tls)
      : peer_(peer_of(socket)),
        stream_(tls ? stream_type(std::in_place_type<tls_stream>, std::move(socket), *tls)
                    : stream_type(std::in_place_type<tcp::socket>, std::move(socket))) {}
#else
  transport(const executor_type& ex, const std::shared_ptr<boost::asio::ssl::context>&)
      : stream_(std::in_place_type<tcp::socket>, ex) {}
  transport(tcp::socket socket, const std::shared_ptr<boost::asio::ssl::context>&)
      : peer_(peer_of(socket)), stream_(std::in_place_type<tcp::socket>, std::move(socket)) {}
#endif

  /// A connection of the application's making; `peer` is what it says of the far end, for logs.
  transport(other_stream stream, const tcp::endpoint& peer)
      : peer_(peer), stream_(std::in_place_type<other_stream>, std::move(stream)) {}

  /// An accepted connection's peer, read when it was accepted: once the connection has failed the
  /// socket can no longer say.
  const tcp::endpoint& peer() const { return peer_; }

  executor_type get_executor() {
    if (auto* other = std::get_if<other_stream>(&stream_)) return (*other)->get_executor();
    return lowest_socket()->get_executor();
  }
  /// The TCP socket underneath, or null for a byte_stream.
  tcp::socket* socket() { return lowest_socket(); }
  /// The TLS stream, or null for plain TCP or a byte_stream.
  tls_stream* tls() {
#ifdef LIFELINE_WITH_TLS
    return std::get_if<tls_stream>(&stream_);
#else
    return nullptr;
#endif
  }
  bool is_open() {
    if (auto* other = std::get_if<other_stream>(&stream_)) return (*other)->is_open();
    return lowest_socket()->is_open();
  }

  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          std::visit([&](auto& s) { read_some(s, b, std::move(handler)); }, stream_);
        },
        token, buffers);
  }

  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          std::visit([&](auto& s) { write_some(s, b, std::move(handler)); }, stream_);
        },
        token, buffers);
  }

  /// Ends the sending direction of the connection (a FIN); the session protocol's own CLOSE frame
  /// carries the meaning, so TLS's close_notify is not needed.
  void shutdown_send() {
    boost::system::error_code ignored;
    if (auto* s = socket()) return void(s->shutdown(tcp::socket::shutdown_send, ignored));
    std::get<other_stream>(stream_)->shutdown_send();
  }
  void close() {
    boost::system::error_code ignored;
    if (auto* s = socket()) return void(s->close(ignored));
    std::get<other_stream>(stream_)->close();
  }
  /// Closes with a TCP reset, which is sent at once rather than queued behind unacknowledged data, so
  /// a peer that can still hear us learns of the failure within a round trip, not after retransmission
  /// timeouts (a path cut in one direction only). A byte_stream closes.
  void abort() {
    boost::system::error_code ignored;
    if (auto* s = socket()) {
      s->set_option(boost::asio::socket_base::linger(true, 0), ignored);
      return void(s->close(ignored));
    }
    std::get<other_stream>(stream_)->close();
  }

  /// Protocol version 2 with a pre-shared key: the connection's sealing of frames (R21-R23), set once the
  /// handshake has sent or received its last frame; null while it runs, and on connections that are not
  /// sealed (TLS or loopback without a key).
  std::unique_ptr<frame_cipher> cipher;

 private:
  tcp::socket* lowest_socket() {
    if (auto* s = std::get_if<tcp::socket>(&stream_)) return s;
#ifdef LIFELINE_WITH_TLS
    if (auto* s = std::get_if<tls_stream>(&stream_)) return &s->next_layer();
#endif
    return nullptr;
  }

  template <typename Stream, typename Buffers, typename Handler>
  static void read_some(Stream& s, const Buffers& b, Handler&& handler) {
    s.async_read_some(b, std::forward<Handler>(handler));
  }
  template <typename Stream, typename Buffers, typename Handler>
  static void write_some(Stream& s, const Buffers& b, Handler&& handler) {
    s.async_write_some(b, std::forward<Handler>(handler));
  }
  // A byte_stream reads into the first buffer that has room and writes up to 16 buffers at a time, as
  // a socket may read and write fewer bytes than asked.
  template <typename Buffers, typename Handler>
  static void read_some(other_stream& s, const Buffers& buffers, Handler&& handler) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      if (boost::asio::mutable_buffer(*it).size() > 0) {
        first = *it;
        break;
      }
    }
    s->async_read_some(first, std::forward<Handler>(handler));
  }
  template <typename Buffers, typename Handler>
  static void write_some(other_stream& s, const Buffers& buffers, Handler&& handler) {
    std::array<boost::asio::const_buffer, 16> gathered;
    std::size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < gathered.size(); ++it) {
      gathered[n++] = *it;
    }
    s->async_write_some(std::span<const boost::asio::const_buffer>(gathered.data(), n),
                        std::forward<Handler>(handler));
  }

  static tcp::endpoint peer_of(const tcp::socket& socket) {
    boost::system::error_code ignored;
    return socket.remote_endpoint(ignored);
  }

  tcp::endpoint peer_;
  stream_type stream_;
};

}  // namespace lifeline::detail
