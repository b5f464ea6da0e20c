"""What a write did to the records, in one type for every write path.

`erfa ingest`, `erfa import`, `erfa sync`, POST /projects and POST /ingest all report how
many records were added, updated and found unchanged. Those three counts are defined here
once (`WriteSummary`); each path's own summary extends them with what only it knows (the
engine's ids and refusals, an import's submissions, a sync's HTTP status), and the HTTP
API's response model (service/api/schemas.py) mirrors them field for field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


class Counts(TypedDict):
    """The three counts by name, typed, so ``**summary.counts()`` is checked where it is spread."""

    added: int
    updated: int
    unchanged: int


@dataclass(kw_only=True)
class WriteSummary:
    """How many records a write added, updated (changed content) and left unchanged.

    Keyword-only, so a summary that extends it may put fields of its own first."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def counts(self) -> Counts:
        """The three counts by name: to carry one write's counts into another summary."""
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged}
