#!/usr/bin/env bash
# side_by_side.sh: the Accountable server next to PostgreSQL 15 and RocksDB's
# db_bench on this machine, in one run, with synced (fsync'd) writes
# everywhere. Prints one table; docs/performance.md ("Server: side by side")
# keeps the figures and how to read them.
#
#   tests/bench/side_by_side.sh [BUILD_DIR]          # default: build
#   SECONDS_PER_POINT=10 CLIENTS="1 16 64" DEPTH=8 tests/bench/side_by_side.sh build
#
# Needs: BUILD_DIR/bin/accountabled and BUILD_DIR/bin/accountable-bench
# (cmake --build BUILD_DIR --target accountabled accountable-bench). Installs
# postgresql and rocksdb-tools with apt-get if they are missing (root).
# Everything runs under one temporary directory on the same file system as
# /tmp (TMPDIR), which is removed at the end. About 3-4 minutes at 10 s a point.
#
# What runs:
#   accountable   accountabled (--argon2-mem-mib 8), accountable-bench --mix cheap:
#                 consent give/withdraw + profile update + record-access, each
#                 an acknowledged, fsync'd append; CLIENTS connections with one
#                 request outstanding each, then 64 connections x DEPTH pipelined.
#   postgresql    a throwaway PostgreSQL 15 cluster, synchronous_commit=on,
#                 pgbench with a custom script: one single-row INSERT (256-byte
#                 payload) per transaction, same client counts and duration.
#   db_bench      fillrandom --sync=1 with 1 and 64 threads, fillseq --sync=1
#                 --batch_size=100 (1 thread), fillseq without sync; 300-byte
#                 values, --enable_pipelined_write=false as in the ledger.
# Then latency at half load: accountable-bench paced at half the peak rate
# (64 connections, depth 1 and DEPTH), reporting p99 (target: <= 5 ms).
set -euo pipefail

BUILD=${1:-build}
S=${SECONDS_PER_POINT:-10}
CLIENTS=${CLIENTS:-"1 16 64"}
DEPTH=${DEPTH:-8}
ACCOUNTS=${ACCOUNTS:-1000}
SERVER_BIN=$BUILD/bin/accountabled
BENCH_BIN=$BUILD/bin/accountable-bench
PGBIN=/usr/lib/postgresql/15/bin

die() { echo "side_by_side: $*" >&2; exit 1; }
[ -x "$SERVER_BIN" ] || die "$SERVER_BIN missing: cmake --build $BUILD --target accountabled accountable-bench"
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN missing: cmake --build $BUILD --target accountabled accountable-bench"
[ "$(id -u)" = 0 ] || die "run as root: PostgreSQL is started as the postgres user with runuser"

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
    tail -5 "$WORK/bench.err" "$WORK/accountabled.log" "$WORK/pglog/postgresql.log" 2>/dev/null >&2
  fi
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -f "$WORK/pg/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

declare -A OPS P99
result_field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
note() { printf '%s\n' "$*" >&2; }

note "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$WORK" | awk 'NR==2{print $2}') file system"

# ---- Accountable ----
TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '# side_by_side.sh\n%s writer\n' "$TOKEN" > "$WORK/tokens")  # accountabled refuses a token file others may read
"$SERVER_BIN" --data "$WORK/acc" --token-file "$WORK/tokens" --listen 127.0.0.1:0 \
  --argon2-mem-mib 8 --argon2-ops 1 --sweep-interval-s 0 > "$WORK/accountabled.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do
  PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$WORK/accountabled.log")
  [ -n "$PORT" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/accountabled.log" >&2; die "accountabled did not start"; }
  sleep 0.1
done
[ -n "$PORT" ] || die "accountabled did not report its port"
bench() { "$BENCH_BIN" --server "127.0.0.1:$PORT" --token "$TOKEN" --accounts "$ACCOUNTS" --mix cheap "$@" 2>>"$WORK/bench.err"; }

note "accountable: preparing $ACCOUNTS accounts, then cheap mix, $S s per point ..."
for c in $CLIENTS; do
  out=$(bench --connections "$c" --depth 1 --seconds "$S" | tail -1)
  note "  $out"
  OPS[acc,$c]=$(result_field "$out" events_per_s); P99[acc,$c]=$(result_field "$out" p99_ms)
done
out=$(bench --connections 64 --depth "$DEPTH" --seconds "$S" | tail -1)
note "  $out"
OPS[accp,64]=$(result_field "$out" events_per_s); P99[accp,64]=$(result_field "$out" p99_ms)

# ---- PostgreSQL 15 ----
note "postgresql: initdb + $S s per point ..."
mkdir -p "$WORK/pg" "$WORK/pgsock" "$WORK/pglog"
chown postgres "$WORK/pg" "$WORK/pgsock" "$WORK/pglog"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pglog/postgresql.log" \
  -o "-k $WORK/pgsock -p 55432 -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200" \
  start >/dev/null
PSQL=("$PGBIN/psql" -X -q -h "$WORK/pgsock" -p 55432 -U postgres)
"${PSQL[@]}" -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -d bench -c "CREATE TABLE events (seq bigserial PRIMARY KEY, account_id bigint NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(), payload bytea NOT NULL)" >/dev/null
cat > "$WORK/insert.sql" <<'SQL'
\set aid random(1, 1000)
INSERT INTO events (account_id, payload) VALUES (:aid, decode(repeat(md5(:aid::text), 16), 'hex'));
SQL
for c in $CLIENTS; do
  j=$(( c < 4 ? c : 4 ))
  out=$("$PGBIN/pgbench" -n -M prepared -h "$WORK/pgsock" -p 55432 -U postgres -c "$c" -j "$j" -T "$S" \
        -f "$WORK/insert.sql" bench 2>&1)
  OPS[pg,$c]=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1 | cut -d. -f1)
  note "  pgbench -c $c: ${OPS[pg,$c]} rows/s"
