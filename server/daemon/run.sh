#!/usr/bin/env bash
# `make run`: start accountabled in the foreground on a data directory.
# On first use it creates one token per role under DATA/keys (mode 0600):
# tokens (the server's TOKEN ROLE list) and writer.token, auditor.token,
# admin.token (one token each, for `accountable --token-file`).
set -euo pipefail
build=${1:-build}
data=${2:-./data}
listen=${3:-127.0.0.1:7400}
keys="$data/keys"
mkdir -p "$keys"
chmod 700 "$data" "$keys"
if [ ! -f "$keys/tokens" ]; then
  umask 077
  : > "$keys/tokens"
  for role in writer auditor admin; do
    token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$token $role" >> "$keys/tokens"
    echo "$token" > "$keys/$role.token"
  done
  echo "created tokens for writer, auditor and admin in $keys"
fi
cat <<MSG
accountabled on $listen, data in $data. From another terminal, for example:
  $build/bin/accountable --server $listen --token-file $keys/writer.token register --nickname ann \\
      --email ann@example.org --password-stdin --gender female --birthdate 1990-01-01 --ip 192.0.2.1 --accept-policy 1.01 <<< 'a long password'
  $build/bin/accountable --server $listen --token-file $keys/admin.token show 1
  $build/bin/accountable --server $listen --token-file $keys/auditor.token log
  $build/bin/accountable-audit --server $listen --token-file $keys/auditor.token verify --pubkey $keys/signing.pub
Stop with Ctrl-C (in-flight commands finish, then a clean close).
MSG
exec "$build/bin/accountabled" --data "$data" --listen "$listen"
