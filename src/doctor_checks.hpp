// The system checks of `lifeline doctor` (doctor_checks.cpp), which diagnose (doctor.cpp) runs first,
// and the text both write their findings with.
#pragma once

#include <lifeline/doctor.hpp>

#include <chrono>
#include <string>

namespace lifeline::detail {

/// "30 s", "1.5 s".
std::string seconds_text(std::chrono::milliseconds d);

/// Keep-alive options in words: "idle 30 s, interval 5 s x 3 probes, user timeout none".
std::string options_text(const keepalive_options& o);

/// The process's descriptor limits and how many are in use.
void check_descriptors(doctor_report& r);

/// The system's keep-alive defaults, and how long unacknowledged data may go unanswered.
void check_system_keepalive(doctor_report& r);

}  // namespace lifeline::detail
