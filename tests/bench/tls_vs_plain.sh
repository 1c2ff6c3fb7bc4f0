#!/usr/bin/env bash
# tls_vs_plain.sh: what TLS 1.3 costs the wire path. Two accountabled on this
# machine, one plain TCP and one with --tls-cert/--tls-key (a throwaway CA
# and Ed25519 server certificate made with openssl), loaded by
# accountable-bench --mix cheap at the same points in interleaved rounds
# (round r runs plain then TLS at each point, so a noisy neighbour hits both
# alike). Prints the median events/s, p99 and server CPU per event of each,
# and the TLS/plain ratios; docs/performance.md ("TLS") keeps the figures.
#
#   tests/bench/tls_vs_plain.sh [BUILD_DIR]                      # default: build
#   SECONDS_PER_POINT=5 REPEAT=3 POINTS="1x1 64x1 64x8" tests/bench/tls_vs_plain.sh build
#
# POINTS are CONNECTIONSxDEPTH. Needs BUILD_DIR/bin/{accountabled,
# accountable-bench} and openssl. Everything lives in one temporary directory,
# removed at the end. At the defaults a run takes about 2.5 minutes.
set -euo pipefail

BUILD=${1:-build}
S=${SECONDS_PER_POINT:-5}
REPEAT=${REPEAT:-3}
POINTS=${POINTS:-"1x1 64x1 64x8"}
SERVER_BIN=$BUILD/bin/accountabled
BENCH_BIN=$BUILD/bin/accountable-bench

die() { echo "tls_vs_plain: $*" >&2; exit 1; }
for b in "$SERVER_BIN" "$BENCH_BIN"; do [ -x "$b" ] || die "$b missing: cmake --build $BUILD --target accountabled accountable-bench"; done
command -v openssl >/dev/null || die "openssl missing (apt-get install openssl)"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"

work=$(mktemp -d "${TMPDIR:-/tmp}/acc-tls-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# ---- a CA and a server certificate for 127.0.0.1 ----
pki=$work/pki; mkdir -p "$pki"
openssl req -x509 -newkey ed25519 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj /CN=bench-ca -days 1 2>/dev/null
openssl req -newkey ed25519 -nodes -keyout "$pki/srv.key" -out "$pki/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$pki/san.ext"
openssl x509 -req -in "$pki/srv.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
  -extfile "$pki/san.ext" -out "$pki/srv.crt" 2>/dev/null
chmod 600 "$pki/srv.key"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
              echo $((20000 + RANDOM % 20000)); }

# start NAME PORT [FLAGS...]: accountabled on its own data directory.
start() {
  local name=$1 port=$2; shift 2
  "$SERVER_BIN" --data "$work/$name" --listen "127.0.0.1:$port" --argon2-mem-mib 8 --argon2-ops 1 "$@" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 100); do grep -q listening "$work/$name.log" 2>/dev/null && return; sleep 0.1; done
  die "$name did not start: $(cat "$work/$name.log")"
}

plain_port=$(free_port); start plain "$plain_port"
tls_port=$(free_port); start tls "$tls_port" --tls-cert "$pki/srv.crt" --tls-key "$pki/srv.key"

# bench NAME CONNECTIONS DEPTH: one point; prints its RESULT line.
bench() {
  local name=$1 conns=$2 depth=$3 port pid tls=()
  if [ "$name" = tls ]; then port=$tls_port; pid=$tls_pid; tls=(--tls-ca "$pki/ca.crt"); else port=$plain_port; pid=$plain_pid; fi
  "$BENCH_BIN" --server "127.0.0.1:$port" --token-file "$work/$name/keys/writer.token" "${tls[@]}" \
    --connections "$conns" --depth "$depth" --seconds "$S" --warmup 1 --accounts 500 --server-pid "$pid" 2>&1 |
    grep '^RESULT' || die "bench $name ${conns}x$depth failed"
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for r in $(seq "$REPEAT"); do
  for p in $POINTS; do
    for name in plain tls; do bench "$name" "${p%x*}" "${p#*x}" | sed "s/^/$name $p /" >> "$work/results"; done
  done
  echo "round $r of $REPEAT done" >&2
done

printf '| connections x depth | plain events/s | TLS events/s | TLS/plain | plain p99 ms | TLS p99 ms | plain server us/event | TLS server us/event | TLS/plain CPU |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for p in $POINTS; do
  get() { grep "^$1 $p " "$work/results" | field "$2" | median; }
  pe=$(get plain events_per_s); te=$(get tls events_per_s)
  pc=$(get plain server_cpu_us_per_event); tc=$(get tls server_cpu_us_per_event)
  printf '| %s | %s | %s | %.2f | %s | %s | %s | %s | %.2f |\n' "$p" "$pe" "$te" "$(awk -v a="$te" -v b="$pe" 'BEGIN { print a / b }')" \
    "$(get plain p99_ms)" "$(get tls p99_ms)" "$pc" "$tc" "$(awk -v a="$tc" -v b="$pc" 'BEGIN { print a / b }')"
done
printf 'median of %s rounds, %s s a point; load average (1 min) at the end: %s\n' "$REPEAT" "$S" "$(cut -d' ' -f1 /proc/loadavg)"
