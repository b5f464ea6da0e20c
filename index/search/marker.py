"""Which results are close matches: a small logistic model over the signals a ranking has.

A need-level flag from the best match's standout alone was wrong for many needs on the
full registries (issue 19): a short need's best match can stand out by chance, and a
need whose answer is there but written in another language may not stand out at all.
It also did not say *which* results it meant. So each of the first `DEPTH` results is
judged on its own, from every signal the ranking already computed:

- ``standout``: how far its similarity stands above what chance gives in this corpus
  (`LanguageSpace.standout`), and ``top_standout``, the same for the best result;
- ``similarity``: its best passage's cosine in the language-neutral space;
- ``gap`` and ``next_gap``: its score's distance to the best result and to the next one,
  in units of the need's score spread (a clear step down means the rest is another kind);
- ``rank``: log(1 + its position);
- ``coverage``: the share of the need's words it contains;
- ``disagreement``: how far the cosines of the need's readings (as written, and its
  Bokmål reading) with it differ: a project only one reading finds is often found
  through one shared word piece;
- ``to_top``: its cosine with the mean of the best three results (what the need is
  about, as the corpus understands it);
- ``same_language``: it is written in the need's language (a cross-language match
  scores lower for the same fit, so the similarity alone undersells it);
- ``bare``: it has (almost) no description, only a title;
- ``need_words``: how many words the need has (a short need is a broad one: more of
  the corpus does what it says).

The weights are fitted on the dev split of the real-data sets (grade 2 = does what the
user needs, against everything else, over the first `DEPTH` results of every need) by
`fit` and shipped in `marker.json`, with the threshold chosen there for precision; the
test split is only reported (models.md, "Close matches"). A model erfa has no fitted
marker for marks by standout alone (`ranking.CLOSE_MATCH`, or ERFA_CLOSE_MATCH).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from erfa.index.search.searcher import Ranking
    from erfa.index.search.snapshot import Snapshot

MARKER_FILE = Path(__file__).with_name("marker.json")
DEPTH = 30  # results judged per need: the page count says how many of them are close matches
FEATURES = (
    "standout",
    "top_standout",
    "similarity",
    "gap",
    "next_gap",
    "rank",
    "coverage",
    "disagreement",
    "to_top",
    "same_language",
    "bare",
    "need_words",
)


@dataclass(frozen=True)
class Marker:
    """A fitted logistic model: features standardised by ``mean``/``scale``, then ``coef``.

    A result is a close match at probability ``threshold`` or above; the best result also
    at ``top_threshold`` or above: "is anything here what the need describes" is asked of
    the best result with less evidence than of the tenth."""

    model_id: str
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    top_threshold: float
    provenance: str = ""

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        p: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return p

    def marks(self, features: np.ndarray) -> np.ndarray:
        """Which of the results (``features`` in ranking order) are close matches."""
        p = self.probabilities(features)
        out = p >= self.threshold
        if len(p):
            out[0] |= p[0] >= self.top_threshold
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "features": list(FEATURES),
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(),
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 4),
            "top_threshold": round(self.top_threshold, 4),
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Marker:
        if tuple(data["features"]) != FEATURES:  # fitted on other features: not this code's marker
            raise ValueError(
                f"marker for {data['model_id']} was fitted on other features; refit it (erfa eval --fit-marker)"
            )
        return cls(
            data["model_id"],
            np.array(data["mean"]),
            np.array(data["scale"]),
            np.array(data["coef"]),
            float(data["intercept"]),
            float(data["threshold"]),
            float(data["top_threshold"]),
            str(data.get("provenance", "")),
        )


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Marker]:
    if not MARKER_FILE.is_file():
        return {}
    return {m["model_id"]: Marker.from_json(m) for m in json.loads(MARKER_FILE.read_text(encoding="utf-8"))["markers"]}


def for_model(model_id: str) -> Marker | None:
    """The shipped marker for a model, None for a model none was fitted for."""
    return _shipped().get(model_id)


def save(markers: Sequence[Marker], path: Path = MARKER_FILE) -> None:
    from erfa.index.atomic import atomic_file

    text = json.dumps({"markers": [m.to_json() for m in markers]}, indent=1, ensure_ascii=False) + "\n"
    atomic_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    _shipped.cache_clear()


def features(snap: Snapshot, ranked: Ranking, rows: Sequence[int]) -> np.ndarray:
    """One row of `FEATURES` per result in ``rows`` (the first results of ``ranked``, in order)."""
    out = np.zeros((len(rows), len(FEATURES)), np.float32)
    if not rows or ranked.query is None:
        return out
    n = len(snap.vectors)
    sd = snap.space.spread(ranked.query)  # a matrix-vector product: once per need, not once per result
    spread = sd or 1.0
    centre = float(ranked.query @ snap.space.score_mean)
    chance = float(np.sqrt(2 * np.log(max(n, 2))))
    scores = np.array([ranked.scores.get(r, 0.0) for r in rows])
    sims = np.array([ranked.sims.get(r, 0.0) for r in rows])
    readings = np.stack(ranked.readings) if ranked.readings else ranked.query[None, :]
    if ranked.vectors is not None:  # read once by the ranking, in one batch
        ranked.vectors.load(rows)
        passages = [ranked.vectors.block(r) for r in rows]
    else:
        passages = [np.asarray(snap.passage_vectors(r)) for r in rows]
    # every result's passages in one matrix: one product for all readings, per-result
    # maxima and means by segment (a Python loop over 30 results cost ~0.5 ms, issue 22)
    sizes = np.array([len(p) for p in passages])
    full = sizes > 0
    per_reading = np.zeros((len(rows), len(readings)), np.float32)
    means = np.zeros((len(rows), len(ranked.query)), np.float32)
    if full.any():
        stacked = np.vstack([p for p in passages if len(p)])
        starts = np.concatenate([[0], np.cumsum(sizes[full])[:-1]])
        per_reading[full] = np.maximum.reduceat(stacked @ readings.T, starts, axis=0)
        sums = np.add.reduceat(stacked, starts, axis=0) / sizes[full, None]
        means[full] = sums / np.where((n := np.linalg.norm(sums, axis=1, keepdims=True)) > 0, n, 1.0)
    about = _unit(means[:3].mean(axis=0))
    pos = snap.meta.position
    cov = (
        np.array([float(ranked.coverage[pos[r]]) if r in pos else 0.0 for r in rows])
        if ranked.coverage is not None
        else np.zeros(len(rows))
    )
    nxt = np.append(scores[1:], scores[-1])
    out[:] = np.column_stack(
        [
            (sims - centre) / sd / chance,  # LanguageSpace.standout with the need's parts computed once
            np.full(len(rows), (sims[0] - centre) / sd / chance),
            sims,
            (scores[0] - scores) / spread,
            (scores - nxt) / spread,
            np.log1p(np.arange(len(rows))),
            cov,
            per_reading.max(axis=1) - per_reading.min(axis=1),
            means @ about,
            [float(snap.records[r].language in ranked.languages) for r in rows],
            [float(r in snap.brevity) for r in rows],
            np.full(len(rows), float(ranked.need_words)),
        ]
    )
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    rank: np.ndarray,
    need: np.ndarray,
    model_id: str,
    *,
    precision: float = 0.7,
    page: int = 10,
    provenance: str = "",
) -> Marker:
    """Fit on dev rows (features ``x``, labels ``y``: 1 = grade 2; ``rank``: the row's
    position in its need's results; ``need``: whose) and choose the two thresholds that flag
    the most needs rightly (a grade-2 result on the first ``page``, or none) while the first
    page's marks keep ``precision`` on dev."""
    from sklearn.linear_model import LogisticRegression  # fitting only: serving needs numpy alone

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    base = Marker(model_id, mean, scale, lr.coef_[0], float(lr.intercept_[0]), 1.0, 1.0, provenance)
    on_page = rank < page
    x, y, first, need = x[on_page], y[on_page].astype(bool), rank[on_page] == 0, need[on_page]
    p = base.probabilities(x)
    best: tuple[float, float, float] | None = None
    needs = np.unique(need)
    answered = np.array([y[need == n].any() for n in needs])
    for hi in np.arange(0.30, 0.91, 0.05):
        for lo in np.arange(0.10, hi + 0.001, 0.05):
            marked = (p >= hi) | (first & (p >= lo))
            if not marked.any() or y[marked].mean() < precision:
                continue
            flagged = np.array([marked[need == n].any() for n in needs])
            right = float((flagged == answered).mean())
            if best is None or right > best[0]:
                best = (right, float(hi), float(lo))
    hi, lo = (best[1], best[2]) if best else (1.0, 1.0)
    return Marker(model_id, mean, scale, lr.coef_[0], float(lr.intercept_[0]), round(hi, 2), round(lo, 2), provenance)
