"""ProjectIndex: idempotent upserts, updates and deletes visible in search, and recovery
from a crash between the store write and the index write without re-embedding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from erfa.index import ProjectIndex
from erfa.index.search import snapshot
from erfa.index.search.vectors import VectorIndex
from tests.factories import CORPUS, CountingEncoder, Make, ids, rec


def test_upsert_is_idempotent_and_reports_changes(make_index: Make) -> None:
    idx = make_index()
    first = idx.upsert(CORPUS)
    assert (first.added, first.updated, first.unchanged) == (4, 0, 0)
    again = idx.upsert(CORPUS)
    assert (again.added, again.updated, again.unchanged, again.embedded) == (0, 0, 4, 0)
    assert idx.count() == 4


def test_cross_language_search_finds_the_matching_project(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    assert ids(idx, "chattbot som svarar på frågor om bygglov")[0] == "test-1"
    assert ids(idx, "speech recognition for doctors' notes")[0] == "test-2"
    assert ids(idx, "skogsskador från satellit")[0] == "test-4"


def test_update_changes_what_search_finds(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    changed = rec(
        "3",
        "Skogbrannvarsling",
        "Vi varsler fare for skogbrann ut fra tørke, vind og lynnedslag.",
        organisation="Tromsø kommune",
        country="NO",
    )
    summary = idx.upsert([changed])
    assert (summary.added, summary.updated) == (0, 1)
    assert idx.get("test-3").title == "Skogbrannvarsling"  # type: ignore[union-attr]
    assert ids(idx, "forest fire risk warning")[0] == "test-3"
    assert "test-3" not in ids(idx, "snow clearing forecast", limit=1)
    assert idx.count() == 4


def test_delete_removes_from_search_and_similar(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    assert idx.delete(["test-1", "test-missing"]) == 1
    assert idx.get("test-1") is None
    assert "test-1" not in ids(idx, "chatbot byggesøknad")
    assert all(h.record.id != "test-1" for h in idx.similar("test-2"))
    with pytest.raises(KeyError):
        idx.similar("test-1")
    # and it stays deleted for the next process
    assert "test-1" not in ids(ProjectIndex(idx.home, encoder=idx.encoder), "chatbot byggesøknad")


def test_similar_uses_stored_vector_and_never_returns_itself(make_index: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    monkeypatch.setattr(idx.encoder, "encode_queries", lambda *_: pytest.fail("similar must not re-encode"))
    got = [h.record.id for h in idx.similar("test-1", limit=10)]
    assert got and "test-1" not in got and len(got) == 3


def test_paging_with_offset(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    full = ids(idx, "kunstig intelligens", limit=4)
    page2 = [h.record.id for h in idx.search("kunstig intelligens", limit=2, offset=2).hits]
    assert page2 == full[2:4]
    assert idx.search("kunstig intelligens", limit=2).total == 4


def test_record_without_description_is_found_by_title_and_organisation(make_index: Make) -> None:
    idx = make_index()
    idx.upsert([*CORPUS, rec("5", "Robotisert fakturabehandling", organisation="Lånekassen", country="NO")])
    assert ids(idx, "automatisk behandling av fakturaer", limit=1) == ["test-5"]


def test_reopen_uses_embedding_cache(make_index: Make, tmp_path: Path) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    counting = CountingEncoder(idx.encoder)
    reopened = ProjectIndex(idx.home, encoder=counting)  # type: ignore[arg-type]
    (idx.home / "vectors.faiss").unlink(missing_ok=True)  # no checkpoint: the reopened index builds from the store
    assert ids(reopened, "chatbot byggesøknad", limit=1) == ["test-1"]
    assert counting.passages == 0, "rebuilding the index must reuse cached vectors"


def test_crash_between_store_and_index_write_is_repaired(make_index: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = make_index()
    idx.upsert(CORPUS[:2])

    def crash(self: VectorIndex, path: Path, meta: object) -> None:
        raise KeyboardInterrupt("simulated kill while writing the index")

    monkeypatch.setattr(VectorIndex, "save", crash)
    monkeypatch.setattr(snapshot, "COMPACT_MIN", 0)  # this write is large enough to leave a checkpoint
    with pytest.raises(KeyboardInterrupt):
        idx.upsert(CORPUS[2:])
    monkeypatch.undo()

    counting = CountingEncoder(idx.encoder)
    after = ProjectIndex(idx.home, encoder=counting)  # type: ignore[arg-type]
    assert after.count() == 4
    assert ids(after, "skogsskador från satellit", limit=1) == ["test-4"]
    assert counting.passages == 0
    # store and index agree: one vector per record
    assert len(after._snapshot().vectors) == after.count()


def test_corrupt_index_file_is_rebuilt(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    (idx.home / "vectors.faiss").write_bytes(b"not a faiss index")
    after = ProjectIndex(idx.home, encoder=idx.encoder)
    assert ids(after, "chatbot byggesøknad", limit=1) == ["test-1"]


def test_writes_from_another_process_are_picked_up_by_refresh(make_index: Make) -> None:
    """A reader serves its snapshot until refresh(), which picks up another process's writes
    (throttled by min_interval): fails if refresh() were a no-op or searches reloaded by themselves."""
    reader = make_index()
    reader.upsert(CORPUS[:3])
    reader.refresh(min_interval=0)
    writer = make_index(reader.home)  # a second ProjectIndex on the same data: another process's view
    writer.upsert(CORPUS[3:])
    query = "skogsskador från satellit"
    assert "test-4" not in ids(reader, query), "the reader reloaded without refresh()"
    reader.refresh(min_interval=0)
    assert ids(reader, query, limit=1) == ["test-4"]
    writer.delete(["test-4"])
    reader.refresh(min_interval=3600)  # within the throttle: keeps the snapshot it has
    assert ids(reader, query, limit=1) == ["test-4"]
    reader.refresh(min_interval=0)
    assert "test-4" not in ids(reader, query)


def test_vectors_are_normalised(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    vecs = idx._snapshot().vectors
    for rowid in vecs.ids():
        assert np.linalg.norm(vecs.vector(int(rowid))) == pytest.approx(1.0, abs=1e-4)


def test_load_warms_what_the_first_need_would_wait_for(make_index: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """`load` reads langdetect's profiles and starts Apertium's pipelines in a thread: on first use
    they made the first need after a restart ~150 ms slower over HTTP (issue 22)."""
    from erfa.ingest import language

    monkeypatch.setattr(language, "_DETECTOR", language._Detector())  # as in a fresh process
    idx = make_index()
    assert idx.warming is None
    idx.load()
    assert idx.warming is not None
    idx.warming.join(timeout=120)
    assert not idx.warming.is_alive() and language._DETECTOR._factory is not None
    translator = idx.searcher.translator
    if translator is not None and translator.available("sv"):
        assert translator._pipes.get("swe-nob") is not None
