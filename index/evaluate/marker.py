"""How right the close-match marks are (index/search/marker.py), and fitting them on dev.

A result is a close match when the user would say "yes, that is what we need": grade 2
in the real-data labels (tests/relevance/real). A result shows its twins with it, so it
counts as grade 2 when any of its records is. Measured over the first results of every
need of a split:

- *marks*: precision (marked results that are grade 2) and recall (grade-2 results
  among the first `K` that are marked), and the ROC AUC of the marker's probability;
- *the need-level flag* (``close_match``): right when it is true exactly for the needs
  with a grade-2 result among the first `K`: answerable and no-answer needs alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from erfa.index.engine import ProjectIndex
from erfa.index.evaluate import Task
from erfa.index.search import marker

K = 10  # the first page: what people judge the marks on


@dataclass
class MarkRates:
    precision: float
    recall: float
    need_accuracy: float
    answerable_flagged: float  # needs with a grade-2 result in the first K that are flagged
    unanswered_unflagged: float  # needs without one that are not flagged
    auc: float
    marked: int
    needs: int

    def line(self) -> str:
        return (
            f"marks: precision {self.precision:.2f}, recall {self.recall:.2f} ({self.marked} marked), ROC AUC "
            f"{self.auc:.3f}; need flag right for {self.need_accuracy:.0%} of {self.needs} needs (with an answer on "
            f"the first page: {self.answerable_flagged:.0%} flagged; without: {self.unanswered_unflagged:.0%} not)"
        )


@dataclass
class Rows:
    """Every judged result of a split: its features, its grade-2 label, its need, its rank."""

    x: np.ndarray
    y: np.ndarray
    need: np.ndarray
    rank: np.ndarray
    marked: np.ndarray  # what the index marked (the shipped marker, or the standout rule)


def rows(task: Task, index: ProjectIndex, depth: int = marker.DEPTH) -> Rows:
    snap = index._snapshot()
    xs, ys, needs, ranks, marks = [], [], [], [], []
    for n, q in enumerate(task.queries):
        ranked = index.searcher.rank(snap, q.text, max(depth, 100), None)
        order = ranked.order[:depth]
        xs.append(marker.features(snap, ranked, order))
        for i, r in enumerate(order):
            shown = [snap.records[r].id, *(snap.records[t].id for t in snap.twins.get(r, ()) if t in snap.records)]
            ys.append(any(q.relevant.get(x, 0) == 2 for x in shown))
            needs.append(n)
            ranks.append(i)
            marks.append(r in ranked.marked)
    return Rows(
        np.concatenate(xs) if xs else np.zeros((0, len(marker.FEATURES))),
        np.array(ys, bool),
        np.array(needs),
        np.array(ranks),
        np.array(marks, bool),
    )


def joined(parts: Iterable[Rows]) -> Rows:
    parts = list(parts)
    offset, need = 0, []
    for p in parts:
        need.append(p.need + offset)
        offset += int(p.need.max()) + 1 if len(p.need) else 0
    return Rows(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate(need),
        np.concatenate([p.rank for p in parts]),
        np.concatenate([p.marked for p in parts]),
    )


def rates(
    data: Rows, marked: np.ndarray | None = None, scores: np.ndarray | None = None, n_needs: int | None = None
) -> MarkRates:
    """Rates of ``marked`` (default: what the index marked) over the first `K` results."""
    marked = data.marked if marked is None else marked
    first = data.rank < K
    m, y = marked[first], data.y[first]
    precision = float(y[m].mean()) if m.any() else 1.0
    recall = float(m[y].mean()) if y.any() else 1.0
    needs = sorted(set(data.need.tolist())) if n_needs is None else list(range(n_needs))
    flag = {n: bool(marked[first & (data.need == n)].any()) for n in needs}
    truth = {n: bool(data.y[first & (data.need == n)].any()) for n in needs}
    right = [flag[n] == truth[n] for n in needs]
    with_answer = [flag[n] for n in needs if truth[n]]
    without = [not flag[n] for n in needs if not truth[n]]
    auc = _auc(scores[first], y) if scores is not None else float("nan")
    return MarkRates(
        precision,
        recall,
        float(np.mean(right)),
        float(np.mean(with_answer)) if with_answer else 1.0,
        float(np.mean(without)) if without else 1.0,
        auc,
        int(m.sum()),
        len(needs),
    )


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a grade-2 result scores above another (ties count half)."""
    pos, neg = scores[y], scores[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def fit(dev: Sequence[Rows], model_id: str, provenance: str) -> marker.Marker:
    data = joined(dev)
    return marker.fit(data.x, data.y.astype(int), data.rank, data.need, model_id, page=K, provenance=provenance)
