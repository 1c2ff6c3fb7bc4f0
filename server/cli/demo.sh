#!/usr/bin/env bash
# `make run`: a short scripted tour of the embedded CLI against a data directory.
set -euo pipefail
build=${1:-build}
data=${2:-./data}
cli="$build/bin/accountable"
say() { printf '\n== %s\n' "$*"; }

say "data directory: $data (created on first use; keys in $data/keys)"
# Cheap Argon2id cost for the demo only; the default is libsodium's interactive cost.
run() { "$cli" --data "$data" --argon2-mem-mib 8 "$@"; }
n=$(run log --limit 100000 | wc -l)
say "the log holds $n event(s) before this run"

say "import a made-up forum history: 500 accounts since 2020 (server/cli/demo_history.awk, docs/import.md)"
# Generated the same way on every run, so a second run imports nothing twice.
# Piped, never written to a file: import lines hold passwords in plaintext.
echo "one Argon2id hash per account: this takes a while on the first run"
LC_ALL=C awk -v ACCOUNTS=500 -f "$(dirname "$0")/demo_history.awk" | LC_ALL=C sort -s -k1,1 | cut -f2- |
  run import - || echo "the history was not imported (exit code $?): delete $data to start over"

policy=$(run policy show | head -1 | sed -n 's/^version=\([^ ]*\) .*/\1/p')
say "register two accounts accepting the current policy $policy (the password comes from stdin, never from argv)"
stamp=$(date +%s%N)
a=$(printf 'correct horse battery\n' | run register --nickname "ann$stamp" --email "ann.$stamp@example.org" \
      --password-stdin --gender female --birthdate 1990-04-01 --ip 192.0.2.10 \
      --user-agent "demo-browser/1.0" --accept-policy "$policy")
echo "registered account $a"
b=$(printf 'tr0ub4dor&3 again\n' | run register --nickname "bob$stamp" --email "bob.$stamp@example.org" \
      --password-stdin --gender male --birthdate 1984-12-24 --ip 2001:db8::7 --company Example \
      --accept-policy "$policy")
echo "registered account $b"

say "a duplicate email is refused and appends nothing (exit code 3)"
printf 'whatever123\n' | run register --nickname dup --email "ANN.$stamp@example.org" --password-stdin \
  --gender female --birthdate 1990-04-01 --ip 192.0.2.11 --accept-policy "$policy" || echo "exit code $?"

say "show account $a: non-PII state plus its decrypted personal data"
run show "$a"

say "the log: one event per line; PII appears only as sealed byte counts"
run log --from $((n > 5 ? n - 2 : 1))

say "sweep: erase the accounts past their grace period or 36 months inactive, shred access-log days past the window"
run sweep | tail -1

say "the compliance report of this ledger: one self-contained HTML page, aggregates only (docs/audit.md)"
"$build/bin/accountable-audit" --data "$data" report --out "$data/report.html"
echo "open $data/report.html in a browser"

say "done: every line above came from $data/events (RocksDB); keys live in $data/vault and $data/keys"
