"""A sector for every record: the source's own where it gives one, else inferred.

Many PSTW cases map to no sector, so a sector filter used to drop them. A record
without one gets the sector its nearest labelled neighbours vote for: the k records
closest to it in the language-neutral space among those whose source gave a sector,
each voting with its cosine, given only when the winner holds a clear share of the
vote. The record says so (`Record.sector_inferred`), and nothing inferred is stored:
it is recomputed with the snapshot, so a better source value always wins.

"A clear share" is measured, not guessed (models.md, "Inferred sectors"): with each
source's labels hidden in turn and only the other sources voting, a winner holding
MIN_SHARE of the vote was right for 80 % of the records; at the 40 % used before, for
39 % (a Danish mail-sorting case came out "social services"). Below MIN_SHARE the
record shows no sector rather than a wrong one.

A corpus with too few labelled records to vote (Norway's overview alone, a body's own
projects) falls back on the sector prototypes shipped with erfa (prototypes.py), with
their own measured threshold, when the running model is the one that made them.

Why neighbours, not sector descriptions: on the real registries (models.md,
"Inferred sectors") three-language descriptions of each sector, as prototypes, were
right for 43-49 % of held-out records, and they need hand-written text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from erfa.index.bodies import prototypes
from erfa.ingest.record import Record

K = 10  # neighbours that vote
MIN_SHARE = 0.85  # of the (cosine-weighted) vote the winner needs; below it no sector is given (models.md)
MIN_LABELLED = 30  # fewer labelled records than this: too few neighbours to trust, nothing inferred
_CHUNK = 2048  # records scored per matrix product (memory: CHUNK x labelled floats)


@dataclass(frozen=True)
class SectorVotes:
    """The labelled records' vectors and sectors (float32: a float16 copy saved memory, but
    converting it back cost 50 ms per write at 100k projects); with too few of them, none,
    and the shipped prototypes vote instead."""

    vectors: np.ndarray
    labels: tuple[str, ...]
    prototypes: prototypes.SectorPrototypes | None = None

    @classmethod
    def of(
        cls, records: Sequence[Record], vectors: np.ndarray, model_id: str | None = None, dim: int | None = None
    ) -> SectorVotes | None:
        """The labelled records as voters; below MIN_LABELLED of them, the prototypes of the
        model ``model_id`` (dimension ``dim``) when erfa ships them, else None (no inference)."""
        keep = [i for i, r in enumerate(records) if labelled(r)]
        if len(keep) < MIN_LABELLED:
            protos = prototypes.load(model_id, dim) if model_id and dim else None
            return cls(np.empty((0, dim or 0), np.float32), (), protos) if protos else None
        return cls(np.ascontiguousarray(vectors[keep], dtype=np.float32), tuple(str(records[i].sector) for i in keep))

    @cached_property
    def _label_ids(self) -> tuple[list[str], np.ndarray]:
        names = sorted(set(self.labels))
        index = {n: i for i, n in enumerate(names)}
        return names, np.array([index[x] for x in self.labels])

    def infer(self, vectors: np.ndarray, *, exclude_self: bool = False) -> list[str | None]:
        """The sector each (unit) vector's neighbours vote for, None without a clear winner;
        without labelled voters, the prototype it is clearly nearest to. ``exclude_self``: the
        vectors are the labelled ones themselves (leave-one-out)."""
        if not self.labels:
            return self.prototypes.infer(vectors) if self.prototypes else [None] * len(vectors)
        return [s if share >= MIN_SHARE else None for s, share in zip(*self.shares(vectors, exclude_self), strict=True)]

    def shares(self, vectors: np.ndarray, exclude_self: bool = False) -> tuple[list[str | None], np.ndarray]:
        """The winning sector per vector and the share of the vote it holds (the confidence)."""
        winners: list[str | None] = []
        shares: list[np.ndarray] = []
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
            winners += [names[b] if t > 0 else None for b, t in zip(best, total, strict=True)]
            shares.append(np.where(total > 0, share, 0.0))
        return winners, np.concatenate(shares) if shares else np.empty(0, np.float32)


def labelled(record: Record) -> bool:
    """A sector the source gave ('other' says nothing a neighbour could learn from)."""
    return bool(record.sector) and not record.sector_inferred and record.sector != "other"


def with_sectors(records: Sequence[Record], vectors: np.ndarray, votes: SectorVotes | None) -> list[Record]:
    """The records, those without a sector given the one their neighbours (or, without
    labelled neighbours, the shipped prototypes) vote for."""
    todo = [i for i, r in enumerate(records) if not r.sector]
    if votes is None or not todo:
        return list(records)
    out = list(records)
    for i, sector in zip(todo, votes.infer(vectors[todo]), strict=True):
        if sector:
            out[i] = records[i].model_copy(update={"sector": sector, "sector_inferred": True})
    return out
