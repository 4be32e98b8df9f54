#!/usr/bin/env bash
# Object-store emulators for the backend tests, on 127.0.0.1 only:
#   S3    moto_server (PyPI moto[server])          http://127.0.0.1:5055
#   GCS   gcp-storage-emulator (PyPI)               http://127.0.0.1:9023
#   Azure azurite-blob (npm azurite)                http://127.0.0.1:10000/devstoreaccount1
# Each gets a bucket/container named datasets-ci.
#
#   scripts/emulators.sh start    # install (first time) and start all three; wait until they answer
#   scripts/emulators.sh env      # print the variables that point the server and the tests at them
#   scripts/emulators.sh stop     # stop them and delete their data
#
# Typical use:  scripts/emulators.sh start && eval "$(scripts/emulators.sh env)"
# Installs go to $EMULATORS_HOME (default /var/tmp/datasets-api-emulators), outside the clone.
set -euo pipefail
HOME_DIR="${EMULATORS_HOME:-/var/tmp/datasets-api-emulators}"
RUN="$HOME_DIR/run"
VENV="$HOME_DIR/venv"
S3_PORT=5055
GCS_PORT=9023
AZ_PORT=10000
BUCKET=datasets-ci
# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZ_CONN="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT;"

install() {
    mkdir -p "$HOME_DIR"
    if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/gcp-storage-emulator" ]; then
        echo "installing moto[server], gcp-storage-emulator and azure-storage-blob into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q 'moto[server]==5.2.5' 'gcp-storage-emulator==2026.7.19' \
            'azure-storage-blob==12.31.1' 'boto3==1.44.8'
    fi
    if [ ! -x "$HOME_DIR/node_modules/.bin/azurite-blob" ]; then
        echo "installing azurite into $HOME_DIR/node_modules" >&2
        (cd "$HOME_DIR" && npm install --no-audit --no-fund --silent azurite@3.35.0 >&2)
    fi
}

wait_for() { # name url
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "$2"; then return 0; fi
        sleep 0.2
    done
    echo "the $1 emulator did not answer at $2; its log:" >&2
    tail -n 20 "$RUN/$1.log" >&2 || true
    return 1
}

start_one() { # name command...
    local name=$1
    shift
    if [ -f "$RUN/$name.pid" ] && kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
        return 0
    fi
    (cd "$RUN" && exec setsid "$@" >"$RUN/$name.log" 2>&1) &
    echo $! >"$RUN/$name.pid"
}

start() {
    install
    mkdir -p "$RUN/azurite" "$RUN/gcs"
    start_one s3 "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT"
    start_one gcs env -C "$RUN/gcs" "$VENV/bin/gcp-storage-emulator" start --host=127.0.0.1 --port="$GCS_PORT" \
        --default-bucket="$BUCKET"
    start_one azure "$HOME_DIR/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
        --location "$RUN/azurite" --skipApiVersionCheck --loose --silent --disableTelemetry
    wait_for s3 "http://127.0.0.1:$S3_PORT/"
    wait_for gcs "http://127.0.0.1:$GCS_PORT/"
    wait_for azure "http://127.0.0.1:$AZ_PORT/"
    # Buckets and containers (idempotent).
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$VENV/bin/python" - <<EOF
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$S3_PORT", region_name="us-east-1")
if "$BUCKET" not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket="$BUCKET")
from azure.storage.blob import BlobServiceClient
svc = BlobServiceClient.from_connection_string("$AZ_CONN")
if not svc.get_container_client("$BUCKET").exists():
    svc.create_container("$BUCKET")
EOF
    curl -sf -o /dev/null "http://127.0.0.1:$GCS_PORT/storage/v1/b/$BUCKET" ||
        curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
            -d "{\"name\":\"$BUCKET\"}" "http://127.0.0.1:$GCS_PORT/storage/v1/b?project=test"
    echo "emulators up: S3 :$S3_PORT, GCS :$GCS_PORT, Azure Blob :$AZ_PORT (bucket/container $BUCKET)" >&2
}

stop() {
    for name in s3 gcs azure; do
        if [ -f "$RUN/$name.pid" ]; then
            local pid
            pid=$(cat "$RUN/$name.pid")
            kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 -- "-$pid" 2>/dev/null || true
            rm -f "$RUN/$name.pid"
        fi
    done
    rm -rf "$RUN"
}

env_vars() {
    cat <<EOF
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export STORAGE_EMULATOR_HOST=http://127.0.0.1:$GCS_PORT
export AZURE_STORAGE_CONNECTION_STRING='$AZ_CONN'
export TEST_S3_URL=s3://$BUCKET
export TEST_GCS_URL=gcs://$BUCKET
export TEST_AZBLOB_URL=azblob://$BUCKET
EOF
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) env_vars ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
