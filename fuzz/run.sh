#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for SECONDS (default 10). Used by ctest on every
# change; run with a larger SECONDS (e.g. 14400) to fuzz for hours. Crashes land in BUILD/fuzz/crashes;
# copy one into tests/fuzz_regressions/ and wire_test replays it forever after.
# Usage: fuzz/run.sh BUILD_DIR [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$1/fuzz"
seconds="${2:-10}"
mkdir -p "$out/crashes"
common=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I"$root/include" -I"$root/src"
  "$root/src/wire.cpp" "$root/src/error.cpp" "$root/src/socket_errors.cpp" "$root/src/socket_error_table.cpp")
# What each target needs besides `common`: its sources (a change to any of them, or to a header next to
# them, rebuilds it), then its libraries.
session="$root/src/session"
declare -A sources=([frame_decoder]="" [handshake]=""
  [stream_state]="$session/stream_state.cpp"
  [handshake_check]="$session/handshake.cpp $session/hkdf.cpp $session/crypto_openssl.cpp"
  [frame_cipher]="$session/frame_cipher.cpp $session/crypto_openssl.cpp $session/hkdf.cpp")
declare -A libraries=([handshake_check]="-lcrypto" [frame_cipher]="-lcrypto")
for target in frame_decoder handshake stream_state handshake_check frame_cipher; do
  read -r -a extra <<<"${sources[$target]}"
  read -r -a libs <<<"${libraries[$target]:-}"
  deps=("$root/fuzz/${target}_fuzz.cpp" "$root/fuzz/fuzz_support.hpp" "$root/src/wire.cpp" "$root/include/lifeline/wire.hpp" "${extra[@]}")
  if ((${#extra[@]})); then deps+=("$session"/*.hpp); fi
  stale=0
  for dep in "${deps[@]}"; do
    if [[ "$dep" -nt "$out/$target" ]]; then stale=1; fi
  done
  if [[ ! -x "$out/$target" || $stale == 1 ]]; then
    clang++ "${common[@]}" "${extra[@]}" "$root/fuzz/${target}_fuzz.cpp" -o "$out/$target" -lfmt "${libs[@]}"
  fi
  mkdir -p "$out/corpus-$target"
  echo "fuzzing $target for ${seconds}s (seed 1)"
  "$out/$target" -seed=1 -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$out/crashes/" \
    -print_final_stats=1 "$out/corpus-$target" "$root/tests/fuzz_regressions" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==.*ERROR)" || true
  if ls "$out/crashes/"* >/dev/null 2>&1; then
    echo "fuzz: $target found a crash: $(ls "$out/crashes/")" >&2
    exit 1
  fi
done
