#!/usr/bin/env bash
# lifeline side by side with the alternatives, in one run on this machine: throughput of one stream and
# small-message round trips over raw TCP, a two-hop socat relay, ssh -L (chacha20 and aes-gcm, against an
# sshd this script starts on loopback with throwaway keys), a lifeline session and the lifeline tunnel
# (client and server processes), each plain and sealed (a pre-shared key: protocol version 2's AES-256-GCM),
# and the chaos proxy with no toxic; reset-to-resumed time (session_bench);
# detection time against its bound (detection_bench, root only); memory and CPU per idle session
# (idle_bench). Writes results.json, results.md and paths.png to the output directory.
#
# Usage: bench/run.sh [--quick | --smoke] [--build-dir DIR] [--out DIR]
#   (default)    1 GiB per stream, 5 runs, 10,000 idle sessions: a few minutes
#   --quick      1 GiB per stream, 3 runs, fewer round trips and cuts
#   --smoke      seconds: 8 MiB, 1 run, 200 idle sessions, no detection; what ctest runs
#   --build-dir  use binaries already built there (default: build the release preset's targets)
#   --out        where results go (default: build/bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=full build_dir="" out=build/bench
while (($#)); do
  case "$1" in
    --quick | --smoke) mode=${1#--} ;;
    --build-dir) build_dir=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "run.sh: unknown option $1 (usage: bench/run.sh [--quick|--smoke] [--build-dir DIR] [--out DIR])" >&2
       exit 2 ;;
  esac
  shift
done
case $mode in
  full) mib=1024 runs=5 round_trips=2000 sessions=10000 idle_s=10 resume_runs=7 cuts=3 ;;
  quick) mib=1024 runs=3 round_trips=1000 sessions=10000 idle_s=5 resume_runs=3 cuts=1 ;;
  smoke) mib=8 runs=1 round_trips=50 sessions=200 idle_s=1 resume_runs=1 cuts=0 ;;
esac
for tool in socat ssh ssh-keygen /usr/sbin/sshd gnuplot jq ss; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing; run scripts/install-deps.sh" >&2; exit 1; }
done

if [[ -z $build_dir ]]; then
  build_dir=build/release
  [[ -f $build_dir/build.ninja ]] || cmake --preset release >/dev/null
  cmake --build "$build_dir" --target lifeline_cli path_bench idle_bench session_bench detection_bench
fi
cli=$build_dir/tools/lifeline/lifeline
bench=$build_dir/bench
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/lifeline-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A loopback port no socket uses, listening or connected, taken below the kernel's ephemeral range
# (32768 and up by default) so that no connection made meanwhile can take it. The relays connect to the
# target lazily, so the target (path_bench) may start after them.
used=" $(ss -Htan | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
next_port=$((10000 + $$ % 20000))
free_port() {
  while [[ $used == *" $next_port "* ]]; do next_port=$((next_port + 1)); done
  port=$next_port
  used+="$port "
}
wait_listening() {  # port, what: bounded wait for a relay to listen
  for _ in $(seq 100); do
    ss -Htln "sport = :$1" | grep -q . && return 0
    sleep 0.1
  done
  echo "run.sh: $2 is not listening on port $1 after 10 s" >&2
  exit 1
}
start() {  # log name, command...: a relay in the background, its output kept for failures
  local log=$work/$1.log
  shift
  "$@" >"$log" 2>&1 &
  pids+=($!)
}

free_port; target=$port
paths=()

# socat, two hops, forking per connection as it is usually run; nodelay as lifeline and ssh set it.
free_port; socat_a=$port
free_port; socat_b=$port
start socat-b socat TCP-LISTEN:$socat_b,bind=127.0.0.1,reuseaddr,fork,nodelay TCP:127.0.0.1:$target,nodelay
start socat-a socat TCP-LISTEN:$socat_a,bind=127.0.0.1,reuseaddr,fork,nodelay TCP:127.0.0.1:$socat_b,nodelay
paths+=(--path "socat two hops=$socat_a")

