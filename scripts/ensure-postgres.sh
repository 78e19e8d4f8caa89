#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on $CW_TEST_PG_HOST:$CW_TEST_PG_PORT (default 127.0.0.1:5432)
# before the tests that need one run. Starts the machine's cluster if it is installed but down.
set -euo pipefail
host=${CW_TEST_PG_HOST:-127.0.0.1}
port=${CW_TEST_PG_PORT:-5432}
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null || (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }
if ready; then exit 0; fi
echo "PostgreSQL is not answering on $host:$port; trying to start the local cluster..." >&2
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi
for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "No PostgreSQL server on $host:$port. Start one (trust auth, database 'test') or set CW_TEST_PG_HOST/CW_TEST_PG_PORT." >&2
exit 1
