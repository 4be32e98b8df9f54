"""Hostile files and bodies built by hand for tests/hostile/hostile.py: Parquet footers and pages
written with the Thrift compact protocol, compression bombs, spreadsheets (xlsx, ods, legacy xls
in a compound file) that declare more than they hold, multipart bodies. Each builder returns
bytes.
"""

from __future__ import annotations

import io
import random
import struct

MiB = 1 << 20

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
    end = 0xFFFFFFFE
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
