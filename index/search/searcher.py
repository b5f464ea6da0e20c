"""Reading a snapshot: a need's ranking (candidates → fuse → page → hits) and a
project's neighbours. Pure reads of one immutable `Snapshot`: nothing here touches
the store, so a request costs the encoder plus in-memory work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from erfa.index.bodies import twins
from erfa.index.model.encoder import Encoder
from erfa.index.search import marker, ranking
from erfa.index.search.facets import Filters
from erfa.index.search.snapshot import SLOTS, Passages, Snapshot
from erfa.index.search.snippet import snippet
from erfa.index.search.text import informative
from erfa.index.search.translate import Translator
from erfa.ingest.language import detect_language, likely_nordic
from erfa.ingest.record import Record

MAX_WINDOW = 1000  # deepest result a client may page to; beyond it rankings are noise
CANDIDATES = 100  # how deep each ranker looks before fusion
FACET_DEPTH = 50  # facet counts describe the best this many results of the query
# "hybrid": what the service ships; "neutral": plain dense search in the language-neutral
# space (no translation, feedback or keywords); "keyword": plain BM25. The last two are
# the ablations models.md measures the shipped ranking against.
MODES = ("hybrid", "neutral", "keyword")


@dataclass(frozen=True)
class Hit:
    record: Record
    score: float  # the ranking score (fused), non-increasing down a result list
    snippet: str
    similarity: float = 0.0  # cosine of the best passage: comparable across queries
    marks: list[tuple[int, int]] = field(default_factory=list)  # query words in the snippet
    twins: list[Record] = field(
        default_factory=list
    )  # other sources' records of the same project (index/bodies/twins.py)
    close_match: bool | None = None  # this result is a close match (index/search/marker.py); None: not judged


@dataclass(frozen=True)
class SearchPage:
    query: str
    total: int  # results that can be paged through (at most MAX_WINDOW)
    hits: list[Hit]
    close_match: bool | None = None
    # Counted over the close matches (``matches`` of them), or over the best ``FACET_DEPTH``
    # results when none is close; every value present in the corpus is listed, 0 or not.
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    matches: int | None = None  # projects that are close matches; None: not judged (uncalibrated model, tiny corpus)
    facets_over: Literal["matches", "top"] = "top"  # the best FACET_DEPTH when no result matches


@dataclass(frozen=True)
class Ranking:
    """One need ranked: every candidate's score, its dense similarity, and the query vector
    the similarities were measured with (partners judge each project's standout from it)."""

    order: list[int]
    scores: dict[int, float]
    sims: dict[int, float]
    query: np.ndarray | None
    close: bool | None
    # what the close-match marker (index/search/marker.py) weighs beside the scores: each reading's own
    # vector in the space (the need as written, its Bokmål reading) and the share of the need's words
    # each project contains (rows in keyword-index order)
    readings: tuple[np.ndarray, ...] = ()
    coverage: np.ndarray | None = None
    marked: frozenset[int] = frozenset()  # the close matches among the first results (rowids)
    languages: frozenset[str] = frozenset()  # record languages written like the need (`written_like`)
    copies: twins.Twins = field(default_factory=dict)  # rows found to be copies among the first results (`near_copies`)
    need_words: int = 0
    # the passage vectors this ranking has read (the marker reads them again); None: read from the snapshot
    vectors: Passages | None = field(default=None, compare=False, repr=False)


class Searcher:
    """Ranks needs against snapshots. ``encoder`` is called only when a need must be
    encoded (the model loads on first use); ``fitted_marker`` gives the model's close-match
    marker (index/search/marker.py), else ``threshold`` the standout cut-off that marks instead."""

    def __init__(
        self,
        encoder: Callable[[], Encoder],
        translator: Translator | None,
        threshold: Callable[[], float | None],
        fitted_marker: Callable[[], marker.Marker | None] = lambda: None,
    ) -> None:
        self._encoder = encoder
        self.translator = translator
        self.threshold = threshold  # standout cut-off: marks where no fitted marker applies
        self._marker = fitted_marker

    def search(
        self,
        snap: Snapshot,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
        mode: str = "hybrid",
    ) -> SearchPage:
        mask = snap.meta.mask(filters or Filters())  # raises FilterError before any encoding
        n_allowed = len(snap.records) if mask is None else int(mask.sum())
        ranked = self.rank(snap, query, max(CANDIDATES, offset + limit), mask, mode)
        page = ranked.order[offset : offset + limit]
        total = len(ranked.order) if mode == "keyword" else min(n_allowed, MAX_WINDOW)
        matched = self.matches(ranked) if ranked.close is not None else None
        over = matched if matched else ranked.order[:FACET_DEPTH]
        marked = ranked.marked if ranked.close is not None else None
        return SearchPage(
            query,
            total,
            [h for _, h in hits(snap, query, page, ranked.scores, ranked.sims, marked, ranked.copies)],
            ranked.close,
            snap.meta.counts([shown_row(snap, r, ranked.copies) for r in over], every_value=True),
            None if matched is None else len(matched),
            "matches" if matched else "top",
        )

    @staticmethod
    def matches(ranked: Ranking) -> list[int]:
        """The close matches, in ranking order (one per project: the order is collapsed)."""
        return [r for r in ranked.order if r in ranked.marked]

    def rank(self, snap: Snapshot, query: str, depth: int, mask: np.ndarray | None, mode: str = "hybrid") -> Ranking:
        """The ranking pipeline (models.md, "Ranking"): the need without generic AI words,
        plus its Bokmål reading, in the language-neutral space; one round of feedback
        toward its best results; records with no description held back a little; a
        small bonus for rare words it shares with a project."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        shipped = mode == "hybrid"
        need = informative(query) if shipped else query
        with self._reading(need if shipped else None) as reading:  # Apertium reads while the detector runs
            language = detect_language(query)
            translation = reading(language)
        live = mask if mask is not None else snap.meta.live_rows()  # BM25 sees replaced rows; FAISS does not
        if mode == "keyword":  # plain BM25 over all terms: the baseline the rest is measured against
            kw_scores, kw_ids = snap.keywords.search(query, language, depth, live)
            scores = {int(r): float(v) for r, v in zip(kw_ids, kw_scores, strict=True)}
            return Ranking(list(scores), scores, {}, None, None)
        texts = [need]
        if translation and translation.casefold() != need.casefold():
            texts.append(translation)
        weights = ranking.weights(snap.space.share(written_like(language, translated=False)))
        raw = self._encoder().encode_queries(texts)
        combined = raw[0] + weights.translation * raw[1] if len(raw) > 1 else raw[0]
        qvec = snap.space.query(combined / (np.linalg.norm(combined) or 1.0), language)
        readings = tuple(snap.space.query(v / (np.linalg.norm(v) or 1.0), language) for v in raw)
        allowed = None if mask is None else snap.meta.rowids[mask]
        passages = Passages(snap)
        sims = dense(snap, qvec, depth, allowed, penalise=shipped)
        if shipped and ranking.FEEDBACK_DEPTH and weights.feedback and sims:
            qvec = toward(
                snap, qvec, list(sims)[: ranking.FEEDBACK_DEPTH], weights.feedback, passages
            )  # dense() ranks best first
            sims = dense(snap, qvec, depth, allowed, penalise=True)
        scores = dict(sims)
        cov = None
        same_language = frozenset(written_like(language, translated=len(texts) > 1))
        if shipped and weights.keyword:
            kw_mask = live
            if ranking.KEYWORD_SAME_LANGUAGE:  # shared stems across languages are noise, not evidence
                same = snap.meta.rows_with("language", same_language)
                kw_mask = same if live is None else live & same
            kw_scores, kw_ids = snap.keywords.search(
                " ".join(texts), language, depth, kw_mask, rare_share=ranking.RARE_SHARE
            )
            keyword = {int(r): float(v) for r, v in zip(kw_ids, kw_scores, strict=True)}
            sims.update(_cosines(snap, qvec, [r for r in keyword if r not in sims], passages))
            scores = ranking.fuse(sims, keyword, weights.keyword)
        if shipped and ranking.COVERAGE_WEIGHT:
            cov = snap.keywords.coverage(need, language)
            pos = snap.meta.position
            scores = {
                r: v + ranking.COVERAGE_WEIGHT * float(cov[pos[r]]) ** ranking.COVERAGE_POWER for r, v in scores.items()
            }
        order = twins.collapse(sorted(scores, key=lambda r: (-scores[r], r)), snap.twins)  # one result per project
        if shipped:
            passages.load(order[: marker.DEPTH])  # near_copies and the marker read the first results' passages
        copies = twins.near_copies(order[: marker.DEPTH], snap.records, passages) if shipped else {}
        if copies:  # copies no group joined (index/bodies/twins.py): one row, here too
            order = twins.collapse(order, copies)
        ranked = Ranking(
            order,
            scores,
            sims,
            qvec,
            None,
            readings,
            cov,
            copies=copies,
            languages=same_language,
            need_words=len(query.split()),
            vectors=passages,
        )
        if not shipped or len(snap.vectors) < ranking.CLOSE_MATCH_MIN_PASSAGES:
            return ranked
        marked = self.mark(snap, ranked)
        return ranked if marked is None else replace(ranked, close=bool(marked), marked=marked)

    def _reading(self, need: str | None) -> AbstractContextManager[Callable[[str | None], str | None]]:
        """The need's Bokmål reading once its language is known (`Translator.ahead`: sent on a
        guess at once); a reading of None where the mode or the install has no translation."""
        if need is None or self.translator is None:
            return nullcontext(lambda language: None)
        return self.translator.ahead(need, likely_nordic(need))

    def mark(self, snap: Snapshot, ranked: Ranking) -> frozenset[int] | None:
        """The close matches among the first `marker.DEPTH` results; None when this model's
        marks were never fitted and no cut-off was set (close matches are then unknown).

        The fitted marker (index/search/marker.py) weighs every signal; an operator's
        ERFA_CLOSE_MATCH, or a model without a fitted marker, marks by standout alone."""
        rows = ranked.order[: marker.DEPTH]
        fitted = self._marker()
        if fitted is not None:
            marks = fitted.marks(marker.features(snap, ranked, rows))
            return frozenset(r for r, m in zip(rows, marks.tolist(), strict=True) if m)
        threshold = self.threshold()
        if threshold is None or ranked.query is None:
            return None
        return frozenset(r for r in rows if standout(snap, ranked.query, ranked.sims.get(r, -1.0)) >= threshold)

    def similar(self, snap: Snapshot, rowid: int, *, limit: int = 10) -> list[Hit]:
        """Neighbours of a stored project from its stored vectors: no re-encoding."""
        passages = Passages(snap)
        parts = passages(rowid)
        if not parts:
            raise KeyError(rowid)
        vec = np.mean(parts, axis=0)
        vec /= np.linalg.norm(vec) or 1.0
        own = (rowid, *snap.twins.get(rowid, ()))  # never itself, nor its own record in another source
        depth = limit + len(own) + ranking.SIMILAR_SLACK
        sims = dense(snap, vec, depth, None, penalise=True)
        if ranking.SIMILAR_FEEDBACK_DEPTH:  # one round of feedback, as for a need (models.md, "Similar projects")
            best = [r for r in sims if r not in own][: ranking.SIMILAR_FEEDBACK_DEPTH]
            if best:
                moved = toward(snap, vec, best, ranking.SIMILAR_FEEDBACK_WEIGHT, passages)
                sims = dense(snap, moved, depth, None, penalise=True)
        for r in own:
            sims.pop(r, None)
        order = twins.collapse(list(sims), snap.twins)[:limit]
        return [h for _, h in hits(snap, snap.records[rowid].title, order, sims, sims)]


def toward(
    snap: Snapshot, vec: np.ndarray, rowids: Sequence[int], weight: float, passages: Passages | None = None
) -> np.ndarray:
    """``vec`` moved by ``weight`` toward the mean passage of ``rowids`` and renormalised:
    one round of feedback, for a need and for a project's similar projects alike."""
    passages = passages or Passages(snap)
    passages.load(rowids)
    moved = vec + weight * np.mean([v for r in rowids for v in passages(r)], axis=0)
    unit: np.ndarray = (moved / (np.linalg.norm(moved) or 1.0)).astype(np.float32)
    return unit


