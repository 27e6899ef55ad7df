// The pieces that go with tunnel_options, without a tunnel running: the counters a session's events feed,
// and the key file and TLS files an operator names, with the reason for each one refused.
#include "support/scratch_dir.hpp"

#include <lifeline/tunnel.hpp>

#include <gtest/gtest.h>

#ifdef LIFELINE_WITH_TLS
#include "support/certs.hpp"

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>
#endif

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

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

using lifeline::test::scratch_dir;

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
  EXPECT_EQ(why, "the key in '" + file +
                     "' is shorter than 16 bytes (15); `lifeline keygen FILE` writes a good one");
  EXPECT_EQ(why.find("0123456789abcde"), std::string::npos) << "the key itself is never shown";
  EXPECT_TRUE(session.psk.empty());
  const auto exact = dir.file("exact", "0123456789abcdef\n");
  EXPECT_FALSE(load_credentials({.psk_file = exact}, false, session, &why)) << why;
  EXPECT_EQ(session.psk, "0123456789abcdef");
}

// Loads a key file that must be refused: the reason must start with `reason` and never show the key.
void expect_refused(const std::string& file, const std::string& key_text, const std::string& reason) {
  session_options session;
  std::string why;
  EXPECT_EQ(load_credentials({.psk_file = file}, true, session, &why), errc::invalid_argument) << file;
  EXPECT_EQ(why.rfind(reason, 0), 0u) << why;
  EXPECT_EQ(why.find(key_text), std::string::npos) << "the key is shown: " << why;
  EXPECT_TRUE(session.psk.empty());
}

TEST(tunnel_credentials, a_key_file_holding_a_nul_or_a_control_character_is_refused) {
  scratch_dir dir;
  const std::string secret = "secret-key-material";
  const auto binary = dir.file("binary", secret + std::string("\0\x01\xff\x7f", 4) + secret);
  expect_refused(binary, secret,
                 "the key in '" + binary +
                     "' holds a NUL at byte 20 of 42: is it a binary file? (a key is one "
                     "line of text, as `lifeline keygen` writes)");
  const auto tab = dir.file("tab", secret + "\t" + secret + "\n");
  expect_refused(tab, secret, "the key in '" + tab + "' holds a control character (0x09) at byte 20 of 39");
  const auto escape = dir.file("escape", secret + "\x1b[0m");
  expect_refused(escape, secret, "the key in '" + escape + "' holds a control character (0x1b) at byte 20");
}

TEST(tunnel_credentials, a_key_file_of_more_than_one_line_is_refused) {
  scratch_dir dir;
  // A PEM private key named by mistake, and two keys pasted one after the other.
  const std::string body = "MC4CAQAwBQYDK2VwBCIEIGZ0ZXN0LWtleS1ub3QtYS1yZWFsLWtleS0wMDAw";
  const auto pem = dir.file("pem", "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n");
  expect_refused(pem, body,
                 "the key in '" + pem +
                     "' has more than one line (114 bytes): is it the right file? (a key is "
                     "one line of text, as `lifeline keygen` writes)");
  const std::string first = "0123456789abcdef0123", second = "fedcba9876543210fedc";
  const auto two = dir.file("two", first + "\r\n" + second + "\r\n");
  expect_refused(two, first, "the key in '" + two + "' has more than one line");
  expect_refused(two, second, "the key in '" + two + "' has more than one line");
}

TEST(tunnel_credentials, a_key_file_over_64_kib_is_refused_unread) {
  scratch_dir dir;
  const auto big = dir.file("big", std::string(64 * 1024 + 1, 'k'));
  expect_refused(big, "kkkkkkkkkkkkkkkk",
                 "the key file '" + big + "' is over 64 KiB: not a key (a key is one line of text)");
}

TEST(tunnel_credentials, the_environment_s_key_is_named_as_such) {
  std::string key = "unchanged", why;
  EXPECT_EQ(lifeline::parse_key("short-key", "LIFELINE_PSK", key, &why), errc::invalid_argument);
  EXPECT_EQ(why,
            "the key in LIFELINE_PSK is shorter than 16 bytes (9); `lifeline keygen FILE` writes a good one");
  EXPECT_EQ(lifeline::parse_key("first line of it\nsecond", "LIFELINE_PSK", key, &why),
            errc::invalid_argument);
  EXPECT_EQ(why.rfind("the key in LIFELINE_PSK has more than one line (23 bytes)", 0), 0u) << why;
  EXPECT_EQ(key, "unchanged");
  EXPECT_FALSE(lifeline::parse_key("0123456789abcdef \n", "LIFELINE_PSK", key, &why)) << why;
  EXPECT_EQ(key, "0123456789abcdef");
}

// POSIX only: Windows has no mode bits to check (NTFS ACLs are not checked; docs/windows.md).
#ifndef _WIN32
TEST(tunnel_credentials, a_key_file_others_can_read_is_refused_with_chmod_600) {
  using std::filesystem::perms;
  scratch_dir dir;
  const std::string key = "0123456789abcdef-secret";
  const auto everyone =
      dir.file("0644", key, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
  expect_refused(
      everyone, key,
      "the key file '" + everyone + "' is readable by others (mode 0644); run chmod 600 '" + everyone + "'");
  const auto group = dir.file("0640", key, perms::owner_read | perms::owner_write | perms::group_read);
  expect_refused(
      group, key,
      "the key file '" + group + "' is readable by others (mode 0640); run chmod 600 '" + group + "'");
  const auto writable = dir.file("0602", key, perms::owner_read | perms::owner_write | perms::others_write);
  expect_refused(writable, key,
                 "the key file '" + writable + "' is accessible by others (mode 0602); run chmod 600 '" +
                     writable + "'");
}

TEST(tunnel_credentials, a_key_file_only_its_owner_can_read_is_accepted) {
  using std::filesystem::perms;
  scratch_dir dir;
  for (const auto mode : {perms::owner_read | perms::owner_write, perms::owner_read}) {
    session_options session;
    std::string why;
    const auto file = dir.file("key", "0123456789abcdef-secret\n", mode);
    EXPECT_FALSE(load_credentials({.psk_file = file}, false, session, &why)) << why;
    EXPECT_EQ(session.psk, "0123456789abcdef-secret");
    std::filesystem::permissions(file, perms::owner_all);  // rewritten by the next round
  }
}
#endif

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
