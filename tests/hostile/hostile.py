#!/usr/bin/env python3
"""Hostile uploads under a memory cap (issue #7, item 5).

Run it through scripts/test-hostile.sh, which provides the binary, a virtualenv (requests,
pyarrow), a temporary folder and the cap. Alone:

    python tests/hostile/hostile.py --binary /var/tmp/datasets-api-target/debug/datasets-api \
        --workdir /tmp/hostile-XXXX [--as-bytes 2147483648] [--malloc-arena-max 2] [--workers 4] \
        [--repeat 2] [--seed N] [--only NAME[,NAME...]] [--list]

It starts the real server under `prlimit --as=<as-bytes>` (an address-space cap: an
allocation beyond it fails, which aborts a Rust process) with MALLOC_ARENA_MAX set so that
glibc's per-thread arenas do not reserve address space far beyond the heap, on 127.0.0.1 with
SQLite and a local artifact folder inside --workdir, and sends a corpus of hostile inputs from several workers
at once, each input more than once. Every HTTP answer must be a 4xx JSON error with a `code`
(or a 201 for the inputs that are valid files, marked so below); never a 5xx, never a dead
server. At the end the server must answer /health, list exactly the datasets of the valid
inputs, hold exactly their artifact files, and have an empty SPOOL_DIR. Prints the peak RSS
(VmHWM) and the peak address space (VmPeak) of the server.
Exits 1 when any check fails, 2 on a setup error.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import io
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import requests

ADMIN_KEY = "hostile-test-admin-key-0123456789"
MiB = 1 << 20


def log(msg: str) -> None:
    print(f"[hostile {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Thrift compact protocol (enough to write Parquet footers and page headers by hand)

T_TRUE, T_FALSE, T_BYTE, T_I16, T_I32, T_I64, T_DOUBLE, T_BINARY, T_LIST, T_SET, T_MAP, T_STRUCT = range(1, 13)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n: int, bits: int = 64) -> int:
    return (n << 1) ^ (n >> (bits - 1))


class S:
    """A thrift struct: S((field_id, type, value), ...). Lists are (elem_type, [values])."""

    def __init__(self, *fields):
        self.fields = [f for f in fields if f is not None]

    def encode(self) -> bytes:
        out = bytearray()
        last = 0
        for fid, typ, value in sorted(self.fields, key=lambda f: f[0]):
            wire = typ
            if typ == "bool":
                wire = T_TRUE if value else T_FALSE
            delta = fid - last
            if 0 < delta <= 15:
                out.append((delta << 4) | wire)
            else:
                out.append(wire)
                out += varint(zigzag(fid, 16))
            last = fid
            if typ != "bool":
                out += encode_value(typ, value)
        out.append(0)
        return bytes(out)


def encode_value(typ: int, value) -> bytes:
    if typ in (T_I16, T_I32, T_I64):
        return varint(zigzag(value))
    if typ == T_BYTE:
        return struct.pack("b", value)
    if typ == T_DOUBLE:
        return struct.pack("<d", value)
    if typ == T_BINARY:
        value = value.encode() if isinstance(value, str) else value
        return varint(len(value)) + value
    if typ == T_STRUCT:
        return value.encode()
    if typ == T_LIST:
        etype, items = value
        head = bytes([(len(items) << 4) | etype]) if len(items) < 15 else bytes([0xF0 | etype]) + varint(len(items))
        return head + b"".join(encode_value(etype, v) for v in items)
    raise ValueError(typ)


# Parquet enums
INT64, BYTE_ARRAY = 2, 6
PLAIN, RLE, PLAIN_DICTIONARY, RLE_DICTIONARY = 0, 3, 2, 8
UNCOMPRESSED, SNAPPY, ZSTD = 0, 1, 6
DATA_PAGE, DICTIONARY_PAGE = 0, 2
REQUIRED = 0


def snappy_literal(data: bytes) -> bytes:
    """A valid Snappy stream holding `data` as one literal (data up to 60 bytes)."""
    assert 0 < len(data) <= 60
    return varint(len(data)) + bytes([(len(data) - 1) << 2]) + data


def zstd_raw_frame(data: bytes) -> bytes:
    """A valid zstd frame holding `data` in one raw block, without a content size."""
    magic = struct.pack("<I", 0xFD2FB528)
    fhd = bytes([0x00])  # no content size, no checksum, no dict, window descriptor follows
    window = bytes([0x00])  # 1 KiB window
    block_header = (len(data) << 3) | (0 << 1) | 1  # raw block, last
    return magic + fhd + window + struct.pack("<I", block_header)[:3] + data


def gzip_bomb(expanded: int) -> bytes:
    """Concatenated gzip members of zeros that expand to `expanded` bytes (about 1000:1)."""
    import gzip
    member = gzip.compress(b"\0" * (100 * MiB), compresslevel=9)
    return member * (expanded // (100 * MiB))


def zstd_huge_window_frame() -> bytes:
    """A zstd frame that asks for a 2 TiB window (window log 41) before its first block."""
    magic = struct.pack("<I", 0xFD2FB528)
    fhd = bytes([0x00])  # no content size: the window descriptor decides
    window = bytes([0xF8])  # exponent 31: 2^(10 + 31) bytes
    data = b"a,b\n1,2\n"
    block_header = (len(data) << 3) | 1  # raw block, last
    return magic + fhd + window + struct.pack("<I", block_header)[:3] + data


XLSX_PARTS = {
    "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b"</Types>",
    "_rels/.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    b"</Relationships>",
    "xl/workbook.xml": b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    b"</Relationships>",
}


def xlsx(sheet_data: bytes, dimension: bytes = b"") -> bytes:
    """A minimal workbook whose one sheet holds `sheet_data` (the rows' XML)."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in XLSX_PARTS.items():
            z.writestr(name, data)
        z.writestr("xl/worksheets/sheet1.xml",
                   b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                   + dimension + b"<sheetData>" + sheet_data + b"</sheetData></worksheet>")
    return out.getvalue()


def xlsx_bomb(expanded: int) -> bytes:
    """A workbook whose sheet XML expands to `expanded` bytes of spaces (about 1000:1)."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in XLSX_PARTS.items():
            z.writestr(name, data)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunk = b" " * (16 * MiB)
            for _ in range(expanded // len(chunk)):
                sheet.write(chunk)
    return out.getvalue()


def ods(rows: bytes) -> bytes:
    """A minimal OpenDocument spreadsheet whose one table holds `rows` (the rows' XML)."""
    import io
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", b"application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml",
                   b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
        z.writestr("content.xml",
                   b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
                   b' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
                   b' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet>'
                   b'<table:table table:name="S">' + rows + b"</table:table></office:spreadsheet></office:body>"
                   b"</office:document-content>")
    return out.getvalue()


ODS_BOMB = (b'<table:table-row table:number-rows-repeated="1048576"><table:table-cell'
            b' table:number-columns-repeated="16384" office:value-type="float" office:value="1"/></table:table-row>')
ODS_SPACES = (b'<table:table-row><table:table-cell office:value-type="string"><text:p>'
              b'<text:s text:c="4000000000"/></text:p></table:table-cell></table:table-row>')


XLSX_TWO_CELLS = b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row><row r="2"><c r="A2"><v>1</v></c></row>'


def biff(typ: int, body: bytes) -> bytes:
    """One BIFF8 record."""
    return struct.pack("<HH", typ, len(body)) + body


def xls(cells: bytes, truncate: int = 0) -> bytes:
    """A legacy workbook (BIFF8 in a version-3 compound file, written by hand) whose one
    worksheet "S" holds the `cells` records; padded past 4 KiB with an ignored record so that
    the stream needs no mini stream. `truncate` cuts that many bytes off the stream's end."""
    bof = lambda kind: biff(0x0809, struct.pack("<HH", 0x0600, kind) + bytes(12))
    pad = biff(0x0099, bytes(4096))
    head = bof(0x0005) + pad
    bound_len = 4 + 8 + 1
    at = len(head) + bound_len + 4
    stream = head + biff(0x0085, struct.pack("<IBBBB", at, 0, 0, 1, 0) + b"S") + biff(0x000A, b"")
    stream += bof(0x0010) + cells + biff(0x000A, b"")
    if truncate:
        stream = stream[:-truncate]
    sectors = (len(stream) + 511) // 512
    assert sectors <= 126, "one FAT sector"
    free, end, fatsect, nostream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
              + struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    fat = [fatsect, end] + [2 + i + 1 for i in range(sectors - 1)] + [end]
    fat += [free] * (128 - len(fat))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1 if kind else 0)
                + struct.pack("<III", nostream, nostream, child) + bytes(16) + struct.pack("<I", 0)
                + bytes(16) + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, nostream, 2, len(stream))
                 + entry("", 0, nostream, 0, 0) * 2)
    return header + struct.pack("<128I", *fat) + directory + stream.ljust(sectors * 512, b"\0")


