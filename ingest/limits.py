"""How much erfa reads from one file, one cell and one text field.

A 400 KB workbook can unpack to gigabytes, and one cell can hold a whole book; both
once took erfa (and the server) down. The limits below are far above anything a real
registry holds (the whole PSTW export unpacks to 7.6 MB; its longest cell is 3,990
characters), so they only ever stop broken or hostile files, with a reason that says
which limit was hit and how to raise it where that makes sense.
"""

from __future__ import annotations

# Unpacked size of all members of an XLSX workbook together: the default of read_file's
# max_xlsx_bytes (the service passes ERFA_MAX_XLSX_BYTES from its Settings).
MAX_XLSX_BYTES = 200 * 1024 * 1024
# A workbook is a few dozen files; thousands of members is not a spreadsheet.
MAX_XLSX_MEMBERS = 10_000
# Columns of the sheet read; PSTW has 56. Cells right of the header are never padded in.
MAX_COLUMNS = 1_000
# Excel's last row. A row numbered beyond it is damage, and openpyxl would first yield
# every empty row up to it.
MAX_ROWS = 1_048_576
# One cell / JSON value: longer rejects its row. Far above the description cap below,
# so only garbage (a pasted document, a broken export, a bomb) reaches it.
MAX_CELL_CHARS = 100_000
# Description and purpose are cut here (at a word boundary) with a warning: about
# 3,000 words, 5x the longest description in the real registries.
MAX_TEXT_CHARS = 20_000


def mib(n: int) -> str:
    """Bytes as a person reads them in a message."""
    return f"{n / (1024 * 1024):,.1f} MiB"


def names_preview(names: list[str], limit: int = 10, width: int = 60) -> str:
    """'a', 'b', ... and 199,990 more: a list in a message that stays one line long.

    Messages quote what the file holds; a file can hold 200,000 column names or a
    key a megabyte long, and the message must not grow with it.
    """
    shown = ", ".join(repr(short(n, width)) for n in names[:limit])
    more = len(names) - limit
    return f"{shown} and {more:,} more" if more > 0 else shown


def short(text: str, width: int = 60) -> str:
    """At most `width` characters of `text`, marked when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"
