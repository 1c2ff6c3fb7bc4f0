#!/usr/bin/env bash
# side_by_side.sh: the Accountable server next to PostgreSQL 15, RocksDB's
# db_bench and the ledger's in-process append benchmark on this machine, in
# one run, with synced (fsync'd) writes everywhere. Prints one table and the
# targets of issue 12 as met / not met; docs/performance.md ("Server: side by
# side") keeps the figures and how to read them.
#
#   tests/bench/side_by_side.sh [BUILD_DIR]          # default: build
#   SECONDS_PER_POINT=10 REPEAT=3 CLIENTS="1 16 64" DEPTH=8 tests/bench/side_by_side.sh build
#
# Needs: BUILD_DIR/bin/{accountabled,accountable-bench,accountable-append-bench}
# (cmake --build BUILD_DIR --target accountabled accountable-bench
# accountable-append-bench). Installs postgresql and rocksdb-tools with apt-get
# if they are missing (root). Everything runs under one temporary directory
# on the same file system as /tmp (TMPDIR), which is removed at the end.
# Figures for issue 12 need SECONDS_PER_POINT >= 10. At the defaults (10 s,
# REPEAT=3) a run takes about 10-12 minutes: each round ~2.5 min, then the
# half-peak and registration points ~2 min (SECONDS_PER_POINT=3 REPEAT=1:
# about 3.5 min).
#
# Every throughput point runs REPEAT times in interleaved rounds (round r
# runs accountable, PostgreSQL, db_bench and the append bench once each, so
# a noisy neighbour hits all systems alike); the table shows the median of
# each figure over the rounds.
#
# What runs:
#   accountable   accountabled (--argon2-mem-mib 8 --argon2-ops 1),
#                 accountable-bench --mix cheap --server-pid: consent
#                 give/withdraw + profile update + record-access, each an
#                 acknowledged, fsync'd append; CLIENTS connections with one
#                 request outstanding each, then 64 connections x DEPTH
#                 pipelined. The bench reports its own and the server's CPU.
#   postgresql    a throwaway PostgreSQL 15 cluster, synchronous_commit=on,
#                 pgbench with a custom script: one single-row INSERT (256-byte
#                 payload) per transaction, same client counts and duration.
#   db_bench      fillrandom --sync=1 with 1 and 64 threads, fillseq --sync=1
#                 --batch_size=100 (1 thread), fillseq without sync; 300-byte
#                 values, --enable_pipelined_write=false as in the ledger.
#   append bench  accountable-append-bench --threads 16 --batch 16 --hook
#                 projector: the ledger in process, no network; events/s and
#                 the writer thread's CPU per event.
# Then latency at half of the depth-1 peak: accountable-bench paced at half
# the best depth-1 events/s over 64 connections, depth 1 and DEPTH; and, for
# comparison, pgbench --rate at half of PostgreSQL's best, over the client
# count that reached it.
# The p99 target's floor (db_bench's mean synced write, 1 thread) is printed
# with that write's own p99 and p99.9 (db_bench --histogram=1).
# Then registrations: a second accountabled at the production Argon2id cost
# (its defaults, --argon2-ops 2 --argon2-mem-mib 64) under --mix auth
# (register + login, one Argon2id hash each), AUTH_CONNECTIONS connections
# (default 2 per core: enough to keep every core hashing, few enough that a
# reply takes well under the 3 s warm-up).
set -euo pipefail

BUILD=${1:-build}
S=${SECONDS_PER_POINT:-10}
REPEAT=${REPEAT:-3}
CLIENTS=${CLIENTS:-"1 16 64"}
DEPTH=${DEPTH:-8}
ACCOUNTS=${ACCOUNTS:-1000}
AUTH_CONNECTIONS=${AUTH_CONNECTIONS:-$((2 * $(nproc)))}
SERVER_BIN=$BUILD/bin/accountabled
BENCH_BIN=$BUILD/bin/accountable-bench
APPEND_BIN=$BUILD/bin/accountable-append-bench
PGBIN=/usr/lib/postgresql/15/bin

