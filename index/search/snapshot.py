"""What one search reads: every searchable structure at one store generation.

A `Snapshot` is immutable. `build` makes one from every record (a checkpoint: the
language space is fitted and every structure is fresh); `advance` derives the next
one from a change (records written, rowids deleted) in time that grows with the
change, not the corpus: new rows are appended to the vectors' and keyword index's
small deltas and the facet columns, replaced rows are hidden. Searches running on the
old snapshot finish on it undisturbed.

A checkpoint is saved (`save`) as three files tagged with its generation; `load`
accepts them only when all three agree, so a crash between them costs a rebuild,
never a mixed state.
"""

from __future__ import annotations

import json
import logging
import pickle
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from erfa.index.atomic import atomic_file
from erfa.index.bodies import sectors, twins
from erfa.index.search import ranking
from erfa.index.search.facets import Metadata
from erfa.index.search.keywords import KeywordIndex
from erfa.index.search.space import UNKNOWN, LanguageSpace, SpaceParams
from erfa.index.search.text import split_passages
from erfa.index.search.vectors import IndexMeta, LayeredVectors, VectorIndex, file_checksum
from erfa.index.store.protocol import StoredRecord, text_hash
from erfa.ingest.record import Record

log = logging.getLogger("erfa.index")

SLOTS = 64  # FAISS id = rowid * SLOTS + passage number; a record has at most SLOTS passages
# A checkpoint folds the deltas back into the base once they hold this share of the
# base's rows (and at least COMPACT_MIN): deltas are scanned exactly and their BM25
# statistics drift from the base's, so they are kept small.
COMPACT_SHARE = 0.02
COMPACT_MIN = 256
_FORMAT = 8  # of the derived-structures file; a different one is rebuilt, not read
# (7: the modules moved into sub-packages, issue 20, so older pickles name class paths that are gone;
# 8: inferred sectors need a measured confidence, issue 21: an older checkpoint holds sectors below it)


def passages_of(record: Record) -> list[str]:
    """The texts embedded for a record: one, or several for a long description; at most
    SLOTS, since a record owns SLOTS FAISS ids (ingest caps descriptions far below that)."""
    head, _, body = record.embedding_text().partition("\n")
    return split_passages(head, body)[:SLOTS]


def slot_ids(rowid: int, n: int) -> np.ndarray:
    return rowid * SLOTS + np.arange(n, dtype=np.int64)


def keyword_text(r: Record) -> str:
    return "\n".join(
        x for x in (r.title, r.description, r.purpose, r.organisation, " ".join(r.partners), " ".join(r.tags)) if x
    )


@dataclass(frozen=True)
class Snapshot:
    generation: int
    model_id: str
    space: LanguageSpace
    vectors: LayeredVectors  # passage vectors in `space`, not the model's raw output
    keywords: KeywordIndex  # rows aligned with meta's
    meta: Metadata
    records: dict[int, Record]  # rowid -> record, live ones only: hits never read the store
    ids: dict[str, int]  # record id -> rowid
    passages: dict[int, int]  # rowid -> number of passages
    brevity: dict[int, float]  # rowid -> score penalty of a record that says (almost) nothing beyond its title
    languages: Counter[str]  # passages per record language: what the space was fitted on drifts from this
    base_rows: int  # rows in the checkpoint; rows past it are the deltas
    sector_votes: sectors.SectorVotes | None  # who votes for the sector of a record its source gave none
    slots: np.ndarray  # every live passage's vector id ...
    slot_rows: np.ndarray  # ... and its record's rowid: a filter's allowed ids in one vectorised step
    twins: twins.Twins = field(
        default_factory=dict
    )  # rowid -> the other records of the same project (index/bodies/twins.py)
    # stored records no structure could take in, left out of search and named (issue 18): rowid -> (id, reason)
    quarantined: dict[int, tuple[str, str]] = field(default_factory=dict)

    def allowed_slots(self, rowids: np.ndarray) -> np.ndarray:
        """The vector ids of these records' passages (what a filtered search may return)."""
        return self.slots[np.isin(self.slot_rows, rowids)]

    @property
    def delta_rows(self) -> int:
        return len(self.meta.rowids) - self.base_rows

    @property
    def delta_limit(self) -> float:
        """How many rows the deltas may hold before a fresh build is due (and how large a
        catch-up may be before building is cheaper than advancing)."""
        return max(COMPACT_MIN, COMPACT_SHARE * self.base_rows)

    def wants_checkpoint(self) -> bool:
        return self.delta_rows > self.delta_limit

    def passage_vectors(self, rowid: int) -> list[np.ndarray]:
        """The stored vectors of one project's passages (none if it is not in this snapshot)."""
        found = (self.vectors.vector(int(i)) for i in slot_ids(rowid, self.passages.get(rowid, 1)))
        return [v for v in found if v is not None]

    def passage_blocks(self, rowids: Sequence[int]) -> dict[int, np.ndarray]:
        """`passage_vectors` of many projects in one read: rowid -> (passages x dim)."""
        rowids = list(dict.fromkeys(int(r) for r in rowids))
        if not rowids:
            return {}
        counts = [self.passages.get(r, 1) for r in rowids]
        vecs, found = self.vectors.vectors(
            np.concatenate([slot_ids(r, n) for r, n in zip(rowids, counts, strict=True)])
        )
        out, start = {}, 0
        for r, n in zip(rowids, counts, strict=True):
            out[r] = vecs[start : start + n][found[start : start + n]]
            start += n
        return out