def compound_fat_listed_over_and_over(difat_sectors: int = 250) -> bytes:
    """A version-4 compound file (4 KiB sectors) whose header and DIFAT sectors list sector 0
    as a FAT sector 109 + 1,023 times a DIFAT sector: about 1 MB asking a reader that trusts
    the list for 4 MiB a kilobyte (1 GiB here)."""
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    header = (bytes.fromhex("d0cf11e0a1b11ae1") + bytes(16)
              + struct.pack("<HHHHH", 0x003E, 0x0004, 0xFFFE, 12, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 1, 109 + 1023 * difat_sectors, 1 + difat_sectors, 0, 4096, end, 0, 1,
                            difat_sectors)
              + struct.pack("<I", 0) * 109)
    sectors = [b"\0" * 4096]
    for k in range(difat_sectors):
        nxt = 2 + k if k + 1 < difat_sectors else end
        sectors.append(struct.pack("<1023I", *([0] * 1023)) + struct.pack("<I", nxt))
    sectors.append(b"\0" * 4096)
    return header.ljust(4096, b"\0") + b"".join(sectors)


def xls_number(row: int, column: int, value: float) -> bytes:
    return biff(0x0203, struct.pack("<HHHd", row, column, 0, value))


def xls_label(row: int, column: int, text: bytes, declared: int | None = None) -> bytes:
    return biff(0x0204, struct.pack("<HHHHB", row, column, 0, len(text) if declared is None else declared, 0) + text)