die() { echo "side_by_side: $*" >&2; exit 1; }
for b in "$SERVER_BIN" "$BENCH_BIN" "$APPEND_BIN"; do
  [ -x "$b" ] || die "$b missing: cmake --build $BUILD --target accountabled accountable-bench accountable-append-bench"
done
[ "$(id -u)" = 0 ] || die "run as root: PostgreSQL is started as the postgres user with runuser"
[ "$REPEAT" -ge 1 ] || die "REPEAT must be at least 1"
case " $CLIENTS " in *" 1 "*) ;; *) die "CLIENTS must include 1 (a target compares 1 connection)" ;; esac
case " $CLIENTS " in *" 64 "*) ;; *) die "CLIENTS must include 64 (the targets compare 64 connections)" ;; esac

# ---- packages (only if missing) ----
missing=()
[ -x "$PGBIN/pgbench" ] && [ -x "$PGBIN/initdb" ] || missing+=(postgresql)
command -v db_bench >/dev/null || missing+=(rocksdb-tools)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..." >&2
  apt-get -qq update
  DEBIAN_FRONTEND=noninteractive apt-get -qq install -y "${missing[@]}" >/dev/null
fi
id postgres >/dev/null 2>&1 || die "no postgres user (is the postgresql package installed?)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/side_by_side.XXXXXX")
chmod 755 "$WORK"
SERVER_PID=
cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ]; then
    echo "side_by_side: failed (exit $rc); last lines of the logs:" >&2
    tail -5 "$WORK/bench.err" "$WORK"/accountabled*.log "$WORK/pglog/postgresql.log" >&2 2>/dev/null
  fi
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -f "$WORK/pg/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# RUNS[key] holds one value per round, space separated; med prints the median.
declare -A RUNS
add() { RUNS[$1]="${RUNS[$1]:-} $2"; }
med() {  # empty if no round produced a number
  # shellcheck disable=SC2086
  printf '%s\n' ${RUNS[$1]:-} | awk '/^[0-9.]+$/' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
                              else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
result_field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
note() { printf '%s\n' "$*" >&2; }
# Records the fields of a RESULT line under prefix $1.
add_result() {
  local k
  for k in ok events_per_s p50_ms p99_ms p999_ms server_cpu_us_per_event client_cpu_us_per_event registrations; do
    add "$1,$k" "$(result_field "$2" "$k")"
  done
}

note "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$WORK" | awk 'NR==2{print $2}') file system"
[ "$S" -ge 10 ] || note "note: SECONDS_PER_POINT=$S is below 10: a check of the script, not figures for issue 12"

TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '# side_by_side.sh\n%s writer\n' "$TOKEN" > "$WORK/tokens")  # accountabled refuses a token file others may read

# start_server NAME ARGS...: starts accountabled on a free port; sets SERVER_PID and PORT.
start_server() {
  local name=$1; shift
  "$SERVER_BIN" --data "$WORK/$name" --token-file "$WORK/tokens" --listen 127.0.0.1:0 \
    --sweep-interval-s 0 "$@" > "$WORK/accountabled-$name.log" 2>&1 &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 100); do
    PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/accountabled-$name.log")
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/accountabled-$name.log" >&2; die "accountabled did not start"; }
    sleep 0.1
  done
  [ -n "$PORT" ] || die "accountabled did not report its port"
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
# Prints the RESULT line. A failed point (exit 1: a connection failed or
# nothing succeeded) is noted, not fatal: its line still holds the figures.
bench() {
  local out
  out=$("$BENCH_BIN" --server "127.0.0.1:$PORT" --token "$TOKEN" --server-pid "$SERVER_PID" "$@" \
        2>>"$WORK/bench.err" | tail -1) || note "  accountable-bench $* failed; its errors are listed at the end"
  printf '%s\n' "$out"
}

