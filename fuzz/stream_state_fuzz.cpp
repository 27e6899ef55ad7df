// libFuzzer target: two stream_states (src/session/stream_state.hpp), A and B, joined by an in-order
// connection that carries DATA, ACK and CLOSE each way, driven by arbitrary sequences of writes, sends,
// receives, reads, shutdowns, connection resets (a resume: each side attach()es with the other's
// received()) and frames injected by an attacker. A model kept here beside each state predicts every
// answer; the invariants are checked after every step, and at the end both sides shut down and must
// finish the session (R17) unless an attacker's ACK acknowledged what the peer never received.
#include "fuzz_support.hpp"
#include "session/stream_state.hpp"

#include <lifeline/error.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

namespace {

using lifeline::fuzz::check;
using lifeline::fuzz::fail;
using lifeline::fuzz::input;

using lifeline::errc;
using lifeline::detail::stream_state;
namespace wire = lifeline::wire;

// The stream's content: the byte at offset o is (o*131+7)&255, which depends on o mod 256 only, so a
// table of 256 + max_payload bytes gives any run of stream bytes without copying. The attacker's garbage
// differs from the true content at every offset.
struct tables {
  std::vector<std::uint8_t> good, bad;
  tables() : good(256 + wire::max_payload), bad(good.size()) {
    for (std::size_t i = 0; i < good.size(); ++i) {
      good[i] = static_cast<std::uint8_t>(i * 131 + 7);
      bad[i] = good[i] ^ 0x5a;
    }
  }
};
const tables content;
const std::uint8_t* good_at(std::uint64_t o) { return content.good.data() + o % 256; }
const std::uint8_t* bad_at(std::uint64_t o) { return content.bad.data() + o % 256; }
bool genuine(std::uint64_t o, wire::bytes b) {
  return b.empty() || std::memcmp(b.data(), good_at(o), b.size()) == 0;
}

enum class kind { data, ack, close };
// A frame on the connection. A DATA frame's payload is the stream's content at its offset (checked when
// the sender produced it), so it is kept as offset and length only.
struct frame {
  kind k;
  std::uint64_t value;
  std::size_t size = 0;
};

// One side: its stream_state and the model of what it must hold.
struct side {
  side(std::size_t replay, std::size_t receive)
      : s(replay, receive), replay_capacity(replay), receive_capacity(receive) {}
  stream_state s;
  std::size_t replay_capacity, receive_capacity;
  std::uint64_t written = 0, acked = 0, sent_high = 0;
  bool shutdown = false, close_sent = false, fin_acked = false;
  std::uint64_t rx = 0, ack_sent = 0, read = 0;  // data bytes received, ACK value sent, bytes read
  bool rx_closed = false;
  std::deque<frame> in;  // frames on the way to this side
  std::uint64_t received() const { return rx + (rx_closed ? 1 : 0); }
};

struct snapshot {
  std::uint64_t v[6];
  std::size_t r[3];
  bool b[4];
  explicit snapshot(stream_state& s)
      : v{s.acked(), s.written(), s.sent(), s.sent_high(), s.received(), s.ack_sent()},
        r{s.replay().size(), s.receive_buffer().size(), s.replay_free()},
        b{s.shutdown_requested(), s.fin_acked(), s.peer_closed(), s.done()} {}
  bool operator==(const snapshot& o) const {
    return std::memcmp(v, o.v, sizeof v) == 0 && std::memcmp(r, o.r, sizeof r) == 0 &&
           std::equal(b, b + 4, o.b);
  }
};

bool is(std::error_code ec, errc e) { return ec == make_error_code(e); }

struct world {
  side a, b;
  bool tampered = false;  // an attacker's ACK was accepted: a genuine ACK behind it may be refused
  bool forged = false;    // ...and acknowledged units the peer had not received (R12 may then refuse)
  bool over = false;      // the session ended (a refusal that ends it, as the session would)
  world(std::size_t replay, std::size_t receive) : a(replay, receive), b(replay, receive) {}
  side& peer(side& x) { return &x == &a ? b : a; }

