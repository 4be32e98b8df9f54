# Sourced by the scripts that test a real server (test-python-client, test-swagger-ui,
# test-readers, test-webhooks): a pinned virtualenv, the binary to test, and a fresh server on
# a free port of 127.0.0.1 with SQLite and files in a temporary folder, stopped on exit (its log shown when the script
# fails). Needs `die` and `say` from the caller; sets BIN, WORK, PORT, KEY, BASE_URL, SERVER.

# ensure_venv VENV REQUIREMENTS: a virtualenv at VENV (created when missing) with the pinned
# REQUIREMENTS installed (a no-op when they already are).
ensure_venv() {
  local venv=$1 requirements=$2
  if [[ ! -x "$venv/bin/python" ]]; then
    say "creating $venv"
    mkdir -p "$(dirname "$venv")"
    timeout 120 python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  timeout 900 "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" \
    || die "pip install -r $requirements failed"
}

# The server binary: DATASETS_API_BIN, or the debug build (built when missing or stale).
test_server_binary() {
  if [[ -n "${DATASETS_API_BIN:-}" ]]; then
    BIN="$DATASETS_API_BIN"
  else
    BIN="$CARGO_TARGET_DIR/debug/datasets-api"
    say "cargo build --bin datasets-api (a no-op when up to date)"
    timeout 3600 cargo build --quiet --bin datasets-api || die "cargo build --bin datasets-api failed"
  fi
  [[ -x "$BIN" ]] || die "server binary $BIN is missing (set DATASETS_API_BIN or build it)"
}

# start_test_server NAME [VAR=VALUE ...]: starts the server with the extra settings given and
# waits (at most 30 s) for /health.
start_test_server() {
  local name=$1
  shift
  WORK=$(mktemp -d "/tmp/datasets-api-$name.XXXXXX")
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  KEY="$name-test-admin-key-$$-$RANDOM"
  BASE_URL="http://127.0.0.1:$PORT"
  SERVER=
  trap stop_test_server EXIT
  env DATABASE_URL="sqlite://$WORK/db.sqlite" STORAGE_URL="$WORK/artifacts" SPOOL_DIR="$WORK/spool" \
    ADMIN_API_KEY="$KEY" BIND_ADDR="127.0.0.1:$PORT" "$@" \
    "$BIN" >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 150); do
    curl -fsS -m 2 "$BASE_URL/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || die "the server exited at start"
    sleep 0.2
  done
  curl -fsS -m 2 "$BASE_URL/health" >/dev/null || die "the server did not answer /health within 30 s"
  say "server $BIN on $BASE_URL"
}

stop_test_server() {
  local rc=$?
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if (( rc != 0 )) && [[ -f "$WORK/server.log" ]]; then
    echo "--- last lines of the server log:" >&2
    tail -20 "$WORK/server.log" >&2
  fi
  rm -rf "$WORK"
}