class Passages:
    """The passage vectors one search reads, each project's read once: `load` fetches a set
    of projects in one batch (the first results, the feedback rows, the keyword-only hits),
    and calling it gives one project's as `Snapshot.passage_vectors` does, from memory."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.blocks: dict[int, np.ndarray] = {}

    def load(self, rowids: Sequence[int]) -> None:
        todo = [r for r in rowids if r not in self.blocks]
        if todo:
            self.blocks.update(self.snap.passage_blocks(todo))

    def block(self, rowid: int) -> np.ndarray:
        """(passages x dim) of one project; no rows when it is not in the snapshot."""
        if rowid not in self.blocks:
            self.load([rowid])
        return self.blocks[rowid]

    def __call__(self, rowid: int) -> list[np.ndarray]:
        return list(self.block(rowid))


def _stack(texts: Sequence[str], raw: dict[str, np.ndarray], dim: int) -> np.ndarray:
    return np.stack([raw[text_hash(t)] for t in texts]) if texts else np.empty((0, dim), np.float32)


def build(
    generation: int,
    model_id: str,
    dim: int,
    stored: Sequence[StoredRecord],
    raw: dict[str, np.ndarray],
    params: SpaceParams = ranking.SPACE,
    *,
    prototypes: bool = True,
) -> Snapshot:
    """A fresh snapshot of every record: the space refitted, every structure built anew.
    ``raw`` holds the model's vector of every passage, by text hash. ``prototypes``: a corpus
    without labelled sectors may use the shipped sector prototypes (not with stand-in vectors)."""
    passages = {s.rowid: passages_of(s.record) for s in stored}
    order = [(r, t) for r, ps in passages.items() for t in ps]
    langs = [s.record.language or UNKNOWN for s in stored for _ in passages[s.rowid]]  # as the space counts them
    vecs = _stack([t for _, t in order], raw, dim)
    space = LanguageSpace.fit(vecs, langs, params)
    base = VectorIndex(dim)
    docs = space.documents(vecs, langs)
    if order:
        base.upsert(np.concatenate([slot_ids(r, len(ps)) for r, ps in passages.items()]), docs)
    rowids = [s.rowid for s in stored]
    record_vecs = _record_vectors(docs, [len(passages[r]) for r in rowids])
    votes = sectors.SectorVotes.of([s.record for s in stored], record_vecs, model_id if prototypes else None, dim)
    records = lean(sectors.with_sectors([s.record for s in stored], record_vecs, votes))
    slots, slot_rows = _slots(passages)
    snap = Snapshot(
        generation=generation,
        model_id=model_id,
        space=space,
        vectors=LayeredVectors(base),
        keywords=KeywordIndex(rowids, [keyword_text(r) for r in records], [r.language for r in records]),
        meta=Metadata(rowids, records),
        records=dict(zip(rowids, records, strict=True)),
        ids={r.id: s for s, r in zip(rowids, records, strict=True)},
        passages={r: len(ps) for r, ps in passages.items()},
        brevity={s.rowid: p for s in stored if (p := ranking.brevity_penalty(s.record.description, s.record.purpose))},
        languages=Counter(langs),
        base_rows=len(rowids),
        slots=slots,
        slot_rows=slot_rows,
        sector_votes=votes,
    )
    return replace(snap, twins=_twins(snap))


_EVERY_FIELD = set(Record.model_fields)  # the one fields-set the snapshot's records share (see `lean`)
_SHORT = ("country", "language", "source", "status", "owner_type", "sector", "region", "municipality", "organisation")


def lean(records: Iterable[Record]) -> list[Record]:
    """The records with the memory pydantic spends on each made shared where it can be.

    Every stored record has all its fields set, and pydantic keeps that as a set per record:
    2.2 KB each, 216 of the 447 MiB that 100,000 records held (bench/ENGINE.md, issue 22).
    A record whose set holds every field gets the one shared set instead: pydantic only ever
    adds names to it, which changes nothing in a set that holds them all, and `model_copy`
    copies it. Short repeated values (country, status, source, ...) are interned the same way.
    Pickling keeps the sharing: a checkpoint stores the set once."""
    out = []
    for r in records:
        if r.__pydantic_fields_set__ == _EVERY_FIELD and r.__pydantic_fields_set__ is not _EVERY_FIELD:
            object.__setattr__(r, "__pydantic_fields_set__", _EVERY_FIELD)
        values = r.__dict__
        for name in _SHORT:
            if type(v := values.get(name)) is str:
                values[name] = sys.intern(v)
        out.append(r)
    return out


def _stand_in_vectors(records: Sequence[Record], dim: int) -> dict[str, np.ndarray]:
    """A unit vector per passage, fixed by its text: what `admit` builds with instead of
    the model's, which the derived structures do not depend on for taking a record in."""
    out: dict[str, np.ndarray] = {}
    for r in records:
        for t in passages_of(r):
            h = text_hash(t)
            v = np.random.default_rng(int(h[:16], 16)).standard_normal(dim).astype(np.float32)
            out[h] = v / np.linalg.norm(v)
    return out


