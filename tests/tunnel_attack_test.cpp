// An attacker on the path of `lifeline tunnel` (docs/protocol.md sections 1, 3 and 8): a TCP proxy of the
// test's own between the real tunnel client and the real tunnel server. It reads the frames both ways and,
// seeded, changes one (and puts the checksum right), drops one, replays an earlier one (of the same
// connection, or of an earlier one in its place) or swaps two, on each of the first connections, and it
// records every byte that crossed it. With a pre-shared key every frame after the handshake is sealed
// (R21-R23): each attack fails a tag, is never delivered, and the connection is dropped and resumed, while
// the program's bytes arrive whole and unchanged and the recording holds none of them. Without a key
// (loopback) the same attacker reads the stream and rewrites it: the control that shows the attacker works
// and the checks can fail.
#include "support/chaos_harness.hpp"
#include "support/child_process.hpp"
#include "support/test_run.hpp"
#include "support/tunnel_ends.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio.hpp>
#include <boost/endian/conversion.hpp>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace lifeline::test;
using namespace std::chrono_literals;
using outcome = client::outcome;

const auto loopback = asio::ip::make_address("127.0.0.1");
const std::string plaintext = "PAY 100 TO ALICE", forged = "PAY 999 TO MALLO";

// Section 1: the header's layout; section 2: DATA to CLOSE are the frames of an established connection
// (the handshake's are 1 to 5, ERROR 11).
constexpr std::size_t header_size = 24;
constexpr std::uint8_t server_hello_type = 1, data_type = 6, first_stream_type = 6, last_stream_type = 10;

using frame = std::vector<std::uint8_t>;

std::uint64_t checksum_field(const frame& f) { return boost::endian::load_big_u64(f.data() + 16); }

// R1: XXH3-64 of header bytes 0..15 then the payload, written where a sender without a key writes it.
void recompute_checksum(frame& f) {
  frame covered(f.begin(), f.begin() + 16);
  covered.insert(covered.end(), f.begin() + header_size, f.end());
  boost::endian::store_big_u64(f.data() + 16, XXH3_64bits(covered.data(), covered.size()));
}

// Every plaintext in the frame's payload replaced by the forgery; how many.
int rewrite(frame& f) {
  int n = 0;
  for (auto at = std::search(f.begin() + header_size, f.end(), plaintext.begin(), plaintext.end());
       at != f.end();
       at = std::search(at + static_cast<long>(forged.size()), f.end(), plaintext.begin(), plaintext.end())) {
    std::copy(forged.begin(), forged.end(), at);
    ++n;
  }
  return n;
}

// replay_old: the frame at the same place in the same direction of an earlier connection, whose nonce
// (R23) is the one this frame has, in its place: it would open if keys were used again across resumes (R22).
enum class attack { tamper, drop, replay, replay_old, swap };
constexpr std::array<const char*, 5> attack_names = {"tamper", "drop", "replay", "replay_old", "swap"};

// A TCP proxy between the tunnel's ends on a thread of its own, that parses the frame stream both ways.
// On each of the first `attacked_connections` connections it makes one attack on one frame after the
// handshake, in a direction and at a frame the seed picks (a tamper waits for a DATA frame); it leaves the
// handshake alone. Its results are read once stop() has returned.
class attacker {
 public:
  struct options {
    std::uint64_t seed = 0;
    int attacked_connections = 0;
    bool rewrite_everything = false;  ///< the control: rewrite the plaintext in every DATA frame, no attack
    int hello_changed_on = 0;  ///< a connection whose SERVER_HELLO nonce is changed, checksum made right
  };