XLS_ROWS = xls_label(0, 0, b"n") + b"".join(xls_number(r, 0, float(r)) for r in range(1, 101))


def build_parquet(
    n: int = 10,
    *,
    codec: int = UNCOMPRESSED,
    page_num_values: int | None = None,
    page_uncompressed: int | None = None,
    page_payload: bytes | None = None,
    page_compressed: int | None = None,
    col_num_values: int | None = None,
    rg_rows: int | None = None,
    file_rows: int | None = None,
    data_page_offset: int | None = None,
    columns: int = 1,
    row_groups: int = 1,
    schema_depth: int = 0,
    dictionary: tuple[int, int] | None = None,  # (claimed num_values, claimed uncompressed size)
) -> bytes:
    """A Parquet file written by hand: `columns` INT64 REQUIRED columns of n values 0..n-1 in
    one PLAIN data page each (optionally with a dictionary page), one or more row groups that
    share the same chunks, and any field overridden to lie."""
    values = b"".join(struct.pack("<q", i) for i in range(n))
    out = bytearray(b"PAR1")
    chunk_metas = []
    for c in range(columns):
        chunk_start = len(out)
        dict_offset = None
        if dictionary is not None:
            dvalues, dsize = dictionary
            dict_payload = struct.pack("<q", 7)
            if codec == SNAPPY:
                dict_payload = snappy_literal(dict_payload)
            header = S((1, T_I32, DICTIONARY_PAGE), (2, T_I32, dsize), (3, T_I32, len(dict_payload)),
                       (7, T_STRUCT, S((1, T_I32, dvalues), (2, T_I32, PLAIN))))
            dict_offset = len(out)
            out += header.encode() + dict_payload
        payload = page_payload if page_payload is not None else values
        if page_payload is None and codec == SNAPPY:
            payload = snappy_literal(values) if len(values) <= 60 else None
            assert payload is not None, "use n <= 7 with SNAPPY"
        if page_payload is None and codec == ZSTD:
            payload = zstd_raw_frame(values)
        uncompressed = page_uncompressed if page_uncompressed is not None else len(values)
        compressed = page_compressed if page_compressed is not None else len(payload)
        header = S(
            (1, T_I32, DATA_PAGE), (2, T_I32, uncompressed), (3, T_I32, compressed),
            (5, T_STRUCT, S((1, T_I32, page_num_values if page_num_values is not None else n),
                            (2, T_I32, PLAIN), (3, T_I32, RLE), (4, T_I32, RLE))),
        )
        data_offset = len(out)
        out += header.encode() + payload
        chunk_len = len(out) - chunk_start
        meta = S(
            (1, T_I32, INT64),
            (2, T_LIST, (T_I32, [PLAIN, RLE])),
            (3, T_LIST, (T_BINARY, [f"c{c}"] if not schema_depth else ["g"] * schema_depth + ["x"])),
            (4, T_I32, codec),
            (5, T_I64, col_num_values if col_num_values is not None else n),
            (6, T_I64, chunk_len),
            (7, T_I64, chunk_len),
            (9, T_I64, data_page_offset if data_page_offset is not None else data_offset),
            (11, T_I64, dict_offset) if dict_offset is not None else None,
        )
        chunk_metas.append((meta, chunk_start, chunk_len))
    if schema_depth:
        schema = [S((4, T_BINARY, "schema"), (5, T_I32, 1))]
        for _ in range(schema_depth):
            schema.append(S((3, T_I32, REQUIRED), (4, T_BINARY, "g"), (5, T_I32, 1)))
        schema.append(S((1, T_I32, INT64), (3, T_I32, REQUIRED), (4, T_BINARY, "x")))
    else:
        schema = [S((4, T_BINARY, "schema"), (5, T_I32, columns))]
        schema += [S((1, T_I32, INT64), (3, T_I32, REQUIRED), (4, T_BINARY, f"c{c}")) for c in range(columns)]
    # Every row group is the same: encode one and repeat its bytes.
    cols = [S((2, T_I64, start + length), (3, T_STRUCT, meta)) for meta, start, length in chunk_metas]
    total = sum(length for _m, _s, length in chunk_metas)
    group = S((1, T_LIST, (T_STRUCT, cols)), (2, T_I64, total), (3, T_I64, rg_rows if rg_rows is not None else n)).encode()
    groups_list = (bytes([(row_groups << 4) | T_STRUCT]) if row_groups < 15
                   else bytes([0xF0 | T_STRUCT]) + varint(row_groups)) + group * row_groups
    head = S(
        (1, T_I32, 1),
        (2, T_LIST, (T_STRUCT, schema)),
        (3, T_I64, file_rows if file_rows is not None else n * row_groups),
    ).encode()[:-1]  # without its STOP: field 4 follows
    footer = (head + bytes([0x10 | T_LIST]) + groups_list
              + bytes([(2 << 4) | T_BINARY]) + encode_value(T_BINARY, "datasets-api hostile test")  # field 6 (4 + 2)
              + b"\x00")
    out += footer + struct.pack("<I", len(footer)) + b"PAR1"
    return bytes(out)


