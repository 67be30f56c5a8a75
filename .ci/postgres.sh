#!/usr/bin/env bash
# Make sure a PostgreSQL server runs on loopback with a database for the worker tests; print its URL.
# Installs the Debian package when missing (CI machines), starts the cluster, creates role and database.
set -euo pipefail
db=sdcbench_test
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2
fi
version=$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $2}')
if [ -z "$version" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  cluster=main
  pg_createcluster "$version" "$cluster" >&2
fi
port=$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')
pg_ctlcluster "$version" "$cluster" start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$port"
run_sql() { su postgres -c "psql -q -p $port -tAc \"$1\""; }
[ "$(run_sql "SELECT 1 FROM pg_roles WHERE rolname='sdcbench'")" = "1" ] || run_sql "CREATE ROLE sdcbench LOGIN PASSWORD 'sdcbench'" >&2
[ "$(run_sql "SELECT 1 FROM pg_database WHERE datname='$db'")" = "1" ] || run_sql "CREATE DATABASE $db OWNER sdcbench" >&2
echo "postgresql://sdcbench:sdcbench@127.0.0.1:$port/$db"
