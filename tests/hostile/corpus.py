"""The corpus of tests/hostile/hostile.py: each hostile input, where it is sent and the answer it
must get.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from builders import (
    MiB,
    ODS_BOMB,
    ODS_SPACES,
    SNAPPY,
    XLS_ROWS,
    XLSX_TWO_CELLS,
    ZSTD,
    build_parquet,
    compound_fat_listed_over_and_over,
    corrupt_footer,
    flat_schema_parquet,
    gzip_bomb,
    multipart,
    ods,
    pyarrow_parquet,
    with_footer_len,
    xls,
    xls_label,
    xls_number,
    xlsx,
    xlsx_bomb,
    zstd_huge_window_frame,
)

# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass
class Case:
    name: str
    kind: str  # upload | version | raw | slow | disconnect | rows | query | range
    expect: str  # 4xx | 201 | 4xx_or_201 | 4xx_or_close | none | bounded (a 2xx, a 4xx, or 503 timeout) | 414
    make: object  # () -> bytes (file content, or the whole raw request body)
    filename: str = "data.csv"
    note: str = ""
    content_type: str | None = None  # raw: the Content-Type header
    rows: int | None = None  # when accepted (201), the row count the server must record


def csv_rows(n: int) -> bytes:
    return b"v\n" + b"\n".join(str(i).encode() for i in range(n)) + b"\n"


def corpus() -> list[Case]:
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6"
           + b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00\x18\xdd\x8d\xb0" + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    good_pq = pyarrow_parquet()
    return [
        # --- CSV-ish
        Case("empty_file", "upload", "4xx", lambda: b""),
        Case("header_only", "upload", "4xx", lambda: b"a,b,c\n"),
        Case("whitespace_only", "upload", "4xx", lambda: b" \n\n\t\n" * 1000),
        Case("ragged_rows", "upload", "4xx_or_201", lambda: b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10\n"),
        Case("nul_bytes", "upload", "4xx", lambda: b"a,b\n1,\x00\x002\n3,4\n"),
        Case("nul_after_probe", "upload", "4xx_or_201", lambda: b"a,b\n" + b"1,2\n" * 5000 + b"3,\x004\n",
             note="a NUL byte after the 8 KiB binary probe"),
        Case("invalid_utf8", "upload", "4xx_or_201", lambda: b"name,v\n\xff\xfe\xfa,1\n\xc3\x28,2\n\xe2\x82,3\n"),
        Case("utf16_bom_odd_bytes", "upload", "4xx_or_201", lambda: b"\xff\xfea\x00,\x00b\x00\n\x00\x01"),
        Case("cell_10mb", "upload", "4xx", lambda: b"a,b\n" + b"x" * (10 * MiB) + b",1\n"),
        Case("columns_10001", "upload", "4xx",
             lambda: (",".join(f"c{i}" for i in range(10001)) + "\n" + ",".join("1" for _ in range(10001)) + "\n").encode()),
        Case("columns_9000_long_names", "upload", "4xx_or_201",
             lambda: (",".join(f"{'n' * 150}{i}" for i in range(9000)) + "\n" + ",".join("1" for _ in range(9000)) + "\n").encode(),
             note="a 1.4 MB header line of 9,000 columns (under the 10,000 limit)"),
        Case("png_named_csv", "upload", "4xx", lambda: png, filename="photo.csv"),
        Case("csv_named_parquet", "upload", "201", lambda: b"a,b\n1,x\n2,y\n3,z\n", filename="data.parquet",
             note="content decides the format: a valid CSV", rows=3),
        Case("parquet_named_csv", "upload", "201", lambda: good_pq, filename="data.csv",
             note="content decides the format: a valid Parquet file", rows=1000),
        Case("long_header_line_4mb", "upload", "4xx", lambda: b"h" * (4 * MiB) + b"\n1\n"),
        Case("no_newline_8mb", "upload", "4xx", lambda: b"h" * (8 * MiB)),
        Case("deep_quoting_2m", "upload", "4xx", lambda: b'a\n"' + b'""' * (2 * MiB) + b'"\n',
             note="one quoted cell of 2 Mi escaped quotes (> 1 MiB)"),
        Case("deep_quoting_small", "upload", "4xx_or_201", lambda: b'a,b\n"' + b'""' * 100_000 + b'",1\n',
             note="one quoted cell of 100 K escaped quotes (< 1 MiB)"),
        Case("unterminated_quote_40mb", "upload", "4xx", lambda: b'a,b\n"' + b"x,y\n" * (10 * MiB),
             note="an opening quote never closed: the rest of the file is one 40 MB cell"),
        Case("csv_bomb_3m_rows", "upload", "201", lambda: csv_rows(3_000_000),
             note="3,000,000 distinct one-cell rows (21 MB): valid", rows=3_000_000),
        Case("csv_bomb_empty_cells", "upload", "4xx_or_201", lambda: b"a,b,c,d\n" + b",,,\n" * 3_000_000,
             note="3,000,000 rows of empty cells (12 MB)"),
        Case("blank_lines_20m", "upload", "4xx_or_201", lambda: b"a\n" + b"\n" * (20 * MiB)),
        Case("cr_only_line_ends", "upload", "4xx_or_201", lambda: b"a,b\r1,2\r3,4\r"),
        # --- Compressed and JSON
        Case("gzip_bomb_10gb", "upload", "4xx", lambda: gzip_bomb(10 * 1024 * MiB), filename="bomb.csv.gz",
             note="10 MB of gzip members expanding to 10 GiB: stopped by the expansion ratio"),
        Case("zstd_huge_window", "upload", "4xx", zstd_huge_window_frame, filename="x.csv.zst",
             note="a zstd frame asking for a 2 TiB window"),
        Case("gzip_truncated", "upload", "4xx", lambda: __import__("gzip").compress(csv_rows(100_000))[:50_000],
             filename="cut.csv.gz"),
        Case("jsonl_line_60mb", "upload", "4xx", lambda: b'{"a":"' + b"x" * (60 * MiB) + b'"}\n',
             filename="big.jsonl", note="one JSON line of 60 MB: a cell over 1 MiB"),
        Case("json_nested_100k", "upload", "4xx", lambda: b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
             filename="deep.jsonl", note="nesting 100,000 deep"),
        Case("jsonl_valid", "upload", "201", lambda: b"".join(b'{"id":%d,"v":"x%d"}\n' % (i, i % 7) for i in range(1000)),
             filename="rows.jsonl", rows=1000),
        # --- Spreadsheets
        Case("xlsx_zip_bomb_1gb", "upload", "4xx", lambda: xlsx_bomb(1024 * MiB), filename="bomb.xlsx",
             note="a sheet expanding 1000:1 to 1 GiB: stopped by the expansion ratio before the workbook is opened"),
        Case("xlsx_declares_every_cell", "upload", "201",
             lambda: xlsx(XLSX_TWO_CELLS, b'<dimension ref="A1:XFD1048576"/>'), filename="huge.xlsx",
             note="a sheet declaring 1,048,576 rows x 16,384 columns that holds two cells: the declaration costs nothing",
             rows=1),
        Case("xlsx_far_corner_cell", "upload", "4xx",
             lambda: xlsx(XLSX_TWO_CELLS + b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'),
             filename="corner.xlsx", note="a cell in the last row and column: 16,384 columns, over the limit"),
        Case("ods_repeat_bomb", "upload", "4xx", lambda: ods(ODS_BOMB), filename="bomb.ods",
             note="one cell repeated over 1,048,576 rows x 16,384 columns: counted before calamine reads it"),
        Case("ods_four_billion_spaces", "upload", "4xx", lambda: ods(ODS_SPACES), filename="spaces.ods",
             note="a text:s element asking for 4,000,000,000 spaces"),
        Case("xls_valid", "upload", "201", lambda: xls(XLS_ROWS), filename="rows.xls", rows=100,
             note="a legacy workbook of 100 numbers"),
        Case("xls_far_corner_cells", "upload", "4xx", lambda: xls(xls_label(0, 0, b"a") + xls_number(65535, 255, 1.0)),
             filename="corner.xls", note="cells at A1 and IV65536: a grid of 16.7 million cells, counted before calamine reads it"),
        Case("xls_label_declares_60000_chars", "upload", "4xx",
             lambda: xls(xls_label(0, 0, b"a") + b"".join(xls_label(r, 0, b"xy", 60_000) for r in range(1, 1000))),
             filename="labels.xls", note="texts declaring 60,000 characters that hold 2: damaged, refused"),
        Case("xls_truncated", "upload", "4xx", lambda: xls(XLS_ROWS, truncate=7), filename="cut.xls"),
        Case("xls_fat_listed_over_and_over", "upload", "4xx", compound_fat_listed_over_and_over, filename="fat.xls",
             note="1 MB whose sector table lists one sector 256,000 times (1 GiB if each were read): refused first"),
        # --- Parquet
        Case("pq_magic_only", "upload", "4xx", lambda: b"PAR1", filename="x.parquet"),
        Case("pq_truncated_half", "upload", "4xx", lambda: good_pq[: len(good_pq) // 2], filename="x.parquet"),
        Case("pq_truncated_tail", "upload", "4xx", lambda: good_pq[:-3], filename="x.parquet"),
        Case("pq_footer_garbage", "upload", "4xx", lambda: corrupt_footer(good_pq, 7), filename="x.parquet"),
        Case("pq_footer_len_beyond_file", "upload", "4xx", lambda: with_footer_len(good_pq, len(good_pq) * 10), filename="x.parquet"),
        Case("pq_footer_len_max", "upload", "4xx", lambda: with_footer_len(good_pq, 0xFFFFFFFF), filename="x.parquet"),
        Case("pq_handmade_valid", "upload", "201", lambda: build_parquet(10), filename="x.parquet",
             note="the hand-written Parquet file the lies below start from", rows=10),
        Case("pq_rows_huge", "upload", "4xx", lambda: build_parquet(10, rg_rows=10**12, file_rows=10**12), filename="x.parquet"),
        Case("pq_rows_disagree", "upload", "4xx", lambda: build_parquet(10, file_rows=10**6), filename="x.parquet"),
        Case("pq_rows_lie_within_allowance", "upload", "4xx_or_201", lambda: build_parquet(10, rg_rows=10**6, file_rows=10**6),
             filename="x.parquet", rows=10,
             note="claims 1,000,000 rows (under the plausibility allowance); the page holds 10: if accepted, with 10 rows"),
        Case("pq_rows_negative", "upload", "4xx", lambda: build_parquet(10, rg_rows=-5, file_rows=-5), filename="x.parquet"),
        Case("pq_col_num_values_huge", "upload", "4xx_or_201", lambda: build_parquet(10, col_num_values=2**62), filename="x.parquet",
             rows=10, note="the column chunk claims 2^62 values; if accepted, with the 10 rows present"),
        Case("pq_page_num_values_huge", "upload", "4xx", lambda: build_parquet(10, page_num_values=2**31 - 1), filename="x.parquet"),
        Case("pq_chunk_outside_file", "upload", "4xx", lambda: build_parquet(10, data_page_offset=10**9), filename="x.parquet"),
        Case("pq_page_compressed_beyond", "upload", "4xx", lambda: build_parquet(10, page_compressed=2**31 - 1), filename="x.parquet"),
        Case("pq_page_uncompressed_2g_plain", "upload", "4xx", lambda: build_parquet(10, page_uncompressed=2**31 - 1), filename="x.parquet"),
        Case("pq_snappy_page_claims_2g", "upload", "4xx", lambda: build_parquet(1, codec=SNAPPY, page_uncompressed=2**31 - 1),
             filename="x.parquet", note="a 100-byte file whose Snappy page header claims 2 GiB uncompressed"),
        Case("pq_zstd_page_claims_2g", "upload", "4xx", lambda: build_parquet(10, codec=ZSTD, page_uncompressed=2**31 - 1),
             filename="x.parquet", note="a zstd page header claiming 2 GiB uncompressed"),
        Case("pq_snappy_pages_200x64m", "upload", "4xx",
             lambda: build_parquet(1, codec=SNAPPY, page_uncompressed=64 * MiB, columns=200),
             filename="x.parquet", note="200 columns whose Snappy pages each claim 64 MiB (12.5 GiB in all), in a 40 KB file"),
        Case("pq_dict_page_claims_huge", "upload", "4xx",
             lambda: build_parquet(1, codec=SNAPPY, dictionary=(2**31 - 1, 8)), filename="x.parquet",
             note="a dictionary page of one value claiming 2^31-1 values"),
        Case("pq_deep_schema_1000", "upload", "4xx", lambda: build_parquet(1, schema_depth=1000), filename="x.parquet",
             note="1,000 nested groups in a 10 KB file"),
        Case("pq_deep_schema_20000", "upload", "4xx", lambda: build_parquet(1, schema_depth=20000), filename="x.parquet",
             note="20,000 nested groups"),
        Case("pq_flat_schema_1m_leaves", "upload", "4xx", lambda: flat_schema_parquet(1_000_000), filename="x.parquet",
             note="a footer declaring 1,000,000 columns (8 MB)"),
        Case("pq_row_groups_1m", "upload", "4xx", lambda: build_parquet(1, row_groups=1_000_000), filename="x.parquet",
             note="1,000,000 row groups in a 32 MB footer"),
        Case("pq_row_groups_50000", "upload", "4xx_or_201", lambda: build_parquet(1, row_groups=50_000),
             filename="x.parquet", note="50,000 row groups sharing one chunk"),
        # --- through the new-version route
        Case("version_empty_file", "version", "4xx", lambda: b""),
        Case("version_pq_truncated", "version", "4xx", lambda: good_pq[: len(good_pq) // 2], filename="x.parquet"),
        Case("version_ragged_then_nul", "version", "4xx", lambda: b"a,b\n1\n\x00\x00\n"),
        # --- malformed requests (raw bodies)
        Case("mp_missing_boundary", "raw", "4xx",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"x"), ("file", "a.csv", b"a\n1\n")]),
             content_type="multipart/form-data"),
        Case("mp_truncated_body", "raw", "4xx_or_close",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"x"), ("file", "a.csv", b"a,b\n" + b"1,2\n" * 50_000)])[:150_000],
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_missing_file_field", "raw", "4xx",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"no file")]),
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_two_file_fields", "raw", "4xx",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"x"), ("file", "a.csv", b"a\n1\n"), ("file", "b.csv", b"a\n1\n")]),
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_100_fields", "raw", "4xx",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"x")] + [(f"f{i}", None, b"v") for i in range(100)] + [("file", "a.csv", b"a\n1\n")]),
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_text_field_1mb", "raw", "4xx",
             lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"x"), ("description", None, b"d" * MiB), ("file", "a.csv", b"a\n1\n")]),
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_part_header_1mb", "raw", "4xx_or_close",
             lambda: b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + b"f" * MiB + b".csv\"\r\n\r\na\n1\n\r\n--B--\r\n",
             content_type="multipart/form-data; boundary=B"),
        Case("mp_garbage_body", "raw", "4xx", lambda: random.Random(5).randbytes(200_000),
             content_type="multipart/form-data; boundary=hostileBoundary7MA4YWxkTrZu0gW"),
        Case("mp_boundary_4kb", "raw", "4xx_or_201", rows=1, make=lambda: multipart([("project_id", None, b"PROJECT"), ("name", None, b"long boundary"), ("file", "a.csv", b"a\n1\n")], boundary="q" * 4096),
             content_type="multipart/form-data; boundary=" + "q" * 4096, note="valid form, 4 KiB boundary"),
        Case("json_instead_of_form", "raw", "4xx", lambda: b'{"project_id": "PROJECT", "name": "x"}', content_type="application/json"),
        # --- connections
        Case("slow_drip_then_disconnect", "slow", "none", lambda: b"", note="3 bytes/s for 8 s, then the client hangs up"),
        Case("disconnect_mid_body", "disconnect", "none", lambda: b"", note="announces 20 MB, sends 5 MB, hangs up"),
        # --- reads of a large version (two versions of READ_ROWS rows): each a 4xx or a
        # bounded answer, the server alive, memory within the cap
        Case("rows_where_60kb", "rows", "4xx", lambda: long_where(60_000),
             note="a `where` of 60 KB: 2,500 ORs nest too deep"),
        Case("rows_where_in_60kb", "rows", "bounded",
             lambda: b"where=id%20IN%20(" + b",".join(str(i).encode() for i in range(9000)) + b")",
             note="a `where` of 50 KB: a list of 9,000 values"),
        Case("rows_where_100kb", "rows", "414",
             lambda: b"where=" + b"%20OR%20".join(f"id%20%3D%20{i}".encode() for i in range(5000)),
             note="a `where` of 100 KB: the HTTP layer refuses the URL (414) before the server sees it"),
        Case("rows_where_nested_parens", "rows", "4xx", lambda: b"where=" + b"(" * 20000 + b"1" + b")" * 20000),
        Case("rows_order_by_100_columns", "rows", "bounded",
             lambda: b"order_by=" + b",".join(b"id%20DESC" if i % 2 else b"amount" for i in range(100))),
        Case("rows_deep_offset_sorted", "rows", "bounded", lambda: b"order_by=amount&offset=250000&limit=1000"),
        Case("rows_q_everywhere", "rows", "bounded", lambda: b"q=%25%25_%5C&limit=1000"),
        Case("query_cross_join", "query", "bounded",
             lambda: json.dumps({"sql": "SELECT count(*) FROM v0 CROSS JOIN v1"}).encode(),
             note="9e10 rows: answered 503 timeout"),
        Case("query_cross_join_rows", "query", "bounded",
             lambda: json.dumps({"sql": "SELECT * FROM v0, v1"}).encode(), note="max_rows bounds the answer"),
        Case("query_sort_everything", "query", "bounded",
             lambda: json.dumps({"sql": "SELECT * FROM v0 ORDER BY label DESC, amount", "format": "csv"}).encode()),
        Case("query_join_explosion_memory", "query", "bounded",
             lambda: json.dumps({"sql": "SELECT a.label, count(*) FROM v0 a JOIN v1 b ON a.label = b.label GROUP BY 1"}).encode()),
        Case("query_nested_subqueries", "query", "4xx",
             lambda: json.dumps({"sql": "SELECT " + "(SELECT " * 300 + "1" + ")" * 300}).encode()),
        Case("query_or_chain_100kb", "query", "4xx", lambda: json.dumps({"sql": "SELECT count(*) FROM v0 WHERE "
             + " OR ".join(f"id = {i}" for i in range(8000))[:99_000].rsplit(" OR ", 1)[0]}).encode(),
             note="a statement of 100 KB: 7,000 ORs nest too deep (IN (…) is the way)"),
        Case("query_in_list_100kb", "query", "bounded", lambda: json.dumps({"sql": "SELECT count(*) FROM v0 WHERE id IN ("
             + ", ".join(str(i) for i in range(16000))[:99_000].rsplit(", ", 1)[0] + ")"}).encode(),
             note="a statement of 100 KB: a list of 16,000 values"),
        Case("query_ddl", "query", "4xx", lambda: json.dumps({"sql": "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'"}).encode()),
        Case("query_file_table", "query", "4xx", lambda: json.dumps({"sql": "SELECT * FROM '/etc/passwd'"}).encode()),
        Case("range_past_the_end", "range", "4xx", lambda: b"bytes=999999999999-"),
        Case("range_huge_suffix", "range", "bounded", lambda: b"bytes=-999999999999"),
    ]


def long_where(size: int) -> bytes:
    """`where=id = 0 OR id = 1 OR …`, URL-encoded, at most `size` bytes."""
    out, i = b"where=id%20%3D%200", 1
    while True:
        clause = f"%20OR%20id%20%3D%20{i}".encode()
        if len(out) + len(clause) > size:
            return out
        out, i = out + clause, i + 1
