"""`ProjectIndex`: the one object the service talks to.

It keeps the content store (SQLite), the embedding model and the search structures
in step, the way txtai's Embeddings hides its layers behind one API; the pieces
behind it each do one job:

- `store.Store`: the records, the embedding cache and the generation counter (the truth);
- `snapshot`: every searchable structure at one generation, built whole (a checkpoint,
  saved to disk) or derived from the previous one plus a change;
- `searcher.Searcher`: a need's ranking and a project's neighbours, reading one snapshot;
- `partners`: organisations ranked by the projects the searcher found;
- this facade: writes (plan → embed → commit to the store → advance the snapshot), and
  catching up with writes made by other processes (`refresh`).

A search reads one immutable snapshot; a write derives the next one beside it and
swaps the reference, so searches running meanwhile never see a half-applied change.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from erfa.index.bodies import directory as bodies_directory
from erfa.index.bodies import twins
from erfa.index.bodies.organisations import no_body_reason
from erfa.index.model.encoder import DEFAULT_MODEL, Encoder
from erfa.index.search import marker, ranking, snapshot
from erfa.index.search.facets import Filters
from erfa.index.search.partners import PARTNER_DEPTH, Partner, PartnersPage, body_facts, rank_partners
from erfa.index.search.searcher import CANDIDATES, FACET_DEPTH, MAX_WINDOW, MODES, Hit, Searcher, SearchPage
from erfa.index.search.snapshot import SLOTS, Snapshot, passages_of
from erfa.index.search.translate import Translator
from erfa.index.search.translate import shared as shared_translator
from erfa.index.store.protocol import RecordStore, StoredRecord, text_hash
from erfa.index.store.sqlite import Store
from erfa.index.summary import WriteSummary
from erfa.ingest.language import prepare as prepare_language_detection
from erfa.ingest.record import Record, utcnow

__all__ = [
    "CANDIDATES",
    "FACET_DEPTH",
    "MAX_WINDOW",
    "MODES",
    "PARTNER_DEPTH",
    "SLOTS",
    "Hit",
    "Partner",
    "PartnersPage",
    "ProjectIndex",
    "SearchPage",
    "UpsertSummary",
    "passages_of",
]

log = logging.getLogger("erfa.index")


@dataclass(kw_only=True)
class UpsertSummary(WriteSummary):
    """An upsert's counts (`WriteSummary`) and what only the engine knows about it."""

    deleted: int = 0
    embedded: int = 0
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)
    # record id -> why the index could not take it in; nothing of it was written (issue 18)
    refused: dict[str, str] = field(default_factory=dict)
    # record id -> what was written differently from what the record says (an organisation naming no body)
    notes: dict[str, str] = field(default_factory=dict)