  void invariants(side& x) {
    side& y = peer(x);
    auto& s = x.s;
    check(s.written() == x.written && s.acked() == x.acked && s.sent_high() == x.sent_high, "outbound model");
    check(s.received() == x.received() && s.ack_sent() == x.ack_sent && s.peer_closed() == x.rx_closed,
          "inbound model");
    check(s.shutdown_requested() == x.shutdown && s.fin_acked() == x.fin_acked, "flags model");
    check(s.acked() <= s.sent_high(), "acked() > sent_high()");
    check(s.sent() <= s.sent_high(), "sent() > sent_high()");
    check(s.sent() <= s.written() + 1, "sent() > written()+1");
    check(s.sent_high() <= s.written() + (x.close_sent ? 1 : 0), "sent_high() beyond the stream");
    check(s.replay().size() == s.written() - std::min(s.acked(), s.written()),
          "replay holds not [acked, written)");
    check(s.replay_free() == x.replay_capacity - s.replay().size(), "replay_free()");
    check(s.awaiting_ack() == (s.sent_high() > s.acked()), "awaiting_ack()");
    check(s.received() <= y.s.sent_high(), "received() beyond the peer's sent_high()");
    check(s.ack_sent() <= s.received(), "ack_sent() > received()");
    check(s.ack_pending() == (s.received() > s.ack_sent()), "ack_pending()");
    check(s.ack_threshold_reached() == (s.received() - s.ack_sent() >= stream_state::ack_threshold),
          "ack_threshold_reached()");
    check(s.receive_buffer().size() == x.rx - x.read, "receive buffer holds not [read, received)");
    check(forged || s.acked() <= y.s.received(), "acknowledged what the peer did not receive");
    check(!x.rx_closed || (y.shutdown && y.close_sent), "a CLOSE the peer never sent");
    check(forged || !s.fin_acked() || y.rx_closed, "fin_acked() before the peer had the CLOSE");
    check(s.done() == (s.fin_acked() && s.peer_closed()), "done()");
    check(s.memory() == x.replay_capacity + x.receive_capacity, "memory()");
  }

  // The application writes n bytes (or fills prepare()d space), unless it shut its stream down.
  void write(side& x, std::size_t n, bool in_place) {
    if (x.shutdown) return;
    const auto free = x.s.replay_free();
    std::size_t took;
    if (in_place) {
      const auto span = x.s.replay().prepare();
      check(span.size() <= free && (span.size() > 0 || free == 0), "prepare()");
      took = std::min(n, span.size());
      std::memcpy(span.data(), good_at(x.written), took);
      x.s.commit(took);
    } else {
      took = x.s.write(good_at(x.written), n);
      check(took == std::min(n, free), "write() took the wrong count");
    }
    x.written += took;
  }

  // A batch to the peer: an ACK when ack_wanted(), up to `frames` DATA frames of `limit` bytes, a CLOSE.
  void send(side& x, bool timer_due, std::size_t limit, int frames) {
    auto& s = x.s;
    const bool sending_data = frames > 0 && s.sent() < s.written();
    const bool want = x.received() > x.ack_sent && (timer_due || sending_data || x.rx_closed ||
                                                    x.received() - x.ack_sent >= stream_state::ack_threshold);
    check(s.ack_wanted(timer_due, sending_data) == want, "ack_wanted()");
    if (want) {
      const auto v = s.take_ack();
      check(v == x.received(), "take_ack() is not received()");
      x.ack_sent = v;
      peer(x).in.push_back({kind::ack, v});
    }
    for (int i = 0; i < frames; ++i) {
      const auto before = s.sent();
      const auto c = s.next_data(limit);
      if (!c) {
        check(before >= s.written() && s.sent() == before, "next_data() sent nothing but had bytes");
        break;
      }
      const auto n = c->head.size() + c->tail.size();
      check(before < s.written(), "next_data() beyond written()");
      check(c->offset >= before && c->offset <= std::max(before, x.acked), "next_data() offset");
      check(n >= 1 && n <= limit && s.sent() == c->offset + n,
            "next_data(): its bytes are not the units it took");
      check(s.sent() <= s.written(), "next_data() beyond written()");
      check(genuine(c->offset, c->head) && genuine(c->offset + c->head.size(), c->tail),
            "next_data() content");
      x.sent_high = std::max(x.sent_high, s.sent());
      peer(x).in.push_back({kind::data, c->offset, n});
    }
    const auto before = s.sent();
    const auto close = s.next_close();
    check(close.has_value() == (x.shutdown && before == x.written), "next_close()");
    if (close) {
      check(*close == x.written && s.sent() == x.written + 1, "next_close() value");
      x.close_sent = true;
      x.sent_high = x.written + 1;
      peer(x).in.push_back({kind::close, *close});
    }
  }

