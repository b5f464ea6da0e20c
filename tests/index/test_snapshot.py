"""Incremental writes (issue 10): a snapshot advanced by writes answers as one built
from scratch would; checkpoints and catch-up survive restarts, damage and old files.

Each test can fail for the reason it names: the rebuilt index is the reference, and
the advanced one is compared with it result for result."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from erfa.index import ProjectIndex
from erfa.index.search import ranking, snapshot
from erfa.index.search.keywords import KeywordIndex
from erfa.index.search.space import LanguageSpace
from erfa.index.search.vectors import LayeredVectors, VectorIndex
from erfa.ingest import Record, read_file
from erfa.service.demo import DEMO_FILE
from tests.factories import Make

NEEDS = [
    "chatbot som svarar på frågor om bygglov",
    "prognose for snømåking",
    "taleattkjenning i helse",
    "satellite images of forests",
    "oversettelse av dokumenter",
]


@pytest.fixture(scope="module")
def demo_records() -> list[Record]:
    return list(read_file(DEMO_FILE).records)


def ranking_of(idx: ProjectIndex, need: str, mode: str = "neutral") -> list[str]:
    return [h.record.id for h in idx.search(need, limit=10, mode=mode).hits]


@pytest.fixture
def deltas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes to this small corpus go to the deltas: no refit of the space below 2,000
    passages or on drift (both would rebuild instead)."""
    monkeypatch.setattr(ranking, "SPACE_REFIT_BELOW", 0)
    monkeypatch.setattr(ranking, "SPACE_DRIFT", 1.0)


def rebuilt(idx: ProjectIndex, make_index: Make, monkeypatch: pytest.MonkeyPatch) -> ProjectIndex:
    """The same data directory opened with no checkpoint: every structure built from the
    store, in the space ``idx`` searches (so dense scores are comparable one for one)."""
    for name in ("vectors.faiss", "derived.pkl"):
        (idx.home / name).unlink(missing_ok=True)
    space = idx._snapshot().space
    with monkeypatch.context() as m:
        m.setattr(LanguageSpace, "fit", classmethod(lambda cls, *a, **k: space))
        return make_index(idx.home).load()


