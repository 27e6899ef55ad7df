// `lifeline keygen FILE`: a new pre-shared key for `lifeline tunnel --psk-file`: 32 bytes from the
// system's cryptographic generator as 64 lower-case hex digits and a newline, in a file that only its
// owner may read or write from the moment it exists.
#include "commands.hpp"

// The session's random bytes (OpenSSL, or CNG on Windows), from the library's private headers.
#include "session/crypto.hpp"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

namespace lifeline::cli {
namespace {

struct keygen_args {
  std::string file;
  bool force = false;
};

std::error_code last_error() { return {errno, std::generic_category()}; }

// Creates `path` for writing unless it exists. POSIX: with mode 0600 from the start, so that it is never
// readable by others, not even briefly. Windows: a plain exclusive create (NTFS ACLs are not set here).
int create_exclusive(const std::string& path) {
#ifdef _WIN32
  return ::_open(path.c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::fchmod(fd, 0600);  // 0600 exactly, whatever the umask took from the owner
  return fd;
#endif
}

// Writes all of `text` to `fd`, flushes it to the disk and closes it; the first error, if any.
std::error_code write_and_close(int fd, const std::string& text) {
  std::error_code ec;
  for (std::size_t done = 0; !ec && done < text.size();) {
#ifdef _WIN32
    const auto n = ::_write(fd, text.data() + done, static_cast<unsigned>(text.size() - done));
#else
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
#endif
    if (n <= 0) ec = n < 0 ? last_error() : std::make_error_code(std::errc::io_error);
    if (n > 0) done += static_cast<std::size_t>(n);
  }
#ifdef _WIN32
  if (!ec && ::_commit(fd) != 0) ec = last_error();
  if (::_close(fd) != 0 && !ec) ec = last_error();
#else
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  if (::close(fd) != 0 && !ec) ec = last_error();
#endif
  return ec;
}

int fail(const std::string& why) {
  fmt::print(stderr, "lifeline keygen: {}\n", why);
  return exit_failure;
}

int run_keygen(const keygen_args& a) {
  wire::digest key;
  try {
    detail::random_bytes(key);
  } catch (const std::runtime_error& e) {
    return fail(fmt::format("the system's random generator failed: {}", e.what()));
  }
  const auto text = detail::to_hex(key) + "\n";
  key.fill(0);
  if (a.file == "-") {
    fmt::print("{}", text);
    std::fflush(stdout);
    return exit_ok;
  }
  // --force writes a file of its own beside FILE and renames it over FILE, so that FILE is at every moment
  // either the old key or the new one, never a part of one.
  const auto target = a.force ? fmt::format("{}.tmp-{:016x}", a.file, detail::random_u64()) : a.file;
  const int fd = create_exclusive(target);
  if (fd < 0 && errno == EEXIST && !a.force) {
    return fail(fmt::format("'{}' exists; give --force to replace the key in it", a.file));
  }
  if (fd < 0) return fail(fmt::format("cannot create '{}': {}", target, last_error().message()));
  std::error_code ec = write_and_close(fd, text);
  if (!ec && a.force) std::filesystem::rename(target, a.file, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(target, ignored);
    return fail(fmt::format("cannot write '{}': {}", a.file, ec.message()));
  }
#ifdef _WIN32
  const char* mode = "";
#else
  const char* mode = " (mode 0600)";
#endif
  fmt::print(stderr,
             "lifeline keygen: wrote a new 256-bit key to {}{}; give it to both ends with --psk-file\n",
             a.file, mode);
  return exit_ok;
}

}  // namespace

command add_keygen(CLI::App& app) {
  auto args = std::make_shared<keygen_args>();
  auto* sub = app.add_subcommand("keygen", "Write a new pre-shared key for `lifeline tunnel --psk-file`");
  sub->add_option("file", args->file,
                  "File to create, readable by its owner only (mode 0600); - prints the key instead")
      ->required();
  sub->add_flag("--force", args->force,
                "Replace the file if it exists (atomically: a new file is renamed over it)");
  return {sub, [args] { return run_keygen(*args); }};
}

}  // namespace lifeline::cli
