"""`ProjectIndex`: the one object the service talks to.

It keeps the content store (SQLite), the embedding model, the vector index (FAISS)
and the keyword index (BM25) in step, the way txtai's Embeddings hides its layers
behind one API. The service never touches FAISS or SQLite; it asks this object.

Everything searchable lives in one immutable `_Snapshot`. A write builds a new one
beside the old and swaps the reference, so searches running meanwhile finish on the
old snapshot and never see a half-applied change.
"""
from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from erfa.index import ranking
from erfa.index.encoder import DEFAULT_MODEL, Encoder
from erfa.index.facets import Filters, Metadata
from erfa.index.keywords import KeywordIndex
from erfa.index.snippet import snippet
from erfa.index.space import LanguageSpace
from erfa.index.store import Store, StoredRecord, text_hash
from erfa.index.text import informative, split_passages
from erfa.index.translate import Translator, shared as shared_translator
from erfa.index.vectors import IndexMeta, VectorIndex
from erfa.ingest.language import detect_language
from erfa.ingest.record import Record, utcnow

log = logging.getLogger("erfa.index")

MAX_WINDOW = 1000  # deepest result a client may page to; beyond it rankings are noise
CANDIDATES = 100  # how deep each ranker looks before fusion
FACET_DEPTH = 50  # facet counts describe the best this many results of the query
PARTNER_DEPTH = 60  # projects considered when ranking organisations
SLOTS = 64  # FAISS id = rowid * SLOTS + passage number; a record has at most SLOTS passages
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


@dataclass(frozen=True)
class SearchPage:
    query: str
    total: int
    hits: list[Hit]
    close_match: bool | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Partner:
    organisation: str
    country: str | None
    owner_type: str | None
    score: float
    projects: list[Hit]
    website: str | None
    registry_id: str | None = None  # organisation number, where the data gives one


@dataclass(frozen=True)
class PartnersPage:
    query: str
    close_match: bool | None
    partners: list[Partner]


@dataclass
class UpsertSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    embedded: int = 0
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Snapshot:
    generation: int
    vectors: VectorIndex  # passage vectors in `space`, not the model's raw output
    space: LanguageSpace
    keywords: KeywordIndex
    meta: Metadata
    passages: dict[int, int]  # rowid -> number of passages
    brevity: dict[int, float]  # rowid -> score penalty of a record that says (almost) nothing beyond its title


@dataclass(frozen=True)
class _Ranking:
    """One need ranked: every candidate's score, its dense similarity, and the query vector
    the similarities were measured with (partners judge each project's standout from it)."""

    order: list[int]
    scores: dict[int, float]
    sims: dict[int, float]
    query: np.ndarray | None
    close: bool | None


def passages_of(record: Record) -> list[str]:
    """The texts embedded for a record: one, or several for a long description; at most
    SLOTS, since a record owns SLOTS FAISS ids (ingest caps descriptions far below that)."""
    head, _, body = record.embedding_text().partition("\n")
    return split_passages(head, body)[:SLOTS]


def _passage_languages(stored: Sequence[StoredRecord], passages: dict[int, list[str]]) -> Counter[str]:
    """Passages per record language: what the language means are fitted on, and what tells when to refit."""
    out: Counter[str] = Counter()
    for s in stored:
        out[s.record.language or "?"] += len(passages[s.rowid])
    return out


def _slot_ids(rowid: int, n: int) -> np.ndarray:
    return rowid * SLOTS + np.arange(n, dtype=np.int64)


def _passage_vectors(snap: _Snapshot, rowid: int) -> list[np.ndarray]:
    """The stored vectors of one project's passages (none if it is not in this snapshot)."""
    found = (snap.vectors.vector(int(i)) for i in _slot_ids(rowid, snap.passages.get(rowid, 1)))
    return [v for v in found if v is not None]


