// The tunnel's rules for its key file and TLS files (include/lifeline/tunnel.hpp), and its event
// counters: what the CLI and the demo share.
#include <lifeline/tunnel.hpp>

#include <fmt/format.h>
#ifdef LIFELINE_WITH_TLS
#include <boost/asio/ssl/context.hpp>
#endif

#include <cctype>
#include <fstream>
#include <sstream>

namespace lifeline {

void tunnel_stats::count(const session_event& e) noexcept {
  if (e.what == session_event::kind::reset) ++resets;
  if (e.what == session_event::kind::resumed) {
    ++resumes;
    bytes_resent += e.bytes_resent;
  }
}

std::error_code load_credentials(const tunnel_credentials& c, bool server_side, session_options& session,
                                 std::string* why) {
  auto bad = [&](std::string text) {
    if (why) *why = std::move(text);
    return make_error_code(errc::invalid_argument);
  };
  if (!c.psk_file.empty()) {
    std::ifstream in(c.psk_file);
    if (!in) return bad(fmt::format("cannot read the key file '{}'", c.psk_file));
    std::stringstream content;
    content << in.rdbuf();
    std::string psk = content.str();
    while (!psk.empty() && std::isspace(static_cast<unsigned char>(psk.back()))) psk.pop_back();
    if (psk.size() < 16) return bad(fmt::format("the key in '{}' is shorter than 16 bytes", c.psk_file));
    session.psk = std::move(psk);
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
