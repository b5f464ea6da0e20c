"""PostgreSQL + pgvector as the store (issue 11), in one process: schema, semantics, ranking,
racing writers, replicas catching up, staleness, read-your-writes, migration both ways.

Every test runs against a real PostgreSQL 18 with pgvector started on 127.0.0.1 by the
fixtures in tests/postgres/conftest.py, and is skipped with the reason where it cannot start.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from erfa.index import ProjectIndex
from erfa.index.backup import export, import_file
from erfa.index.moderation.postgres import PgSubmissionQueue
from erfa.index.moderation.sqlite import SqliteSubmissionQueue
from erfa.index.moderation.workflow import Moderation
from erfa.index.store import schema as pgschema
from erfa.index.store.postgres import PgStore
from erfa.ingest import Record
from erfa.service.pgtesting import Cluster
from tests._ops import AUTH, check_consistent
from tests.factories import CORPUS, Make, ids, rec

pytestmark = pytest.mark.postgres
MakePg = Callable[..., ProjectIndex]
QUERIES = ["chattbot som svarar på frågor om bygglov", "speech recognition for doctors", "satellitt skog", "snow"]


def _page(idx: ProjectIndex, q: str) -> list[tuple[str, float]]:
    return [(h.record.id, round(h.score, 6)) for h in idx.search(q, limit=4).hits]


def test_schema_is_versioned_and_checked(pg_cluster: Cluster, pg_url: str) -> None:
    store = PgStore(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        assert pgschema.version(con) == pgschema.LATEST
        assert pgschema.upgrade(con) == []  # applied once, never twice
        con.execute("INSERT INTO schema_migrations (version, description) VALUES (999, 'from the future')")
    with pytest.raises(pgschema.SchemaError, match="newer than this erfa"):
        PgStore(pg_url)
    store.close()
    # A database where erfa's user may not enable pgvector: one clear sentence saying who must.
    admin = pg_cluster.url()
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute("CREATE ROLE erfa_app LOGIN")
        con.execute("CREATE DATABASE erfa_no_vector OWNER erfa_app")
    with pytest.raises(pgschema.SchemaError, match="CREATE EXTENSION vector"):
        PgStore(f"postgresql://erfa_app@127.0.0.1:{pg_cluster.port}/erfa_no_vector")


def test_store_keeps_sqlite_semantics(pg_url: str) -> None:
    """Rowids stay across updates and are never reused; deletions leave tombstones; the
    generation moves once per write; a catch-up sees exactly what changed after it."""
    store = PgStore(pg_url)
    a, b = rec("a", "Chatbot").id, rec("b", "Skog").id
    with store.writing():
        gen1, rows = store.upsert([rec("a", "Chatbot"), rec("b", "Skog"), rec("a", "Chatbot 2")])
    assert gen1 == 1 and rows[a] == 1 and store.get(a).record.title == "Chatbot 2"  # type: ignore[union-attr]
    plan = store.plan([rec("a", "Chatbot 2"), rec("b", "Skog!"), rec("c", "Ny")])
    assert [len(plan.unchanged), len(plan.updated), len(plan.added)] == [1, 1, 1]
    gen2, rows2 = store.upsert([rec("b", "Skog!")])
    assert rows2[b] == rows[b]
    gen3, removed = store.delete([a, "missing"])
    assert removed == {a: rows[a]} and gen3 == gen2 + 1 == 3
    assert store.delete(["missing"]) == (3, {})  # nothing deleted: no new generation
    gen4, rows4 = store.upsert([rec("a", "Chatbot")])
    assert rows4[a] > rows[b]  # a new row, never the deleted one's rowid
    now, changed, gone = store.changes_since(gen2)
    assert now == gen4 and [s.record.id for s in changed] == [a] and gone == [rows[a]]
    assert store.count_changes_since(0) == 3 and store.count() == 2 and store.ids_of_source("test") == {a, b}


def test_ranking_is_identical_to_the_embedded_default(make_index: Make, make_pg_index: MakePg, pg_url: str) -> None:
    sqlite_idx, pg_idx = make_index(), make_pg_index(pg_url)
    sqlite_idx.upsert(CORPUS)
    pg_idx.upsert(CORPUS)
    for q in QUERIES:
        assert _page(pg_idx, q) == _page(sqlite_idx, q)
    assert [h.record.id for h in pg_idx.similar(CORPUS[0].id)] == [
        h.record.id for h in sqlite_idx.similar(CORPUS[0].id)
    ]


def test_two_writers_racing_on_the_same_ids_lose_nothing(make_pg_index: MakePg, pg_url: str) -> None:
    """Two writers (each its own store and connections, as two processes have) upsert
    overlapping ids at once, again and again: every id once, its last text, consistent."""
    one, two = make_pg_index(pg_url, "w1"), make_pg_index(pg_url, "w2")
    errors: list[BaseException] = []

    def write(idx: ProjectIndex, tag: str) -> None:
        try:
            for round_ in range(4):
                idx.upsert(
                    [rec(f"r{i}", f"Chatbot {i} {tag} {round_}", "Svar på spørsmål om byggesaker.") for i in range(12)]
                )
                idx.upsert([rec(f"{tag}{i}", f"Skog {i} {tag}") for i in range(round_ * 2, round_ * 2 + 2)])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(idx, tag)) for idx, tag in ((one, "x"), (two, "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    reader = make_pg_index(pg_url, "reader")
    stats = check_consistent(reader)
    assert stats["records"] == 12 + 8 + 8
    for idx in (one, two):
        idx.refresh(min_interval=0)
        assert check_consistent(idx) == stats
        assert idx.generation == reader.generation
    titles = {reader.get(rec(f"r{i}", "x").id).title for i in range(12)}  # type: ignore[union-attr]
    assert all(t.endswith(" 3") for t in titles)  # every id holds a last-round text


def test_a_replica_catches_up_with_writes_and_deletes(make_pg_index: MakePg, pg_url: str) -> None:
    writer, replica = make_pg_index(pg_url, "writer"), make_pg_index(pg_url, "replica")
    writer.upsert(CORPUS[:2])
    replica.load()
    writer.upsert(CORPUS[2:])
    writer.delete([CORPUS[0].id])
    replica.refresh(min_interval=0)
    assert replica.generation == writer.generation
    fresh = make_pg_index(pg_url, "fresh")  # built whole from the database
    for q in QUERIES:
        assert _page(replica, q) == _page(fresh, q)
    assert CORPUS[0].id not in ids(replica, "chattbot bygglov")


def test_the_embedding_cache_is_shared(make_pg_index: MakePg, pg_url: str) -> None:
    first = make_pg_index(pg_url, "first")
    assert first.upsert(CORPUS).embedded > 0
    second = make_pg_index(pg_url, "second")
    second.delete([r.id for r in CORPUS])
    assert second.upsert(CORPUS).embedded == 0  # every text was embedded once, by the first writer


def test_a_replica_serves_its_snapshot_while_the_database_is_down(
    own_cluster: Cluster, make_pg_index: MakePg, app_for: Callable[..., object]
) -> None:
    """Stopped database: /search answers from the snapshot, /readyz says stale (200); back up:
    ready again, and a write made meanwhile elsewhere is picked up."""
    url = own_cluster.create_database("erfa")
    idx = make_pg_index(url)
    idx.upsert(CORPUS)
    client = app_for(index=idx)
    assert client.get("/readyz").json()["status"] == "ready"  # type: ignore[attr-defined]
    own_cluster.stop("fast")
    idx._last_refresh = 0.0  # no waiting for the one-second poll
    r = client.get("/readyz")  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.json()["status"] == "stale" and "unreachable" in r.json()["detail"]
    found = client.get("/search", params={"q": "chattbot bygglov"})  # type: ignore[attr-defined]
    assert found.status_code == 200 and found.json()["results"][0]["id"] == CORPUS[0].id
    own_cluster.start()
    other = make_pg_index(url, "other")
    other.upsert([rec("9", "Maskinoversettelse av vedtak", "Vedtaksbrev oversettes automatisk til klarspråk.")])
    idx._last_refresh = 0.0
    r = client.get("/readyz")  # type: ignore[attr-defined]
    assert r.json()["status"] == "ready" and r.json()["generation"] == other.generation
    assert rec("9", "x").id in ids(idx, "oversettelse av vedtaksbrev")


def test_a_write_returns_its_generation_for_read_your_writes(
    make_pg_index: MakePg, pg_url: str, app_for: Callable[..., object]
) -> None:
    writer = app_for(index=make_pg_index(pg_url, "a"))
    reader_idx = make_pg_index(pg_url, "b")
    reader_idx.upsert(CORPUS)
    reader = app_for(index=reader_idx)
    reader.get("/search", params={"q": "skog"})  # type: ignore[attr-defined]  # poll now; the next one is a second away
    body = {
        "source": "test",
        "source_id": "rw",
        "title": "Klarspråk i vedtaksbrev",
        "description": "Brev oversettes til klarspråk.",
    }
    gen = writer.post("/projects", json=body, headers=AUTH).json()["generation"]  # type: ignore[attr-defined]
    assert gen == reader_idx.store.generation()
    page = reader.get("/search", params={"q": "klarspråk vedtaksbrev", "min_generation": gen}).json()  # type: ignore[attr-defined]
    assert page["results"][0]["id"] == rec("rw", "x").id
    late = reader.get("/search", params={"q": "skog", "min_generation": gen + 100})  # type: ignore[attr-defined]
    assert late.status_code == 409 and late.headers["retry-after"] == "1"


def test_submissions_live_in_the_database(pg_url: str, make_pg_index: MakePg) -> None:
    """The moderation rules are every queue's, seen from any replica."""
    idx = make_pg_index(pg_url)
    one, two = PgSubmissionQueue(pg_url), PgSubmissionQueue(pg_url)
    sub = one.add({"title": "Chatbot for bygglov", "description": "Svar om byggesøknader.", "country": "Norge"})
    assert two.get(sub.id).status == "pending" and two.count() == 1  # type: ignore[union-attr]
    _, record = Moderation(two, idx).approve(sub.id)
    assert one.get(sub.id).status == "approved" and idx.get(record.id) is not None  # type: ignore[union-attr]
    other = one.add({"title": "Skogsovervåking", "description": "Satellittbilder av skog."})
    assert Moderation(two, idx).reject(other.id, "duplicate").status == "rejected"
    assert one.count("pending") == 0 and one.count(None) == 2
    one.close()
    two.close()


