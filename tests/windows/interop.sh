#!/usr/bin/env bash
# The Windows build and the Linux build speak the same protocol: a tunnel client and a tunnel server, one
# of them lifeline.exe under Wine (HMAC, AES-256-GCM and random numbers from CNG, X25519 from libgcrypt)
# and the other the Linux binary (OpenSSL), prove a pre-shared key to each other, make keys of their own
# on every connection and seal every frame (protocol version 2: a frame either side sealed wrongly would
# fail the other's tag), and carry a 16 MiB stream through the Linux chaos proxy, which cuts every
# connection after 2 MiB (limit_data), so the client has to resume at least seven times, each time with
# new keys; the stream must arrive byte for byte.
# interop.sh client|server LINUX_CLI WINDOWS_CLI WINE_COMMAND...   (which end is the Windows one)
set -euo pipefail
windows_end=$1
linux_cli=$2
windows_cli=$3
shift 3
wine_cmd=("$@")
linux=("$linux_cli")
windows=("${wine_cmd[@]}" "$windows_cli")
if [[ $windows_end == client ]]; then
  client_cmd=("${windows[@]}") server_cmd=("${linux[@]}") client_os=Windows server_os=Linux
else
  client_cmd=("${linux[@]}") server_cmd=("${windows[@]}") client_os=Linux server_os=Windows
fi
seed=20261125

dir=$(mktemp -d /tmp/lifeline-interop.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "interop: $*" >&2
  for f in "$dir"/*.log; do echo "--- $(basename "$f")"; tr -d '\r' <"$f"; done >&2
  exit 1
}
# Waits up to $3 seconds for a line of file $1 matching $2 and prints the first group.
wait_for() {
  local deadline=$((SECONDS + $3)) found
  while ((SECONDS < deadline)); do
    found=$(tr -d '\r' <"$1" | sed -nE "s/.*$2.*/\1/p" | head -1)
    if [[ -n $found ]]; then echo "$found"; return 0; fi
    sleep 0.1
  done
  return 1
}

echo "interop: chaos seed $seed"
# The key as an operator makes it: mode 0600, which the Linux end requires of a key file.
"$linux_cli" keygen "$dir/key" 2>/dev/null
head -c $((16 << 20)) /dev/urandom >"$dir/in"

# The target: a sink on a free port outside the ephemeral range, writing what it receives to a file.
for _ in $(seq 50); do
  port=$((20000 + RANDOM % 10000))
  ss -Htln "sport = :$port" | grep -q . || break
done
socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" "CREATE:$dir/out" 2>"$dir/sink.log" &
pids+=($!)

# Wine reads Unix paths as they are (drive Z: is /), so one key file serves both ends.
"${server_cmd[@]}" tunnel server --listen 127.0.0.1:0 --to "127.0.0.1:$port" --psk-file "$dir/key" \
  --heartbeat-ms 200 --timeout-ms 1000 >"$dir/server.log" 2>&1 &
pids+=($!)
server=$(wait_for "$dir/server.log" 'listening on (127\.0\.0\.1:[0-9]+)' 20) || fail "the $server_os tunnel server did not start"

"$linux_cli" chaos --port 0 --seed "$seed" --proxy "link=127.0.0.1:0=$server" \
  --toxic "link:limit_data:upstream:bytes=2097152" >"$dir/chaos.log" 2>&1 &
pids+=($!)
link=$(wait_for "$dir/chaos.log" 'chaos proxy link (127\.0\.0\.1:[0-9]+)' 20) || fail "the chaos proxy did not start"

"${client_cmd[@]}" tunnel client --listen 127.0.0.1:0 --server "$link" --psk-file "$dir/key" \
  --heartbeat-ms 200 --timeout-ms 1000 >"$dir/client.log" 2>&1 &
pids+=($!)
client=$(wait_for "$dir/client.log" 'listening on (127\.0\.0\.1:[0-9]+)' 60) || fail "the $client_os tunnel client did not start"

timeout 120 socat -u "FILE:$dir/in" "TCP:$client" 2>"$dir/source.log" || fail "the source could not send its stream"
deadline=$((SECONDS + 120))
while kill -0 "${pids[0]}" 2>/dev/null; do  # the sink ends when the stream's end reached it
  ((SECONDS < deadline)) || fail "the stream did not end at the target within 120 s"
  sleep 0.2
done
cmp -s "$dir/in" "$dir/out" || fail "the target received $(stat -c %s "$dir/out") bytes that differ from the 16 MiB sent"
resumes=$(tr -d '\r' <"$dir/client.log" | grep -c "resumed after" || true)
((resumes >= 7)) || fail "the $client_os client resumed $resumes times; 16 MiB over 2 MiB connections needs 7 or more"
echo "interop: 16 MiB arrived intact from a $client_os tunnel client to a $server_os tunnel server; $resumes resumes"