  // A frame reaches y, from its peer (attacker false) or from an attacker. Returns false when y must
  // stop reading: R15, no room for a DATA frame's new bytes.
  bool receive(side& y, const frame& f, bool attacker, bool good = true) {
    side& x = peer(y);
    auto& s = y.s;
    const snapshot before(s);
    std::error_code ec;
    bool refuse;
    if (f.k == kind::data) {
      const wire::bytes payload(good ? good_at(f.value) : bad_at(f.value), f.size);
      refuse = y.rx_closed || f.value > y.received();
      const std::size_t fresh_n = refuse ? 0 : std::max(f.value + f.size, y.rx) - y.rx;
      if (!refuse) {
        check(s.fresh_bytes(f.value, f.size) == fresh_n, "fresh_bytes()");
        check(s.room_for(f.value, f.size) == (fresh_n <= s.receive_buffer().free()), "room_for()");
        if (!s.room_for(f.value, f.size)) return false;
      }
      wire::bytes fresh;
      ec = s.on_data(f.value, payload, fresh);
      if (!ec) {
        check(fresh.size() == fresh_n && (fresh_n == 0 || fresh.data() == payload.data() + (y.rx - f.value)),
              "on_data(): fresh is not the new bytes");
        check(genuine(y.rx, fresh), "on_data() delivered bytes not at their offset");
        check(s.receive_buffer().push(fresh.data(), fresh.size()) == fresh.size(), "receive buffer overflow");
        y.rx += fresh.size();
      }
    } else if (f.k == kind::ack) {
      refuse = f.value < y.acked || f.value > y.sent_high;
      stream_state::ack_effect e;
      ec = s.on_ack(f.value, e);
      if (!ec) {
        const bool fin = y.shutdown && f.value == y.written + 1 && !y.fin_acked;
        check(e.advanced == (f.value > y.acked) && e.fin_acked == fin, "on_ack() effect");
        if (attacker && f.value > y.acked) tampered = true;
        if (attacker && f.value > x.received()) forged = true;
        y.acked = f.value;
        y.fin_acked = y.fin_acked || fin;
      }
    } else {
      refuse = y.rx_closed ? f.value + 1 != y.received() : f.value != y.received();
      bool fresh;
      ec = s.on_close(f.value, fresh);
      if (!ec) {
        check(fresh == !y.rx_closed, "on_close() fresh");
        y.rx_closed = true;
      }
    }
    check(refuse == bool(ec), refuse ? "a frame R11-R17 refuse was accepted" : "a valid frame was refused");
    if (ec) {
      check(is(ec, errc::malformed_frame), "refused with something other than malformed_frame");
      check(snapshot(s) == before, "a refused frame changed the state");
      if (!attacker) {
        // A genuine frame is refused only behind an attacker's ACK: an ACK behind it, or DATA and CLOSE
        // after a gap where the sender took a forged ACK's word. The session ends the connection.
        check(f.k == kind::ack ? tampered : forged, "a genuine frame was refused");
        over = true;
      }
    }
    return true;
  }

  void deliver(side& y) {
    if (!y.in.empty() && receive(y, y.in.front(), false)) y.in.pop_front();
  }

  // The application reads up to n bytes: they must be the stream's next ones.
  void read(side& y, std::size_t n) {
    auto& ring = y.s.receive_buffer();
    const auto [head, tail] = ring.view(0, n);
    check(genuine(y.read, head) && genuine(y.read + head.size(), tail), "read bytes not the stream's");
    ring.consume(head.size() + tail.size());
    y.read += head.size() + tail.size();
  }