def test_export_and_import_both_ways_lose_nothing(
    tmp_path: Path, make_index: Make, make_pg_index: MakePg, pg_url: str
) -> None:
    """SQLite -> `erfa export` -> `erfa import` into PostgreSQL -> export -> a fresh SQLite:
    the same records, byte for byte, and the same submissions."""
    source = make_index(tmp_path / "sqlite")
    source.upsert([*CORPUS, Record.build("test", "nul", title="Null \u0000 byte", description="kontroll\u0001tegn")])
    subs = SqliteSubmissionQueue.in_home(tmp_path / "sqlite")
    pending = subs.add({"title": "Chatbot for bygglov", "description": "Svar om byggesøknader."})
    Moderation(subs, source).reject(subs.add({"title": "Skog", "description": "Satellitt."}).id, "duplicate")
    first = tmp_path / "from-sqlite.jsonl"
    with first.open("w") as out:
        export(source, subs, out)
    pg_idx, pg_subs = make_pg_index(pg_url), PgSubmissionQueue(pg_url)
    summary = import_file(first, pg_idx, pg_subs)
    assert summary.added == len(CORPUS) + 1 and summary.submissions_added == 2
    back = io.StringIO()
    export(pg_idx, pg_subs, back)
    second = tmp_path / "from-postgres.jsonl"
    second.write_text(back.getvalue())
    again = make_index(tmp_path / "sqlite-again")
    import_file(second, again, SqliteSubmissionQueue.in_home(tmp_path / "sqlite-again"))

    def content(path: Path) -> list[str]:
        return sorted(line for line in path.read_text().splitlines() if '"_about"' not in line)

    assert content(first) == content(second)
    assert sorted(r.model_dump_json() for r in again.records()) == sorted(r.model_dump_json() for r in source.records())
    assert json.loads(next(ln for ln in content(second) if pending.id in ln))["_submission"]["status"] == "pending"
    pg_subs.close()