done
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null

# ---- RocksDB db_bench ----
note "db_bench: $S s per point ..."
dbb() {
  local name=$1; shift
  rm -rf "$WORK/rocks"
  # enable_pipelined_write=false: RocksDB's own default and the ledger's setting
  # (db_bench alone defaults it to true).
  out=$(db_bench --db="$WORK/rocks" --value_size=300 --histogram=0 --enable_pipelined_write=false "$@" 2>&1)
  sed -n "s/^$name *:.* \([0-9][0-9]*\) ops\/sec.*/\1/p" <<<"$out" | head -1
}
OPS[fr,1]=$(dbb fillrandom --benchmarks=fillrandom --sync=1 --threads=1 --duration="$S" --num=100000000)
note "  fillrandom sync 1 thread: ${OPS[fr,1]}"
OPS[fr,64]=$(dbb fillrandom --benchmarks=fillrandom --sync=1 --threads=64 --duration="$S" --num=100000000)
note "  fillrandom sync 64 threads: ${OPS[fr,64]}"
# fillseq ignores --duration: size it to about S seconds at ~100k writes/s.
OPS[fsb,1]=$(dbb fillseq --benchmarks=fillseq --sync=1 --batch_size=100 --threads=1 --num=$((S * 100000)))
note "  fillseq sync batch 100: ${OPS[fsb,1]}"
OPS[fs,1]=$(dbb fillseq --benchmarks=fillseq --sync=0 --threads=1 --num=$((S * 100000)))
note "  fillseq no sync: ${OPS[fs,1]}"

# ---- latency at half of peak ----
PEAK=0
for k in "${!OPS[@]}"; do
  case $k in acc,*|accp,*) [ "${OPS[$k]%.*}" -gt "$PEAK" ] && PEAK=${OPS[$k]%.*} ;; esac
done
HALF=$((PEAK / 2))
declare -A HP50 HP99 HP999 HOPS
for d in 1 "$DEPTH"; do
  out=$(bench --connections 64 --depth "$d" --seconds "$S" --rate "$HALF" | tail -1)
  note "  half peak, depth $d: $out"
  HOPS[$d]=$(result_field "$out" events_per_s); HP50[$d]=$(result_field "$out" p50_ms)
  HP99[$d]=$(result_field "$out" p99_ms); HP999[$d]=$(result_field "$out" p999_ms)
done

# ---- the table ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "-" }'; }
row() {  # system clients ops p99 reference-label reference-ops
  printf '| %-42s | %7s | %8s | %8s | %-18s | %6s |\n' "$1" "$2" "$3" "$4" "$5" "$(ratio "$6" "$3")"
}
best64=${OPS[accp,64]:-0}; [ "${OPS[acc,64]:-0}" -gt "$best64" ] && best64=${OPS[acc,64]}
echo
echo "Side by side, $S s per point, $(nproc) cores, load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "acc/x = accountable events/s (the row named) divided by this row's ops/s"
echo
printf '| %-42s | %7s | %8s | %8s | %-18s | %6s |\n' "system" "clients" "ops/s" "p99 ms" "compared with" "acc/x"
echo "|--------------------------------------------|---------|----------|----------|--------------------|--------|"
for c in $CLIENTS; do
  row "accountable, cheap mix, depth 1" "$c" "${OPS[acc,$c]}" "${P99[acc,$c]}" "" ""
done
row "accountable, cheap mix, depth $DEPTH (pipelined)" 64 "${OPS[accp,64]}" "${P99[accp,64]}" "" ""
for c in $CLIENTS; do
  ref=${OPS[acc,$c]}; label="acc $c conn"
  if [ "$c" = 64 ]; then ref=$best64; label="acc 64 conn, best"; fi
  row "postgresql 15, 1-row INSERT, sync commit" "$c" "${OPS[pg,$c]}" "" "$label" "$ref"
done
row "db_bench fillrandom sync=1" 1 "${OPS[fr,1]}" "" "acc 1 conn" "${OPS[acc,1]:-0}"
row "db_bench fillrandom sync=1" 64 "${OPS[fr,64]}" "" "acc 64 conn, best" "$best64"
row "db_bench fillseq sync=1 batch_size=100" 1 "${OPS[fsb,1]}" "" "acc 64 conn, best" "$best64"
row "db_bench fillseq sync=0" 1 "${OPS[fs,1]}" "" "acc 64 conn, best" "$best64"
echo
echo "Half of peak: peak $PEAK events/s; paced at $HALF req/s over 64 connections (target p99 <= 5 ms):"
echo "  (floor: one synced RocksDB write took $(awk -v o="${OPS[fr,1]:-0}" 'BEGIN { if (o > 0) printf "%.2f", 1000 / o; else printf "?" }') ms on average in db_bench fillrandom, 1 thread)"
for d in 1 "$DEPTH"; do
  echo "  depth $d: achieved ${HOPS[$d]} events/s, p50 ${HP50[$d]} ms, p99 ${HP99[$d]} ms, p99.9 ${HP999[$d]} ms"
done
if [ -s "$WORK/bench.err" ]; then
  grep -v '^prepared' "$WORK/bench.err" | head -5 >&2 || true
fi