  // The connection breaks; the resume handshake tells each side what the other received (R12).
  void reset() {
    a.in.clear();
    b.in.clear();
    const auto ra = a.received(), rb = b.received();
    for (auto [x, peer_received] : {std::pair{&a, rb}, std::pair{&b, ra}}) {
      const snapshot before(x->s);
      stream_state::ack_effect e;
      std::uint64_t resent = 0;
      const auto ec = x->s.attach(peer_received, e, resent);
      if (peer_received < x->acked || peer_received > x->sent_high) {
        check(is(ec, errc::offset_out_of_range) && snapshot(x->s) == before,
              "attach() accepted a bad offset");
        check(forged, "attach() refused a genuine resume");
        over = true;
        return;
      }
      check(!ec, "attach() refused a valid offset");
      const bool fin = x->shutdown && peer_received == x->written + 1 && !x->fin_acked;
      check(e.advanced == (peer_received > x->acked) && e.fin_acked == fin, "attach() effect");
      check(resent == x->sent_high - peer_received && x->s.sent() == peer_received, "attach() rewind");
      x->acked = peer_received;
      x->fin_acked = x->fin_acked || fin;
      x->ack_sent = x->received();
    }
  }

  // An attacker's frame into y: any ACK; DATA and CLOSE only such as y must refuse or discard, or DATA
  // that repeats genuine bytes the peer sent (any other would be accepted, as it must be).
  void inject(side& y, input& in) {
    side& x = peer(y);
    const auto op = in.u8();
    const auto mode = op >> 2 & 3;
    std::uint64_t value = mode == 0 ? in.u64() : in.small();
    if (op % 3 == 0) {  // ACK
      value += mode == 1 ? y.acked : mode == 2 ? y.sent_high : mode == 3 ? x.received() : 0;
      receive(y, {kind::ack, value}, true);
    } else if (op % 3 == 1) {  // DATA
      if (mode != 0) value += y.received();
      std::size_t size = op & 16 ? in.u16() : in.u16() % 64 * (wire::max_payload >> 6);
      const bool good = op & 32;
      if (!y.rx_closed && value <= y.received()) {  // would be taken: keep its new bytes genuine ones
        const auto end = good ? std::max(std::min(x.sent_high, x.written), y.rx) : y.rx;
        size = std::min<std::uint64_t>(size, end - value);
      }
      receive(y, {kind::data, value, size}, true, good);
    } else {  // CLOSE
      if (mode != 0) value += y.received();
      if (!y.rx_closed && value == y.received()) ++value;
      receive(y, {kind::close, value}, true);
    }
  }

  // Both sides end their streams and run the connection until the session is over (R17).
  void finish() {
    a.shutdown = b.shutdown = true;
    a.s.request_shutdown();
    b.s.request_shutdown();
    for (int round = 0; round < 64 && !over && !(a.s.done() && b.s.done()); ++round) {
      for (side* x : {&a, &b}) send(*x, true, wire::max_payload, 1 << 20);
      while (!over && (!a.in.empty() || !b.in.empty())) {
        for (side* y : {&a, &b}) {
          read(*y, y->receive_capacity);
          deliver(*y);
          invariants(*y);
        }
      }
    }
    check(over || forged || (a.s.done() && b.s.done()), "the session did not finish");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  // The capacities: 64 KiB of replay (the session's least) and 96 KiB of receive buffer (any capacity no
  // smaller than the replay buffer's holds every DATA frame); or, rarely, as ASan maps such buffers afresh
  // in each run, 320 KiB, which lets unacknowledged bytes pass ack_threshold, and the 1 MiB the session
  // asks for (R15).
  const bool large = in.u8() % 16 == 15;
  world w(large ? 320u << 10 : 64u << 10, large ? wire::max_payload : 96u << 10);
  while (!in.empty() && !w.over) {
    const auto op = in.u8();
    side& x = op & 1 ? w.b : w.a;
    switch (op >> 1 & 15) {
      case 0:
      case 1:
        w.write(x, std::size_t{in.u8()} << (op >> 6) * 4, op & 32);
        break;  // up to 255, 4K, 64K or 1M
      case 2:
      case 3: {
        static constexpr std::size_t limits[] = {1, 7, 1000, 16384, 65536, wire::max_payload};
        const auto b = in.u8();
        w.send(x, b & 1, limits[(b >> 1 & 7) % 6], b >> 4);
        break;
      }
      case 4:
      case 5:
      case 6:
        w.deliver(x);
        break;
      case 7:
      case 8:
        w.read(x, op & 32 ? in.u16() : x.receive_capacity);
        break;
      case 9:
        x.shutdown = true;
        x.s.request_shutdown();
        break;
      case 10:
        w.reset();
        break;
      default:
        w.inject(x, in);
        break;
    }
    w.invariants(w.a);
    w.invariants(w.b);
  }
  if (!w.over) w.finish();
  return 0;
}
