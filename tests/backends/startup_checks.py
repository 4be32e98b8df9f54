"""Start-up checks against the emulators: a missing bucket or container and bad credentials
stop the server with one line naming the store and the problem, and no secret is printed.

Run alone:
    scripts/emulators.sh start && eval "$(scripts/emulators.sh env)"
    /var/tmp/datasets-api-emulators/venv/bin/python tests/backends/startup_checks.py BINARY
"""
import os
import subprocess
import sys
import tempfile

BAD_AZURE_KEY = "c2VjcmV0LWJ1dC13cm9uZy1henVyZS1rZXk="


def start(binary, env):
    work = tempfile.mkdtemp(prefix="datasets-api-startup-")
    full = dict(os.environ)
    full.update({"DATABASE_URL": f"sqlite://{work}/db.sqlite", "SPOOL_DIR": f"{work}/spool",
                 "BIND_ADDR": "127.0.0.1:0", "ADMIN_API_KEY": "startup-check-admin-key-123"})
    full.update(env)
    out = subprocess.run([binary], env=full, capture_output=True, text=True, timeout=120)
    return out.returncode, out.stderr


def main(binary):
    conn = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    bad_conn = conn.replace(conn.split("AccountKey=")[1].split(";")[0], BAD_AZURE_KEY)
    cases = [
        ("S3, missing bucket", {"STORAGE_URL": "s3://no-such-bucket/x"}, "s3://no-such-bucket/x",
         "does not exist"),
        ("GCS, missing bucket", {"STORAGE_URL": "gcs://no-such-bucket"}, "gcs://no-such-bucket", "does not exist"),
        ("Azure, missing container", {"STORAGE_URL": "azblob://no-such-container"}, "azblob://no-such-container",
         "does not exist"),
        ("Azure, wrong account key", {"STORAGE_URL": "azblob://datasets-ci", "AZURE_STORAGE_CONNECTION_STRING": bad_conn},
         "azblob://datasets-ci", "access denied"),
    ]
    failures = 0
    for name, env, store, problem in cases:
        code, err = start(binary, env)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        secrets = [BAD_AZURE_KEY, conn.split("AccountKey=")[1].split(";")[0], "startup-check-admin-key-123"]
        ok = (code == 1 and f"artifact store ({store}) is not usable" in last and problem in last
              and not any(s in err for s in secrets))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {code}: {last}")
        failures += not ok
    if failures:
        sys.exit(f"{failures} start-up check(s) failed")


if __name__ == "__main__":
    main(sys.argv[1])