@pytest.mark.usefixtures("deltas")
def test_writes_advance_the_snapshot_to_what_a_rebuild_gives(
    make_index: Make, demo_records: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index().load()
    idx.upsert(demo_records[:-6])
    first = idx._snapshot()
    assert first.delta_rows == len(demo_records) - 6, "a small write goes to the deltas, not a rebuild"
    idx.upsert(demo_records[-6:])
    changed = demo_records[3].model_copy(
        update={"description": "Et nytt prosjekt om oversettelse av dokumenter mellom nynorsk og bokmål."}
    )
    idx.upsert([changed])
    idx.delete([demo_records[5].id])
    snap = idx._snapshot()
    assert snap.delta_rows > 0 and snap.generation == idx.store.generation()
    fresh = rebuilt(idx, make_index, monkeypatch)
    assert fresh._snapshot().delta_rows == 0
    assert idx.count() == fresh.count() == len(demo_records) - 1
    for need in NEEDS:  # the dense ranking is the same vectors in the same space: identical
        assert ranking_of(idx, need) == ranking_of(fresh, need), need
    assert ranking_of(idx, "nynorsk bokmål oversettelse", "keyword")[0] == demo_records[3].id
    assert demo_records[5].id not in {h.record.id for n in NEEDS for h in idx.search(n, limit=50).hits}
    # facets count live rows only: the replaced row of the changed record is not counted twice
    assert idx._snapshot().meta.counts(list(idx._snapshot().records)) == fresh._snapshot().meta.counts(
        list(fresh._snapshot().records)
    )


def test_layered_vectors_search_as_one_flat_index() -> None:
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((301, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    base = VectorIndex(16)
    base.upsert(np.arange(200, dtype=np.int64), vecs[:200])
    layered = LayeredVectors(base).changed(np.arange(50, 60), np.arange(200, 300), vecs[200:300])  # 10 gone, 100 new
    layered = layered.changed(np.empty(0, np.int64), np.array([7]), vecs[300:])  # 7 replaced
    flat = VectorIndex(16)
    keep = [i for i in range(200) if not 50 <= i < 60 and i != 7]
    flat.upsert(np.array([*keep, 7, *range(200, 300)]), np.concatenate([vecs[keep], vecs[300:], vecs[200:300]]))
    assert len(layered) == len(flat) == 290
    for q in vecs[::17]:
        assert layered.search(q, 10)[1].tolist() == flat.search(q, 10)[1].tolist()
        allowed = np.arange(0, 300, 3)
        assert layered.search(q, 5, allowed)[1].tolist() == flat.search(q, 5, allowed)[1].tolist()
    assert layered.vector(55) is None and np.allclose(layered.vector(7), vecs[300])
    assert sorted(layered.ids().tolist()) == sorted(flat.ids().tolist())


def test_keyword_delta_finds_and_covers_like_a_rebuild() -> None:
    texts = [
        "chatbot for byggesaker",
        "maskinlæring i helse",
        "chatbot svarer innbyggere",
        "oversettelse av dokumenter",
    ]
    full = KeywordIndex([1, 2, 3, 4], texts, ["nb"] * 4)
    grown = KeywordIndex([1, 2], texts[:2], ["nb"] * 2).with_rows([3, 4], texts[2:], ["nb"] * 2)
    for need in ("chatbot byggesak", "dokumenter", "innbyggere chatbot"):
        assert grown.search(need, "nb", 4)[1].tolist() == full.search(need, "nb", 4)[1].tolist(), need
        assert grown.coverage(need, "nb").tolist() == full.coverage(need, "nb").tolist(), need
    empty = KeywordIndex([], [], []).with_rows([9], ["bare en tittel"], ["nb"])
    assert empty.search("tittel", "nb", 3)[1].tolist() == [9]


@pytest.mark.usefixtures("deltas")
def test_cold_start_reads_the_checkpoint_and_catches_up(
    make_index: Make, demo_records: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index().load()
    idx.upsert(demo_records)
    idx.close()
    with monkeypatch.context() as m:
        m.setattr(snapshot, "COMPACT_MIN", 0)
        ProjectIndex(idx.home, encoder=idx.encoder).load().close()  # leaves a checkpoint of everything
    writer = ProjectIndex(idx.home, encoder=idx.encoder)  # another process: writes, never searches
    writer.delete([demo_records[0].id])
    writer.upsert([demo_records[1].model_copy(update={"title": "Chatbot for bygglov i Fjordvik"})])
    assert writer._snap is None, "a small write in a process that does not search builds nothing"

    def no_rebuild(*a: object, **k: object) -> None:
        raise AssertionError("opened by rebuilding, not from the checkpoint")

    with monkeypatch.context() as m:
        m.setattr(snapshot, "build", no_rebuild)
        reopened = ProjectIndex(idx.home, encoder=idx.encoder).load()
    snap = reopened._snapshot()
    assert snap.generation == idx.store.generation() and snap.delta_rows == 1
    assert demo_records[0].id not in snap.ids and snap.records[snap.ids[demo_records[1].id]].title.endswith("Fjordvik")
    assert reopened.check()["unindexed"] == [] and reopened.check()["orphan_vectors"] == []


@pytest.mark.usefixtures("deltas")
def test_deltas_are_folded_into_a_new_checkpoint(
    make_index: Make, demo_records: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "COMPACT_MIN", 3)
    monkeypatch.setattr(snapshot, "COMPACT_SHARE", 0.0)
    idx = make_index().load()
    idx.upsert(demo_records[:10])
    for r in demo_records[10:15]:
        idx.upsert([r])
    idx.close()  # waits for the background compaction
    snap = idx._snapshot()
    assert snap.generation == idx.store.generation() and snap.delta_rows <= 3
    saved = snapshot.load(idx.home, snap.model_id)
    assert saved is not None and saved.generation > 2, "the compaction left a checkpoint past the first build"
    assert ranking_of(idx, NEEDS[0]) == ranking_of(rebuilt(idx, make_index, monkeypatch), NEEDS[0])


def test_damaged_checkpoint_is_rebuilt_from_the_store(make_index: Make, demo_records: list[Record]) -> None:
    idx = make_index()
    idx.upsert(demo_records)
    idx.load()
    (idx.home / "derived.pkl").write_bytes(b"\x80\x05 not a pickle")
    again = make_index(idx.home).load()
    assert again.count() == len(demo_records) and ranking_of(again, NEEDS[0]) == ranking_of(idx, NEEDS[0])


def test_a_store_file_from_before_catch_up_opens(make_index: Make, demo_records: list[Record], tmp_path: Path) -> None:
    """Files written by earlier versions have no per-row generation nor tombstones: opened,
    they gain both, and every row counts as older than any checkpoint."""
    home = tmp_path / "old"
    home.mkdir()
    con = sqlite3.connect(home / "erfa.sqlite")
    con.executescript("""
        CREATE TABLE records (rowid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
                              data TEXT NOT NULL, content_hash TEXT NOT NULL, text_hash TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('generation', '1');
    """)
    r = demo_records[0]
    con.execute(
        "INSERT INTO records (id, source, data, content_hash, text_hash) VALUES (?, ?, ?, ?, '')",
        (r.id, r.source, r.model_dump_json(), r.content_hash()),
    )
    con.commit()
    con.close()
    idx = make_index(home).load()
    assert idx.count() == 1 and idx.search(r.title, limit=1).hits[0].record.id == r.id
    idx.delete([r.id])
    assert idx.count() == 0 and idx.store.changes_since(1)[2] != []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [_truncate, _flip, lambda p: p.write_bytes(b""), lambda p: p.write_bytes(b"PK\x03\x04")],
    ids=["truncated", "one-byte-flipped", "empty", "zip-header-only"],
)
@pytest.mark.parametrize("name", ["space.npz", "derived.pkl", "vectors.faiss", "checkpoint.json"])
def test_any_damaged_checkpoint_file_is_rebuilt_from_the_cache_and_logged(
    make_index: Make, caplog: pytest.LogCaptureFixture, name: str, damage: Callable[[Path], None]
) -> None:
    """Issue 18: a damaged space.npz (BadZipFile, EOFError) kept the server from ever becoming
    ready. Every checkpoint file is checked alike: checksum, rebuild from the cache, log."""
    from tests.factories import CORPUS

    idx = make_index()
    idx.upsert(CORPUS)
    idx.load()
    assert snapshot.load(idx.home, idx.encoder.model_id) is not None
    damage(idx.home / name)
    encoded = idx.encoder.encode_passages
    calls: list[int] = []
    idx.encoder.encode_passages = lambda texts, **kw: calls.append(len(texts)) or encoded(texts, **kw)  # type: ignore[method-assign]
    try:
        again = make_index(idx.home).load()
    finally:
        del idx.encoder.encode_passages
    assert again.count() == len(CORPUS) and ranking_of(again, NEEDS[0]) == ranking_of(idx, NEEDS[0])
    assert not calls, "rebuilt from the store's cached vectors, not re-embedded"
    assert any(
        name in r.getMessage() and "rebuild" in r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    )
    assert snapshot.load(idx.home, idx.encoder.model_id) is not None, "the rebuild saved a sound checkpoint again"


def test_records_share_one_fields_set_and_stay_independent(make_index: Make, demo_records: list[Record]) -> None:
    """`snapshot.lean` gives every record the one shared fields-set (216 of 447 MiB at 100k,
    issue 22): built, advanced and read back from a checkpoint alike; a copy with changes gets
    its own, and what a record says about itself does not change."""
    dumps = {r.id: r.model_dump(exclude_unset=True) for r in demo_records}
    idx = make_index().load()
    idx.upsert(demo_records)
    built = idx._snapshot()
    assert built.delta_rows == 0 and not len(built.vectors.delta)  # a fresh build: what a checkpoint holds
    snapshot.save(built, idx.home)
    again = snapshot.load(idx.home, idx.encoder.model_id)
    assert again is not None and len({id(r.__pydantic_fields_set__) for r in again.records.values()}) == 1
    idx.upsert([demo_records[1].model_copy(update={"title": "Chatbot for bygglov i Fjordvik"})])  # an advance
    snap = idx._snapshot()
    sets = {id(r.__pydantic_fields_set__) for r in snap.records.values()}
    assert len(sets) == 1 and len(snap.records) == len(demo_records)
    changed = snap.records[snap.ids[demo_records[2].id]].model_copy(update={"title": "x"})
    assert changed.__pydantic_fields_set__ is not next(iter(snap.records.values())).__pydantic_fields_set__
    assert snap.records[snap.ids[demo_records[2].id]].title == demo_records[2].title
    for r in snap.records.values():
        if r.id != demo_records[1].id:
            assert r.model_dump(exclude_unset=True) == {**dumps[r.id], **r.model_dump(exclude_unset=True)}
    idx.close()
