// Makes a throwaway certificate authority, a server certificate for "localhost" and a client
// certificate with the openssl command, for tests of TLS transports.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace lifeline::test {

struct test_certs {
  std::filesystem::path dir;
  std::filesystem::path ca, server_cert, server_key, client_cert, client_key, other_ca;

  /// Returns false when the openssl command failed.
  bool make() {
    dir = std::filesystem::temp_directory_path() / ("lifeline-certs-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    ca = dir / "ca.pem";
    other_ca = dir / "other-ca.pem";
    server_cert = dir / "server.pem";
    server_key = dir / "server.key";
    client_cert = dir / "client.pem";
    client_key = dir / "client.key";
    const std::string d = dir.string();
    const std::string script =
        "set -e; cd '" + d +
        "'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lifeline-test-ca -keyout ca.key -out "
        "ca.pem; "
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other-ca.key -out "
        "other-ca.pem; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext; "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext "
        "-out "
        "server.pem; "
        "openssl req -newkey rsa:2048 -nodes -subj /CN=lifeline-test-client -keyout client.key -out "
        "client.csr; "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem";
    return std::system(("sh -c \"" + script + "\" >/dev/null 2>&1").c_str()) == 0;
  }

  ~test_certs() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

}  // namespace lifeline::test
