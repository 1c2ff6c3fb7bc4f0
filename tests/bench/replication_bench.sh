#!/usr/bin/env bash
# replication_bench.sh: the server with replication off and on, side by side
# in one run, and a follower's lag under load (docs/performance.md,
# "Replication"; docs/replication.md describes what is measured).
#
#   tests/bench/replication_bench.sh [BUILD_DIR]          # default: build
#   SECONDS_PER_POINT=10 REPEAT=3 POINTS="1x1 64x1 64x8" tests/bench/replication_bench.sh build
#
# Needs: BUILD_DIR/bin/{accountabled,accountable-bench}, /usr/sbin/nats-server
# (Makefile DEBS), curl and python3 (free ports). Everything runs under one
# temporary directory, removed at the end.
#
# Each round runs every point (CONNECTIONSxDEPTH, accountable-bench --mix
# cheap) twice: "off" is one accountabled without replication; "on" is a
# writer with --replicate on a fresh three-node nats-server cluster (file
# storage, Replicas = 3) plus one follower with --follow, both on this
# machine. The table shows the median over REPEAT rounds of events/s, p99
# and the server's CPU per event (the writer's, for "on"). While "on" runs,
# the follower's lag is sampled every LAG_SAMPLE_MS from both copies'
# accountable_last_seq gauges (/metrics): events behind, and the time since
# the writer had the follower's seq (resolution: the sample interval); after
# the load stops, the time until the follower holds the writer's last seq.
set -euo pipefail

BUILD=${1:-build}
S=${SECONDS_PER_POINT:-10}
REPEAT=${REPEAT:-3}
POINTS=${POINTS:-"1x1 64x1 64x8"}
ACCOUNTS=${ACCOUNTS:-1000}
LAG_SAMPLE_MS=${LAG_SAMPLE_MS:-50}
SERVER_BIN=$BUILD/bin/accountabled
BENCH_BIN=$BUILD/bin/accountable-bench
NATS_BIN=/usr/sbin/nats-server

