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

say "register two accounts (the password comes from stdin, never from argv)"
stamp=$(date +%s%N)
a=$(printf 'correct horse battery\n' | run register --nickname "ann$stamp" --email "ann.$stamp@example.org" \
      --password-stdin --gender female --birthdate 1990-04-01 --ip 192.0.2.10 \
      --user-agent "demo-browser/1.0" --accept-policy 1.01)
echo "registered account $a"
b=$(printf 'tr0ub4dor&3 again\n' | run register --nickname "bob$stamp" --email "bob.$stamp@example.org" \
      --password-stdin --gender male --birthdate 1984-12-24 --ip 2001:db8::7 --company Example \
      --accept-policy 1.01)
echo "registered account $b"

say "a duplicate email is refused and appends nothing (exit code 3)"
printf 'whatever123\n' | run register --nickname dup --email "ANN.$stamp@example.org" --password-stdin \
  --gender female --birthdate 1990-04-01 --ip 192.0.2.11 --accept-policy 1.01 || echo "exit code $?"

say "show account $a: non-PII state plus its decrypted personal data"
run show "$a"

say "the log: one event per line; PII appears only as sealed byte counts"
run log --from $((n > 5 ? n - 2 : 1))

say "the compliance report of this ledger: one self-contained HTML page, aggregates only (docs/audit.md)"
"$build/bin/accountable-audit" --data "$data" report --out "$data/report.html"
echo "open $data/report.html in a browser"

say "done: every line above came from $data/events (RocksDB); keys live in $data/vault and $data/keys"
