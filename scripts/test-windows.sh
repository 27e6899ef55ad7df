#!/usr/bin/env bash
# Cross-builds lifeline for Windows with MinGW-w64 (the `windows` preset) and runs its tests under Wine.
# scripts/test.sh runs this after the Linux suite; it needs the Linux debug build's lifeline binary,
# which the explain comparison test runs next to lifeline.exe.
#
# Wine's traps, handled here: the prefix is booted and its wineserver started (persistent) before
# ctest, with their output away from ctest's pipes, since a wineserver or Wine service started inside
# ctest inherits them and stalls the run; Wine's debugger is disabled so a crash fails its test instead
# of exiting 0; every test has a timeout; the server is killed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/windows
export WINEPREFIX="$PWD/$build/wine"  # the toolchain's default LIFELINE_WINEPREFIX
export WINEDEBUG=-all
export WINEDLLOVERRIDES="winedbg.exe=d;mscoree,mshtml="  # no debugger, no Mono/Gecko install prompts

cmake --preset windows -DLIFELINE_WINEPREFIX="$WINEPREFIX" >/dev/null
cmake --build --preset windows
if [[ ! -x build/debug/tools/lifeline/lifeline ]]; then
  cmake --preset debug >/dev/null
  cmake --build --preset debug --target lifeline_cli
fi

started=$(date +%s)
stop_wine() { wineserver -k >/dev/null 2>&1 || true; }
trap stop_wine EXIT
wine_log="$build/wine-boot.log"
# A prefix whose boot was interrupted is recreated rather than trusted.
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then rm -rf "$WINEPREFIX"; fi
mkdir -p "$WINEPREFIX"
stop_wine  # a server left over from an earlier run would refuse to start a second time
wineserver -p </dev/null >>"$wine_log" 2>&1
timeout 300 wine wineboot --init </dev/null >>"$wine_log" 2>&1
timeout 120 wine cmd /c exit </dev/null >>"$wine_log" 2>&1
echo "test-windows: Wine prefix ready in $(($(date +%s) - started)) s ($WINEPREFIX)"

log="$build/ctest.log"
set +e
ctest --preset windows -j2 --timeout 120 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "test-windows: ctest under Wine took $(($(date +%s) - started)) s in all"
if [[ $status -ne 0 ]]; then
  echo "test-windows: Windows tests failed under Wine (ctest exit $status)" >&2
  exit "$status"
fi
if grep -q '\*\*\*Skipped' "$log"; then
  echo "test-windows: tests were skipped under Wine:" >&2
  grep '\*\*\*Skipped' "$log" >&2
  exit 1
fi
