// The tunnel: every TCP connection accepted by the client side becomes one session to the server side,
// which connects it to the target. A link failure between the two shows the programs at either end
// nothing but a pause; half-closes, closes and resets of the programs themselves are carried end to end.
#pragma once

#include <lifeline/server.hpp>
#include <lifeline/session.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace lifeline {

namespace detail {
class tunnel_client_impl;
class tunnel_server_impl;
}  // namespace detail

/// What a tunnel end counts; read on its executor.
struct tunnel_stats {
  std::uint64_t connections = 0;      ///< accepted in all
  std::uint64_t active = 0;           ///< open now
  std::uint64_t refused = 0;          ///< turned away (limits, target refused)
  std::uint64_t bytes_forwarded = 0;  ///< both directions
  std::uint64_t resets = 0;           ///< link resets hidden from the programs
  std::uint64_t resumes = 0;
  std::uint64_t bytes_resent = 0;

  /// Counts what a session's event says about the link: a reset, or a resume and the bytes it resent.
  void count(const session_event& e) noexcept;
};

struct tunnel_options {
  session_options session;
  /// Connections (sessions) open at once; more are refused.
  std::size_t max_connections = 1024;
  /// One line per event an operator should see (reset, resumed, refused, ...).
  std::function<void(const std::string&)> log;
};

/// What authenticates a tunnel end, as files an operator names; any may be left out. The reasons
/// load_credentials gives name them by `lifeline tunnel`'s options (--psk-file, --tls-cert, ...).
struct tunnel_credentials {
  /// The pre-shared key (R7): the file's content less trailing white space, one line of at least 16
  /// bytes (parse_key). On POSIX the file must give no permission to group or others (chmod 600), as
  /// ssh requires of a private key; `lifeline keygen FILE` writes one so. Empty: none.
  std::string psk_file{};
  /// TLS certificate chain (PEM): the server's, or the client's own.
  std::string tls_cert{};
  /// TLS private key (PEM) for tls_cert.
  std::string tls_key{};
  /// CA to trust: the server's on the client; on the server, clients' (then required).
  std::string tls_ca{};
  /// Client: the name to verify the server's certificate against, and to send as SNI.
  std::string tls_server_name{};
};

/// Reads a pre-shared key from `text` (a key file's content, or LIFELINE_PSK), named in the reasons by
/// `source` ("'FILE'", "LIFELINE_PSK"): the key is the text less its trailing white space, and must be at
/// least 16 bytes on one line with no NUL or other control character (a PEM file or a binary named by
/// mistake is refused). Sets `key` only when it is good. Errors: errc::invalid_argument, with the reason
/// in `why`, which gives the key's length but never its content.
std::error_code parse_key(std::string_view text, std::string_view source, std::string& key,
                          std::string* why = nullptr);

/// Loads `credentials` into `session` for the server end (`server_side`) or the client end: the key
/// into `psk` when a key file is named, and TLS (1.2 or later) into `tls` and `tls_server_name` when a
/// certificate or a CA is named; what is not named is left as it is. The server needs a certificate and its
/// key and, given a CA, requires clients' certificates; the client verifies the server against the CA, or
/// against the system's CAs without one. Errors, with the reason in `why`: errc::invalid_argument for a
/// key file that cannot be read, that group or others may access (POSIX; not checked on Windows, whose
/// NTFS ACLs are another matter), or whose key parse_key refuses, TLS files that do not go together, or
/// TLS in a build without it (LIFELINE_WITH_TLS unset); the TLS library's error for a file it cannot load.
std::error_code load_credentials(const tunnel_credentials& credentials, bool server_side,
                                 session_options& session, std::string* why = nullptr);

/// The client end: listens locally and opens one session to the server per accepted connection.
class tunnel_client {
 public:
  tunnel_client(boost::asio::any_io_executor ex, const boost::asio::ip::tcp::endpoint& listen,
                const boost::asio::ip::tcp::endpoint& server, tunnel_options options = {});
  ~tunnel_client();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  tunnel_stats stats() const;
  /// Stops accepting and aborts every connection; `on_closed`, if given, runs on the tunnel's executor
  /// once the last connection has ended.
  void close(std::function<void()> on_closed = {});

 private:
  std::shared_ptr<detail::tunnel_client_impl> impl_;
};

/// The server end: accepts sessions and connects each to the target.
class tunnel_server {
 public:
  tunnel_server(boost::asio::any_io_executor ex, const boost::asio::ip::tcp::endpoint& listen,
                std::string target_host, std::string target_port, tunnel_options options = {},
                std::size_t max_memory = std::size_t{4} << 30);
  ~tunnel_server();
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  tunnel_stats stats() const;
  /// As tunnel_client::close.
  void close(std::function<void()> on_closed = {});

 private:
  std::shared_ptr<detail::tunnel_server_impl> impl_;
};

}  // namespace lifeline