# ---- PostgreSQL 15: a cluster for all rounds ----
start_postgres() {
  mkdir -p "$WORK/pg" "$WORK/pgsock" "$WORK/pglog"
  chown postgres "$WORK/pg" "$WORK/pgsock" "$WORK/pglog"
  runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres --no-sync >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pglog/postgresql.log" \
    -o "-k $WORK/pgsock -p 55432 -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200" \
    start >/dev/null
  local psql=("$PGBIN/psql" -X -q -h "$WORK/pgsock" -p 55432 -U postgres)
  "${psql[@]}" -c "CREATE DATABASE bench" >/dev/null
  "${psql[@]}" -d bench -c "CREATE TABLE events (seq bigserial PRIMARY KEY, account_id bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(), payload bytea NOT NULL)" >/dev/null
  cat > "$WORK/insert.sql" <<'SQL'
\set aid random(1, 1000)
INSERT INTO events (account_id, payload) VALUES (:aid, decode(repeat(md5(:aid::text), 16), 'hex'));
SQL
}
# pgb CLIENTS ARGS...: the insert script for S seconds over CLIENTS clients
# (min(CLIENTS, 4) threads); prints its tps, with decimals.
pgb() {
  local c=$1 j=$(( $1 < 4 ? $1 : 4 )); shift
  "$PGBIN/pgbench" -n -M prepared -h "$WORK/pgsock" -p 55432 -U postgres -c "$c" -j "$j" -T "$S" \
    -f "$WORK/insert.sql" "$@" bench 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
pgbench_point() { pgb "$1" | cut -d. -f1; }  # clients -> rows/s
# pgbench_paced RATE CLIENTS: paced to RATE transactions/s in total; prints
# "tps p50_ms p99_ms". Latency as accountable-bench measures it: from each
# transaction's scheduled start (pgbench's per-transaction log: the
# transaction's time plus its schedule lag). pgbench schedules a Poisson
# process, accountable-bench a fixed one.
pgbench_paced() {
  local tps
  rm -rf "$WORK/pgbench-log"; mkdir -p "$WORK/pgbench-log"
  tps=$(cd "$WORK/pgbench-log" && pgb "$2" -R "$1" -l)
  # Log fields: client, transaction, time (us), script, epoch s, epoch us, schedule lag (us).
  cat "$WORK"/pgbench-log/pgbench_log.* | awk '{ print ($3 + $7) / 1000 }' | sort -g |
    awk -v t="${tps%.*}" '{ v[NR] = $1 } END {
      if (NR == 0) { print t, "", ""; exit }
      i50 = int(NR * 0.50); i99 = int(NR * 0.99); if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
      printf "%s %.3f %.3f\n", t, v[i50], v[i99] }'
}