def standout(snap: Snapshot, qvec: np.ndarray, score: float) -> float:
    return snap.space.standout(qvec, score, len(snap.vectors))


def dense(
    snap: Snapshot, qvec: np.ndarray, depth: int, allowed_rowids: np.ndarray | None, *, penalise: bool = False
) -> dict[int, float]:
    """Best-passage cosine per project, best first (a long project scores by its best part).

    With ``penalise`` a record with (almost) no description has its brevity penalty taken
    off its score: a bare title sits near everything, so it would otherwise float to the
    top of broad needs."""
    allowed = None if allowed_rowids is None else snap.allowed_slots(allowed_rowids)
    k = depth * 2 if len(snap.vectors) > len(snap.passages) else depth
    scores, ids = snap.vectors.search(qvec, k, allowed)
    best: dict[int, float] = {}
    for s, i in zip(scores.tolist(), ids.tolist(), strict=True):
        rid = int(i) // SLOTS
        if rid not in best:
            best[rid] = float(s)
    if penalise and snap.brevity:
        best = {r: s - snap.brevity.get(r, 0.0) for r, s in best.items()}
        best = dict(sorted(best.items(), key=lambda rs: -rs[1]))
    return best


def _cosines(snap: Snapshot, qvec: np.ndarray, rowids: Sequence[int], passages: Passages) -> dict[int, float]:
    """Best-passage cosine for projects the dense search did not reach (keyword-only hits)."""
    passages.load(rowids)
    rows = [r for r in rowids if len(passages.block(r))]
    if not rows:
        return {}
    blocks = [passages.block(r) for r in rows]  # one product over every row's passages, maxima by segment
    starts = np.cumsum([0, *(len(b) for b in blocks[:-1])])
    best = np.maximum.reduceat(np.vstack(blocks) @ qvec, starts).tolist()
    return {r: float(b) - snap.brevity.get(r, 0.0) for r, b in zip(rows, best, strict=True)}


