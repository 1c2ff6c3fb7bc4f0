#!/bin/bash
# GET /report on accountabled over a copy of a benchmark ledger
# (docs/performance.md, "The compliance report at 1M and 10M events"). Not
# run by ctest. EVENTS_DIR is the events/ of a ledger that
#   accountable-audit-bench --events N --proofs 10 --replay 0 --keep 1
# kept; WORKDIR is made afresh (the copy, the logs, the last page).
#   tests/bench/report_live.sh EVENTS_DIR WORKDIR LABEL [RUNS]
# Per run: a fresh process, the first request, a repeat, 10 s of appends,
# a request after them; then a fresh process with appends during its first
# request. Each request line: wall_s server_cpu_s rss_before_kB hwm_after_kB
# page_bytes http_status.
set -u
# curl and bc are not among the build's packages: installed here if missing.
missing=()
for t in curl bc; do command -v $t >/dev/null || missing+=($t); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..." >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get -qq update && DEBIAN_FRONTEND=noninteractive $SUDO apt-get -qq install -y "${missing[@]}" >/dev/null \
    || { echo "report_live.sh: could not install ${missing[*]}; install them and run again" >&2; exit 1; }
fi
B=${BUILD:-build}/bin
SRC=$1; W=$2; LABEL=$3; RUNS=${4:-3}
PORT=17521; MPORT=17522
rm -rf "$W"; mkdir -p "$W"
D=$W/data
start_server() {  # $1: extra flags
  $B/accountabled --data $D --listen 127.0.0.1:$PORT --metrics-listen 127.0.0.1:$MPORT \
     --argon2-ops 1 --argon2-mem-mib 8 --report-min-interval-ms 0 --report-wait-ms 600000 \
     --report-waiters-max 1 --metrics-threads 2 $1 >> $W/server.log 2>&1 &
  SPID=$!
  for i in $(seq 1 600); do curl -s -o /dev/null http://127.0.0.1:$MPORT/healthz && break; sleep 0.5; done
}
stop_server() { kill -INT $SPID; wait $SPID; }
cpu() { awk '{print $14+$15}' /proc/$SPID/stat; }        # clock ticks
hwm() { awk '/VmHWM/{print $2}' /proc/$SPID/status; }    # kB
rss() { awk '/VmRSS/{print $2}' /proc/$SPID/status; }
req() {  # prints: wall_s cpu_s rss_before_kB hwm_after_kB bytes status
  local c0=$(cpu) r0=$(rss) t0=$(date +%s.%N)
  local out=$(curl -s -o $W/page.html -w '%{http_code} %{size_download}' -H "Authorization: Bearer $(cat $D/keys/auditor.token)" http://127.0.0.1:$MPORT/report)
  local t1=$(date +%s.%N) c1=$(cpu)
  echo "$(echo "$t1 - $t0" | bc) $(echo "($c1 - $c0)/100" | bc -l | cut -c1-6) $r0 $(hwm) ${out#* } ${out% *}"
}
# First start on an empty dir makes keys, tokens and the vault; then the bench's event DB replaces the empty one.
start_server ""
stop_server
rm -rf $D/events; cp -a $SRC $D/events
echo "# $LABEL $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq 1 $RUNS); do
  start_server ""
  echo "run $run: server up, rss $(rss) kB, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "run $run first:    $(req)"
  echo "run $run repeat:   $(req)"
  $B/accountable-bench --server 127.0.0.1:$PORT --token-file $D/keys/writer.token --connections 16 --depth 8 \
     --threads 1 --seconds 10 --warmup 1 --mix cheap --accounts 64 --prefix m$run --server-pid $SPID 2>/dev/null | grep RESULT | sed "s/^/run $run appends-idle: /"
  echo "run $run after appends: $(req)"
  stop_server
  # Appends while the first computation of a fresh process runs.
  start_server ""
  ( sleep 2; echo "run $run first-under-load: $(req)" ) &
  RP=$!
  $B/accountable-bench --server 127.0.0.1:$PORT --token-file $D/keys/writer.token --connections 16 --depth 8 \
     --threads 1 --seconds 10 --warmup 1 --mix cheap --accounts 64 --prefix m$run --server-pid $SPID 2>/dev/null | grep RESULT | sed "s/^/run $run appends-during-report: /"
  wait $RP
  stop_server
done
echo "# end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