class ProjectIndex:
    """Records, vectors and search over one data directory.

    Pass an ``encoder`` to share one loaded model between several indexes (tests,
    benchmarks); otherwise ``model`` is loaded on first use.
    """

    def __init__(
        self,
        home: Path,
        *,
        model: str | Path = DEFAULT_MODEL,
        encoder: Encoder | None = None,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        batch_size: int = 16,
        translator: Translator | None | bool = True,
        close_match: float | None = None,
        encoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.home / "erfa.sqlite")
        self._model = model
        self._prompts = {"query_prompt": query_prompt, "passage_prompt": passage_prompt}
        self._encoder = encoder
        self._encoder_options = dict(encoder_options or {})  # backend, threads, ... (Encoder's keywords)
        self._close_match = close_match  # overrides ranking.CLOSE_MATCH (operators' ERFA_CLOSE_MATCH)
        self.batch_size = batch_size
        # True: the process's shared Apertium pipelines; False/None: needs are searched as written
        self._translator = shared_translator() if translator is True else (translator or None)
        self._index_path = self.home / "vectors.faiss"
        self._space_path = self.home / "space.npz"
        self._snap: _Snapshot | None = None
        self._model_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._last_refresh = 0.0

    # -- model and index lifecycle -------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with self._model_lock:
                if self._encoder is None:
                    self._encoder = Encoder(self._model, home=self.home, **self._prompts, **self._encoder_options)
        return self._encoder

    def load(self) -> "ProjectIndex":
        """Load model and index now (the service calls this before reporting ready)."""
        self._snapshot()
        return self

    @property
    def ready(self) -> bool:
        return self._encoder is not None and self._snap is not None

    def _snapshot(self) -> _Snapshot:
        snap = self._snap
        if snap is not None and snap.generation == self.store.generation():
            return snap
        self.encoder  # load the model outside the index lock
        with self._index_lock:
            gen = self.store.generation()
            if self._snap is None or self._snap.generation != gen:
                self._snap = self._open(gen)
            return self._snap

    def _open(self, gen: int) -> _Snapshot:
        """Read the whole store once; reuse the saved vectors when they match it."""
        enc = self.encoder
        stored, passages = self._stored()
        n_vectors = sum(len(p) for p in passages.values())
        loaded = VectorIndex.load(self._index_path)
        space = LanguageSpace.load(self._space_path)
        found = None
        if loaded is not None and space is not None:
            v, meta = loaded
            if (meta.generation == gen == space[1] and meta.model_id == enc.model_id and meta.count == n_vectors
                    and space[0].params == ranking.SPACE):
                found = v, space[0]
            else:
                log.info("index file is stale (generation %s, store %s): rebuilding from the store", meta.generation, gen)
        vecs, sp = found or self._rebuild(stored, passages, gen)
        return self._derive(gen, vecs, sp, stored, passages)

    def _derive(self, gen: int, vecs: VectorIndex, space: LanguageSpace, stored: list[StoredRecord],
                passages: dict[int, list[str]]) -> _Snapshot:
        rowids = [s.rowid for s in stored]
        records = [s.record for s in stored]
        keywords = KeywordIndex(rowids, [_keyword_text(r) for r in records], [r.language for r in records])
        brevity = {s.rowid: p for s in stored if (p := ranking.brevity_penalty(s.record.description, s.record.purpose))}
        return _Snapshot(gen, vecs, space, keywords, Metadata(rowids, records), {r: len(p) for r, p in passages.items()}, brevity)

    def _rebuild(self, stored: Sequence[StoredRecord], passages: dict[int, list[str]], gen: int) -> tuple[VectorIndex, LanguageSpace]:
        """Refit the language-neutral space and re-derive every vector from the cache
        (embedding only texts not in it): after a model change, a crash, or enough
        corpus drift that the language means have moved."""
        texts = {text_hash(t): t for ps in passages.values() for t in ps}
        cached, _ = self._vectors_of(texts, progress=None)
        vecs = VectorIndex(self.encoder.dim)
        language = {s.rowid: s.record.language for s in stored}
        order = [(r, t) for r, ps in passages.items() for t in ps]
        raw = np.stack([cached[text_hash(t)] for _, t in order]) if order else np.empty((0, self.encoder.dim), np.float32)
        langs = [language[r] for r, _ in order]
        space = LanguageSpace.fit(raw, langs, ranking.SPACE)
        ids = [_slot_ids(r, len(ps)) for r, ps in passages.items()]
        if ids:
            vecs.upsert(np.concatenate(ids), space.documents(raw, langs))
        self._save(vecs, space, gen)
        return vecs, space

    def _save(self, vecs: VectorIndex, space: LanguageSpace, gen: int) -> None:
        """The space first, the vectors and their meta last: a crash in between leaves
        generations that disagree, which `_open` answers with a rebuild."""
        space.save(self._space_path, gen)
        vecs.save(self._index_path, IndexMeta(gen, self.encoder.model_id, vecs.dim, len(vecs)))

    def refresh(self, min_interval: float = 1.0) -> None:
        """Pick up writes made by another process (e.g. `erfa ingest` beside `erfa serve`)."""
        now = time.monotonic()
        if now - self._last_refresh >= min_interval:
            self._last_refresh = now
            self._snapshot()

    # -- writes ------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One writer per data directory, across processes."""
        with open(self.home / ".write.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def upsert(self, records: Sequence[Record], *, progress: bool = False) -> UpsertSummary:
        """Add new records, update changed ones, skip unchanged ones.

        Vectors are cached as they are computed and the records are committed in one
        transaction afterwards, so a crash loses at most the unfinished batch and a
        re-run skips everything already embedded. Searches meanwhile use the old
        snapshot; the new one replaces it in one assignment.
        """
        started = time.perf_counter()
        with self._writing():
            self._snapshot()
            plan = self.store.plan(records)
            changed = [r if r.updated_at else r.model_copy(update={"updated_at": utcnow()}) for r in plan.added + plan.updated]
            summary = UpsertSummary(len(plan.added), len(plan.updated), len(plan.unchanged))
            if changed:
                cached, summary.embedded = self._vectors_of({text_hash(t): t for r in changed for t in passages_of(r)}, progress=progress)
                with self._index_lock:
                    old = self._current()
                    gen, rowids = self.store.upsert(changed)

                    def replace(vecs: VectorIndex, space: LanguageSpace) -> None:
                        for r in changed:
                            rid = rowids[r.id]
                            ps = passages_of(r)
                            vecs.remove(_slot_ids(rid, SLOTS))
                            raw = np.stack([cached[text_hash(t)] for t in ps])
                            vecs.upsert(_slot_ids(rid, len(ps)), space.documents(raw, [r.language] * len(ps)))

                    self._commit(old, gen, replace)
                summary.ids = [r.id for r in changed]
        summary.seconds = time.perf_counter() - started
        return summary

    def delete(self, record_ids: Sequence[str]) -> int:
        with self._writing():
            self._snapshot()
            with self._index_lock:
                old = self._current()
                gen, removed = self.store.delete(record_ids)
                if removed:
                    slots = np.concatenate([_slot_ids(r, SLOTS) for r in removed.values()])
                    self._commit(old, gen, lambda vecs, space: vecs.remove(slots))
        return len(removed)

    def _current(self) -> _Snapshot:
        assert self._snap is not None  # _snapshot() ran under the write lock
        return self._snap

    def _commit(self, old: _Snapshot, gen: int, edit: Callable[[VectorIndex, LanguageSpace], object]) -> None:
        """Make store generation ``gen`` the current snapshot after a write: refit the space
        when the write moved the corpus's languages far enough, else apply ``edit`` (the
        write's own vectors, in the old space) to a copy of the old vectors."""
        stored, passages = self._stored()
        if old.space.stale(_passage_languages(stored, passages), ranking.SPACE_DRIFT):
            vecs, space = self._rebuild(stored, passages, gen)
        else:
            vecs, space = old.vectors.copy(), old.space
            edit(vecs, space)
            self._save(vecs, space, gen)
        self._snap = self._derive(gen, vecs, space, stored, passages)

    def _stored(self) -> tuple[list[StoredRecord], dict[int, list[str]]]:
        stored = list(self.store.all())
        return stored, {s.rowid: passages_of(s.record) for s in stored}

    def prune(self, source: str, keep_ids: set[str]) -> int:
        """Delete a source's records that its latest file no longer contains."""
        return self.delete(sorted(self.store.ids_of_source(source) - keep_ids))

    def _vectors_of(self, texts: dict[str, str], *, progress: bool | None) -> tuple[dict[str, np.ndarray], int]:
        """Vectors for {text hash: text}: from the cache, embedding only the rest.

        Returns them with how many had to be embedded. ``progress`` None: a bar only
        when there is real work (over 50 texts), as on a rebuild after a model change.
        """
        enc = self.encoder
        vectors = self.store.cached_vectors(enc.model_id, list(texts), enc.dim)
        todo = {h: t for h, t in texts.items() if h not in vectors}
        vectors.update(self._embed(todo, progress=len(todo) > 50 if progress is None else progress))
        return vectors, len(todo)

    def _embed(self, texts: dict[str, str], *, progress: bool) -> dict[str, np.ndarray]:
        if not texts:
            return {}
        from tqdm import tqdm

        enc = self.encoder
        # Similar lengths in one batch means little padding: 1.7x faster on the Digdir overview (7.6 -> 12.8 docs/s).
        hashes = sorted(texts, key=lambda h: len(texts[h]))
        bodies = [texts[h] for h in hashes]
        out: dict[str, np.ndarray] = {}
        bar = tqdm(total=len(bodies), unit="doc", desc="embedding", disable=not progress, dynamic_ncols=True)
        try:
            for start in range(0, len(bodies), self.batch_size):
                chunk = bodies[start : start + self.batch_size]
                vecs = enc.encode_passages(chunk, batch_size=self.batch_size)
                items = list(zip(hashes[start : start + len(chunk)], vecs))
                self.store.cache_vectors(enc.model_id, items)
                out.update(items)
                bar.update(len(chunk))
        finally:
            bar.close()
        return out

    # -- reads -------------------------------------------------------------------
    def count(self) -> int:
        return self.store.count()

    def get(self, record_id: str) -> Record | None:
        stored = self.store.get(record_id)
        return stored.record if stored else None

    def records(self) -> Iterator[Record]:
        """Every stored record, in insertion order (for export and audits)."""
        return (s.record for s in self.store.all())

    def check(self) -> dict[str, object]:
        """Do store and index agree? Counts plus the offending ids, for tests and operators.

        ``orphan_vectors``: rowids with vectors but no record; ``unindexed``: record ids with
        no vector; ``duplicate_ids``: record ids stored twice (the schema forbids it, so
        any entry here means corruption).
        """
        stored = list(self.store.all())
        ids = [s.record.id for s in stored]
        vector_ids = self._snapshot().vectors.ids()
        owners = set((vector_ids // SLOTS).tolist())
        rowids = {s.rowid: s.record.id for s in stored}
        return {
            "records": len(stored),
            "vectors": int(len(vector_ids)),
            "duplicate_ids": sorted(i for i, n in Counter(ids).items() if n > 1),
            "duplicate_vectors": int(len(vector_ids) - len(set(vector_ids.tolist()))),
            "orphan_vectors": sorted(owners - set(rowids)),
            "unindexed": sorted(rowids[r] for r in set(rowids) - owners),
        }

    def allowed_values(self, field_name: str) -> list[str]:
        return self._snapshot().meta.allowed_values(field_name)

    def close_match_standout(self) -> float | None:
        """The standout (LanguageSpace.standout) a need's best match must reach to be a
        close match; None for a model that was never calibrated (see ranking.CLOSE_MATCH)."""
        return self._close_match if self._close_match is not None else ranking.CLOSE_MATCH.get(self.encoder.model_id)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        filters: Filters | None = None,
        mode: str = "hybrid",
    ) -> SearchPage:
        """Rank projects for a need. ``mode`` is one of MODES; only "hybrid" is for users."""
        snap = self._snapshot()
        mask = snap.meta.mask(filters or Filters())  # raises FilterError before any encoding
        n_allowed = len(snap.meta.rowids) if mask is None else int(mask.sum())
        ranked = self._rank(snap, query, max(CANDIDATES, offset + limit), mask, mode)
        page = ranked.order[offset : offset + limit]
        total = len(ranked.order) if mode == "keyword" else min(n_allowed, MAX_WINDOW)
        return SearchPage(query, total, self._hits(query, page, ranked.scores, ranked.sims), ranked.close,
                          snap.meta.counts(ranked.order[:FACET_DEPTH]))

    def _rank(self, snap: _Snapshot, query: str, depth: int, mask: np.ndarray | None, mode: str) -> _Ranking:
        """The ranking pipeline (models.md, "Ranking"): the need without generic AI words,
        plus its Bokmål reading, in the language-neutral space; one round of feedback
        toward its best results; records with no description held back a little; a
        small bonus for rare words it shares with a project."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        language = detect_language(query)
        if mode == "keyword":  # plain BM25 over all terms: the baseline the rest is measured against
            kw_scores, kw_ids = snap.keywords.search(query, language, depth, mask)
            scores = {int(r): float(v) for r, v in zip(kw_ids, kw_scores)}
            return _Ranking(list(scores), scores, {}, None, None)
        shipped = mode == "hybrid"
        need = informative(query) if shipped else query
        texts = [need]
        translation = self._translator.translate(need, language) if shipped and self._translator else None
        if translation and translation.casefold() != need.casefold():
            texts.append(translation)
        own = snap.space.share(_written_like(language, translated=False))
        weights = ranking.weights(own)
        raw = self.encoder.encode_queries(texts)
        combined = raw[0] + weights.translation * raw[1] if len(raw) > 1 else raw[0]
        qvec = snap.space.query(combined / (np.linalg.norm(combined) or 1.0), language)
        allowed = None if mask is None else snap.meta.rowids[mask]
        sims = self._dense(snap, qvec, depth, allowed, penalise=shipped)
        if shipped and ranking.FEEDBACK_DEPTH and weights.feedback and sims:
            best = list(sims)[: ranking.FEEDBACK_DEPTH]  # _dense gives them best first
            feedback = np.mean([v for r in best for v in _passage_vectors(snap, r)], axis=0)
            moved = qvec + weights.feedback * feedback
            qvec = (moved / (np.linalg.norm(moved) or 1.0)).astype(np.float32)
            sims = self._dense(snap, qvec, depth, allowed, penalise=True)
        scores = dict(sims)
        if shipped and weights.keyword:
            kw_mask = mask
            if ranking.KEYWORD_SAME_LANGUAGE:  # shared stems across languages are noise, not evidence
                same = np.isin(snap.meta.columns["language"], list(_written_like(language, translated=len(texts) > 1)))
                kw_mask = same if mask is None else mask & same
            kw_scores, kw_ids = snap.keywords.search(" ".join(texts), language, depth, kw_mask, rare_share=ranking.RARE_SHARE)
            keyword = {int(r): float(v) for r, v in zip(kw_ids, kw_scores)}
            sims.update(self._cosines(snap, qvec, [r for r in keyword if r not in sims]))
            scores = ranking.fuse(sims, keyword, weights.keyword)
        if shipped and ranking.COVERAGE_WEIGHT:
            cov = snap.keywords.coverage(need, language)
            pos = snap.meta.position
            scores = {r: v + ranking.COVERAGE_WEIGHT * float(cov[pos[r]]) ** ranking.COVERAGE_POWER for r, v in scores.items()}
        order = sorted(scores, key=lambda r: (-scores[r], r))
        close = None
        threshold = self.close_match_standout() if shipped else None
        if threshold is not None and len(snap.vectors) >= ranking.CLOSE_MATCH_MIN_PASSAGES:
            close = bool(sims) and self._standout(snap, qvec, max(sims.values())) >= threshold
        return _Ranking(order, scores, sims, qvec, close)

    @staticmethod
    def _standout(snap: _Snapshot, qvec: np.ndarray, score: float) -> float:
        return snap.space.standout(qvec, score, len(snap.vectors))

    def _cosines(self, snap: _Snapshot, qvec: np.ndarray, rowids: Sequence[int]) -> dict[int, float]:
        """Best-passage cosine for projects the dense search did not reach (keyword-only hits)."""
        out = {}
        for r in rowids:
            vecs = _passage_vectors(snap, r)
            if vecs:
                out[r] = float(max(np.dot(v, qvec) for v in vecs)) - snap.brevity.get(r, 0.0)
        return out

    def _dense(self, snap: _Snapshot, qvec: np.ndarray, depth: int, allowed_rowids: np.ndarray | None,
               *, penalise: bool = False) -> dict[int, float]:
        """Best-passage cosine per project, best first (a long project scores by its best part).

        With ``penalise`` a record with (almost) no description has its brevity penalty taken
        off its score: a bare title sits near everything, so it would otherwise float to the
        top of broad needs."""
        allowed = None
        if allowed_rowids is not None:
            allowed = np.concatenate([_slot_ids(int(r), snap.passages.get(int(r), 1)) for r in allowed_rowids]) if len(allowed_rowids) else np.empty(0, np.int64)
        k = depth * 2 if len(snap.vectors) > len(snap.passages) else depth
        scores, ids = snap.vectors.search(qvec, k, allowed)
        best: dict[int, float] = {}
        for s, i in zip(scores.tolist(), ids.tolist()):
            rid = int(i) // SLOTS
            if rid not in best:
                best[rid] = float(s)
        if penalise and snap.brevity:
            best = {r: s - snap.brevity.get(r, 0.0) for r, s in best.items()}
            best = dict(sorted(best.items(), key=lambda rs: -rs[1]))
        return best

    def similar(self, record_id: str, *, limit: int = 10) -> list[Hit]:
        """Neighbours of a stored project from its stored vectors: no re-encoding."""
        stored = self.store.get(record_id)
        if stored is None:
            raise KeyError(record_id)
        snap = self._snapshot()
        parts = _passage_vectors(snap, stored.rowid)
        if not parts:
            raise KeyError(record_id)
        vec = np.mean(parts, axis=0)
        vec /= np.linalg.norm(vec) or 1.0
        sims = self._dense(snap, vec, limit + 1 + ranking.SIMILAR_SLACK, None, penalise=True)
        sims.pop(stored.rowid, None)
        order = list(sims)[:limit]
        return self._hits(stored.record.title, order, sims, sims)

    def partners(self, query: str, *, limit: int = 10, filters: Filters | None = None) -> PartnersPage:
        """Organisations ranked by relevant experience: how many projects match, how
        well, how far they got and how recently."""
        snap = self._snapshot()
        mask = snap.meta.mask(filters or Filters())
        ranked = self._rank(snap, query, max(CANDIDATES, PARTNER_DEPTH), mask, "hybrid")
        page = ranked.order[:PARTNER_DEPTH]
        threshold = self.close_match_standout()
        keep: list[int] = []
        if ranked.close is not None and ranked.query is not None:
            # projects that stand out as matches themselves count as experience ...
            keep = [r for r in page if self._standout(snap, ranked.query, ranked.sims.get(r, 0.0)) >= threshold]  # type: ignore[operator]
        if not keep and page and ranked.query is not None:
            # ... and when none does, the few that are as close as the best one (within one standard deviation
            # of the need's scores) still say who has come closest; close_match: false tells the difference
            spread = snap.space.spread(ranked.query)
            best = ranked.sims.get(page[0], 0.0)
            keep = [r for r in page if ranked.sims.get(r, 0.0) >= best - spread][: ranking.PARTNER_FALLBACK]
        found = self._hit_pairs(query, keep, ranked.scores, ranked.sims)
        if not found:
            return PartnersPage(query, ranked.close, [])
        top = max(found[0][1].score, 1e-6)
        groups: dict[tuple[str, str], list[Hit]] = {}
        for rowid, h in found:
            if h.record.organisation:
                groups.setdefault((h.record.country or "", snap.meta.org_key_of(rowid)), []).append(h)
        partners = []
        for projects in groups.values():
            score = sum(
                max(0.0, h.score / top) * ranking.status_weight(h.record.status) * ranking.recency_weight(h.record.start_year, h.record.end_year)
                for h in projects
            )
            names = [h.record.organisation for h in projects if h.record.organisation]
            # the commonest spelling; on a tie, not SHOUTED, then the longest, then a fixed order
            name = max(set(names), key=lambda n: (names.count(n), not n.isupper(), len(n), n))
            links = [h.record.link for h in projects if h.record.link and _is_homepage(h.record.link)]
            numbers = [h.record.organisation_number for h in projects if h.record.organisation_number]
            partners.append(Partner(
                organisation=name, country=projects[0].record.country, owner_type=projects[0].record.owner_type,
                score=round(score, 4), projects=projects, website=max(set(links), key=links.count) if links else None,
                registry_id=max(set(numbers), key=numbers.count) if numbers else None,
            ))
        partners.sort(key=lambda p: (-p.score, p.organisation))
        return PartnersPage(query, ranked.close, partners[:limit])

    def _hits(self, query: str, order: Sequence[int], scores: dict[int, float], sims: dict[int, float]) -> list[Hit]:
        return [h for _, h in self._hit_pairs(query, order, scores, sims)]

    def _hit_pairs(self, query: str, order: Sequence[int], scores: dict[int, float],
                   sims: dict[int, float]) -> list[tuple[int, Hit]]:
        """(rowid, hit) in ``order``, leaving out records deleted by another process since the snapshot."""
        found = self.store.by_rowids(list(order))
        out = []
        for rid in order:
            stored = found.get(int(rid))
            if stored is None:
                continue
            rec = stored.record
            text, marks = snippet(query, _snippet_source(rec))
            out.append((int(rid), Hit(rec, float(scores[rid]), text, float(sims.get(rid, 0.0)), marks)))
        return out

    def close(self) -> None:
        self.store.close()


_NORWEGIAN = frozenset({"nb", "nn", "no"})


def _written_like(language: str | None, *, translated: bool) -> set[str]:
    """Record languages whose words a need's words can match: its own (Bokmål and Nynorsk
    share one stemmer), plus Bokmål when the need was also read as Bokmål."""
    out = {language or "?"}
    if language in _NORWEGIAN:
        out |= _NORWEGIAN
    if translated:
        out |= _NORWEGIAN
    return out


def _keyword_text(r: Record) -> str:
    return "\n".join(x for x in (r.title, r.description, r.purpose, r.organisation, " ".join(r.partners), " ".join(r.tags)) if x)


def _snippet_source(r: Record) -> str | None:
    return "\n".join(x for x in (r.description, r.purpose) if x) or None


def _is_homepage(url: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(url).path in ("", "/")