def failing(
    items: Sequence[StoredRecord], attempt: Callable[[Sequence[StoredRecord]], object]
) -> dict[int, tuple[str, str]]:
    """The records ``attempt`` (a build or an advance over some of them) cannot take:
    rowid -> (record id, reason). Found by halving, so one bad record among 100k costs
    about two builds' worth of work, not one build per record."""
    try:
        attempt(items)
        return {}
    except Exception as exc:
        if len(items) == 1:
            return {
                items[0].rowid: (items[0].record.id, f"erfa cannot index this record ({type(exc).__name__}: {exc})")
            }
    mid = len(items) // 2
    found = {**failing(items[:mid], attempt), **failing(items[mid:], attempt)}
    # each half goes in alone but not together: refuse the lot rather than guess which
    return found or {
        s.rowid: (s.record.id, "erfa cannot index these records together; write them one at a time to find which")
        for s in items
    }


def admit(records: Sequence[Record], dim: int = 8) -> dict[str, str]:
    """The records every derived structure (passages, language space, vectors, keywords,
    facets, organisations, sectors, twins) cannot take in, id -> reason.

    Called before a write commits (issue 18): a record that makes `build` or `advance`
    raise would otherwise be committed and then fail every later snapshot, on every
    replica, until someone deleted it by hand. The batch is built as a small snapshot
    of its own with stand-in vectors (the structures do not depend on the model's for
    taking a record in), so the ordinary case costs one small build and no model.
    """
    stored = [StoredRecord(i + 1, r) for i, r in enumerate(records)]
    bad = failing(
        stored,
        lambda part: build(
            0, "admission", dim, part, _stand_in_vectors([s.record for s in part], dim), prototypes=False
        ),
    )
    return dict(bad.values())


def _twins(snap: Snapshot, only: set[twins.Group] | None = None) -> twins.Twins:
    """Twin groups among the candidate groups in ``only`` (every group when None)."""
    meta = snap.meta
    groups = twins.candidate_groups(meta.org_keys, meta.titles, meta.columns["country"], meta.rowids, meta.live, only)
    return twins.find(((kind, rows) for (kind, _, _), rows in groups.items()), snap.records, snap.passage_vectors)


def _twins_after(old: Snapshot, new: Snapshot, written: Sequence[int], replaced: Sequence[int]) -> twins.Twins:
    """``old``'s twin map brought up to a write, looking again only where it can have changed.

    A write changes which records are each other's closest only inside the groups (bodies,
    titles) its records were or are in: every record there is looked at again, with every
    member of its old twin group (dropped whole by `twins.update`) and every other group
    those records are in, whose joins did not change and are found again. A write costs
    what it touches, not the corpus.
    """
    meta = new.meta
    changed: set[twins.Group] = {g for r in replaced if r in old.meta.position for g in old.meta.groups_of(r)}
    changed.update(g for r in written for g in meta.groups_of(r))
    found = twins.candidate_groups(meta.org_keys, meta.titles, meta.columns["country"], meta.rowids, meta.live, changed)
    touched = {*written, *replaced, *(r for rows in found.values() for r in rows)}
    touched |= {m for r in list(touched) for m in old.twins.get(r, ())}
    groups = changed | {
        g for r in touched if r in meta.position and meta.live[meta.position[r]] for g in meta.groups_of(r)
    }
    again = _twins(new, groups) if groups else {}
    # a group found that holds no touched record is unchanged, and may be only part of an old one
    again = {r: t for r, t in again.items() if r in touched or touched.intersection(t)}
    return twins.update(old.twins, touched, again)


