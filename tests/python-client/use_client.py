"""Uses the Python client that openapi-python-client generates from our /openapi.json, unmodified.

Run by scripts/test-python-client.sh, which generates and installs the client
(`datasets_api_client`) and starts a server. Alone, with that client installed:

    BASE_URL=http://127.0.0.1:8080 API_KEY=... python use_client.py OPENAPI_JSON

Two parts; every failed check is listed, and the exit status is 1 if any failed:
1. The OpenAPI document: every operation has a unique operationId and a summary; every `/api`
   operation requires the bearer security scheme, which is declared as `http` / `bearer`;
   operations outside `/api` (health, readiness) are the only ones without it.
2. The generated client: create a project, upload a small CSV (multipart/form-data), read
   `/columns` of the new dataset and compare the names and dtypes with the expected ones,
   then read the dataset back and check its rows and columns counts.

EXPECT_DTYPES (optional) replaces the expected `name:dtype,...` list, to see this test fail.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import uuid

PUBLIC_PATHS = {"/health", "/ready"}  # answered without a key (README: "no key needed")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Every dtype of the API once; the rules are in docs/type-inference.md.
CSV = (
    "amount,merchant,is_fraud,approved,day,country\n"
    "29.99,ACME Corp,0,true,2025-10-01,US\n"
    "1250.00,Luxury Ltd,1,false,2025-10-02,US\n"
    "7.50,Corner Shop,0,yes,2025-10-03,DE\n"
    "99.00,New Shop,0,no,2025-10-04,DE\n"
)
EXPECTED_COLUMNS = [
    ("amount", "float64"),
    ("merchant", "object"),
    ("is_fraud", "int64"),
    ("approved", "bool"),
    ("day", "datetime64"),
    ("country", "category"),
]

failures: list[str] = []


def check(ok: bool, what: str, quiet: bool = False) -> bool:
    if not ok or not quiet:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)
    return ok


def check_document(doc: dict) -> None:
    print("OpenAPI document:")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    bearer_names = {
        name
        for name, s in schemes.items()
        if s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"
    }
    check(len(bearer_names) == 1, f"one http bearer security scheme is declared (found {sorted(bearer_names)})")
    global_security = doc.get("security")

    seen: dict[str, str] = {}
    operations = 0
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            operations += 1
            where = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if check(bool(op_id), f"{where}: has an operationId ({op_id})", quiet=True) and op_id in seen:
                check(False, f"{where}: operationId {op_id!r} is also used by {seen[op_id]}")
            seen.setdefault(op_id, where)
            summary = (op.get("summary") or "").strip()
            check(bool(summary), f"{where}: has a summary ({summary!r})", quiet=True)
            security = op.get("security", global_security) or []
            uses_bearer = any(name in bearer_names for req in security for name in req)
            if path in PUBLIC_PATHS:
                check(not security, f"{where}: public, needs no key", quiet=True)
            else:
                check(uses_bearer, f"{where}: requires the bearer scheme (security: {security})", quiet=True)
    check(operations > 0, f"the document has operations ({operations})")
    check(len(seen) == operations, f"{operations} operations have {len(seen)} distinct operationIds")
    public = sorted(p for p in doc.get("paths", {}) if p in PUBLIC_PATHS)
    print(f"  (checked on each of the {operations} operations: an operationId, a summary, and the bearer "
          f"scheme on all but the public {public})")


def use_client(base_url: str, key: str) -> None:
    from datasets_api_client import AuthenticatedClient
    from datasets_api_client.api.datasets import get_dataset, get_dataset_columns, upload_dataset
    from datasets_api_client.api.projects import create_project
    from datasets_api_client.models import (
        ColumnList,
        CreateProject,
        DatasetDetail,
        ProjectDto,
        UploadDatasetBody,
        UploadResult,
    )
    from datasets_api_client.types import File

    expected = EXPECTED_COLUMNS
    if os.environ.get("EXPECT_DTYPES"):
        expected = [tuple(p.split(":", 1)) for p in os.environ["EXPECT_DTYPES"].split(",")]

    print("Generated client:")
    client = AuthenticatedClient(base_url=base_url, token=key, raise_on_unexpected_status=True, timeout=30.0)
    with client:
        r = create_project.sync_detailed(client=client, body=CreateProject(name=f"python-client {time.time_ns()}"))
        if not check(r.status_code == 201 and isinstance(r.parsed, ProjectDto),
                     f"create_project answers 201 with a ProjectDto ({r.status_code}: {r.content[:300]!r})"):
            return
        project_id = r.parsed.id
        print(f"    project {project_id}")

        name = "Transactions Q4 (python client)"
        body = UploadDatasetBody(
            project_id=project_id,
            name=name,
            description="Uploaded by the generated Python client",
            file=File(payload=io.BytesIO(CSV.encode()), file_name="transactions.csv", mime_type="text/csv"),
        )
        r = upload_dataset.sync_detailed(client=client, body=body)
        if not check(r.status_code == 201 and isinstance(r.parsed, UploadResult),
                     f"upload_dataset (multipart) answers 201 with an UploadResult ({r.status_code}: {r.content[:300]!r})"):
            return
        upload = r.parsed
        check(upload.id == upload.dataset_id, "the upload's id is its dataset_id")
        check(isinstance(upload.quality.overall_score, (int, float)), f"quality.overall_score is a number ({upload.quality.overall_score})")
        print(f"    dataset {upload.dataset_id}, version {upload.dataset_version_id}")

        r = get_dataset_columns.sync_detailed(client=client, dataset_id=upload.dataset_id)
        if not check(r.status_code == 200 and isinstance(r.parsed, ColumnList),
                     f"get_dataset_columns answers 200 with a ColumnList ({r.status_code}: {r.content[:300]!r})"):
            return
        got = [(c.name, c.dtype) for c in r.parsed.columns]
        print(f"    columns {got}")
        check(got == [tuple(e) for e in expected], f"/columns names and dtypes are {expected}")

        r = get_dataset.sync_detailed(client=client, dataset_id=upload.dataset_id)
        if check(r.status_code == 200 and isinstance(r.parsed, DatasetDetail),
                 f"get_dataset answers 200 with a DatasetDetail ({r.status_code})"):
            d = r.parsed.dataset
            check((d.id, d.name, d.rows, d.columns) == (upload.dataset_id, name, 4, 6),
                  f"the dataset reads back with its name, 4 rows and 6 columns ({d.name!r}, {d.rows}, {d.columns})")
            check(len(r.parsed.preview) == 4, f"the preview has the 4 rows ({len(r.parsed.preview)})")

        # Identity and retries through the generated code: a replayed Idempotency-Key, an alias
        # read as a version, and a 304 for the dataset's own ETag.
        from datasets_api_client.api.datasets import set_dataset_alias
        from datasets_api_client.models import SetAlias

        retry_key = f"python-client-{uuid.uuid4()}"
        retried = [create_project.sync_detailed(client=client, body=CreateProject(name=f"retried {retry_key}"),
                                                idempotency_key=retry_key) for _ in range(2)]
        check([r.status_code for r in retried] == [201, 201] and retried[0].parsed.id == retried[1].parsed.id
              and retried[1].headers.get("idempotent-replayed") == "true",
              f"a retried create_project with one Idempotency-Key replays the first answer ({retried[1].headers})")
        r = set_dataset_alias.sync_detailed(client=client, dataset_id=upload.dataset_id, alias="production",
                                            body=SetAlias(version=0))
        check(r.status_code == 200 and r.parsed.dataset_version_id == upload.dataset_version_id,
              f"set_dataset_alias answers 200 with the version it names ({r.status_code}: {r.content[:300]!r})")
        r = get_dataset.sync_detailed(client=client, dataset_id=upload.dataset_id, version="production")
        check(r.status_code == 200 and r.parsed.dataset.dataset_version_id == upload.dataset_version_id,
              f"get_dataset reads the version an alias names ({r.status_code})")
        etag = get_dataset.sync_detailed(client=client, dataset_id=upload.dataset_id).headers.get("etag")
        r = get_dataset.sync_detailed(client=client, dataset_id=upload.dataset_id, if_none_match=etag)
        check(r.status_code == 304 and not r.content, f"If-None-Match with the dataset's ETag answers 304 ({r.status_code})")

        # A wrong key is refused (401) through the same client code.
        bad = AuthenticatedClient(base_url=base_url, token="not-a-key-" + uuid.uuid4().hex, timeout=30.0)
        with bad:
            r = get_dataset_columns.sync_detailed(client=bad, dataset_id=upload.dataset_id)
        check(r.status_code == 401, f"a wrong key answers 401 ({r.status_code})")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    base_url = os.environ.get("BASE_URL")
    key = os.environ.get("API_KEY")
    if not base_url or not key:
        print("use_client.py: set BASE_URL and API_KEY", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    check_document(doc)
    try:
        use_client(base_url, key)
    except Exception as e:  # an exception from the generated code is a failure to report, not a crash
        check(False, f"the generated client raised {type(e).__name__}: {e}")
    if failures:
        print(f"\nuse_client.py: {len(failures)} check(s) FAILED:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    print("\nuse_client.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
