// `lifeline demo`: lifeline's main job on built-in defaults. A stream crosses a tunnel whose link the
// chaos proxy keeps breaking; live progress, then a report that everything arrived.
#include "commands.hpp"

#include "run_demo.hpp"

#include <fmt/core.h>

#include <memory>

#include <unistd.h>

namespace lifeline::cli {
namespace {

struct demo_args {
  double duration_s = 20;
  std::uint64_t size_mib = 0;
  double fault_rate = 0.5;
  unsigned bound_ms = 1000;
  std::uint64_t seed = 0;
};

std::string size(std::uint64_t bytes) {
  if (bytes >= (1ull << 30)) return fmt::format("{:.2f} GiB", bytes / double(1ull << 30));
  return fmt::format("{:.1f} MiB", bytes / double(1ull << 20));
}

int run_demo_command(const demo_args& a) {
  demo_options o;
  o.duration = std::chrono::milliseconds(static_cast<long>(a.duration_s * 1000));
  o.max_bytes = a.size_mib << 20;
  o.fault_rate = a.fault_rate;
  o.detection_bound = std::chrono::milliseconds(a.bound_ms);
  o.seed = a.seed;
  const bool tty = ::isatty(1) != 0;
  fmt::print("lifeline demo: source -> tunnel client -> chaos proxy -> tunnel server -> sink\n");
  fmt::print("streaming for {} s{}, {} faults/s (resets and black holes), detection bound {} ms\n",
             a.duration_s, a.size_mib ? fmt::format(" or {} MiB", a.size_mib) : "", a.fault_rate, a.bound_ms);
  std::fflush(stdout);
  auto last_line = std::chrono::milliseconds(-2000);
  const auto report = run_demo(o, [&](const demo_progress& p) {
    const auto status =
        fmt::format("[{:5.1f}s] sent {:>10}  received {:>10}  faults {:2}  link lost {:2}  resumed {:2}",
                    p.elapsed.count() / 1000.0, size(p.bytes_sent), size(p.bytes_received),
                    p.resets_injected + p.black_holes_injected, p.link_failures_seen, p.resumes);
    if (!p.event.empty()) {
      fmt::print("{}[{:5.1f}s] {}\n", tty ? "\r\033[K" : "", p.elapsed.count() / 1000.0, p.event);
    }
    if (tty) {
      fmt::print("\r\033[K{}", status);
    } else if (p.elapsed - last_line >= std::chrono::milliseconds(2000) && p.event.empty()) {
      fmt::print("{}\n", status);
      last_line = p.elapsed;
    }
    std::fflush(stdout);
  });
  if (tty) fmt::print("\n");
  const auto& f = report.final;
  fmt::print("\nreport (seed {}; replay with --seed {}):\n", report.seed, report.seed);
  if (!report.error.empty()) fmt::print("  error            {}\n", report.error);
  fmt::print("  everything arrived  {}: {} sent, {} received{}\n", report.complete ? "yes" : "NO",
             size(f.bytes_sent), size(f.bytes_received),
             report.complete ? ", each byte once and in order" : "");
  fmt::print("  SHA-256 sent        {}\n  SHA-256 received    {}\n", report.sha256_sent,
             report.sha256_received);
  fmt::print(
      "  faults injected     {} resets, {} black holes; the link was lost {} times and resumed {} times\n",
      f.resets_injected, f.black_holes_injected, f.link_failures_seen, f.resumes);
  if (f.black_holes_injected > 0) {
    fmt::print(
        "  detection           black holes detected in {} ms median, {} ms max (heartbeat timeout {} ms)\n",
        report.median_detection.count(), report.max_detection.count(), a.bound_ms);
  }
  if (f.resumes > 0) {
    fmt::print("  resume              {} ms median, {} ms max from losing the link; {} resent\n",
               report.median_resume.count(), report.max_resume.count(), size(f.bytes_resent));
  }
  fmt::print("  took                {:.1f} s\n", f.elapsed.count() / 1000.0);
  return report.complete ? exit_ok : exit_failure;
}

}  // namespace

command add_demo(CLI::App& app) {
  auto a = std::make_shared<demo_args>();
  auto* sub =
      app.add_subcommand("demo", "Stream data through a tunnel while its link is broken again and again");
  sub->add_option("--duration", a->duration_s, "Seconds to stream (default 20)")
      ->check(CLI::Range(1.0, 3600.0));
  sub->add_option("--size", a->size_mib, "Stop after this many MiB (default: no limit)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--fault-rate", a->fault_rate, "Faults per second (default 0.5; 0 for none)")
      ->check(CLI::Range(0.0, 20.0));
  sub->add_option("--bound-ms", a->bound_ms,
                  "Heartbeat timeout: the black-hole detection bound (default 1000)")
      ->check(CLI::Range(100, 60000));
  sub->add_option("--seed", a->seed,
                  "Seed for the faults, the proxy and the data (default: drawn and printed)");
  return {sub, [a] { return run_demo_command(*a); }};
}

}  // namespace lifeline::cli