def _record_vectors(docs: np.ndarray, counts: Sequence[int]) -> np.ndarray:
    """One unit vector per record: the mean of its passages' (consecutive rows of ``docs``)."""
    if not len(counts):
        return np.empty((0, docs.shape[1]), np.float32)
    sums = np.add.reduceat(docs, np.cumsum([0, *counts[:-1]]), axis=0)
    means: np.ndarray = (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)
    return means


def _slots(passages: dict[int, list[str]]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([len(ps) for ps in passages.values()], np.int64)
    rows = np.repeat(np.fromiter(passages, np.int64, len(passages)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    return rows * SLOTS + (np.arange(len(rows), dtype=np.int64) - first), rows


def advance(
    snap: Snapshot, generation: int, changed: Sequence[StoredRecord], removed: Sequence[int], raw: dict[str, np.ndarray]
) -> Snapshot:
    """The snapshot after a change, derived from ``snap`` in the old space: ``changed``
    records (new or updated) and ``removed`` rowids. ``raw`` holds the model's vector of
    each changed record's passages."""
    gone = [r for r in removed if r in snap.records]
    replaced = [*gone, *(s.rowid for s in changed if s.rowid in snap.records)]
    languages = snap.languages.copy()
    for r in replaced:
        languages[snap.records[r].language or UNKNOWN] -= snap.passages.get(r, 0)
    new_passages = {s.rowid: passages_of(s.record) for s in changed}
    ids = [slot_ids(s.rowid, len(new_passages[s.rowid])) for s in changed]
    texts = [t for s in changed for t in new_passages[s.rowid]]
    langs = [s.record.language or UNKNOWN for s in changed for _ in new_passages[s.rowid]]
    languages.update(langs)
    dim = snap.vectors.dim
    docs = snap.space.documents(_stack(texts, raw, dim), langs) if texts else np.empty((0, dim), np.float32)
    vectors = snap.vectors.changed(
        np.concatenate([slot_ids(r, SLOTS) for r in replaced]) if replaced else np.empty(0, np.int64),
        np.concatenate(ids) if ids else np.empty(0, np.int64),
        docs,
    )
    rowids = [s.rowid for s in changed]
    recs = lean(
        sectors.with_sectors(
            [s.record for s in changed],
            _record_vectors(docs, [len(new_passages[r]) for r in rowids]),
            snap.sector_votes,
        )
    )
    records, id_map = dict(snap.records), dict(snap.ids)
    passages, brevity = dict(snap.passages), dict(snap.brevity)
    for r in replaced:
        old = records.pop(r)
        id_map.pop(old.id, None)
        passages.pop(r, None)
        brevity.pop(r, None)
    for s, rec in zip(changed, recs, strict=True):
        records[s.rowid] = rec
        id_map[s.record.id] = s.rowid
        passages[s.rowid] = len(new_passages[s.rowid])
        if p := ranking.brevity_penalty(s.record.description, s.record.purpose):
            brevity[s.rowid] = p
    keep = ~np.isin(snap.slot_rows, np.asarray(replaced, np.int64))
    new_slots, new_rows = _slots(new_passages)
    new = replace(
        snap,
        generation=generation,
        vectors=vectors,
        slots=np.concatenate([snap.slots[keep], new_slots]),
        slot_rows=np.concatenate([snap.slot_rows[keep], new_rows]),
        keywords=snap.keywords.with_rows(rowids, [keyword_text(r) for r in recs], [r.language for r in recs]),
        meta=snap.meta.with_rows(rowids, recs, gone),
        records=records,
        ids=id_map,
        passages=passages,
        brevity=brevity,
        languages=+languages,
    )
    return replace(new, twins=_twins_after(snap, new, rowids, replaced))


# -- the checkpoint on disk ---------------------------------------------------------
def _paths(home: Path) -> tuple[Path, Path, Path]:
    return home / "vectors.faiss", home / "space.npz", home / "derived.pkl"


def _manifest(home: Path) -> Path:
    return home / "checkpoint.json"


def save(snap: Snapshot, home: Path) -> None:
    """Write a snapshot with no deltas as the checkpoint. The space and the derived
    structures first, the vectors and their meta next, the manifest with every file's
    checksum last: generations that disagree after a crash, or a file damaged on disk
    later, make `load` refuse the set."""
    assert snap.delta_rows == 0 and not len(snap.vectors.delta), "only a fresh build is a checkpoint"
    vectors_path, space_path, derived_path = _paths(home)
    snap.space.save(space_path, snap.generation)
    derived = {
        "format": _FORMAT,
        "generation": snap.generation,
        "model_id": snap.model_id,
        "keywords": snap.keywords,
        "meta": snap.meta,
        "records": snap.records,
        "ids": snap.ids,
        "passages": snap.passages,
        "brevity": snap.brevity,
        "languages": snap.languages,
        "slots": snap.slots,
        "slot_rows": snap.slot_rows,
        "sector_votes": snap.sector_votes,
        "twins": snap.twins,
        "quarantined": snap.quarantined,
    }

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(derived, f, protocol=pickle.HIGHEST_PROTOCOL)

    atomic_file(derived_path, write)
    base = snap.vectors.base
    base.save(vectors_path, IndexMeta(snap.generation, snap.model_id, base.dim, len(base)))  # checksummed in its meta
    manifest = {
        "generation": snap.generation,
        "checksums": {p.name: file_checksum(p) for p in (space_path, derived_path)},
    }
    atomic_file(_manifest(home), lambda tmp: tmp.write_text(json.dumps(manifest), encoding="utf-8"))


def _intact(home: Path) -> bool:
    """Do the space and derived files still hold the bytes the manifest recorded? Every
    checkpoint file is checked alike (the FAISS file by its own meta), so damage to any
    of them costs a rebuild from the store's cached vectors, logged, never a start-up
    that fails (issue 18: a damaged space.npz kept the server from ever becoming ready)."""
    try:
        manifest = json.loads(_manifest(home).read_text(encoding="utf-8"))
        sums = manifest["checksums"]
    except FileNotFoundError:
        log.info(
            "%s has no checkpoint manifest (first start, or written by an earlier erfa): building the index "
            "from the store",
            home,
        )
        return False
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning(
            "the checkpoint manifest %s is damaged (%s): rebuilding the index from the store", _manifest(home), exc
        )
        return False
    for path in _paths(home)[1:]:
        try:
            actual = file_checksum(path)
        except OSError as exc:
            log.warning("checkpoint file %s cannot be read (%s): rebuilding the index from the store", path, exc)
            return False
        if sums.get(path.name) != actual:
            log.warning(
                "checkpoint file %s does not match its checksum (damaged on disk): rebuilding the index from the store",
                path,
            )
            return False
    return True


def load(home: Path, model_id: str, params: SpaceParams = ranking.SPACE) -> Snapshot | None:
    """The saved checkpoint, or None when any part is missing, damaged, stale or of another model.

    The derived file is a pickle of erfa's own structures in erfa's own data directory
    (like the FAISS file, whoever can write there controls the service anyway)."""
    vectors_path, space_path, derived_path = _paths(home)
    if not _intact(home):
        return None
    loaded, space = VectorIndex.load(vectors_path), LanguageSpace.load(space_path)
    if loaded is None or space is None:
        return None
    base, meta = loaded
    try:
        with open(derived_path, "rb") as f:
            d = pickle.load(f)
    except Exception as exc:  # damaged or from another erfa version: rebuilt from the store
        log.warning("checkpoint file %s cannot be read (%s): rebuilding the index from the store", derived_path, exc)
        return None
    if not isinstance(d, dict) or d.get("format") != _FORMAT:
        return None
    if not (
        meta.generation == space[1] == d["generation"]
        and meta.model_id == d["model_id"] == model_id
        and space[0].params == params
        and meta.count == sum(d["passages"].values())
    ):
        return None
    lean(d["records"].values())  # a checkpoint written before `lean` existed: its records share from now on
    return Snapshot(
        generation=meta.generation,
        model_id=model_id,
        space=space[0],
        vectors=LayeredVectors(base),
        keywords=d["keywords"],
        meta=d["meta"],
        records=d["records"],
        ids=d["ids"],
        passages=d["passages"],
        brevity=d["brevity"],
        languages=d["languages"],
        base_rows=len(d["meta"].rowids),
        sector_votes=d["sector_votes"],
        slots=d["slots"],
        slot_rows=d["slot_rows"],
        twins=d["twins"],
        quarantined=d.get("quarantined", {}),
    )
