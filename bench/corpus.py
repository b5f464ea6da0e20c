"""What the bench measures on: real descriptions, and data directories of N projects built from them.

The real records come from ../shared/data (the Norwegian overview, PSTW, the US inventory);
a bare checkout falls back to the demo corpus. Larger sizes are the real records plus copies
whose vectors are the original's plus noise, written into the embedding cache, so building
100k projects does not mean embedding 100k descriptions.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from erfa.index.engine import ProjectIndex, passages_of
from erfa.index.model.encoder import Encoder
from erfa.index.store.protocol import text_hash
from erfa.ingest import Record, read_file

COPY_NOISE = 0.017  # copies' vectors: original + N(0, s^2) per dim -> cosine ~0.95 to the original
PLACES = ["Bergen", "Umeå", "Aarhus", "Tromsø", "Malmö", "Odense", "Bodø", "Luleå", "Aalborg", "Stavanger"]


def us_records(path: Path, limit: int) -> list[Record]:
    """The US federal inventory (no ingest format in erfa yet): a bench-only adapter."""
    import csv

    out: list[Record] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            if len(out) >= limit:
                break
            if not (row.get("use_case_name") or "").strip() or not (row.get("id") or "").strip():
                continue
            out.append(
                Record.build(
                    "us-omb",
                    row["id"],
                    title=row["use_case_name"],
                    description=row.get("problem_solved"),
                    purpose=row.get("benefits"),
                    organisation=row.get("agency_name"),
                    country="US",
                    status=row.get("development_stage"),
                    language="en",
                )
            )
    return out


def real_corpus(shared: Path, quick: bool) -> tuple[list[Record], dict[str, int]]:
    """Real descriptions: the Norwegian overview (all), PSTW and the US inventory (samples)."""
    per_source = 30 if quick else 500
    recs: list[Record] = []
    counts: dict[str, int] = {}
    digdir = shared / "digdir_ai_projects_norwegian_state_Oversatt_v1.csv"
    pstw = shared / "pstw" / "pstw_dataset_from_Marchant01_ai_eu_project__sheet_PSTW_DB.csv"
    us = shared / "us_omb_2025" / "2025_individually_reported_AI_use_cases.csv"
    if digdir.is_file():
        got = read_file(digdir).records
        recs += got
        counts["digdir (Norwegian overview)"] = len(got)
    if pstw.is_file():
        got = [r for r in read_file(pstw).records if r.description][:per_source]
        recs += got
        counts["pstw (EU Public Sector Tech Watch)"] = len(got)
    if us.is_file():
        got = us_records(us, per_source)
        recs += got
        counts["us-omb (US federal inventory)"] = len(got)
    if not recs:  # no ../shared/data (a bare checkout): the demo corpus stands in
        from erfa.service.demo import DEMO_FILE

        recs = read_file(DEMO_FILE).records
        counts["demo corpus (shared data absent)"] = len(recs)
    return recs, counts


def sixty_words(records: Sequence[Record], n: int) -> list[str]:
    """~60-word texts cut from real descriptions: the issue's ingest target unit."""
    out = []
    for r in records:
        words = (r.description or "").split()
        if len(words) >= 45:
            out.append(" ".join(words[:60]))
        if len(out) >= n:
            break
    while len(out) < n and out:  # tiny corpora (demo): reuse with a marker so hashes differ
        out.append(out[len(out) % max(1, len(out))] + f" ({len(out)})")
    return out


def cached_vectors(home: Path, model_id: str, records: Sequence[Record], dim: int) -> dict[str, np.ndarray]:
    idx = ProjectIndex(home, model=str(home))  # no model load: only the store is used
    hashes = [text_hash(p) for r in records for p in passages_of(r)]
    out = idx.store.cached_vectors(model_id, hashes, dim)
    idx.close()
    return out


def project_set(
    real: Sequence[Record], n: int, vec_of: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[list[Record], list[tuple[str, np.ndarray]]]:
    """n records: the real ones, then copies with new ids and titles whose vectors are the
    original's plus small noise (inserted into the embedding cache, not embedded)."""
    records = list(real[:n])
    items: list[tuple[str, np.ndarray]] = []
    j = 0
    while len(records) < n:
        src = real[j % len(real)]
        j += 1
        place = PLACES[j % len(PLACES)]
        copy = src.model_copy(
            update={
                "id": f"{src.id}~{j}",
                "source_id": f"{src.source_id}~{j}",
                "title": f"{src.title} ({place} {j})",
                "updated_at": None,
            }
        )
        base = [vec_of.get(text_hash(p)) for p in passages_of(src)]
        for i, p in enumerate(passages_of(copy)):
            v = base[min(i, len(base) - 1)] if base else None
            if v is None:
                v = next(iter(vec_of.values()))
            v = v + rng.standard_normal(v.shape[0]).astype(np.float32) * COPY_NOISE
            items.append((text_hash(p), (v / np.linalg.norm(v)).astype(np.float32)))
        records.append(copy)
    return records, items


def build_home(
    home: Path, enc: Encoder, real: Sequence[Record], n: int, vec_of: dict[str, np.ndarray]
) -> dict[str, object]:
    shutil.rmtree(home, ignore_errors=True)
    rng = np.random.default_rng(n)
    records, items = project_set(real, n, vec_of, rng)
    idx = ProjectIndex(home, encoder=enc)
    idx.store.cache_vectors(enc.model_id, [(h, v) for h, v in vec_of.items()] + items)
    idx.load()
    t = time.perf_counter()
    summary = idx.upsert(records)
    seconds = time.perf_counter() - t
    snap = idx._snapshot()
    info = {
        "projects": idx.count(),
        "vectors": len(snap.vectors),
        "index": snap.vectors.kind,
        "build_s": seconds,
        "embedded": summary.embedded,
        "ids": [x.id for x in records],
    }
    idx.close()
    return info
