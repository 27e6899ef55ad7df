#!/usr/bin/env bash
# Installs what is missing, builds lifeline with AddressSanitizer and UndefinedBehaviorSanitizer
# (warnings as errors) and runs every test; then cross-builds for Windows and runs the tests under Wine
# (scripts/test-windows.sh). Tests that need root (network namespaces) must not be
# skipped when this runs as root: a skip there fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --windows
cmake --preset debug
cmake --build --preset debug

log=build/debug/ctest.log
if [[ $(id -u) -eq 0 ]]; then export LIFELINE_TESTS_AS_ROOT=1; fi
set +e
ctest --preset debug -j2 --timeout 300 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
  echo "test.sh: tests failed (ctest exit $status)" >&2
  exit "$status"
fi
if [[ $(id -u) -eq 0 ]] && grep -q '\*\*\*Skipped' "$log"; then
  echo "test.sh: tests were skipped while running as root:" >&2
  grep '\*\*\*Skipped' "$log" >&2
  exit 1
fi

scripts/test-windows.sh

# One closing line for both suites.
count() { grep -Eo "tests passed, [0-9]+ tests failed out of [0-9]+" "$1" | tail -1 | awk '{print $NF - $3, $3}'; }
read -r linux_passed linux_failed < <(count "$log")
read -r windows_passed windows_failed < <(count build/windows/ctest.log)
echo "lifeline: $((linux_passed + windows_passed)) passed, $((linux_failed + windows_failed)) failed"
