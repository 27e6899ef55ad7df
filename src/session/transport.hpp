// One connection under a session: plain TCP, or TLS over TCP (OpenSSL through Asio) where configured.
// It is an AsyncReadStream and AsyncWriteStream, so the session's loops do not care which. A build
// without OpenSSL (LIFELINE_WITH_TLS unset: Windows) has plain TCP only; session_options::validate()
// refuses a TLS context there.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#ifdef LIFELINE_WITH_TLS
#include <boost/asio/ssl.hpp>
#else
namespace boost::asio::ssl {
class context;
}
#endif

#include <cstdlib>
#include <memory>
#include <variant>

namespace lifeline::detail {

class transport {
 public:
  using tcp = boost::asio::ip::tcp;
#ifdef LIFELINE_WITH_TLS
  using tls_stream = boost::asio::ssl::stream<tcp::socket>;
  using stream_type = std::variant<tcp::socket, tls_stream>;
#else
  struct tls_stream {};  // never held
  using stream_type = std::variant<tcp::socket>;
#endif
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

  /// An accepted connection's peer, read when it was accepted: once the connection has failed the
  /// socket can no longer say.
  const tcp::endpoint& peer() const { return peer_; }

  executor_type get_executor() { return socket().get_executor(); }
  tcp::socket& socket() {
    if (auto* s = std::get_if<tcp::socket>(&stream_)) return *s;
#ifdef LIFELINE_WITH_TLS
    return std::get<tls_stream>(stream_).next_layer();
#else
    std::abort();  // unreachable: plain TCP is the only alternative
#endif
  }
  /// The TLS stream, or null for plain TCP.
  tls_stream* tls() {
#ifdef LIFELINE_WITH_TLS
    return std::get_if<tls_stream>(&stream_);
#else
    return nullptr;
#endif
  }
  bool is_open() { return socket().is_open(); }

  template <typename MutableBufferSequence, typename Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
          std::visit([&](auto& s) { s.async_read_some(b, std::move(handler)); }, stream_);
        },
        token, buffers);
  }

  template <typename ConstBufferSequence, typename Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
          std::visit([&](auto& s) { s.async_write_some(b, std::move(handler)); }, stream_);
        },
        token, buffers);
  }

  /// Ends the sending direction of the TCP connection (a FIN); the session protocol's own CLOSE frame
  /// carries the meaning, so TLS's close_notify is not needed.
  void shutdown_send() {
    boost::system::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  void close() {
    boost::system::error_code ignored;
    socket().close(ignored);
  }
  /// Closes with a TCP reset, which is sent at once rather than queued behind unacknowledged data, so
  /// a peer that can still hear us learns of the failure within a round trip, not after retransmission
  /// timeouts (a path cut in one direction only).
  void abort() {
    boost::system::error_code ignored;
    socket().set_option(boost::asio::socket_base::linger(true, 0), ignored);
    socket().close(ignored);
  }

 private:
  static tcp::endpoint peer_of(const tcp::socket& socket) {
    boost::system::error_code ignored;
    return socket.remote_endpoint(ignored);
  }

  tcp::endpoint peer_;
  stream_type stream_;
};

}  // namespace lifeline::detail
