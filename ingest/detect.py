"""Recognise a file's format from its content, not its name.

Files reach us renamed, re-saved and e-mailed: "prosjekter.csv" may be semicolon
separated, "export.txt" may be JSON Lines. The header row (CSV), the first line
(JSON) or the zip signature (XLSX) is what actually tells the formats apart, and
each format has a column/key signature that no other one has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from erfa.ingest.decode import looks_like_zip, read_text
from erfa.ingest.errors import FormatError
from erfa.ingest.formats import aiwatch, digdir, pstw
from erfa.ingest.formats._base import norm_key
from erfa.ingest.limits import MAX_XLSX_BYTES
from erfa.ingest.rows import csv_header, first_line, json_loads, sniff_delimiter, unwrap_items, xlsx_header

_DIGDIR_JSON_KEY = re.compile(r'"(prosjekttittel|prosjekteier|prosjektbeskrivelse)"\s*:', re.I)
_JSON_PROBE_LINES = 20


@dataclass(frozen=True)
class Loaded:
    """A file opened once: decoded text, or None for an XLSX workbook (read up to ``max_xlsx_bytes`` unpacked)."""

    path: Path
    text: str | None
    encoding: str | None
    max_xlsx_bytes: int = MAX_XLSX_BYTES

    @property
    def is_xlsx(self) -> bool:
        return self.text is None


def load(path: Path, max_xlsx_bytes: int = MAX_XLSX_BYTES) -> Loaded:
    if not path.exists():
        raise FormatError(path, "no such file")
    if not path.is_file():
        raise FormatError(path, "not a file (a folder?)", "Pass the path of one file")
    with path.open("rb") as handle:
        head = handle.read(8)
    if looks_like_zip(head):
        return Loaded(path, None, None, max_xlsx_bytes)
    text, encoding = read_text(path)
    return Loaded(path, text, encoding, max_xlsx_bytes)


def detect_format(path: Path) -> str:
    """The FORMATS name that fits the file; FormatError says why none does."""
    return classify(load(Path(path)))


def classify(loaded: Loaded) -> str:
    if loaded.text is None:
        return _classify_xlsx(loaded.path, loaded.max_xlsx_bytes)
    if loaded.text.lstrip()[:1] in ("{", "["):
        return _classify_json(loaded.text, loaded.path)
    return _classify_csv(loaded.text, loaded.path)


def csv_format_of(header: list[str]) -> str | None:
    """Which CSV format a header row belongs to, if any."""
    keys = {norm_key(h) for h in header}
    if keys >= digdir.SIGNATURE:
        return "digdir-csv"
    if keys >= pstw.SIGNATURE:
        return "pstw-csv"
    if keys >= aiwatch.SIGNATURE:
        return "aiwatch-csv"
    names = {h.strip().lower() for h in header}
    if {"title", "source_id"} <= names:
        return "erfa-csv"
    return None


def _classify_xlsx(path: Path, max_bytes: int) -> str:
    header = xlsx_header(path, wanted=pstw.ID_COLUMN, max_bytes=max_bytes)
    if {norm_key(h) for h in header} >= pstw.SIGNATURE:
        return "pstw-xlsx"
    raise FormatError(
        path,
        "this XLSX workbook is not a Public Sector Tech Watch export (no 'PSTW ID' and 'Name' "
        f"columns; first row is {_preview(header)})",
        "Save the sheet as CSV with erfa's column names (see docs/ingest-formats.md) and read that",
    )


def _classify_csv(text: str, path: Path) -> str:
    header = csv_header(text, sniff_delimiter(text))
    found = csv_format_of(header)
    if found:
        return found
    raise FormatError(
        path,
        f"the header row {_preview(header)} matches no supported format",
        "erfa CSV needs at least the columns 'title' and 'source_id'; Digdir's overview has "
        "'Prosjekttittel' and 'Prosjekteier'; a PSTW export has 'PSTW ID' and 'Name'; the JRC's "
        "AI Watch and IPS-X case lists have 'name', 'description', 'geocoverage' and 'lead_organisation_name'. "
        "If the file is right, pass --format explicitly",
    )


def _classify_json(text: str, path: Path) -> str:
    line = first_line(text).strip()
    try:
        value: object = json_loads(line)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        if unwrap_items(value) is not None:
            return "digdir-json"
        if digdir.JSON_KEYS & {norm_key(k) for k in value}:
            raise FormatError(
                path,
                "this is JSON Lines of Digdir projects; digdir-json expects one JSON array",
                "Wrap the objects in [ ... ] separated by commas, as the API returns them",
            )
        return "erfa-jsonl"
    if isinstance(value, list):
        if any(isinstance(v, dict) and digdir.JSON_KEYS & {norm_key(k) for k in v} for v in value[:5]):
            return "digdir-json"
        raise _json_array_error(path)
    # The first line is not a whole JSON value: pretty-printed JSON, or JSON Lines whose
    # first line is broken (that line will be rejected, the rest read).
    if _DIGDIR_JSON_KEY.search(text[: 64 * 1024]):
        return "digdir-json"
    if text.lstrip().startswith("["):
        raise _json_array_error(path)
    for candidate in text.splitlines()[:_JSON_PROBE_LINES]:
        try:
            if isinstance(json_loads(candidate), dict):
                return "erfa-jsonl"
        except json.JSONDecodeError:
            continue
    raise FormatError(
        path,
        "this looks like JSON but is neither JSON Lines (one object per line) nor a JSON array of Digdir projects",
        "Write one project object per line (erfa-jsonl), see docs/ingest-formats.md",
    )


def _json_array_error(path: Path) -> FormatError:
    return FormatError(
        path,
        "this is a JSON array, but not of Digdir projects; erfa's own format is JSON Lines",
        "Write one object per line instead of an array (erfa-jsonl), see docs/ingest-formats.md",
    )


def _preview(header: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(h) for h in header[:limit])
    more = f", ... ({len(header)} columns)" if len(header) > limit else ""
    return f"[{shown}{more}]"


__all__ = ["Loaded", "classify", "csv_format_of", "detect_format", "load"]