# ---- RocksDB db_bench ----
# dbb_run ARGS...: db_bench on a fresh DB; prints its whole output.
dbb_run() {
  rm -rf "$WORK/rocks"
  # enable_pipelined_write=false: RocksDB's own default and the ledger's setting
  # (db_bench alone defaults it to true).
  db_bench --db="$WORK/rocks" --value_size=300 --enable_pipelined_write=false "$@" 2>&1
}
ops_of() { sed -n "s/^$1 *:.* \([0-9][0-9]*\) ops\/sec.*/\1/p" | head -1; }  # benchmark name
dbb() {
  local name=$1; shift
  dbb_run --histogram=0 "$@" | ops_of "$name"
}
# The 1-thread synced fillrandom with its latency histogram: adds fr,1 (ops/s)
# and fr,1,p99 / fr,1,p999 (ms, db_bench's own per-write percentiles).
dbb_fr1() {
  local out
  out=$(dbb_run --histogram=1 --benchmarks=fillrandom --sync=1 --threads=1 --duration="$S" --num=100000000)
  add fr,1 "$(ops_of fillrandom <<<"$out")"
  add fr,1,p99 "$(sed -n 's/^Percentiles:.* P99: \([0-9.]*\) .*/\1/p' <<<"$out" | head -1 | awk '{ printf "%.3f", $1 / 1000 }')"
  add fr,1,p999 "$(sed -n 's/^Percentiles:.* P99.9: \([0-9.]*\) .*/\1/p' <<<"$out" | head -1 | awk '{ printf "%.3f", $1 / 1000 }')"
}
db_bench_round() {
  dbb_fr1
  add fr,64 "$(dbb fillrandom --benchmarks=fillrandom --sync=1 --threads=64 --duration="$S" --num=100000000)"
  # fillseq ignores --duration: size it to about S seconds at ~100k writes/s.
  add fsb,1 "$(dbb fillseq --benchmarks=fillseq --sync=1 --batch_size=100 --threads=1 --num=$((S * 100000)))"
  add fs,1 "$(dbb fillseq --benchmarks=fillseq --sync=0 --threads=1 --num=$((S * 100000)))"
  note "  db_bench fillrandom sync 1/64 threads, fillseq sync batch 100, no sync:$(for k in fr,1 fr,64 fsb,1 fs,1; do printf ' %s' "${RUNS[$k]##* }"; done)"
}

# ---- the ledger in process ----
append_round() {
  local row
  mkdir -p "$WORK/append"
  row=$("$APPEND_BIN" --threads 16 --batch 16 --hook projector --seconds "$S" --tmp "$WORK/append" | grep '^| projector')
  # | hook | tree | threads | batch | events/s | appends/s | ev/group | p50 | p99 | writer us/ev | cpu us/ev |
  add app,eps "$(awk -F'|' '{ gsub(/ /, "", $6); print $6 }' <<<"$row")"
  add app,writer "$(awk -F'|' '{ gsub(/ /, "", $11); print $11 }' <<<"$row")"
  add app,cpu "$(awk -F'|' '{ gsub(/ /, "", $12); print $12 }' <<<"$row")"
  note "  append bench 16 threads batch 16: ${RUNS[app,eps]##* } events/s, writer ${RUNS[app,writer]##* } us/ev"
}

accountable_round() {
  local c out
  for c in $CLIENTS; do
    out=$(bench --accounts "$ACCOUNTS" --mix cheap --connections "$c" --depth 1 --seconds "$S")
    note "  $out"
    add_result "acc,$c" "$out"
  done
  out=$(bench --accounts "$ACCOUNTS" --mix cheap --connections 64 --depth "$DEPTH" --seconds "$S")
  note "  $out"
  add_result accp,64 "$out"
}

# ---- rounds ----
note "postgresql: initdb ..."
start_postgres
start_server cheap --argon2-mem-mib 8 --argon2-ops 1
for r in $(seq "$REPEAT"); do
  note "round $r of $REPEAT, $S s per point:"
  accountable_round
  for c in $CLIENTS; do add "pg,$c" "$(pgbench_point "$c")"; done
  note "  pgbench:$(for c in $CLIENTS; do printf ' %s clients %s rows/s;' "$c" "${RUNS[pg,$c]##* }"; done)"
  db_bench_round
  append_round
done
# PostgreSQL at half of its own peak, over the client count that reached it.
PGBEST=0; PGBEST_C=1
for c in $CLIENTS; do
  v=$(med "pg,$c"); v=${v%.*}
  if [ "${v:-0}" -gt "$PGBEST" ]; then PGBEST=$v; PGBEST_C=$c; fi
done
PGHALF=$((PGBEST / 2))
if [ "$PGHALF" -gt 0 ]; then
  note "postgresql at half of its best: $PGHALF tx/s over $PGBEST_C clients"
  for r in $(seq "$REPEAT"); do
    read -r t p50 p99 <<<"$(pgbench_paced "$PGHALF" "$PGBEST_C")"
    note "  pgbench --rate $PGHALF: $t tx/s, p50 $p50 ms, p99 $p99 ms"
    add pghalf,tps "$t"; add pghalf,p50 "$p50"; add pghalf,p99 "$p99"
  done
fi
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null

# ---- latency at half of the depth-1 peak ----
PEAK1=0
for c in $CLIENTS; do
  v=$(med "acc,$c,events_per_s"); v=${v%.*}
  [ "${v:-0}" -gt "$PEAK1" ] && PEAK1=$v
done
HALF=$((PEAK1 / 2))
[ "$HALF" -gt 0 ] || die "no accountable throughput measured"
note "half of the depth-1 peak: $HALF req/s over 64 connections"
for r in $(seq "$REPEAT"); do
  for d in 1 "$DEPTH"; do
    out=$(bench --accounts "$ACCOUNTS" --mix cheap --connections 64 --depth "$d" --seconds "$S" --rate "$HALF")
    note "  depth $d: $out"
    add_result "half,$d" "$out"
  done
done
stop_server

# ---- registrations at the production Argon2id cost ----
note "registrations: accountabled at its default Argon2id cost, --mix auth, $AUTH_CONNECTIONS connections ..."
start_server auth
for r in $(seq "$REPEAT"); do
  out=$(bench --accounts 64 --prepare-connections 8 --mix auth --connections "$AUTH_CONNECTIONS" --depth 1 \
            --warmup 3 --seconds "$S")
  note "  $out"
  add_result auth "$out"
  done
stop_server

# ---- the table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'; }
row() {  # system clients depth key-prefix (accountable: RESULT fields; others: ops only)
  local ops p99="" scpu="" ccpu="" cores=""
  if [[ $4 == acc* ]]; then
    ops=$(med "$4,events_per_s"); p99=$(med "$4,p99_ms")
    scpu=$(med "$4,server_cpu_us_per_event"); ccpu=$(med "$4,client_cpu_us_per_event")
    # Server and client CPU per event times events/s: the cores the two kept busy.
    cores=$(awk -v s="$scpu" -v c="$ccpu" -v o="$ops" 'BEGIN { if (o > 0) printf "%.2f", (s + c) * o / 1e6 }')
  else
    ops=$(med "$4")
  fi
  printf '| %-42s | %7s | %5s | %8s | %8s | %10s | %10s | %6s |\n' "$1" "$2" "$3" "${ops%.*}" "$p99" "$scpu" "$ccpu" "$cores"
}
PG1=$(med pg,1)
echo
echo "Side by side, $S s per point, median of $REPEAT interleaved rounds, $(nproc) cores, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU columns: microseconds of CPU per acknowledged event over the measured window (server: /proc/PID/stat, client: getrusage);"
echo "cores: (server + client CPU per event) x events/s, the cores of the $(nproc) that the two kept busy"
echo
printf '| %-42s | %7s | %5s | %8s | %8s | %10s | %10s | %6s |\n' "system" "clients" "depth" "ops/s" "p99 ms" "server us" "client us" "cores"
echo "|--------------------------------------------|---------|-------|----------|----------|------------|------------|--------|"
for c in $CLIENTS; do row "accountable, cheap mix" "$c" 1 "acc,$c"; done
row "accountable, cheap mix (pipelined)" 64 "$DEPTH" accp,64
for c in $CLIENTS; do row "postgresql 15, 1-row INSERT, sync commit" "$c" 1 "pg,$c"; done
row "db_bench fillrandom sync=1" 1 "" fr,1
row "db_bench fillrandom sync=1" 64 "" fr,64
row "db_bench fillseq sync=1 batch_size=100" 1 "" fsb,1
row "db_bench fillseq sync=0" 1 "" fs,1
printf '| %-42s | %7s | %5s | %8s | %8s | %10s | %10s | %6s |\n' "append bench, projector, batch 16" 16 "" \
  "$(med app,eps | cut -d. -f1)" "" "$(med app,cpu)" "" ""
echo "(append bench: cpu us/ev is the whole process; its writer thread alone: $(med app,writer) us/ev)"

# ---- latency at half of the depth-1 peak ----
FLOOR_MS=$(awk -v o="$(med fr,1)" 'BEGIN { if (o > 0) printf "%.3f", 1000 / o; else printf "0" }')
echo
echo "Half of the depth-1 peak: peak $PEAK1 events/s; paced at $HALF req/s over 64 connections,"
echo "latency from each request's scheduled send time. Floor: one synced RocksDB write took $FLOOR_MS ms"
echo "on average in db_bench fillrandom, 1 thread; that write's own p99 $(med fr,1,p99) ms, p99.9 $(med fr,1,p999) ms."
for d in 1 "$DEPTH"; do
  echo "  depth $d: achieved $(med "half,$d,events_per_s") events/s, p50 $(med "half,$d,p50_ms") ms," \
       "p99 $(med "half,$d,p99_ms") ms, p99.9 $(med "half,$d,p999_ms") ms, server $(med "half,$d,server_cpu_us_per_event") us/ev"
done
echo "PostgreSQL at half of its best ($PGHALF tx/s over $PGBEST_C clients, its best client count; pgbench --rate, latency"
echo "  from the scheduled start): achieved $(med pghalf,tps) tx/s, p50 $(med pghalf,p50) ms, p99 $(med pghalf,p99) ms"

# ---- registrations ----
AUTH_US=$(med auth,server_cpu_us_per_event)
echo
echo "Registrations at the production Argon2id cost (accountabled defaults), --mix auth, $AUTH_CONNECTIONS connections:"
per_s() { awk -v n="$1" -v s="$S" 'BEGIN { printf "%.1f", n / s }'; }
echo "  register + login: $(per_s "$(med auth,ok)") ops/s, of which registrations" \
     "$(per_s "$(med auth,registrations)")/s; p99 $(med auth,p99_ms) ms"
echo "  server CPU $(awk -v u="$AUTH_US" 'BEGIN { printf "%.1f", u / 1000 }') ms per op (each op one Argon2id hash):" \
     "about $(awk -v u="$AUTH_US" 'BEGIN { if (u > 0) printf "%.1f", 1e6 / u; else printf "-" }') registrations/s per core"

# ---- the targets of issue 12 ----
# target LABEL ACTUAL OP BOUND: prints actual/bound and whether ACTUAL OP BOUND holds.
target() {
  awk -v l="$1" -v a="$2" -v op="$3" -v b="$4" 'BEGIN {
    ok = (a != "" && b > 0) && ((op == ">=" && a + 0 >= b + 0) || (op == "<=" && a + 0 <= b + 0));
    printf "  %-58s %10s %s %-10s ratio %6s  %s\n", l, a, op, b, (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-",
           ok ? "met" : "NOT MET" }'
}
APP_EPS=$(med app,eps)
echo
echo "Targets (issue 12), medians:"
target "1 conn depth 1 events/s >= PostgreSQL 1 client" "$(med acc,1,events_per_s)" ">=" "$PG1"
target "64 conn depth 1 events/s >= 2x PostgreSQL best" "$(med acc,64,events_per_s)" ">=" $((2 * PGBEST))
target "64 conn depth $DEPTH events/s >= 4x PostgreSQL best" "$(med accp,64,events_per_s)" ">=" $((4 * PGBEST))
target "64 conn depth $DEPTH events/s >= 50% of the append bench" "$(med accp,64,events_per_s)" ">=" \
  "$(awk -v e="$APP_EPS" 'BEGIN { printf "%.0f", e / 2 }')"
P99_BOUND_MS=$(awk -v f="$FLOOR_MS" 'BEGIN { printf "%.3f", 3 * f }')
target "p99 ms at half the depth-1 peak (depth 1) <= 3x db_bench write" "$(med half,1,p99_ms)" "<=" "$P99_BOUND_MS"
target "(the same bound for PostgreSQL's p99 at half its best)" "$(med pghalf,p99)" "<=" "$P99_BOUND_MS"
target "server CPU us/event at depth $DEPTH <= 2x append writer us/ev" "$(med accp,64,server_cpu_us_per_event)" "<=" \
  "$(awk -v w="$(med app,writer)" 'BEGIN { printf "%.2f", 2 * w }')"
if [ -s "$WORK/bench.err" ]; then
  grep -v '^prepared' "$WORK/bench.err" | head -5 >&2 || true
fi
