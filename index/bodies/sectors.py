"""A sector for every record: the source's own where it gives one, else inferred.

Many PSTW cases map to no sector, so a sector filter used to drop them. A record
without one gets the sector its nearest labelled neighbours vote for: the k records
closest to it in the language-neutral space among those whose source gave a sector,
each voting with its cosine, given only when the winner holds a clear share of the
vote. The record says so (`Record.sector_inferred`), and nothing inferred is stored:
it is recomputed with the snapshot, so a better source value always wins.

Why neighbours, not sector descriptions: on the real registries (models.md,
"Inferred sectors") three-language descriptions of each sector, as prototypes, were
right for 43-49 % of held-out records; the neighbours are right for 76 % at full
coverage and 83 % at the share used here, and they need no hand-written text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from erfa.ingest.record import Record

K = 10  # neighbours that vote
MIN_SHARE = 0.4  # of the (cosine-weighted) vote the winner needs; below it no sector is given
MIN_LABELLED = 30  # fewer labelled records than this: too few neighbours to trust, nothing inferred
_CHUNK = 2048  # records scored per matrix product (memory: CHUNK x labelled floats)


@dataclass(frozen=True)
class SectorVotes:
    """The labelled records' vectors and sectors (float32: a float16 copy saved memory, but
    converting it back cost 50 ms per write at 100k projects)."""

    vectors: np.ndarray
    labels: tuple[str, ...]

    @classmethod
    def of(cls, records: Sequence[Record], vectors: np.ndarray) -> SectorVotes | None:
        keep = [i for i, r in enumerate(records) if labelled(r)]
        if len(keep) < MIN_LABELLED:
            return None
        return cls(np.ascontiguousarray(vectors[keep], dtype=np.float32), tuple(str(records[i].sector) for i in keep))

    @cached_property
    def _label_ids(self) -> tuple[list[str], np.ndarray]:
        names = sorted(set(self.labels))
        index = {n: i for i, n in enumerate(names)}
        return names, np.array([index[x] for x in self.labels])

    def infer(self, vectors: np.ndarray, *, exclude_self: bool = False) -> list[str | None]:
        """The sector each (unit) vector's neighbours vote for, None without a clear winner.
        ``exclude_self``: the vectors are the labelled ones themselves (leave-one-out)."""
        out: list[str | None] = []
        names, label_ids = self._label_ids
        k = min(K, len(self.labels) - exclude_self)
        for start in range(0, len(vectors), _CHUNK):
            sims = vectors[start : start + _CHUNK] @ self.vectors.T
            if exclude_self:
                sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            weights = np.clip(np.take_along_axis(sims, top, axis=1), 0, None)
            votes = np.zeros((len(sims), len(names)), np.float32)
            np.add.at(votes, (np.repeat(np.arange(len(sims)), k), label_ids[top].ravel()), weights.ravel())
            total = votes.sum(axis=1)
            best = votes.argmax(axis=1)
            share = votes[np.arange(len(sims)), best] / np.where(total > 0, total, 1)
            out += [names[b] if t > 0 and s >= MIN_SHARE else None for b, s, t in zip(best, share, total, strict=True)]
        return out


def labelled(record: Record) -> bool:
    """A sector the source gave ('other' says nothing a neighbour could learn from)."""
    return bool(record.sector) and not record.sector_inferred and record.sector != "other"


def with_sectors(records: Sequence[Record], vectors: np.ndarray, votes: SectorVotes | None) -> list[Record]:
    """The records, those without a sector given the one their neighbours vote for."""
    todo = [i for i, r in enumerate(records) if not r.sector]
    if votes is None or not todo:
        return list(records)
    out = list(records)
    for i, sector in zip(todo, votes.infer(vectors[todo]), strict=True):
        if sector:
            out[i] = records[i].model_copy(update={"sector": sector, "sector_inferred": True})
    return out