die() { echo "replication_bench: $*" >&2; exit 1; }
note() { printf '%s\n' "$*" >&2; }
for b in "$SERVER_BIN" "$BENCH_BIN" "$NATS_BIN"; do [ -x "$b" ] || die "$b missing"; done
command -v curl >/dev/null || die "curl missing (apt-get install curl)"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/replication_bench.XXXXXX")
PIDS=()
cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ]; then
    note "replication_bench: failed (exit $rc); last lines of the logs:"
    tail -5 "$WORK"/*.log "$WORK/bench.err" >&2 2>/dev/null
  fi
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A RUNS
add() { RUNS[$1]="${RUNS[$1]:-} $2"; }
med() {
  # shellcheck disable=SC2086
  printf '%s\n' ${RUNS[$1]:-} | awk '/^[0-9.]+$/' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                              else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
result_field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }

TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '# replication_bench.sh\n%s writer\n' "$TOKEN" > "$WORK/tokens")

# start_nats: a fresh three-node JetStream cluster; sets NATS_URLS.
start_nats() {
  local dir=$WORK/nats-$1 i j cp=() rp=()
  mkdir -p "$dir"
  for i in 0 1 2; do cp+=("$(free_port)"); rp+=("$(free_port)"); done
  NATS_URLS=
  for i in 0 1 2; do
    {
      printf 'server_name: n%s\nlisten: 127.0.0.1:%s\njetstream { store_dir: "%s/n%s" }\n' "$i" "${cp[$i]}" "$dir" "$i"
      printf 'cluster { name: bench\n  listen: 127.0.0.1:%s\n  routes: [' "${rp[$i]}"
      printf ' %s' "$(for j in 0 1 2; do [ "$j" = "$i" ] || echo "nats://127.0.0.1:${rp[$j]}"; done | paste -sd,)"
      printf ' ]\n}\n'
    } > "$dir/n$i.conf"
    "$NATS_BIN" -c "$dir/n$i.conf" > "$dir/n$i.log" 2>&1 &
    PIDS+=($!)
    NATS_URLS+="${NATS_URLS:+,}nats://127.0.0.1:${cp[$i]}"
  done
  for i in 0 1 2; do  # accountabled waits for the JetStream leader, not for the listeners
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/${cp[$i]}") 2>/dev/null && break; sleep 0.1; done
  done
}
stop_nats() {  # the last three PIDS
  local n=${#PIDS[@]} k
  for k in 1 2 3; do kill -KILL "${PIDS[$((n - k))]}" 2>/dev/null || true; wait "${PIDS[$((n - k))]}" 2>/dev/null || true; done
  PIDS=("${PIDS[@]:0:$((n - 3))}")
}

# start_server NAME ARGS...: accountabled on a free port, metrics on another;
# prints "PID PORT METRICS_PORT".
start_server() {
  local name=$1 mport pid port=; shift
  mport=$(free_port)
  "$SERVER_BIN" --data "$WORK/$name" --key-dir "$WORK/keys-$name" --token-file "$WORK/tokens" \
    --listen 127.0.0.1:0 --metrics-listen "127.0.0.1:$mport" --sweep-interval-s 0 \
    --argon2-mem-mib 8 --argon2-ops 1 "$@" > "$WORK/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/$name.log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "accountabled $name did not start"; }
    sleep 0.1
  done
  [ -n "$port" ] || die "accountabled $name did not report its port"
  echo "$pid $port $mport"
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

last_seq() { { curl -s --max-time 1 "http://127.0.0.1:$1/metrics" || true; } | awk '/^accountable_last_seq /{ print $2; exit }'; }

# sample_lag WRITER_MPORT FOLLOWER_MPORT OUT: "ms writer_seq follower_seq" lines until killed.
sample_lag() {
  local t w f
  while :; do
    t=$(date +%s%3N); f=$(last_seq "$2"); w=$(last_seq "$1")  # follower first: w >= f
    [ -n "$w" ] && [ -n "$f" ] && echo "$t $w $f" >> "$3"
    sleep "$(awk -v m="$LAG_SAMPLE_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
  done
}
# lag_stats FILE: "p50_events max_events p50_ms max_ms" over the samples
# (mawk has no asort: the two columns are sorted by sort).
lag_stats() {
  local rows
  rows=$(awk '{ t[NR] = $1; w[NR] = $2; f[NR] = $3 }
              END { for (i = 1; i <= NR; i++) {
                      j = 1; while (j < i && w[j] < f[i]) j++   # first sample where the writer had f[i]
                      print w[i] - f[i], t[i] - t[j] } }' "$1")
  [ -n "$rows" ] || { echo "- - - -"; return; }
  pick() { cut -d' ' -f"$1" <<<"$rows" | sort -g | awk '{ v[NR] = $1 } END { printf "%d %d", v[int((NR + 1) / 2)], v[NR] }'; }
  read -r e50 emax <<<"$(pick 1)"; read -r m50 mmax <<<"$(pick 2)"
  echo "$e50 $emax $m50 $mmax"
}

bench() {  # PORT PID CONNS DEPTH -> RESULT line
  "$BENCH_BIN" --server "127.0.0.1:$1" --token "$TOKEN" --server-pid "$2" --mix cheap --accounts "$ACCOUNTS" \
    --connections "$3" --depth "$4" --seconds "$S" --warmup 2 2>>"$WORK/bench.err" | tail -1 ||
    note "  accountable-bench failed; see its errors at the end"
}

point_off() {  # round conns depth
  local r=$1 c=$2 d=$3 name=off-$1-$2x$3 srv out
  srv=$(start_server "$name")
  out=$(bench "$(cut -d' ' -f2 <<<"$srv")" "$(cut -d' ' -f1 <<<"$srv")" "$c" "$d")
  stop_pid "$(cut -d' ' -f1 <<<"$srv")"
  record "off,$c,$d" "$out"
}

point_on() {  # round conns depth
  local r=$1 c=$2 d=$3 name=on-$1-$2x$3 w f out lagger t0 caught
  start_nats "$name"
  w=$(start_server "$name-w" --replicate "$NATS_URLS")
  cp -r "$WORK/keys-$name-w" "$WORK/keys-$name-f"   # a follower opens the writer's wrapped keys with its KEK
  f=$(start_server "$name-f" --follow "$NATS_URLS")
  sample_lag "$(cut -d' ' -f3 <<<"$w")" "$(cut -d' ' -f3 <<<"$f")" "$WORK/$name.lag" &
  lagger=$!
  out=$(bench "$(cut -d' ' -f2 <<<"$w")" "$(cut -d' ' -f1 <<<"$w")" "$c" "$d")
  kill "$lagger" 2>/dev/null || true; wait "$lagger" 2>/dev/null || true
  t0=$(date +%s%3N); caught=-
  for _ in $(seq 600); do
    [ "$(last_seq "$(cut -d' ' -f3 <<<"$f")")" = "$(last_seq "$(cut -d' ' -f3 <<<"$w")")" ] &&
      { caught=$(( $(date +%s%3N) - t0 )); break; }
    sleep 0.05
  done
  record "on,$c,$d" "$out"
  read -r le lx lm lmx <<<"$(lag_stats "$WORK/$name.lag")"
  add "lag,$c,$d,ev" "$le"; add "lag,$c,$d,evmax" "$lx"; add "lag,$c,$d,ms" "$lm"; add "lag,$c,$d,msmax" "$lmx"
  add "lag,$c,$d,catchup" "$caught"
  note "  on $c x $d: $(result_field "$out" events_per_s) events/s; follower lag p50 $le events / $lm ms, max $lx / $lmx ms; caught up $caught ms after the load"
  stop_pid "$(cut -d' ' -f1 <<<"$f")"; stop_pid "$(cut -d' ' -f1 <<<"$w")"
  stop_nats
}

record() {
  local k
  for k in events_per_s p50_ms p99_ms server_cpu_us_per_event; do add "$1,$k" "$(result_field "$2" "$k")"; done
  [[ $1 == off,* ]] && note "  off ${1#off,}: $(result_field "$2" events_per_s) events/s"
  return 0
}

note "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$NATS_BIN" --version)"
for r in $(seq "$REPEAT"); do
  note "round $r of $REPEAT"
  for p in $POINTS; do
    point_off "$r" "${p%x*}" "${p#*x}"
    point_on "$r" "${p%x*}" "${p#*x}"
  done
done

echo
echo "| point | off events/s | on events/s | on/off | off p99 ms | on p99 ms | off CPU us/ev | on CPU us/ev | follower lag p50 (events / ms, 0 = within one sample) | lag max (events / ms) | catch-up after load ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for p in $POINTS; do
  c=${p%x*}; d=${p#*x}
  off=$(med "off,$c,$d,events_per_s"); on=$(med "on,$c,$d,events_per_s")
  ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  echo "| $c x $d | $off | $on | $ratio | $(med "off,$c,$d,p99_ms") | $(med "on,$c,$d,p99_ms") |" \
       "$(med "off,$c,$d,server_cpu_us_per_event") | $(med "on,$c,$d,server_cpu_us_per_event") |" \
       "$(med "lag,$c,$d,ev") / $(med "lag,$c,$d,ms") | $(med "lag,$c,$d,evmax") / $(med "lag,$c,$d,msmax") | $(med "lag,$c,$d,catchup") |"
done
echo
echo "medians of $REPEAT rounds, $S s a point; lag sampled every $LAG_SAMPLE_MS ms"
[ -s "$WORK/bench.err" ] && { note "accountable-bench errors:"; sort "$WORK/bench.err" | uniq -c | sort -rn | head -10 >&2; }
exit 0