  attacker(tcp::endpoint server, options o) : server_(server), options_(o) {
    std::mt19937_64 rng(o.seed);
    std::shuffle(order_.begin(), order_.end(), rng);
    asio::co_spawn(io_, accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~attacker() { stop(); }
  attacker(const attacker&) = delete;
  attacker& operator=(const attacker&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  void stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  std::array<std::string, 2> seen;  ///< every byte read from the tunnel's ends: [0] client's, [1] server's
  std::array<int, 5> performed{};   ///< attacks whose frames went on to their receiver, by kind
  std::vector<std::string> log;     ///< one line for each of them
  int connections = 0;
  int unsealed = 0;   ///< frames after the handshake with a checksum rather than a tag
  int rewritten = 0;  ///< plaintexts rewritten by the control
  int hellos_changed = 0;

  int attacks() const { return std::accumulate(performed.begin(), performed.end(), 0); }

 private:
  struct plan {
    attack kind;
    bool upstream;  ///< client to server
    int at;         ///< the frame after the handshake, counting from 0
  };
  struct connection {
    int id;
    std::mt19937_64 rng;
    std::optional<plan> attack_plan;
    bool attacked = false;
    tcp::socket client, server;
  };
  struct direction {
    bool upstream = true;
    int frames = 0;                    ///< after the handshake so far
    frame previous;                    ///< the latest of them, for a replay
    std::optional<frame> held;         ///< for a swap, sent after the next one
    std::optional<attack> after_next;  ///< a drop or a swap, made when the next frame goes on
    /// An attack in this batch, made once its first `landed_end` bytes are written: up to the frame the
    /// receiver fails on (it may reset the connection there, before the rest of the batch is written).
    std::optional<attack> landed;
    std::size_t landed_end = 0;
    std::string how;
    void land(attack a, std::size_t end) {
      landed = a;
      landed_end = end;
    }
  };

  asio::awaitable<void> accept() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto c = std::make_shared<connection>(
          connection{++connections, {}, {}, false, std::move(s), tcp::socket(io_)});
      c->rng.seed(options_.seed * 1000003 + static_cast<std::uint64_t>(c->id));
      if (!options_.rewrite_everything && c->id <= options_.attacked_connections) {
        const bool upstream = c->rng() % 2 == 0;
        c->attack_plan = plan{order_[static_cast<std::size_t>(c->id - 1) % order_.size()], upstream,
                              1 + static_cast<int>(c->rng() % 4)};
      }
      asio::co_spawn(io_, serve(c), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<connection> c) {
    auto [ec] = co_await c->server.async_connect(server_, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return abort(*c);
    asio::co_spawn(io_, pipe(c, true), asio::detached);
    asio::co_spawn(io_, pipe(c, false), asio::detached);
  }

  // A reset at one end is passed to the other as a reset.
  static void abort(connection& c) {
    boost::system::error_code ignored;
    for (auto* s : {&c.client, &c.server}) {
      s->set_option(asio::socket_base::linger(true, 0), ignored);
      s->close(ignored);
    }
  }

  asio::awaitable<void> pipe(std::shared_ptr<connection> c, bool upstream) {
    auto& from = upstream ? c->client : c->server;
    auto& to = upstream ? c->server : c->client;
    direction d;
    d.upstream = upstream;
    std::vector<std::uint8_t> in, chunk(256 << 10);
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::eof) {
        boost::system::error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
      if (ec) co_return abort(*c);
      seen[upstream ? 0 : 1].append(reinterpret_cast<const char*>(chunk.data()), n);
      in.insert(in.end(), chunk.begin(), chunk.begin() + static_cast<long>(n));
      std::vector<std::uint8_t> out;
      std::size_t at = 0;
      while (in.size() - at >= header_size) {
        const auto size = header_size + boost::endian::load_big_u32(in.data() + at + 4);
        if (in.size() - at < size) break;
        pass(frame(in.begin() + static_cast<long>(at), in.begin() + static_cast<long>(at + size)), *c, d,
             out);
        at += size;
      }
      in.erase(in.begin(), in.begin() + static_cast<long>(at));
      boost::system::error_code wec;
      std::size_t written = 0;
      if (!out.empty())
        std::tie(wec, written) =
            co_await asio::async_write(to, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
      if (d.landed && written >= d.landed_end) {
        ++performed[static_cast<std::size_t>(*d.landed)];
        log.push_back(fmt::format("{:5} ms, connection {}: {} {} ({})", ms_since(start_), c->id,
                                  attack_names[static_cast<std::size_t>(*d.landed)],
                                  upstream ? "client to server" : "server to client", d.how));
        d.landed.reset();
      }
      if (wec) co_return abort(*c);
    }
  }

  // One frame read from `d`'s end: attacked or not, appended to what goes on.
  void pass(frame f, connection& c, direction& d, std::vector<std::uint8_t>& out) {
    const auto send = [&out](const frame& x) { out.insert(out.end(), x.begin(), x.end()); };
    const auto type = f[0];
    if (type == server_hello_type && c.id == options_.hello_changed_on) {
      f[header_size + 12] ^= 0x01;  // a bit of the server nonce (after magic 8 and versions 4)
      recompute_checksum(f);
      ++hellos_changed;
    }
    if (type < first_stream_type || type > last_stream_type) return send(f);  // the handshake, ERROR
    if (checksum_field(f) != 0) ++unsealed;
    const int index = d.frames++;
    if (options_.rewrite_everything) {
      if (type == data_type && d.upstream) {
        const int n = rewrite(f);
        if (n > 0 && checksum_field(f) != 0) recompute_checksum(f);
        rewritten += n;
      }
      return send(f);
    }
    if (d.after_next) {  // a drop or a swap: the receiver finds it on this frame
      send(f);
      d.land(*d.after_next, out.size());
      if (d.held) send(*d.held);
      d.held.reset();
      d.after_next.reset();
      d.previous = std::move(f);
      return;
    }
    auto& earlier = earlier_[d.upstream ? 0 : 1];
    const auto& p = c.attack_plan;
    if (!p || c.attacked || p->upstream != d.upstream || index < p->at ||
        (p->kind == attack::tamper && type != data_type) ||
        (p->kind == attack::replay_old && !earlier.contains(index) && index < remembered)) {
      send(f);
      if (index < remembered) earlier[index] = {c.id, f};
      d.previous = std::move(f);
      return;
    }
    c.attacked = true;
    // A replay_old with no earlier frame at its place (the first connection, say) replays this one's.
    const auto kind = p->kind == attack::replay_old && !earlier.contains(index) ? attack::replay : p->kind;
    switch (kind) {
      case attack::tamper:
        d.how = tamper(f, c.rng);
        send(f);
        d.land(attack::tamper, out.size());
        break;
      case attack::drop:
        d.how = fmt::format("frame {} of type {}", index, type);
        d.after_next = attack::drop;
        break;
      case attack::replay:  // index >= 1: an earlier frame exists
        d.how = fmt::format("frame {} of type {} again before frame {}", index - 1, d.previous[0], index);
        send(d.previous);
        d.land(attack::replay, out.size());
        send(f);
        break;
      case attack::replay_old:
        d.how = fmt::format("frame {} of type {} of connection {} in place of one of type {}", index,
                            earlier[index].second[0], earlier[index].first, type);
        send(earlier[index].second);
        d.land(attack::replay_old, out.size());
        break;
      case attack::swap:
        d.how = fmt::format("frame {} of type {} after the next", index, type);
        d.held = std::move(f);
        d.after_next = attack::swap;
        break;
    }
  }

  // Changes a DATA frame's payload (the plaintext into the forgery where it can be seen, else a bit) or,
  // now and then, its value; the checksum is made right again if the frame has one.
  static std::string tamper(frame& f, std::mt19937_64& rng) {
    std::string how;
    const auto bit = static_cast<std::uint8_t>(1u << (rng() % 8));
    if (int n = rewrite(f); n > 0) {
      how = fmt::format("{} plaintexts rewritten", n);
    } else if (rng() % 4 == 0) {
      const auto at = 8 + rng() % 8;
      f[at] ^= bit;
      how = fmt::format("value byte {} flipped", at - 8);
    } else {
      const auto at = header_size + rng() % (f.size() - header_size);
      f[at] ^= bit;
      how = fmt::format("payload byte {} of {} flipped", at - header_size, f.size() - header_size);
    }
    if (checksum_field(f) != 0) {
      recompute_checksum(f);
      how += ", checksum recomputed";
    }
    return how;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {loopback, 0}};
  tcp::endpoint server_;
  options options_;
  std::array<attack, 5> order_ = {attack::tamper, attack::drop, attack::replay, attack::replay_old,
                                  attack::swap};
  /// For a replay_old, by direction and place: the latest connection to get there and its frame.
  static constexpr int remembered = 8;
  std::array<std::map<int, std::pair<int, frame>>, 2> earlier_;
  steady::time_point start_ = steady::now();
  std::thread thread_;
};

// The program's stream: `lines` lines "PAY 100 TO ALICE <n>\n", each followed by 16 KiB of seeded random
// bytes, sent in that many pieces.
std::vector<std::string> program_stream(std::uint64_t seed, int lines) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> pieces;
  for (int i = 0; i < lines; ++i) {
    std::string piece = plaintext + " " + std::to_string(i) + "\n";
    for (int j = 0; j < (16 << 10); ++j) piece += static_cast<char>(rng());
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

// A 64-hex-character key in a file only its owner may read.
std::string write_key(const scratch_dir& dir, std::uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x5eed);
  std::string key;
  for (int i = 0; i < 4; ++i) key += fmt::format("{:016x}", rng());
  const auto path = (dir.path / "psk").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(fd, 0) << path;
  EXPECT_EQ(::fchmod(fd, 0600), 0);  // whatever the umask
  EXPECT_EQ(::write(fd, key.data(), key.size()), static_cast<ssize_t>(key.size()));
  ::close(fd);
  return path;
}

// What one run of a program through the attacker gave.
struct run_result {
  std::string sent, at_target, echoed;
  outcome end = outcome::error;
  long long elapsed_ms = 0;
  bool both_up = false;
  std::string client_log, server_log;
  int client_status = -1, server_status = -1;
  std::unique_ptr<attacker> proxy;  ///< stopped
};

// The target echoes every byte back and keeps a copy.
struct recording_target {
  std::mutex m;
  std::string bytes;
  upstream_server server{[this](tcp::socket s) -> asio::awaitable<void> {
    char buffer[65536];
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      {
        const std::lock_guard lock(m);
        bytes.append(buffer, n);
      }
      auto [wec, w] =
          co_await asio::async_write(s, asio::buffer(buffer, n), asio::as_tuple(asio::use_awaitable));
      if (wec) co_return;
    }
  }};
  std::string received() {
    const std::lock_guard lock(m);
    return bytes;
  }
};

// A program sends the stream through the tunnel, a piece every few milliseconds so that it lasts while the
// attacks and their resumes happen, then half-closes; it reads the echo to its end. 45 s at most.
run_result run_through_attacker(std::uint64_t seed, attacker::options o, const std::string& psk_file) {
  run_result r;
  recording_target target;
  tunnel_ends t;
  t.between = [&](const std::string& server) {
    r.proxy = std::make_unique<attacker>(parse_endpoint(server), o);
    return r.proxy->address();
  };
  std::vector<std::string> args = {"--heartbeat-ms", "100", "--timeout-ms", "1000", "--deadline-s", "30"};
  if (!psk_file.empty()) args.insert(args.end(), {"--psk-file", psk_file});
  if (!t.start(target.server.endpoint().port(), 0, args)) {
    ADD_FAILURE() << t.problem;
    return r;
  }
  const auto pieces = program_stream(seed, 200);
  for (const auto& p : pieces) r.sent += p;
  const auto start = steady::now();
  client program({loopback, t.port});
  std::thread writer([&] {
    for (const auto& p : pieces) {
      if (!program.send(p)) return;
      std::this_thread::sleep_for(15ms);
    }
    boost::system::error_code ignored;
    program.socket().shutdown(tcp::socket::shutdown_send, ignored);
  });
  r.end = program.read_to_end(r.echoed, 45000ms);
  r.elapsed_ms = ms_since(start);
  boost::system::error_code ignored;
  program.socket().shutdown(tcp::socket::shutdown_both, ignored);  // a writer stuck on a hung tunnel stops
  writer.join();
  r.at_target = target.received();
  r.both_up = t.client->running() && t.server->running();
  r.client_status = t.client->stop(SIGTERM);
  r.server_status = t.server->stop(SIGTERM);
  r.client_log = t.client->output();
  r.server_log = t.server->output();
  r.proxy->stop();
  return r;
}

// 16-byte windows of the random data, one from each piece: what an eavesdropper must not find.
std::vector<std::string> windows_of(const run_result& r) {
  std::vector<std::string> w;
  for (std::size_t at = 1000; at + 16 <= r.sent.size(); at += (16 << 10) + 21)
    w.push_back(r.sent.substr(at, 16));
  return w;
}

std::size_t windows_found(const run_result& r) {
  std::size_t found = 0;
  for (const auto& w : windows_of(r)) {
    if (r.proxy->seen[0].find(w) != std::string::npos || r.proxy->seen[1].find(w) != std::string::npos)
      ++found;
  }
  return found;
}

std::size_t plaintext_seen(const run_result& r) {
  return count_lines(r.proxy->seen[0], plaintext) + count_lines(r.proxy->seen[1], plaintext);
}

TEST(tunnel_attack, with_a_key_no_frame_changed_dropped_replayed_or_swapped_on_the_path_is_delivered) {
  const auto seed = test_seed(20240601);
  scratch_dir dir("attack");
  constexpr int attacked = 15, at_least = 10;
  const auto r =
      run_through_attacker(seed, {.seed = seed, .attacked_connections = attacked}, write_key(dir, seed));
  ASSERT_TRUE(r.proxy) << "the tunnel did not start";
  const auto& a = *r.proxy;
  for (const auto& line : a.log) std::printf("attacker: %s\n", line.c_str());
  const auto integrity = count_lines(r.client_log, "frame failed its checksum") +
                         count_lines(r.server_log, "frame failed its checksum");
  const auto resumes = count_lines(r.client_log, "resumed after");
  std::string kinds;
  for (std::size_t k = 0; k < attack_names.size(); ++k)
    kinds += fmt::format("{} {}, ", a.performed[k], attack_names[k]);
  std::printf(
      "%zu bytes in %lld ms over %d connections; attacks: %s%zu frames failed their tag; tunnel client: %zu "
      "resets, %zu resumes; tunnel server: %zu resets, %zu resumes\n",
      r.sent.size(), r.elapsed_ms, a.connections, kinds.c_str(), integrity,
      count_lines(r.client_log, "connection reset:"), resumes, count_lines(r.server_log, "connection reset:"),
      count_lines(r.server_log, "resumed after"));

  // (1) The stream arrived whole, in order and unchanged, both ways.
  EXPECT_EQ(r.end, outcome::eof) << "the echo did not end cleanly\n" << r.client_log;
  EXPECT_EQ(r.at_target.size(), r.sent.size());
  EXPECT_TRUE(r.at_target == r.sent) << "the target received other bytes than were sent";
  EXPECT_TRUE(r.echoed == r.sent) << "the program received other bytes than the target echoed";
  EXPECT_EQ(count_lines(r.at_target, "PAY 999"), 0u);
  EXPECT_EQ(count_lines(r.at_target, "MALLO"), 0u);
  // (2) Nothing of it was readable on the path: every frame after the handshake sealed.
  EXPECT_EQ(a.unsealed, 0);
  EXPECT_EQ(plaintext_seen(r), 0u);
  EXPECT_EQ(windows_found(r), 0u) << "of " << windows_of(r).size() << " windows of the random data";
  // (3) The attacks happened, and each was caught by a tag and cost a resume.
  EXPECT_GE(a.performed[static_cast<std::size_t>(attack::tamper)], 1);
  EXPECT_GE(a.attacks(), at_least);
  EXPECT_LE(a.attacks(), attacked);
  EXPECT_EQ(integrity, static_cast<std::size_t>(a.attacks())) << r.client_log << r.server_log;
  EXPECT_GE(resumes, static_cast<std::size_t>(a.attacks())) << r.client_log;
  // (4) Both ends stayed up and stopped cleanly; no session failed.
  EXPECT_TRUE(r.both_up);
  EXPECT_EQ(r.client_status, 0) << r.client_log;
  EXPECT_EQ(r.server_status, 0) << r.server_log;
  EXPECT_EQ(count_lines(r.client_log, "session failed"), 0u) << r.client_log;
  EXPECT_EQ(count_lines(r.server_log, "session failed"), 0u) << r.server_log;
}

// The control: the same attacker, path and program without a key (allowed on loopback). The frames carry
// only a checksum, which the attacker recomputes: it reads the plaintext, and its forgery is delivered.
TEST(tunnel_attack, without_a_key_the_same_attacker_reads_and_rewrites_the_stream) {
  const auto seed = test_seed(20240601);
  const auto r = run_through_attacker(seed, {.seed = seed, .rewrite_everything = true}, "");
  ASSERT_TRUE(r.proxy) << "the tunnel did not start";
  const auto& a = *r.proxy;
  std::printf("%zu bytes in %lld ms; %zu plaintexts seen on the path, %d rewritten, %zu arrived forged\n",
              r.sent.size(), r.elapsed_ms, plaintext_seen(r), a.rewritten, count_lines(r.at_target, forged));
  EXPECT_NE(r.server_log.find("no pre-shared key"), std::string::npos) << r.server_log;
  EXPECT_GT(a.unsealed, 0);
  EXPECT_GT(plaintext_seen(r), 0u);
  // A window that a frame's header splits is not found as it is; most are.
  EXPECT_GE(2 * windows_found(r), windows_of(r).size());
  EXPECT_GT(a.rewritten, 0);
  EXPECT_EQ(count_lines(r.at_target, forged), static_cast<std::size_t>(a.rewritten));
  EXPECT_EQ(r.at_target.size(), r.sent.size());
  EXPECT_EQ(count_lines(r.client_log, "frame failed its checksum") +
                count_lines(r.server_log, "frame failed its checksum"),
            0u);
}

// A handshake changed on the path (R19): the resume after the first attack meets a SERVER_HELLO whose
// nonce the attacker changed and whose checksum it made right, so the proofs fail. That attempt is
// refused and the next one resumes: one changed bit costs a retry, never the session.
TEST(tunnel_attack, a_resume_whose_handshake_was_changed_on_the_path_is_retried) {
  const auto seed = test_seed(20240601);
  scratch_dir dir("attack-hello");
  const auto r = run_through_attacker(seed, {.seed = seed, .attacked_connections = 1, .hello_changed_on = 2},
                                      write_key(dir, seed));
  ASSERT_TRUE(r.proxy) << "the tunnel did not start";
  const auto& a = *r.proxy;
  std::printf("%d connections, %d attacks, %d SERVER_HELLO changed\n", a.connections, a.attacks(),
              a.hellos_changed);
  EXPECT_EQ(a.attacks(), 1);
  EXPECT_EQ(a.hellos_changed, 1);
  EXPECT_GE(a.connections, 3) << "the changed handshake's attempt, then another";
  EXPECT_GE(count_lines(r.server_log, "resume proof did not verify"), 1u) << r.server_log;
  EXPECT_EQ(r.end, outcome::eof) << r.client_log;
  EXPECT_TRUE(r.at_target == r.sent) << "the target received other bytes than were sent";
  EXPECT_TRUE(r.echoed == r.sent);
  EXPECT_EQ(count_lines(r.client_log, "session failed"), 0u) << r.client_log;
  EXPECT_EQ(r.client_status, 0) << r.client_log;
}

}  // namespace
