"""Read project registries in their many shapes and turn them into `Record`s.

This layer knows files and formats, nothing of embeddings or HTTP: it is the first
step of the one-way flow ingest -> index -> service.
"""

from erfa.ingest.errors import FormatError
from erfa.ingest.language import detect_language, with_detected_language
from erfa.ingest.reader import FORMATS, ReadResult, Rejected, Skipped, detect_format, read_file, read_items
from erfa.ingest.record import Record, RecordError, make_id, utcnow

__all__ = [
    "FORMATS",
    "FormatError",
    "ReadResult",
    "Record",
    "RecordError",
    "Rejected",
    "Skipped",
    "detect_format",
    "detect_language",
    "make_id",
    "read_file",
    "read_items",
    "utcnow",
    "with_detected_language",
]
