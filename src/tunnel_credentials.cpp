// The tunnel's rules for its key file and TLS files (include/lifeline/tunnel.hpp), and its event
// counters: what the CLI and the demo share.
#include <lifeline/tunnel.hpp>

#include <fmt/format.h>
#ifdef LIFELINE_WITH_TLS
#include <boost/asio/ssl/context.hpp>
#endif

#include <cctype>
#include <cerrno>

#ifdef _WIN32
#include <fstream>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace lifeline {
namespace {

// A key file is one line; reading stops past this, so that a key file named by mistake (a disk image,
// /dev/zero) is refused instead of read whole.
constexpr std::size_t max_key_file = 64 * 1024;

// Reads the key file into `content`, or says why not. POSIX: the mode of the file opened (fstat, so that
// the file checked is the file read) must give group and others nothing, as ssh requires of private keys.
bool read_key_file(const std::string& file, std::string& content, std::string& why) {
  auto fail = [&](std::string reason) {
    why = std::move(reason);
    return false;
  };
  const auto cannot_read = fmt::format("cannot read the key file '{}'", file);
#ifdef _WIN32
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(cannot_read);
  content.resize(max_key_file + 1);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return fail(cannot_read);
  content.resize(static_cast<std::size_t>(in.gcount()));
#else
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(cannot_read);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return fail(cannot_read);
  }
  if (const auto mode = st.st_mode & 07777; (mode & 077) != 0) {
    ::close(fd);
    return fail(fmt::format("the key file '{}' is {} by others (mode {:04o}); run chmod 600 '{}'", file,
                            (mode & 044) != 0 ? "readable" : "accessible", mode, file));
  }
  char buffer[4096];
  ssize_t n = 0;
  while (content.size() <= max_key_file &&
         ((n = ::read(fd, buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR))) {
    if (n > 0) content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (n < 0) return fail(cannot_read);
#endif
  if (content.size() > max_key_file) {
    return fail(fmt::format("the key file '{}' is over {} KiB: not a key (a key is one line of text)", file,
                            max_key_file / 1024));
  }
  return true;
}

}  // namespace

void tunnel_stats::count(const session_event& e) noexcept {
  if (e.what == session_event::kind::reset) ++resets;
  if (e.what == session_event::kind::resumed) {
    ++resumes;
    bytes_resent += e.bytes_resent;
  }
}

std::error_code parse_key(std::string_view text, std::string_view source, std::string& key,
                          std::string* why) {
  auto bad = [&](std::string problem) {
    if (why) *why = fmt::format("the key in {} {}", source, problem);
    return make_error_code(errc::invalid_argument);
  };
  constexpr std::string_view one_line = "(a key is one line of text, as `lifeline keygen` writes)";
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  // The reasons may be logged or shown to anyone watching: they give the key's length, never its content.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    return bad(
        fmt::format("holds a NUL at byte {} of {}: is it a binary file? {}", nul + 1, text.size(), one_line));
  }
  if (text.find_first_of("\r\n") != std::string_view::npos) {
    return bad(
        fmt::format("has more than one line ({} bytes): is it the right file? {}", text.size(), one_line));
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (const auto c = static_cast<unsigned char>(text[i]); c < 0x20 || c == 0x7f) {
      return bad(
          fmt::format("holds a control character (0x{:02x}) at byte {} of {}: is it the right file? {}", c,
                      i + 1, text.size(), one_line));
    }
  }
  if (text.size() < 16) {
    return bad(
        fmt::format("is shorter than 16 bytes ({}); `lifeline keygen FILE` writes a good one", text.size()));
  }
  key.assign(text);
  return {};
}

std::error_code load_credentials(const tunnel_credentials& c, bool server_side, session_options& session,
                                 std::string* why) {
  auto bad = [&](std::string text) {
    if (why) *why = std::move(text);
    return make_error_code(errc::invalid_argument);
  };
  if (!c.psk_file.empty()) {
    std::string content, reason;
    if (!read_key_file(c.psk_file, content, reason)) return bad(std::move(reason));
    if (auto ec = parse_key(content, "'" + c.psk_file + "'", session.psk, why)) return ec;
  }
  if (c.tls_cert.empty() && c.tls_ca.empty()) return {};
  if (server_side && (c.tls_cert.empty() || c.tls_key.empty())) {
    return bad("TLS needs both --tls-cert and --tls-key on the server");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) return bad("--tls-cert and --tls-key go together");
#ifndef LIFELINE_WITH_TLS
  return bad(
      "TLS is not available in this build of lifeline (built without OpenSSL, as the Windows build is); use "
      "--psk-file or LIFELINE_PSK");
#else
  namespace ssl = boost::asio::ssl;
  try {
    auto tls =
        std::make_shared<ssl::context>(server_side ? ssl::context::tls_server : ssl::context::tls_client);
    tls->set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (!c.tls_cert.empty()) {
      tls->use_certificate_chain_file(c.tls_cert);
      tls->use_private_key_file(c.tls_key, ssl::context::pem);
    }
    if (!c.tls_ca.empty()) {
      tls->load_verify_file(c.tls_ca);
      tls->set_verify_mode(server_side ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                                       : ssl::verify_peer);
    } else if (!server_side) {
      tls->set_default_verify_paths();
      tls->set_verify_mode(ssl::verify_peer);
    }
    session.tls = std::move(tls);
    session.tls_server_name = c.tls_server_name;
    return {};
  } catch (const boost::system::system_error& e) {
    if (why) *why = "cannot load the TLS files: " + e.code().message();
    return e.code();
  }
#endif
}

}  // namespace lifeline
