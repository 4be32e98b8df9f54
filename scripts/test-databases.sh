#!/usr/bin/env bash
# Runs the black-box API suite (tests/api) and the MetadataStore contract suite
# (tests/metadata_store_contract/) against PostgreSQL and MariaDB on this machine,
# each in a freshly created database `datasets_api_ci`.
#
# Alone: scripts/test-databases.sh            (both)
#        scripts/test-databases.sh postgres   (one)
# Needs: PostgreSQL on 127.0.0.1:5432 (trust auth for user postgres) and MariaDB on
# 127.0.0.1:3306 (root, empty password). Override with PG_ADMIN_URL / MYSQL_HOST.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/datasets-api-target}"
DB=datasets_api_ci
PG_HOST="${PG_HOST:-127.0.0.1}"
MYSQL_HOST="${MYSQL_HOST:-127.0.0.1}"
which="${1:-all}"

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 30); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "$name is not reachable" >&2
  return 1
}

if [[ $which == all || $which == postgres ]]; then
  if ! pg_isready -h "$PG_HOST" -p 5432 >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
  wait_for PostgreSQL pg_isready -h "$PG_HOST" -p 5432
  psql -h "$PG_HOST" -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  echo "-- PostgreSQL"
  TEST_DATABASE_URL="postgres://postgres@$PG_HOST:5432/$DB" cargo test --test api
  TEST_DATABASE_URL="postgres://postgres@$PG_HOST:5432/$DB" cargo test --test metadata_store_contract
fi

if [[ $which == all || $which == mariadb ]]; then
  if ! mariadb -h "$MYSQL_HOST" -u root -e 'select 1' >/dev/null 2>&1 && command -v mariadbd >/dev/null; then
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
  wait_for MariaDB mariadb -h "$MYSQL_HOST" -u root -e 'select 1'
  mariadb -h "$MYSQL_HOST" -u root -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
  echo "-- MariaDB"
  TEST_DATABASE_URL="mysql://root@$MYSQL_HOST:3306/$DB" cargo test --test api
  TEST_DATABASE_URL="mysql://root@$MYSQL_HOST:3306/$DB" cargo test --test metadata_store_contract
fi
