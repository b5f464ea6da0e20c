"""Hostile inputs for the limits tests, small on disk: XLSX bombs and a bounded runner.

The workbooks are written by hand (a minimal package: content types, workbook, one
sheet) so a 400 MB cell costs 400 KB on disk and about a second to write, and the
sheet can claim any dimension or hold cells anywhere. `run_bounded` reads a file in
a child process under an address-space limit and a timeout, so code that is not
bounded fails the test instead of taking the machine down.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WB = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="PSTW" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["PSTW ID", "Name", "Description"]


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def row(number: int, *cells: tuple[str, str]) -> str:
    """<row> with cells given as (column letters, text)."""
    return f'<row r="{number}">' + "".join(cell(f"{col}{number}", text) for col, text in cells) + "</row>"


def plain_rows(rows: list[list[str]]) -> str:
    # not strict: a row may fill fewer than the eight columns
    return "".join(row(i, *zip("ABCDEFGH", values, strict=False)) for i, values in enumerate(rows, 1))


def write_xlsx(path: Path, rows_xml: str, *, dimension: str | None = None, huge: tuple[int, int] | None = None) -> Path:
    """A one-sheet workbook; `huge=(row, n)` appends to that row one D-cell of n 'A's, streamed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        with zf.open(SHEET, "w", force_zip64=True) as f:
            dim = f'<dimension ref="{dimension}"/>' if dimension else ""
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{NS}">{dim}<sheetData>'.encode())
            if huge is None:
                f.write(rows_xml.encode())
            else:
                number, size = huge
                marker = f'<row r="{number}">'
                before, _, after = rows_xml.partition(marker)
                body, _, rest = after.partition("</row>")
                f.write(f"{before}{marker}{body}".encode())
                f.write(f'<c r="D{number}" t="inlineStr"><is><t>'.encode())
                chunk = b"A" * (1 << 20)
                left = size
                while left > 0:
                    f.write(chunk[: min(left, len(chunk))])
                    left -= len(chunk)
                f.write(f"</t></is></c></row>{rest}".encode())
            f.write(b"</sheetData></worksheet>")
    return path


def understate_size(path: Path, member: str, claimed: int) -> None:
    """Make the zip claim `claimed` unpacked bytes for `member` (local and central headers)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            (name_len,) = struct.unpack_from("<H", data, start + name_len_at)
            if data[start + name_at : start + name_at + name_len] == name:
                struct.pack_into("<I", data, start + size_at, claimed)
            start += 4
    path.write_bytes(bytes(data))


_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    started, cpu = time.monotonic(), time.process_time()
    out = {}
    try:
        from erfa.ingest import FormatError, read_file
        result = read_file(Path(sys.argv[1]))
        out = {"outcome": "read", "records": len(result.records),
               "rejected": [f"{r.row}: {r.reason}" for r in result.rejected], "notes": [str(n) for n in result.notes]
               if hasattr(result, "notes") else []}
    except FormatError as exc:
        out = {"outcome": "format_error", "message": str(exc)}
    except BaseException as exc:
        out = {"outcome": "crash", "message": f"{type(exc).__name__}: {str(exc)[:500]}"}
    out["seconds"] = time.monotonic() - started
    out["cpu_seconds"] = time.process_time() - cpu
    # VmHWM is this program's own peak; ru_maxrss would also count the forked test
    # process it was started from (Linux keeps that figure across exec).
    try:
        status = open("/proc/self/status").read()
        out["max_rss_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def run_bounded(
    path: Path, *, memory_mb: int = 1536, timeout: float = 60, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """read_file(path) in a child limited to `memory_mb` of address space and `timeout` seconds.

    Returns the child's report: outcome (read / format_error / crash / killed /
    timeout), message or counts, seconds, cpu_seconds and max_rss_mb.
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))

    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=limit,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "message": f"still reading after {timeout} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"outcome": "killed", "message": f"exit {done.returncode}: {done.stderr[-500:]}"}
    return json.loads(lines[-1])