def pyarrow_parquet(rows: int = 1000) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "id": list(range(rows)),
        "amount": [i * 1.5 for i in range(rows)],
        "name": [f"name {i % 7}" for i in range(rows)],
    })
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


def flat_schema_parquet(leaves: int) -> bytes:
    """A file whose footer declares `leaves` INT64 columns (and no row group)."""
    leaf = S((1, T_I32, INT64), (3, T_I32, REQUIRED), (4, T_BINARY, "x")).encode()
    root = S((4, T_BINARY, "schema"), (5, T_I32, leaves)).encode()
    schema = bytes([0xF0 | T_STRUCT]) + varint(leaves + 1) + root + leaf * leaves
    footer = (S((1, T_I32, 1)).encode()[:-1] + bytes([0x10 | T_LIST]) + schema
              + bytes([0x10 | T_I64]) + varint(zigzag(0)) + bytes([0x10 | T_LIST, 0x00 | T_STRUCT]) + b"\x00")
    return b"PAR1" + footer + struct.pack("<I", len(footer)) + b"PAR1"


def with_footer_len(data: bytes, length: int) -> bytes:
    return data[:-8] + struct.pack("<I", length & 0xFFFFFFFF) + b"PAR1"


def corrupt_footer(data: bytes, seed: int) -> bytes:
    (flen,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - flen
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(max(8, flen // 8)):
        b[start + rng.randrange(flen)] = rng.randrange(256)
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# Multipart by hand


def multipart(fields: list[tuple[str, str | None, bytes]], boundary: str = "hostileBoundary7MA4YWxkTrZu0gW") -> bytes:
    out = bytearray()
    for name, filename, value in fields:
        out += f"--{boundary}\r\n".encode()
        if filename is None:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        else:
            out += (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += value + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


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


# ---------------------------------------------------------------------------------------------
# The server under test


class Server:
    def __init__(self, binary: str, workdir: str, as_bytes: int, arena_max: int = 0):
        self.binary, self.workdir, self.as_bytes, self.arena_max = binary, workdir, as_bytes, arena_max
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "server.log")
        self.starts = 0
        self.deaths: list[str] = []
        self.peak_rss_kb = 0
        self.peak_vm_kb = 0
        self.lock = threading.Lock()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(
            DATABASE_URL=f"sqlite://{self.workdir}/db.sqlite",
            STORAGE_URL=f"{self.workdir}/artifacts",
            SPOOL_DIR=f"{self.workdir}/spool",
            ADMIN_API_KEY=ADMIN_KEY,
            BIND_ADDR=f"127.0.0.1:{self.port}",
            RUST_LOG="info",
            # Bounded reads: a query past these answers 503 timeout or 422 query_too_large.
            REQUEST_TIMEOUT_SECONDS="20",
            QUERY_MEMORY_BYTES=str(256 * MiB),
        )
        if self.arena_max:
            env["MALLOC_ARENA_MAX"] = str(self.arena_max)
        cmd = [self.binary]
        if self.as_bytes:
            cmd = ["prlimit", f"--as={self.as_bytes}", "--"] + cmd
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf, start_new_session=True)
        logf.close()
        with open(os.path.join(self.workdir, "server.pid"), "w") as f:
            f.write(str(self.proc.pid))
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited at start ({self.proc.returncode}); see {self.log_path}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("the server did not answer /health in 60 s")

    def status(self) -> dict:
        out = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmHWM", "VmRSS", "VmPeak", "VmSize", "Threads"):
                        out[k] = int(v.split()[0])
        except (OSError, AttributeError):
            pass
        return out

    def sample(self) -> None:
        st = self.status()
        self.peak_rss_kb = max(self.peak_rss_kb, st.get("VmHWM", 0))
        self.peak_vm_kb = max(self.peak_vm_kb, st.get("VmPeak", 0))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.sample()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# Sending


@dataclass
class Result:
    case: str
    attempt: int
    status: int | None = None
    code: str | None = None
    problem: str = ""
    seconds: float = 0.0
    dataset_name: str = ""


@dataclass
class Run:
    server: Server
    project_id: str
    version_target: str
    read_target: str
    in_flight: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rss_peak_case: tuple = (0, [])


READ_ROWS = 300_000


def long_where(size: int) -> bytes:
    """`where=id = 0 OR id = 1 OR …`, URL-encoded, at most `size` bytes."""
    out, i = b"where=id%20%3D%200", 1
    while True:
        clause = f"%20OR%20id%20%3D%20{i}".encode()
        if len(out) + len(clause) > size:
            return out
        out, i = out + clause, i + 1


def upload_large_versions(s: requests.Session, base: str, project_id: str) -> str:
    """A dataset of two versions of READ_ROWS rows each, for the read cases."""
    def csv(shift: int) -> bytes:
        return b"id,amount,label\n" + b"".join(
            f"{i},{(i * 7 + shift) % 1000 / 4},label {(i + shift) % 997}\n".encode() for i in range(READ_ROWS))
    up = s.post(f"{base}/api/datasets/upload", data={"project_id": project_id, "name": "hostile reads"},
                files={"file": ("reads.csv", csv(0), "text/csv")}, timeout=120)
    up.raise_for_status()
    dataset = up.json()["dataset_id"]
    s.post(f"{base}/api/datasets/{dataset}/versions", data={"description": "hostile reads v1"},
           files={"file": ("reads1.csv", csv(1), "text/csv")}, timeout=120).raise_for_status()
    return dataset


def judge(case: Case, res: Result, resp: requests.Response | None) -> None:
    if resp is None:
        if case.expect not in ("4xx_or_close", "none"):
            res.problem = res.problem or "no HTTP answer"
        return
    res.status = resp.status_code
    try:
        body = resp.json()
        res.code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    except ValueError:
        body = None
    s = resp.status_code
    if case.expect == "bounded" and (s < 300 or (400 <= s < 500 and res.code) or (s == 503 and res.code == "timeout")):
        return
    if case.expect == "414":
        if s != 414:
            res.problem = f"answered {s}, not 414 URI Too Long"
        return
    if s >= 500:
        res.problem = f"answered {s}: {resp.text[:200]}"
    elif s == 201:
        if case.expect not in ("201", "4xx_or_201"):
            res.problem = f"answered 201 but the input must be refused: {resp.text[:200]}"
    elif 400 <= s < 500:
        if case.expect == "201":
            res.problem = f"answered {s} but the input is valid: {resp.text[:300]}"
        elif not res.code:
            res.problem = f"answered {s} without a JSON error code: {resp.text[:200]}"
    else:
        res.problem = f"answered {s}: {resp.text[:200]}"


def raw_request(run: Run, path: str, content_type: str, body: bytes, timeout: float = 60) -> tuple[int | None, bytes]:
    """POSTs body on a fresh socket; returns (status, response body) or (None, b"") when the
    server closed the connection without an answer."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=timeout) as s:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except (ConnectionResetError, socket.timeout):
            pass
    data = b"".join(chunks)
    if not data.startswith(b"HTTP/1.1 "):
        return None, b""
    status = int(data[9:12])
    _, _, rest = data.partition(b"\r\n\r\n")
    return status, rest


class FakeResponse:
    def __init__(self, status: int, body: bytes):
        self.status_code, self.content = status, body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def send(run: Run, case: Case, attempt: int, content: bytes) -> Result:
    res = Result(case.name, attempt)
    res.dataset_name = f"hostile {case.name} #{attempt}"
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    t0 = time.monotonic()
    resp = None
    try:
        if case.kind == "upload":
            resp = s.post(f"{run.server.base}/api/datasets/upload",
                          data={"project_id": run.project_id, "name": res.dataset_name},
                          files={"file": (case.filename, content, "application/octet-stream")}, timeout=240)
        elif case.kind == "version":
            resp = s.post(f"{run.server.base}/api/datasets/{run.version_target}/versions",
                          data={"description": res.dataset_name},
                          files={"file": (case.filename, content, "application/octet-stream")}, timeout=240)
        elif case.kind == "raw":
            body = content.replace(b"PROJECT", run.project_id.encode()).replace(
                b'name="name"\r\n\r\nx', f'name="name"\r\n\r\n{res.dataset_name}'.encode())
            body = body.replace(b"\r\n\r\nlong boundary\r\n", f"\r\n\r\n{res.dataset_name}\r\n".encode())
            status, rbody = raw_request(run, "/api/datasets/upload", case.content_type, body)
            if status is not None:
                resp = FakeResponse(status, rbody)
        elif case.kind == "rows":
            resp = s.get(f"{run.server.base}/api/datasets/{run.read_target}/rows?{content.decode()}", timeout=120)
        elif case.kind == "query":
            resp = s.post(f"{run.server.base}/api/datasets/{run.read_target}/query", data=content,
                          headers={"Content-Type": "application/json"}, timeout=120)
        elif case.kind == "range":
            resp = s.get(f"{run.server.base}/api/datasets/{run.read_target}/download",
                         params={"format": "parquet", "version": "0"}, headers={"Range": content.decode()}, timeout=120)
        elif case.kind == "slow":
            slow_drip(run)
        elif case.kind == "disconnect":
            disconnect_mid_body(run)
    except requests.RequestException as e:
        res.problem = f"no HTTP answer: {type(e).__name__}"
    except OSError as e:
        res.problem = f"socket error: {e!r}"
    res.seconds = time.monotonic() - t0
    judge(case, res, resp)
    if res.status == 201 and not res.problem and case.rows is not None:
        try:
            body = resp.json()
            if "row_count" in body:
                rows = body["row_count"]
            else:
                rows = s.get(f"{run.server.base}/api/datasets/{body['dataset_id']}", timeout=60).json()["dataset"]["rows"]
            if rows != case.rows:
                res.problem = f"accepted with {rows} rows; the file holds {case.rows}"
        except (requests.RequestException, ValueError, KeyError) as e:
            res.problem = f"accepted, but its row count could not be read: {e!r}"
    return res


def slow_drip(run: Run) -> None:
    body_len = 10 * MiB
    head = (f"POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {body_len}\r\n\r\n").encode()
    pre = (f'--B\r\nContent-Disposition: form-data; name="project_id"\r\n\r\n{run.project_id}\r\n'
           '--B\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n\r\na,b\n').encode()
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=30) as s:
        s.sendall(head + pre)
        for _ in range(8):
            time.sleep(1)
            s.sendall(b"1,2")  # 3 bytes a second
        # Meanwhile the server must serve others.
        r = requests.get(run.server.base + "/health", timeout=5)
        if r.status_code != 200:
            raise OSError(f"/health answered {r.status_code} during a slow drip")


def disconnect_mid_body(run: Run) -> None:
    body_len = 20 * MiB
    head = (f"POST /api/datasets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {body_len}\r\n\r\n").encode()
    pre = (f'--B\r\nContent-Disposition: form-data; name="project_id"\r\n\r\n{run.project_id}\r\n'
           '--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nhostile disconnect\r\n'
           '--B\r\nContent-Disposition: form-data; name="file"; filename="cut.csv"\r\n\r\na,b\n').encode()
    chunk = b"1,2\n" * 16384
    with socket.create_connection(("127.0.0.1", run.server.port), timeout=30) as s:
        s.sendall(head + pre)
        sent = 0
        while sent < 5 * MiB:
            s.sendall(chunk)
            sent += len(chunk)
        s.shutdown(socket.SHUT_RDWR)


# ---------------------------------------------------------------------------------------------


def files_under(root: str) -> set[str]:
    out = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary")
    ap.add_argument("--workdir")
    ap.add_argument("--as-bytes", type=int, default=2048 * MiB, help="address-space cap (0: none)")
    ap.add_argument("--malloc-arena-max", type=int, default=2,
                    help="MALLOC_ARENA_MAX for the server (0: glibc's default, 8 arenas per core)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--list", action="store_true", help="list the corpus and exit")
    args = ap.parse_args()
    cases = corpus()
    if args.list:
        for c in cases:
            print(f"{c.name:32} {c.kind:10} expect {c.expect:12} {c.note}")
        return 0
    if not args.binary or not args.workdir:
        ap.error("--binary and --workdir are required")
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.name in wanted]
        if not cases:
            ap.error("no case matches --only")
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    log(f"seed {args.seed}; {len(cases)} cases x {args.repeat}, {args.workers} workers; "
        + (f"address-space cap {args.as_bytes / MiB:.0f} MiB" if args.as_bytes else "no cap")
        + (f", MALLOC_ARENA_MAX={args.malloc_arena_max}" if args.malloc_arena_max else ""))
    server = Server(args.binary, args.workdir, args.as_bytes, args.malloc_arena_max)
    started = time.monotonic()
    failures: list[str] = []
    results: list[Result] = []
    try:
        server.start()
        if args.as_bytes:
            with open(f"/proc/{server.proc.pid}/limits") as f:
                line = next(line_ for line_ in f if line_.startswith("Max address space"))
            log("server limits: " + " ".join(line.split()))
            if str(args.as_bytes) not in line:
                raise RuntimeError(f"the cap is not applied: {line.strip()}")
        idle = server.status()
        log(f"idle server: VmRSS {idle.get('VmRSS', 0) / 1024:.0f} MiB, VmSize {idle.get('VmSize', 0) / 1024:.0f} MiB, "
            f"{idle.get('Threads')} threads")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        project_id = s.post(f"{server.base}/api/projects", json={"name": "hostile"}, timeout=30).json()["id"]
        seed = s.post(f"{server.base}/api/datasets/upload", data={"project_id": project_id, "name": "hostile seed"},
                      files={"file": ("seed.csv", b"a,b\n1,2\n3,4\n", "text/csv")}, timeout=30)
        seed.raise_for_status()
        read_target = upload_large_versions(s, server.base, project_id)
        run = Run(server, project_id, seed.json()["dataset_id"], read_target)

        # Materialize the inputs once (some take a moment), then send them in a seeded order.
        contents = {c.name: c.make() for c in cases}
        log(f"corpus built: {len(cases)} inputs, {sum(len(v) for v in contents.values()) / MiB:.1f} MiB in all")
        jobs = [(c, a) for c in cases for a in range(1, args.repeat + 1)]
        random.Random(args.seed).shuffle(jobs)
        by_name = {c.name: c for c in cases}

        stop_sampler = threading.Event()

        def sampler() -> None:
            last = 0
            while not stop_sampler.is_set():
                st = server.status()
                rss = st.get("VmRSS", 0)
                if os.environ.get("HOSTILE_TRACE_VM") and st.get("VmSize", 0) > getattr(server, "_vm_seen", 0):
                    server._vm_seen = st["VmSize"]
                    with run.lock:
                        flying = sorted(run.in_flight.values())
                    log(f"VmSize {st['VmSize'] // 1024} MiB, VmRSS {rss // 1024} MiB, {st.get('Threads')} threads; in flight {flying}")
                server.sample()
                with run.lock:
                    if rss > run.rss_peak_case[0]:
                        run.rss_peak_case = (rss, sorted(run.in_flight.values()))
                if not server.alive() and last != server.starts:
                    last = server.starts
                time.sleep(0.02)

        sampler_thread = threading.Thread(target=sampler, daemon=True)
        sampler_thread.start()
        restart_lock = threading.Lock()

        def work(job) -> Result:
            case, attempt = job
            key = (case.name, attempt, threading.get_ident())
            with run.lock:
                run.in_flight[key] = f"{case.name}#{attempt}"
            try:
                res = send(run, case, attempt, contents[case.name])
            finally:
                with run.lock:
                    run.in_flight.pop(key, None)
            with restart_lock:
                if not server.alive():
                    with run.lock:
                        others = sorted(run.in_flight.values())
                    msg = (f"the server died (exit {server.proc.returncode}) while sending {case.name}#{attempt}"
                           f" (also in flight: {others})")
                    server.deaths.append(msg)
                    log(msg)
                    server.sample()
                    server.start()
            return res

        with cf.ThreadPoolExecutor(args.workers) as pool:
            for res in pool.map(work, jobs):
                results.append(res)
                flag = "PROBLEM " + res.problem if res.problem else ""
                print(f"  {res.case + '#' + str(res.attempt):40} {str(res.status):5} {str(res.code):22} "
                      f"{res.seconds:6.2f}s {flag}", flush=True)
        stop_sampler.set()
        sampler_thread.join()

        # --- end state
        time.sleep(1.0)  # let dropped requests finish cleaning up
        if not server.alive():
            failures.append(f"the server is not running at the end (exit {server.proc.returncode})")
        else:
            r = requests.get(server.base + "/health", timeout=10)
            if r.status_code != 200:
                failures.append(f"/health answered {r.status_code} at the end")
        failures += server.deaths
        for res in results:
            if res.problem:
                failures.append(f"{res.case}#{res.attempt}: {res.problem}")
        accepted = {res.dataset_name for res in results if res.status == 201 and by_name[res.case].kind != "version"}
        accepted_versions = {res.dataset_name for res in results if res.status == 201 and by_name[res.case].kind == "version"}
        items, offset = [], 0
        while True:
            page = s.get(f"{server.base}/api/datasets", params={"project_id": project_id, "limit": 500, "offset": offset},
                         timeout=30).json()
            items += page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        listed = {d["name"] for d in items} - {"hostile seed", "hostile reads"}
        if listed != accepted:
            failures.append(f"stored datasets differ from the accepted uploads: extra {sorted(listed - accepted)[:5]},"
                            f" missing {sorted(accepted - listed)[:5]}")
        versions = s.get(f"{server.base}/api/datasets/{run.version_target}/versions", params={"limit": 100}, timeout=30).json()
        extra_versions = {v["description"] for v in versions["items"] if v["version"] > 0}
        if extra_versions != accepted_versions:
            failures.append(f"versions of the seed dataset differ from the accepted version uploads: {sorted(extra_versions)}")
        # Files: exactly those the artifacts table references; nothing in the spool.
        con = sqlite3.connect(f"file:{args.workdir}/db.sqlite?mode=ro", uri=True)
        referenced = {row[0] for row in con.execute("SELECT storage_key FROM artifacts")}
        con.close()
        on_disk = files_under(os.path.join(args.workdir, "artifacts"))
        if on_disk != referenced:
            failures.append(f"artifact folder differs from the artifacts table: unreferenced {sorted(on_disk - referenced)[:5]},"
                            f" missing {sorted(referenced - on_disk)[:5]}")
        # The query engine's spill folder (`query/`) stays; what a query spilled must be gone.
        spool = sorted(files_under(os.path.join(args.workdir, "spool")))
        if spool:
            failures.append(f"{len(spool)} file(s) left in SPOOL_DIR: {spool[:5]}")
        server.sample()

        # --- report
        outcome: dict[str, set] = {}
        for res in results:
            outcome.setdefault(res.case, set()).add(
                f"{res.status} {res.code}" if res.status else ("no answer" if by_name[res.case].expect != "none" else "n/a"))
        log("outcomes by input:")
        for c in cases:
            print(f"  {c.name:32} expect {c.expect:12} got {', '.join(sorted(outcome.get(c.name, {'-'})))}"
                  + (f"   ({c.note})" if c.note else ""), flush=True)
        summary = {
            "seed": args.seed,
            "address_space_cap_bytes": args.as_bytes,
            "address_space_cap_mib": round(args.as_bytes / MiB) if args.as_bytes else None,
            "malloc_arena_max": args.malloc_arena_max or None,
            "inputs": len(cases),
            "requests": len(results),
            "answered_201": sum(1 for r in results if r.status == 201),
            "answered_4xx": sum(1 for r in results if r.status and 400 <= r.status < 500),
            "answered_5xx": sum(1 for r in results if r.status and r.status >= 500),
            "no_answer": sum(1 for r in results if r.status is None),
            "server_deaths": len(server.deaths),
            "peak_rss_mib": round(server.peak_rss_kb / 1024, 1),
            "peak_address_space_mib": round(server.peak_vm_kb / 1024, 1),
            "rss_peak_sampled_mib": round(run.rss_peak_case[0] / 1024, 1),
            "in_flight_at_rss_peak": run.rss_peak_case[1],
            "datasets_stored": len(listed),
            "seconds": round(time.monotonic() - started, 1),
        }
        log("summary:")
        print(json.dumps(summary, indent=2), flush=True)
        if failures:
            log(f"FAILED: {len(failures)} problem(s):")
            for f_ in failures[:60]:
                print("  - " + f_, flush=True)
            return 1
        log("PASSED")
        return 0
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        log(f"setup error: {e!r}")
        return 2
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