def hits(
    snap: Snapshot,
    query: str,
    order: Sequence[int],
    scores: dict[int, float],
    sims: dict[int, float],
    marked: frozenset[int] | None = None,
    copies: twins.Twins | None = None,
) -> list[tuple[int, Hit]]:
    """(rowid, hit) in ``order``, from the snapshot's own records; ``marked``: the close
    matches (None: not judged); ``copies``: rows a search found to be one case."""
    out = []
    for rid in order:
        rec = snap.records.get(int(rid))
        if rec is None:
            continue
        rec, others = twins.shown(rec, [snap.records[t] for t in _group(snap, int(rid), copies)])
        text, marks = snippet(query, _snippet_source(rec))
        close = None if marked is None else int(rid) in marked
        out.append((int(rid), Hit(rec, float(scores[rid]), text, float(sims.get(rid, 0.0)), marks, others, close)))
    return out


def _group(snap: Snapshot, rid: int, copies: twins.Twins | None) -> list[int]:
    """The other rows of ``rid``'s project: its twins, and the copies this search found with theirs."""
    group = [*snap.twins.get(rid, ())]
    for c in (copies or {}).get(rid, ()):
        group += [c, *snap.twins.get(c, ())]
    return [t for t in dict.fromkeys(group) if t in snap.records and t != rid]


def shown_row(snap: Snapshot, rid: int, copies: twins.Twins | None) -> int:
    """The row whose record a result shows for ``rid`` (twins.shown's choice), so the facets count
    the country and status a person sees, not those of another registry's copy (issue 21: "Sverige
    (0)" over a Swedish top result)."""
    rid = int(rid)
    if rid not in snap.records:
        return rid
    return min([rid, *_group(snap, rid, copies)], key=lambda r: twins.REGISTRY_ORDER.get(snap.records[r].source, 0))


_NORWEGIAN = frozenset({"nb", "nn", "no"})


def written_like(language: str | None, *, translated: bool) -> set[str]:
    """Record languages whose words a need's words can match: its own (Bokmål and Nynorsk
    share one stemmer), plus Bokmål when the need was also read as Bokmål."""
    out = {language or "?"}
    if language in _NORWEGIAN:
        out |= _NORWEGIAN
    if translated:
        out |= _NORWEGIAN
    return out


def _snippet_source(r: Record) -> str | None:
    return "\n".join(x for x in (r.description, r.purpose) if x) or None