# sshd on loopback with a throwaway host key and an authorized key: no password, nothing else trusted.
mkdir -p "$work/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/client_key"
cp "$work/ssh/client_key.pub" "$work/ssh/authorized_keys"
free_port; sshd_port=$port
cat >"$work/ssh/sshd_config" <<EOF
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $work/ssh/host_key
AuthorizedKeysFile $work/ssh/authorized_keys
PidFile $work/ssh/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
StrictModes no
UsePAM no
EOF
[[ $(id -u) -ne 0 ]] || mkdir -p /run/sshd
start sshd /usr/sbin/sshd -D -e -f "$work/ssh/sshd_config"
wait_listening "$sshd_port" sshd
for cipher in chacha20-poly1305@openssh.com aes128-gcm@openssh.com; do
  free_port
  start "ssh-${cipher%%@*}" ssh -N -F /dev/null -i "$work/ssh/client_key" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes \
    -o Compression=no -o "Ciphers=$cipher" -p "$sshd_port" -L "127.0.0.1:$port:127.0.0.1:$target" \
    "$(id -un)@127.0.0.1"
  wait_listening "$port" "ssh -L ($cipher)"
  paths+=(--path "ssh -L ${cipher%%@*}=$port")
done

# The lifeline tunnel, two processes, and the chaos proxy with no toxic.
free_port; tunnel_server=$port
free_port; tunnel_client=$port
start tunnel-server "$cli" tunnel server --listen 127.0.0.1:$tunnel_server --to 127.0.0.1:$target
wait_listening "$tunnel_server" "lifeline tunnel server"
start tunnel-client "$cli" tunnel client --listen 127.0.0.1:$tunnel_client --server 127.0.0.1:$tunnel_server
paths+=(--path "lifeline tunnel=$tunnel_client")
# The same with a pre-shared key: every frame sealed (protocol version 2).
"$cli" keygen "$work/bench.key" 2>/dev/null
free_port; sealed_server=$port
free_port; sealed_client=$port
start tunnel-server-sealed "$cli" tunnel server --listen 127.0.0.1:$sealed_server --to 127.0.0.1:$target \
  --psk-file "$work/bench.key"
wait_listening "$sealed_server" "lifeline tunnel server, sealed"
start tunnel-client-sealed "$cli" tunnel client --listen 127.0.0.1:$sealed_client \
  --server 127.0.0.1:$sealed_server --psk-file "$work/bench.key"
