"""Writing a file's records: the one path `erfa ingest` and `POST /ingest` share.

A file is read as the whole of each source it holds: with ``prune`` the records of
those sources that the file no longer contains are deleted after the upsert. This is
the service's reading of a file, so it sits here rather than in the index.
"""

from __future__ import annotations

from collections.abc import Sequence

from erfa.index import ProjectIndex, UpsertSummary
from erfa.ingest import Record
from erfa.ingest.reader import ReadResult


def refuse_unindexable(idx: ProjectIndex, result: ReadResult) -> None:
    """Turn the rows the index cannot take in into the file's rejected rows, with the reason.

    Every door (a file, a sync, a POST) then reports them as it reports any invalid row, and
    a sync sees a file with rejected rows, on which it never deletes (issue 18).
    """
    result.reject(idx.refusals(result.records))


def upsert_and_prune(
    idx: ProjectIndex, records: Sequence[Record], *, prune: bool, progress: bool = False
) -> UpsertSummary:
    """Upsert ``records``; with ``prune``, then delete what their sources no longer hold.

    The summary's ``deleted`` counts the pruned records (0 without ``prune``).
    """
    summary = idx.upsert(records, progress=progress)
    if prune:
        for source in sorted({r.source for r in records}):
            summary.deleted += idx.prune(source, {r.id for r in records if r.source == source})
    return summary
