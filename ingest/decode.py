"""Turn a file's bytes into text, whatever editor or spreadsheet wrote it.

Public bodies mostly hand us CSVs saved from Excel, which on Windows means
Windows-1252 unless someone picked "CSV UTF-8" (which adds a BOM). Getting this wrong
silently turns "Bodø" into "BodÃ¸", which then never matches a search, so the choice
is made strictly: UTF-8 if the bytes are valid UTF-8, else Windows-1252, else Latin-1.
Binary files are refused here rather than producing pages of mojibake rejections.
"""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from erfa.ingest.errors import FormatError

ZIP_MAGIC = b"PK\x03\x04"  # XLSX is a zip archive
_PROBE = 64 * 1024
# Share of control characters (other than tab/newline) above which text is garbage.
_MAX_CONTROL_SHARE = 0.01


def looks_like_zip(head: bytes) -> bool:
    return head.startswith(ZIP_MAGIC)


def decode_bytes(data: bytes, file: object) -> tuple[str, str]:
    """Return (text, encoding name); raise FormatError for empty or binary content."""
    if not data.strip():
        raise FormatError(file, "the file is empty", "Export the data again, with a header row")
    if data.startswith(codecs.BOM_UTF8):
        text, encoding = _strict(data[len(codecs.BOM_UTF8) :], "utf-8", file), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = _strict(data, "utf-16", file), "utf-16"
    else:
        if b"\x00" in data[:_PROBE]:
            raise _binary(file)
        text, encoding = _guess(data)
    _refuse_garbage(text, file)
    return text, encoding


def read_text(path: Path) -> tuple[str, str]:
    """Read and decode a whole text file (erfa's inputs are at most a few MB)."""
    return decode_bytes(path.read_bytes(), path)


def _guess(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Mostly UTF-8 with a few stray bytes (two files pasted together): keep UTF-8 and
    # lose those few characters, rather than turning every "ø" in the file into "Ã¸".
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    good = sum(1 for ch in lenient if ord(ch) > 0x7F and ch != "\ufffd")
    if good > bad:
        return lenient, "utf-8 (with invalid bytes replaced)"
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # Latin-1 maps every byte; the garbage check below catches binary content.
        return data.decode("latin-1"), "latin-1"


def _strict(data: bytes, encoding: str, file: object) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FormatError(
            file,
            f"the file starts with a {encoding} byte-order mark but byte {exc.start} is not valid {encoding}",
            "Save it again as 'CSV UTF-8' (Excel) or plain UTF-8",
        ) from None


def _refuse_garbage(text: str, file: object) -> None:
    sample = text[:_PROBE]
    controls = sum(1 for ch in sample if ch not in "\t\n\r\f" and unicodedata.category(ch) in ("Cc", "Cs", "Co"))
    if controls > max(2, len(sample) * _MAX_CONTROL_SHARE):
        raise _binary(file)


def _binary(file: object) -> FormatError:
    return FormatError(
        file,
        "this is not a text file (CSV/JSON) or an XLSX workbook; it looks binary",
        "Export the data as CSV (UTF-8) or JSON Lines, or pass the .xlsx file itself",
    )