class ProjectIndex:
    """Records, vectors and search over one data directory.

    Pass an ``encoder`` to share one loaded model between several indexes (tests,
    benchmarks); otherwise ``model`` is loaded on first use, i.e. by the first search or
    the first write that has something to embed: deleting records or re-ingesting an
    unchanged file never loads it.
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
        translator: Translator | bool | None = True,
        close_match: float | None = None,
        encoder_options: Mapping[str, Any] | None = None,
        store: RecordStore | None = None,
    ) -> None:
        self.home = Path(home)  # the checkpoint's files; also the store's unless ``store`` is given
        self.home.mkdir(parents=True, exist_ok=True)
        self.store: RecordStore = store if store is not None else Store(self.home / "erfa.sqlite")
        self._model = model
        self._prompts = (query_prompt, passage_prompt)
        self._encoder = encoder
        self._encoder_options = dict(encoder_options or {})  # backend, threads, ... (Encoder's keywords)
        self._close_match = close_match  # overrides ranking.CLOSE_MATCH (operators' ERFA_CLOSE_MATCH)
        self.batch_size = batch_size
        # True: the process's shared Apertium pipelines; False/None: needs are searched as written
        translator_ = shared_translator() if translator is True else (translator or None)
        self.searcher = Searcher(lambda: self.encoder, translator_, self.close_match_standout, self.close_match_marker)
        self.warming: threading.Thread | None = None  # started by `load`: see `_warm`
        self._snap: Snapshot | None = None
        self._model_lock = threading.Lock()
        self._index_lock = threading.RLock()  # who may replace the snapshot
        self._last_refresh = 0.0
        self._compaction: threading.Thread | None = None

    # -- model ---------------------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            with self._model_lock:
                if self._encoder is None:
                    query_prompt, passage_prompt = self._prompts
                    self._encoder = Encoder(
                        self._model,
                        home=self.home,
                        query_prompt=query_prompt,
                        passage_prompt=passage_prompt,
                        **self._encoder_options,
                    )
        return self._encoder

    def close_match_standout(self) -> float | None:
        """The standout (LanguageSpace.standout) a need's best match must reach to be a
        close match; None for a model that was never calibrated (see ranking.CLOSE_MATCH)."""
        return self._close_match if self._close_match is not None else ranking.CLOSE_MATCH.get(self.encoder.model_id)

    def close_match_marker(self) -> marker.Marker | None:
        """The fitted close-match marker of this model (index/search/marker.py); None when an operator
        set a standout cut-off (ERFA_CLOSE_MATCH), which then marks alone."""
        return None if self._close_match is not None else marker.for_model(self.encoder.model_id)

    # -- the snapshot's life ---------------------------------------------------------
    def load(self) -> ProjectIndex:
        """Load model and index now (the service calls this before reporting ready), and beside
        it, in a thread, what the first need would otherwise wait for (`_warm`)."""
        self.warming = threading.Thread(target=self._warm, name="erfa-warm", daemon=True)
        self.warming.start()
        self._snapshot()
        return self

    def _warm(self) -> None:
        """langdetect's profiles (160 ms) and Apertium's pipelines (~180 ms a pair): loaded on first
        use, they made the first need after a restart cost ~150 ms more over HTTP (issue 22)."""
        prepare_language_detection()
        if self.searcher.translator is not None:
            self.searcher.translator.start()

    def _snapshot(self) -> Snapshot:
        """The snapshot searches read; opened on first use, then changed only by this
        process's writes and by `refresh`."""
        snap = self._snap
        if snap is not None:
            return snap
        _ = self.encoder  # load the model outside the index lock
        with self._index_lock:
            if self._snap is None:
                self._snap = self._open()
            return self._snap

    def _open(self) -> Snapshot:
        """The saved checkpoint brought up to date with the store, or a fresh build when
        there is none (first start, another model, a crash between its files) or when
        catching up would cost more than building."""
        enc = self.encoder
        with self._checkpoint_lock(fcntl.LOCK_SH):
            saved = snapshot.load(self.home, enc.model_id)
        if saved is None:
            log.info("no usable checkpoint in %s: building the index from the store", self.home)
            return self._rebuild()
        self._report_quarantine(saved, {})
        return self._catch_up(saved)

    def _rebuild(self, *, wait: bool = False) -> Snapshot:
        """Every record, read in one transaction, into a fresh snapshot (the language space
        refitted, vectors re-derived from the cache; only texts not in it are embedded),
        saved as the checkpoint."""
        enc = self.encoder
        gen, stored = self.store.read_all()
        texts = {text_hash(t): t for s in stored for t in passages_of(s.record)}
        raw, _ = self._vectors_of(texts, progress=None)

        def attempt(part: Sequence[StoredRecord]) -> Snapshot:
            return snapshot.build(gen, enc.model_id, enc.dim, part, raw)

        try:
            snap = attempt(stored)
        except Exception:
            bad = snapshot.failing(stored, attempt)
            if not bad:
                raise
            snap = replace(attempt([s for s in stored if s.rowid not in bad]), quarantined=bad)
        self._report_quarantine(snap, {})
        self._checkpoint(snap, wait=wait)
        return snap

    @staticmethod
    def _report_quarantine(snap: Snapshot, before: Mapping[int, tuple[str, str]]) -> None:
        """Name every stored record search is serving without, once per snapshot that finds it."""
        for rowid, (record_id, reason) in snap.quarantined.items():
            if rowid not in before:
                log.error(
                    "record %r is stored but left out of search: %s; correct it (erfa ingest, POST /projects) "
                    "or delete it (erfa delete %s)",
                    record_id,
                    reason,
                    record_id,
                    extra={"event": "quarantined", "id": record_id},
                )

    def _catch_up(self, snap: Snapshot) -> Snapshot:
        """``snap`` advanced by every change the store holds after its generation: the
        records written and the rowids deleted since, whoever wrote them. Past the size a
        delta should have, or when the languages have drifted from the space's fit, a
        fresh build is cheaper and better."""
        if self.store.count_changes_since(snap.generation) > snap.delta_limit:
            return self._rebuild()
        gen, changed, removed = self.store.changes_since(snap.generation)
        if gen == snap.generation:
            return snap
        texts = {text_hash(t): t for s in changed for t in passages_of(s.record)}
        raw, _ = self._vectors_of(texts, progress=None)
        new = self._advance_past_poison(snap, gen, changed, removed, raw)
        if new.space.stale(new.languages, ranking.SPACE_DRIFT, ranking.SPACE_REFIT_BELOW):
            return self._rebuild()
        if new.wants_checkpoint():
            self._compact_later()
        return new

    def _advance_past_poison(
        self,
        snap: Snapshot,
        gen: int,
        changed: Sequence[StoredRecord],
        removed: Sequence[int],
        raw: dict[str, np.ndarray],
    ) -> Snapshot:
        """`snapshot.advance`, leaving out (and naming) any written record it cannot take in.

        Writes through `upsert` are checked before they commit, but another process (an
        older erfa, a replica's primary, a hand edit) may have stored one: it must not
        freeze this process at its generation (issue 18). A record left out is treated as
        deleted here, so no stale version of it is served either.
        """

        def attempt(part: Sequence[StoredRecord]) -> Snapshot:
            return snapshot.advance(snap, gen, part, removed, raw)

        touched = {*removed, *(s.rowid for s in changed)}
        kept = {r: q for r, q in snap.quarantined.items() if r not in touched}
        try:
            new = attempt(changed)
            bad: dict[int, tuple[str, str]] = {}
        except Exception:
            bad = snapshot.failing(changed, attempt)
            if not bad:
                raise
            new = snapshot.advance(snap, gen, [s for s in changed if s.rowid not in bad], [*removed, *bad], raw)
        new = replace(new, quarantined={**kept, **bad})
        self._report_quarantine(new, snap.quarantined)
        return new

    @property
    def quarantined(self) -> dict[str, str]:
        """Stored records search serves without, id -> why (shown by /readyz)."""
        snap = self._snap
        return dict(snap.quarantined.values()) if snap is not None else {}

    def refresh(self, min_interval: float = 1.0) -> None:
        """Pick up writes made by another process (e.g. `erfa ingest` beside `erfa serve`);
        reads the store's generation at most once per ``min_interval`` seconds."""
        now = time.monotonic()
        if now - self._last_refresh < min_interval:
            return
        self._last_refresh = now
        if self._snap is None:
            self._snapshot()
        elif self.store.generation() != self._snap.generation:
            self._advance()

    def _advance(self) -> None:
        with self._index_lock:
            if self._snap is not None:
                self._snap = self._catch_up(self._snap)

    def _compact_later(self) -> None:
        """Fold the deltas into a new checkpoint on a background thread; searches and
        writes carry on with the deltas meanwhile."""
        if self._compaction is not None and self._compaction.is_alive():
            return

        def compact() -> None:
            try:
                fresh = self._rebuild(wait=True)
                with self._index_lock:
                    current = self._snap
                    if current is None or current.generation <= fresh.generation:
                        self._snap = fresh
                    else:
                        self._snap = self._catch_up(fresh)
            except Exception:  # the deltas keep serving; the next write tries again
                log.exception("compacting the index failed")

        self._compaction = threading.Thread(target=compact, name="erfa-compact", daemon=True)
        self._compaction.start()

    def _checkpoint(self, snap: Snapshot, *, wait: bool = False) -> None:
        """Save ``snap`` as this data directory's checkpoint, one saver at a time (across
        processes). ``wait`` False (a write or a reader catching up) skips the save when
        another process is saving, rather than stall; the background compaction waits."""
        with self._checkpoint_lock(fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB) as held:
            if held:
                snapshot.save(snap, self.home)

    @contextmanager
    def _checkpoint_lock(self, mode: int) -> Iterator[bool]:
        """The checkpoint files' lock: exclusive to save them, shared to read them, so a
        reader never sees one file of a new checkpoint beside two of the old."""
        with open(self.home / ".checkpoint.lock", "w") as lock:
            try:
                fcntl.flock(lock, mode)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- writes ------------------------------------------------------------------
    def upsert(self, records: Sequence[Record], *, progress: bool = False) -> UpsertSummary:
        """Add new records, update changed ones, skip unchanged ones.

        Vectors are cached as they are computed and the records are committed in one
        transaction afterwards, so a crash loses at most the unfinished batch and a
        re-run skips everything already embedded. Searches meanwhile use the old
        snapshot; the new one replaces it in one assignment.
        """
        started = time.perf_counter()
        # Embed before taking the write lock (issue 11): other writers commit meanwhile, and the
        # locked pass below finds these vectors in the store's cache, embedding only what changed since.
        ahead = self.store.plan(records)
        # Refused at the door, before anything is embedded or committed (issue 18): a record the
        # derived structures cannot take in would fail every later snapshot, on every replica.
        if refused := snapshot.admit(ahead.added + ahead.updated):
            records = [r for r in records if r.id not in refused]
            ahead = self.store.plan(records)
        notes = {
            r.id: why for r in ahead.added + ahead.updated if r.organisation and (why := no_body_reason(r.organisation))
        }
        early = {text_hash(t): t for r in ahead.added + ahead.updated for t in passages_of(r)}
        _, embedded = self._vectors_of(early, progress=progress)
        with self.store.writing():
            plan = self.store.plan(records)
            changed = [
                r if r.updated_at else r.model_copy(update={"updated_at": utcnow()}) for r in plan.added + plan.updated
            ]
            summary = UpsertSummary(
                added=len(plan.added),
                updated=len(plan.updated),
                unchanged=len(plan.unchanged),
                embedded=embedded,
                refused=refused,
                notes=notes,
            )
            if changed:
                # only texts the first pass did not cover (another writer changed the plan meanwhile):
                # the rest are cached already, and reading them back would double a bulk ingest's I/O
                late = {h: t for r in changed for t in passages_of(r) if (h := text_hash(t)) not in early}
                summary.embedded += self._vectors_of(late, progress=False)[1]
                self.store.upsert(changed)
                self._after_write(len(changed))
                summary.ids = [r.id for r in changed]
        summary.seconds = time.perf_counter() - started
        return summary

    def refusals(self, records: Sequence[Record]) -> dict[str, str]:
        """The records `upsert` would refuse, id -> why; for callers that write all or nothing."""
        plan = self.store.plan(records)
        return snapshot.admit(plan.added + plan.updated)

    def delete(self, record_ids: Sequence[str]) -> int:
        with self.store.writing():
            _, removed = self.store.delete(record_ids)
            if removed:
                self._after_write(len(removed))
        return len(removed)

    def _after_write(self, n: int) -> None:
        """Bring this process's snapshot up to the write. A process that never searched
        (`erfa ingest`, `erfa delete`) builds none for a small write, which readers pick up
        by catching up, but leaves a checkpoint after a large one, so that a server's
        next start does not rebuild it."""
        if self._snap is not None:
            self._advance()
        elif n > snapshot.COMPACT_MIN:
            self._snapshot()

    def prune(self, source: str, keep_ids: set[str]) -> int:
        """Delete a source's records that its latest file no longer contains."""
        return self.delete(sorted(self.store.ids_of_source(source) - keep_ids))

    def _vectors_of(self, texts: dict[str, str], *, progress: bool | None) -> tuple[dict[str, np.ndarray], int]:
        """Vectors for {text hash: text}: from the cache, embedding only the rest.

        Returns them with how many had to be embedded. ``progress`` None: a bar only
        when there is real work (over 50 texts), as on a rebuild after a model change.
        """
        if not texts:
            return {}, 0
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
                items = list(zip(hashes[start : start + len(chunk)], vecs, strict=True))
                self.store.cache_vectors(enc.model_id, items)
                out.update(items)
                bar.update(len(chunk))
        finally:
            bar.close()
        return out

    # -- reads -------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """The store generation searches answer from (a write's response carries it, so a
        client can ask a replica to have caught up with it: read-your-writes)."""
        snap = self._snap
        return snap.generation if snap is not None else self.store.generation()

    def count(self) -> int:
        snap = self._snap
        return len(snap.records) if snap is not None else self.store.count()

    def get(self, record_id: str) -> Record | None:
        """The record as search shows it (with any inferred sector), else as stored."""
        snap = self._snap
        if snap is not None and (rowid := snap.ids.get(record_id)) is not None:
            return snap.records[rowid]
        stored = self.store.get(record_id)
        return stored.record if stored else None

    def project(self, record_id: str) -> tuple[Record, list[Record]] | None:
        """A project as its page shows it: the record with what only its copies in other
        registries give (link, years, sector: `twins.merged`), and those copies."""
        snap = self._snapshot()
        rowid = snap.ids.get(record_id)
        if rowid is None:
            record = self.get(record_id)
            return (record, []) if record is not None else None
        copies = [snap.records[t] for t in snap.twins.get(rowid, ()) if t in snap.records]
        return twins.merged(snap.records[rowid], copies), copies

    def records(self) -> Iterator[Record]:
        """Every stored record, in insertion order (for export and audits)."""
        return (s.record for s in self.store.all())

    def check(self) -> dict[str, object]:
        """Do store and index agree? Counts plus the offending ids, for tests and operators.

        ``orphan_vectors``: rowids with vectors but no record; ``unindexed``: record ids with
        no vector; ``duplicate_ids``: record ids stored twice (the schema forbids it, so
        any entry here means corruption).
        """
        self.refresh(min_interval=0)
        stored = list(self.store.all())
        ids = [s.record.id for s in stored]
        vector_ids = self._snapshot().vectors.ids()
        owners = set((vector_ids // SLOTS).tolist())
        rowids = {s.rowid: s.record.id for s in stored}
        return {
            "records": len(stored),
            "vectors": len(vector_ids),
            "duplicate_ids": sorted(i for i, n in Counter(ids).items() if n > 1),
            "duplicate_vectors": int(len(vector_ids) - len(set(vector_ids.tolist()))),
            "orphan_vectors": sorted(owners - set(rowids)),
            "unindexed": sorted(rowids[r] for r in set(rowids) - owners),
        }

    def organisation_contact(self, record_id: str) -> tuple[str | None, str | None]:
        """(web site, registry number) of a project's organisation, from any record of that body.

        A registry often gives the site or number on one project and not the next; the
        project page should link the site whenever the data knows it (issue 12). The
        record's own values win, then the commonest among the records of the same body
        (same country, spellings merged as for partners). (None, None) for an unknown id.
        """
        snap = self._snapshot()
        rowid = snap.ids.get(record_id)
        if rowid is None:
            return None, None
        own = snap.records[rowid]
        key = snap.meta.org_key_of(rowid) if own.organisation else ""
        site, number = body_facts(snap).get((own.country or "", key), (None, None)) if key else (None, None)
        return own.website or site, own.organisation_number or number

    def search(
        self, query: str, *, limit: int = 10, offset: int = 0, filters: Filters | None = None, mode: str = "hybrid"
    ) -> SearchPage:
        """Rank projects for a need. ``mode`` is one of MODES; only "hybrid" is for users."""
        return self.searcher.search(self._snapshot(), query, limit=limit, offset=offset, filters=filters, mode=mode)

    def similar(self, record_id: str, *, limit: int = 10) -> list[Hit]:
        """Neighbours of a stored project from its stored vectors: no re-encoding."""
        snap = self._snapshot()
        rowid = snap.ids.get(record_id)
        if rowid is None:
            raise KeyError(record_id)
        return self.searcher.similar(snap, rowid, limit=limit)

    def partners(self, query: str, *, limit: int = 10, filters: Filters | None = None) -> PartnersPage:
        """Organisations ranked by relevant experience (see `partners`)."""
        return rank_partners(
            self.searcher,
            self._snapshot(),
            query,
            limit=limit,
            filters=filters,
            directory=bodies_directory.cached(self.home),
        )

    def close(self) -> None:
        if self._compaction is not None:
            self._compaction.join()
        self.store.close()
