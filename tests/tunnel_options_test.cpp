// The pieces that go with tunnel_options, without a tunnel running: the counters a session's events feed,
// and the key file and TLS files an operator names, with the reason for each one refused.
#include <lifeline/tunnel.hpp>

#include <gtest/gtest.h>

#ifdef LIFELINE_WITH_TLS
#include "support/certs.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>
#endif

#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace {

using lifeline::errc;
using lifeline::load_credentials;
using lifeline::session_event;
using lifeline::session_options;
using lifeline::tunnel_credentials;
using lifeline::tunnel_stats;

session_event event(session_event::kind what, std::uint64_t bytes_resent = 0) {
  session_event e;
  e.what = what;
  e.bytes_resent = bytes_resent;
  return e;
}

TEST(tunnel_stats, counts_resets_resumes_and_the_bytes_resent) {
  tunnel_stats stats;
  stats.count(event(session_event::kind::reset));
  stats.count(event(session_event::kind::resumed, 1000));
  stats.count(event(session_event::kind::reset));
  stats.count(event(session_event::kind::resumed, 24));
  EXPECT_EQ(stats.resets, 2u);
  EXPECT_EQ(stats.resumes, 2u);
  EXPECT_EQ(stats.bytes_resent, 1024u);
}

TEST(tunnel_stats, other_events_count_nothing) {
  tunnel_stats stats;
  for (auto what :
       {session_event::kind::established, session_event::kind::failed, session_event::kind::closed}) {
    stats.count(event(what, 7));
  }
  EXPECT_EQ(stats.resets, 0u);
  EXPECT_EQ(stats.resumes, 0u);
  EXPECT_EQ(stats.bytes_resent, 0u);
  EXPECT_EQ(stats.connections, 0u);
}

// A directory of its own for a test's files, removed after it.
struct scratch_dir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("lifeline-credentials-" + std::to_string(::getpid()) + "-" +
                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  scratch_dir() { std::filesystem::create_directories(path); }
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return (path / name).string();
  }
};

TEST(tunnel_credentials, nothing_named_leaves_the_options_as_they_are) {
  session_options session;
  session.psk = "from the environment";
  std::string why;
  EXPECT_FALSE(load_credentials({}, true, session, &why)) << why;
  EXPECT_FALSE(load_credentials({.tls_key = "/only/a/key"}, false, session, &why)) << why;
  EXPECT_EQ(session.psk, "from the environment");
  EXPECT_EQ(session.tls, nullptr);
}

TEST(tunnel_credentials, a_key_file_is_read_without_its_trailing_white_space) {
  scratch_dir dir;
  session_options session;
  std::string why;
  const auto file = dir.file("key", "0123456789abcdef key \r\n\t\n");
  ASSERT_FALSE(load_credentials({.psk_file = file}, false, session, &why)) << why;
  EXPECT_EQ(session.psk, "0123456789abcdef key");
  EXPECT_EQ(session.tls, nullptr);
}

TEST(tunnel_credentials, a_missing_key_file_is_refused_by_name) {
  session_options session;
  std::string why;
  EXPECT_EQ(load_credentials({.psk_file = "/nonexistent/key"}, true, session, &why), errc::invalid_argument);
  EXPECT_EQ(why, "cannot read the key file '/nonexistent/key'");
  EXPECT_TRUE(session.psk.empty());
}

TEST(tunnel_credentials, a_key_under_16_bytes_is_refused) {
  scratch_dir dir;
  session_options session;
  std::string why;
  // 15 bytes once the newline is gone: the white space does not count towards the 16.
  const auto file = dir.file("short", "0123456789abcde\n");
  EXPECT_EQ(load_credentials({.psk_file = file}, false, session, &why), errc::invalid_argument);
  EXPECT_EQ(why, "the key in '" + file + "' is shorter than 16 bytes");
  EXPECT_TRUE(session.psk.empty());
  const auto exact = dir.file("exact", "0123456789abcdef\n");
  EXPECT_FALSE(load_credentials({.psk_file = exact}, false, session, &why)) << why;
  EXPECT_EQ(session.psk, "0123456789abcdef");
}

TEST(tunnel_credentials, the_server_needs_a_certificate_and_its_key) {
  session_options session;
  std::string why;
  EXPECT_EQ(load_credentials({.tls_ca = "ca.pem"}, true, session, &why), errc::invalid_argument);
  EXPECT_EQ(why, "TLS needs both --tls-cert and --tls-key on the server");
  EXPECT_EQ(load_credentials({.tls_cert = "server.pem"}, true, session, &why), errc::invalid_argument);
  EXPECT_EQ(why, "TLS needs both --tls-cert and --tls-key on the server");
  EXPECT_EQ(session.tls, nullptr);
}

