"""The bundled demo corpus, so that a new user sees search work before loading real data."""

from __future__ import annotations

import logging
from pathlib import Path

from erfa.index import ProjectIndex, UpsertSummary

DEMO_FILE = Path(__file__).parent / "demo" / "projects.jsonl"

log = logging.getLogger("erfa.service")


def seed_demo(index: ProjectIndex, path: Path = DEMO_FILE) -> UpsertSummary:
    """Ingest the demo corpus (illustrative projects, not real ones)."""
    from erfa.ingest import read_file  # only needed on an empty first start

    result = read_file(path)
    for bad in result.rejected:  # a broken demo file is our bug: say so loudly
        log.error("demo corpus %s row %d rejected: %s", bad.file, bad.row, bad.reason)
    summary = index.upsert(result.records, progress=True)
    log.info("demo corpus indexed: %d projects in %.1f s", summary.added + summary.updated, summary.seconds)
    return summary
