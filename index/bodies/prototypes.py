"""Sector prototypes shipped with erfa: a sector for corpora without labelled neighbours.

Why: the neighbours in sectors.py need records whose source gave a sector. A corpus of
Norway's overview alone has few (its sector column is internal, not for publication),
and an install of a body's own projects may have none, so its sector filter stayed
empty. These prototypes are learnt once from the labelled public registries (PSTW,
IPS-X, AI Watch and the Norwegian overview's narrow ministries) and shipped as vectors,
never text: one normalised centroid per sector of the records' vectors in the
language-neutral space search uses (index/search/space.py: the model's "passage: "
vectors, each centred by its language's mean in the registries' corpus, the top
principal direction removed, a record the mean of its passages). A corpus is compared
with them in its own neutral space, where the same centring has removed its language.
Not the model's raw space: there the prototype of a sector that only the Norwegian
overview labels (finance) is a "Norwegian" direction, and every Bokmål text came out
nearest to it. Centroids, not neighbours, because the registries' sectors are far
from balanced (health alone is a quarter) and a centroid gives each sector one voice.

A record is given the nearest prototype's sector only when that prototype is nearer
than the runner-up by at least MIN_MARGIN: the margin at which the prototypes, learnt
without a source and scored on it, were right for 80 % of all sources' records
(models.md, "Inferred sectors"). The vectors only mean something in the space of the
model that made them, so `load` refuses them, with a logged notice, under any other
model or dimension.

Regenerate with ``python -m erfa.index.bodies.prototypes_build --shared ../shared/data --home DIR``
(prototypes_build.py: apart, so that the index never imports the builder).
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from erfa.index.atomic import atomic_file

log = logging.getLogger("erfa.index")

HERE = Path(__file__).resolve().parent
DATA = HERE / "sector_prototypes.npz"
PROVENANCE = HERE / "sector_prototypes.json"
MIN_MARGIN = 0.14  # cosine by which the nearest prototype must beat the runner-up (models.md)
MIN_EXAMPLES = 5  # labelled records a sector needs for a prototype; fewer is one project's text, not a sector's


@dataclass(frozen=True)
class SectorPrototypes:
    """One unit vector per sector, in the language-neutral space of the model ``model_id``."""

    names: tuple[str, ...]
    vectors: np.ndarray  # (len(names), dim), unit rows
    model_id: str

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def learn(cls, labels: Sequence[str], vectors: np.ndarray, model_id: str) -> SectorPrototypes:
        """Centroids of the records' (unit, neutral) vectors per label with MIN_EXAMPLES or more."""
        counts = Counter(labels)
        names = tuple(sorted(n for n, c in counts.items() if c >= MIN_EXAMPLES))
        if len(names) < 2:
            raise ValueError(
                f"sector prototypes need at least two sectors with {MIN_EXAMPLES}+ labelled records; "
                f"got {dict(counts)}: load more labelled registries"
            )
        lab = np.asarray(labels)
        rows = np.stack([np.asarray(vectors)[lab == n].mean(axis=0) for n in names])
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return cls(names, rows.astype(np.float32), model_id)

    def scores(self, vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The nearest prototype's sector per (unit, neutral) vector, and its margin over the runner-up."""
        if not len(vectors):
            return [], np.empty(0, np.float32)
        sims = np.asarray(vectors, np.float32) @ self.vectors.T
        order = np.argsort(-sims, axis=1)[:, :2]
        rows = np.arange(len(sims))
        margin = sims[rows, order[:, 0]] - sims[rows, order[:, 1]]
        return [self.names[i] for i in order[:, 0]], margin

    def infer(self, vectors: np.ndarray) -> list[str | None]:
        """The sector each vector is clearly nearest to, None when two prototypes are about as near."""
        names, margin = self.scores(vectors)
        return [n if m >= MIN_MARGIN else None for n, m in zip(names, margin, strict=True)]

    def save(self, data: Path, provenance: Path, about: dict[str, object]) -> None:
        """The vectors (.npz) and what made them (.json), each written atomically."""

        def write_npz(tmp: Path) -> None:
            buf = io.BytesIO()
            np.savez(buf, names=np.array(self.names), vectors=self.vectors, model_id=np.array(self.model_id))
            tmp.write_bytes(buf.getvalue())

        meta = {"model_id": self.model_id, "dim": self.dim, "sectors": list(self.names), **about}
        atomic_file(data, write_npz)
        atomic_file(provenance, lambda tmp: tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n"))


def read(data: Path = DATA) -> SectorPrototypes:
    """The prototypes in ``data`` (raises OSError/ValueError/KeyError when it is missing or damaged)."""
    with np.load(data, allow_pickle=False) as z:
        return SectorPrototypes(
            tuple(str(n) for n in z["names"]), np.asarray(z["vectors"], np.float32), str(z["model_id"])
        )


@lru_cache(maxsize=8)
def load(model_id: str, dim: int, data: Path = DATA) -> SectorPrototypes | None:
    """The shipped prototypes when they were made by this model, else None with one logged notice
    (cached, so a process says it once, not at every snapshot)."""
    try:
        protos = read(data)
    except (OSError, ValueError, KeyError) as exc:
        log.warning(
            "sector prototypes not used: %s cannot be read (%s); no sectors are inferred without labels", data, exc
        )
        return None
    if protos.model_id != model_id or protos.dim != dim:
        log.warning(
            "sector prototypes not used: they were built with %s (dim %d) and this index runs %s (dim %d); "
            "sectors are inferred only from labelled neighbours. Rebuild them with "
            "`python -m erfa.index.bodies.prototypes_build --shared ../shared/data --home DIR` under this model",
            protos.model_id,
            protos.dim,
            model_id,
            dim,
        )
        return None
    return protos