TEST(tunnel_credentials, a_certificate_and_its_key_go_together) {
  session_options session;
  std::string why;
  EXPECT_EQ(load_credentials({.tls_cert = "client.pem", .tls_ca = "ca.pem"}, false, session, &why),
            errc::invalid_argument);
  EXPECT_EQ(why, "--tls-cert and --tls-key go together");
  EXPECT_EQ(load_credentials({.tls_key = "client.key", .tls_ca = "ca.pem"}, false, session, &why),
            errc::invalid_argument);
  EXPECT_EQ(why, "--tls-cert and --tls-key go together");
  EXPECT_EQ(session.tls, nullptr);
}

#ifndef LIFELINE_WITH_TLS
TEST(tunnel_credentials, tls_files_are_refused_in_a_build_without_tls) {
  session_options session;
  std::string why;
  EXPECT_EQ(load_credentials({.tls_ca = "ca.pem"}, false, session, &why), errc::invalid_argument);
  EXPECT_EQ(
      why,
      "TLS is not available in this build of lifeline (built without OpenSSL, as the Windows build is); "
      "use --psk-file or LIFELINE_PSK");
  EXPECT_EQ(session.tls, nullptr);
}
#else
const lifeline::test::test_certs& certs() {
  static const auto made = [] {
    auto c = std::make_unique<lifeline::test::test_certs>();
    if (!c->make()) c.reset();
    return c;
  }();
  if (!made) throw std::runtime_error("the openssl command could not make test certificates");
  return *made;
}

int verify_mode(const session_options& session) {
  return ::SSL_CTX_get_verify_mode(session.tls->native_handle());
}

TEST(tunnel_credentials, the_server_requires_client_certificates_when_given_a_ca) {
  const auto& c = certs();
  session_options with_ca, without_ca;
  std::string why;
  ASSERT_FALSE(load_credentials(
      {.tls_cert = c.server_cert.string(), .tls_key = c.server_key.string(), .tls_ca = c.ca.string()}, true,
      with_ca, &why))
      << why;
  ASSERT_NE(with_ca.tls, nullptr);
  EXPECT_EQ(verify_mode(with_ca), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  ASSERT_FALSE(load_credentials({.tls_cert = c.server_cert.string(), .tls_key = c.server_key.string()}, true,
                                without_ca, &why))
      << why;
  ASSERT_NE(without_ca.tls, nullptr);
  EXPECT_EQ(verify_mode(without_ca), SSL_VERIFY_NONE);
}

TEST(tunnel_credentials, the_client_verifies_the_server_with_or_without_a_ca) {
  const auto& c = certs();
  session_options with_ca, system_cas;
  std::string why;
  ASSERT_FALSE(
      load_credentials({.tls_ca = c.ca.string(), .tls_server_name = "localhost"}, false, with_ca, &why))
      << why;
  ASSERT_NE(with_ca.tls, nullptr);
  EXPECT_EQ(verify_mode(with_ca), SSL_VERIFY_PEER);
  EXPECT_EQ(with_ca.tls_server_name, "localhost");
  ASSERT_FALSE(load_credentials({.tls_cert = c.client_cert.string(), .tls_key = c.client_key.string()}, false,
                                system_cas, &why))
      << why;
  ASSERT_NE(system_cas.tls, nullptr);
  EXPECT_EQ(verify_mode(system_cas), SSL_VERIFY_PEER);
}

TEST(tunnel_credentials, tls_before_1_2_is_refused) {
  const auto& c = certs();
  session_options session;
  std::string why;
  ASSERT_FALSE(load_credentials({.tls_ca = c.ca.string()}, false, session, &why)) << why;
  const auto options = ::SSL_CTX_get_options(session.tls->native_handle());
  EXPECT_NE(options & SSL_OP_NO_TLSv1, 0u);
  EXPECT_NE(options & SSL_OP_NO_TLSv1_1, 0u);
}

TEST(tunnel_credentials, a_file_tls_cannot_load_is_refused_with_the_reason) {
  scratch_dir dir;
  const auto& c = certs();
  session_options session;
  std::string why;
  const auto garbage = dir.file("garbage.pem", "not a certificate\n");
  const auto ec =
      load_credentials({.tls_cert = garbage, .tls_key = c.server_key.string()}, true, session, &why);
  EXPECT_TRUE(ec);
  EXPECT_EQ(why.rfind("cannot load the TLS files: ", 0), 0u) << why;
  EXPECT_GT(why.size(), std::string("cannot load the TLS files: ").size()) << why;
  EXPECT_EQ(session.tls, nullptr);
  EXPECT_TRUE(load_credentials({.tls_ca = garbage}, false, session, &why));
  EXPECT_EQ(why.rfind("cannot load the TLS files: ", 0), 0u) << why;
  EXPECT_EQ(session.tls, nullptr);
}
#endif

}  // namespace