paths+=(--path "lifeline tunnel, sealed=$sealed_client")
free_port; chaos=$port
start chaos "$cli" chaos --port 0 --seed 1 --proxy "bench=127.0.0.1:$chaos=127.0.0.1:$target"
paths+=(--path "chaos proxy, no toxic=$chaos")
wait_listening "$socat_a" socat
wait_listening "$tunnel_client" "lifeline tunnel client"
wait_listening "$sealed_client" "lifeline tunnel client, sealed"
wait_listening "$chaos" "lifeline chaos"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "run.sh: $mode run; load average before: $load_before" >&2
if ! "$bench/path_bench" --target-port "$target" "${paths[@]}" --mib "$mib" --runs "$runs" \
  --round-trips "$round_trips" --json "$work/paths.json" --plot-data "$work/paths.dat" >"$work/paths.md"; then
  for log in "$work"/*.log; do echo "--- $log"; tail -5 "$log"; done >&2
  exit 1
fi
cleanup_relays() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
cleanup_relays

"$bench/session_bench" 16 "$resume_runs" >"$work/session.txt"
tail -1 "$work/session.txt" >"$work/session.json"
"$bench/idle_bench" --sessions "$sessions" --idle-s "$idle_s" --json "$work/idle.json" >"$work/idle.md"

# Detection needs network namespaces: root only. Its per-case lines become JSON.
echo '[]' >"$work/detection.json"
detection_note="not run ($mode run)"
if ((cuts > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    "$bench/detection_bench" --cuts "$cuts" >"$work/detection.txt"
    detection_note="$(head -2 "$work/detection.txt" | tr '\n' ' ')"
    awk '
      /^  [a-z_]+ \/ .*detected/ {
        split($0, a, ": "); name = substr(a[1], 3)
        match($0, /bound [0-9.]+ s/); bound = substr($0, RSTART + 6, RLENGTH - 8)
        match($0, /[0-9]+ of [0-9]+ detected/); split(substr($0, RSTART, RLENGTH), d, " ")
      }
      /from the cut/ {
        printf "%s{\"case\":\"%s\",\"bound_s\":%s,\"detected\":%s,\"cuts\":%s,\"min_s\":%s,\"median_s\":%s,\"max_s\":%s,\"median_over_bound\":%s}",
          (n++ ? "," : "["), name, bound, d[1], d[3], $5, $8, $11, $14
      }
      END { print (n ? "]" : "[]") }' "$work/detection.txt" >"$work/detection.json"
  else
    detection_note="skipped: needs root for network namespaces"
  fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
jq -n --slurpfile paths "$work/paths.json" --slurpfile session "$work/session.json" \
  --slurpfile idle "$work/idle.json" --slurpfile detection "$work/detection.json" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg nproc "$(nproc)" --arg cpu "$cpu_model" \
  --arg kernel "$(uname -r)" --arg mode "$mode" --arg load_before "$load_before" --arg load_after "$load_after" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" --arg note "$detection_note" \
  '{machine: {date: $date, nproc: ($nproc | tonumber), cpu: $cpu, kernel: $kernel,
              load_average_before: $load_before, load_average_after: $load_after},
    command: ("bench/run.sh" + (if $mode == "full" then "" else " --" + $mode end)), commit: $commit,
    paths: $paths[0], resume: $session[0], idle: $idle[0],
    detection: {note: $note, cases: $detection[0]}}' >"$out/results.json"

# Every path measured, every figure positive: a harness that silently drops a path fails here.
jq -e '(.paths.paths | length) == 9 and all(.paths.paths[]; .gbps.median > 0 and .rtt_p50_us.median > 0)
       and .idle.established == .idle.sessions and .resume.resume_ms > 0' "$out/results.json" >/dev/null || {
  echo "run.sh: results are incomplete: $out/results.json" >&2
  exit 1
}

{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`$(jq -r .command "$out/results.json")\` at commit $(jq -r .commit "$out/results.json"):"
  echo "$(nproc) cores, $cpu_model, Linux $(uname -r); load average $load_before before, $load_after after."
  echo
  echo "One stream of $mib MiB in 128 KiB writes; round trips of 64-byte messages ($round_trips per run); $runs runs."
  echo
  cat "$work/paths.md"
  echo
  jq -r '.resume | "| reset to first resumed byte, ms (\(.runs) runs) | \(.resume_ms) (\(.resume_ms_min)-\(.resume_ms_max)) |\n|---|---|"' \
    "$out/results.json"
  echo
  cat "$work/idle.md"
  echo
  echo "Detection ($detection_note):"
  echo
  if [[ -f $work/detection.txt ]]; then echo '```'; cat "$work/detection.txt"; echo '```'; fi
} >"$out/results.md"

gnuplot <<EOF
set terminal pngcairo size 1100,520 font ",10" noenhanced
set output "$out/paths.png"
set multiplot layout 1,2 title "lifeline and alternatives over loopback, $(nproc) cores, $(date -u +%Y-%m-%d) ($mode run, median of $runs, bars min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -35 scale 0
set yrange [0:*]
set grid ytics
unset key
set title "Throughput of one stream, Gbit/s"
plot "$work/paths.dat" using 2:3:4:xtic(1) lc rgb "#3070b0"
set title "Round trip of 64 bytes, us, log scale: p50 bars, p99 points"
set logscale y
set yrange [1:*]
set style histogram errorbars gap 1 lw 1
plot "$work/paths.dat" using 5:6:7:xtic(1) lc rgb "#b07030", \
     "" using (\$0):8 with points pt 7 lc rgb "black"
unset multiplot
EOF
echo "run.sh: wrote $out/results.json, $out/results.md, $out/paths.png" >&2
cat "$out/results.md"
