// lifeline's demonstration: a data source and sink joined by a tunnel client and server, with the chaos
// proxy between them breaking the link again and again; the stream arrives whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace lifeline {

struct demo_options {
  /// How long the source streams; it then half-closes and the demo waits for the sink.
  std::chrono::milliseconds duration{20000};
  /// Stop streaming earlier once this many bytes are sent; 0: no limit.
  std::uint64_t max_bytes = 0;
  /// Faults injected per second on average (resets and black holes, half each).
  double fault_rate = 0.5;
  /// R16: the tunnel's heartbeat timeout, the bound on detecting a black hole.
  std::chrono::milliseconds detection_bound{1000};
  /// Seeds the fault schedule, the chaos proxy and the data; 0 draws one.
  std::uint64_t seed = 0;
};

/// What a progress callback and the final report see.
struct demo_progress {
  std::chrono::milliseconds elapsed{0};
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  unsigned resets_injected = 0;
  unsigned black_holes_injected = 0;
  unsigned link_failures_seen = 0;  ///< by the tunnel client's session
  unsigned resumes = 0;
  std::uint64_t bytes_resent = 0;
  std::chrono::milliseconds last_detection{0};  ///< black hole to reset event
  std::chrono::milliseconds last_resume{0};     ///< reset event to resumed
  std::string event;                            ///< the latest thing that happened, for a person
};

struct demo_report {
  demo_progress final;
  std::uint64_t seed = 0;
  std::string sha256_sent;
  std::string sha256_received;
  bool complete = false;  ///< every byte arrived, once, in order, and the sink saw the end
  std::chrono::milliseconds max_detection{0};
  std::chrono::milliseconds median_detection{0};
  std::chrono::milliseconds median_resume{0};
  std::chrono::milliseconds max_resume{0};
  std::string error;  ///< why the demo could not run, if it could not
};

/// Runs the demo on the calling thread; `progress` is called about twice a second and for each event.
demo_report run_demo(const demo_options& options, const std::function<void(const demo_progress&)>& progress);

}  // namespace lifeline
