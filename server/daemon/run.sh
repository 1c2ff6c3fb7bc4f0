#!/usr/bin/env bash
# `make run`: start accountabled in the foreground on a data directory.
# accountabled itself creates what a first start needs (DATA and DATA/keys
# mode 0700, keys, and one token per role in DATA/keys/<role>.token, mode
# 0600); this only prints how to use them.
set -euo pipefail
build=${1:-build}
data=${2:-./data}
listen=${3:-127.0.0.1:7400}
keys="$data/keys"
cat <<MSG
accountabled on $listen, data in $data. From another terminal, for example:
  $build/bin/accountable --server $listen --token-file $keys/writer.token register --nickname ann \\
      --email ann@example.org --password-stdin --gender female --birthdate 1990-01-01 --ip 192.0.2.1 --accept-policy 1.01 <<< 'a long password'
  $build/bin/accountable --server $listen --token-file $keys/admin.token show 1
  $build/bin/accountable --server $listen --token-file $keys/auditor.token log
  $build/bin/accountable-audit --server $listen --token-file $keys/auditor.token verify --pubkey $keys/signing.pub
More tokens: $build/bin/accountable --data $data token add --role writer --name NAME, then kill -HUP the server.
Stop with Ctrl-C (in-flight commands finish, then a clean close).
MSG
exec "$build/bin/accountabled" --data "$data" --listen "$listen"
