"""One bad record must never take search down (issue 18, item 1).

An organisation of nothing but punctuation ("...", "§", "«»") used to raise IndexError
while the snapshot filed it, after the record was committed: every later snapshot
failed, on every replica, until someone deleted the record by hand. These tests hold
the defect fixed (such a name is stored without a body key and reported) and the class
closed: a record the derived structures cannot take in is refused at every door before
anything is committed, and one that is already stored is left out of search and named
instead of failing the start-up or freezing a replica.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erfa.index import ProjectIndex
from erfa.index.backup import BackupError, export, import_file
from erfa.index.bodies import organisations
from erfa.index.search import snapshot
from erfa.index.store.protocol import StoredRecord
from erfa.ingest import Record, RecordError
from tests._ops import TOKEN
from tests.factories import CORPUS, Make, rec

PUNCTUATION_ONLY = ["...", "?", "—", "'", "«»", "(  )", "§", "&", "/"]
POISON = "Giftig organisasjon"  # the name the `poisoned` fixture makes the directory choke on
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make filing one organisation name raise, as "..." did before the fix: the stand-in
    for any future defect in a derived structure, so the safety net is tested on its own."""
    add = organisations.Directory.add

    def failing_add(self: organisations.Directory, name: str, *args: Any, **kwargs: Any) -> str:
        if name == POISON:
            raise IndexError("list index out of range")
        return add(self, name, *args, **kwargs)

    monkeypatch.setattr(organisations.Directory, "add", failing_add)


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    poison(monkeypatch)


def bad_record(sid: str = "bad") -> Record:
    return rec(
        sid,
        "Chatbot for byggesaker i kommunen",
        "Svarer innbyggere om byggesøknader.",
        organisation=POISON,
        country="NO",
    )


# -- the defect ------------------------------------------------------------------------
@pytest.mark.parametrize("name", PUNCTUATION_ONLY)
def test_a_punctuation_only_organisation_is_stored_without_a_body(make_index: Make, name: str) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    summary = idx.upsert(
        [rec("odd", "Chatbot for byggesaker", "Svarer om byggesøknader.", organisation=name, country="NO")]
    )
    assert summary.added == 1 and not summary.refused
    assert "names no body" in summary.notes["test-odd"]
    assert "test-odd" in [h.record.id for h in idx.search("chatbot byggesak", limit=5).hits]
    partners = idx.partners("chatbot byggesak").partners
    assert partners and all(p.organisation != name for p in partners)
    # a restart that builds from the store (no checkpoint) serves it too
    for f in ("vectors.faiss", "space.npz", "derived.pkl"):
        (idx.home / f).unlink(missing_ok=True)
    again = make_index(idx.home)
    assert again.load().count() == 5 and not again.quarantined


def test_a_name_that_gives_no_key_files_no_body() -> None:
    d = organisations.Directory()
    assert d.add("...", "NO", "974760673") == ""
    assert d.add("Askøy kommune", "NO", "974760673") != ""
    assert d.display(d.key("Askøy kommune", "NO"), "NO") == "Askøy kommune"  # "..." never becomes its name
    assert not organisations.names_a_body("«»") and organisations.names_a_body("NAV")


def test_an_organisation_filter_of_punctuation_matches_nothing(make_index: Make) -> None:
    from erfa.index import Filters

    idx = make_index()
    idx.upsert([*CORPUS, rec("odd", "Chatbot", "Svarer.", organisation="...", country="NO")])
    assert idx.search("chatbot", filters=Filters(organisation=["..."])).hits == []


# -- refused at every door, before anything is committed -------------------------------
def test_upsert_refuses_what_the_index_cannot_take_and_writes_the_rest(make_index: Make, poisoned: None) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    generation = idx.generation
    summary = idx.upsert([bad_record(), rec("5", "Talegjenkjenning i møter", organisation="Bergen kommune")])
    assert list(summary.refused) == ["test-bad"] and "IndexError" in summary.refused["test-bad"]
    assert summary.added == 1 and idx.store.get("test-bad") is None
    assert idx.generation == generation + 1
    alone = idx.upsert([bad_record()])
    assert alone.refused and idx.generation == generation + 1  # nothing committed at all


def test_post_projects_answers_422_and_writes_nothing(app_for: Callable[..., TestClient], poisoned: None) -> None:
    client = app_for()
    before = client.get("/readyz").json()["generation"]
    body = [
        {"source": "t", "source_id": "ok", "title": "Talegjenkjenning"},
        {"source": "t", "source_id": "bad", "title": "Chatbot", "organisation": POISON},
    ]
    r = client.post("/projects", json=body, headers=AUTH)
    assert r.status_code == 422, r.text
    assert "IndexError" in json.dumps(r.json()) and "body" in json.dumps(r.json())
    assert client.get("/readyz").json()["generation"] == before
    assert client.get("/projects/t-ok").status_code == 404
    assert client.get("/search", params={"q": "chatbot"}).status_code == 200


def test_post_ingest_rejects_the_row_and_takes_the_rest(
    app_for: Callable[..., TestClient], poisoned: None, tmp_path: Path
) -> None:
    client = app_for()
    rows = [
        {"source": "t", "source_id": "ok", "title": "Talegjenkjenning"},
        {"source": "t", "source_id": "bad", "title": "Chatbot", "organisation": POISON},
    ]
    data = "\n".join(json.dumps(r) for r in rows).encode()
    r = client.post("/ingest", files={"file": ("rows.jsonl", data)}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 1
    assert [x["row"] for x in r.json()["rejected"]] == [2] and "IndexError" in r.json()["rejected"][0]["reason"]


def test_cli_ingest_reports_the_row_and_the_nameless_organisation(
    tmp_path: Path, encoder: object, poisoned: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from erfa.service import cli

    monkeypatch.setattr(cli.common, "index", lambda settings: ProjectIndex(tmp_path / "home", encoder=encoder))  # type: ignore[arg-type]
    path = tmp_path / "rows.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"source": "t", "source_id": "ok", "title": "Talegjenkjenning", "organisation": "..."},
                {"source": "t", "source_id": "bad", "title": "Chatbot", "organisation": POISON},
            ]
        ),
        encoding="utf-8",
    )
    assert cli.main(["--home", str(tmp_path / "home"), "ingest", str(path)]) == 0
    err = capsys.readouterr()
    assert f"{path}:2: rejected: erfa cannot index this record" in err.err
    assert f"{path}:1: warning: organisation '...' names no body" in err.err
    assert "1 added" in err.out and "1 rejected" in err.out


def test_approving_a_record_the_index_cannot_take_fails_and_keeps_the_submission(
    make_index: Make, tmp_path: Path, poisoned: None
) -> None:
    from erfa.index.moderation.sqlite import SqliteSubmissionQueue
    from erfa.index.moderation.submissions import SubmissionError
    from erfa.index.moderation.workflow import Moderation

    idx = make_index()
    idx.upsert(CORPUS)
    store = SqliteSubmissionQueue(tmp_path / "submissions.sqlite")
    sub = store.add(
        {
            "title": "Chatbot for byggesaker",
            "organisation": POISON,
            "country": "NO",
            "description": "Svarer innbyggere om byggesøknader.",
        }
    )
    with pytest.raises(SubmissionError, match="cannot be approved: erfa cannot index"):
        Moderation(store, idx).approve(sub.id)
    assert store.get(sub.id).status == "pending"  # type: ignore[union-attr]
    assert idx.count() == 4 and idx.search("byggesak", limit=3).hits


def test_import_refuses_the_whole_file(make_index: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from erfa.index.moderation.sqlite import SqliteSubmissionQueue

    source = make_index(tmp_path / "source")
    source.upsert([*CORPUS, bad_record()])
    export_path = tmp_path / "export.jsonl"
    with export_path.open("w", encoding="utf-8") as out:
        export(source, None, out)
    poison(monkeypatch)
    target = make_index(tmp_path / "target")
    with pytest.raises(BackupError, match="test-bad"):
        import_file(export_path, target, SqliteSubmissionQueue(tmp_path / "target.sqlite"))
    assert target.count() == 0


# -- already stored: served without, and named -----------------------------------------
def _store_behind_erfas_back(idx: ProjectIndex, record: Record) -> None:
    """What an older erfa, a hand edit or another replica's primary may have left in the store."""
    with idx.store.writing():
        idx.store.upsert([record])


def test_a_start_up_that_finds_a_poisoned_record_serves_without_it_and_names_it(
    make_index: Make, poisoned: None, caplog: pytest.LogCaptureFixture, app_for: Callable[..., TestClient]
) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    home = idx.home
    _store_behind_erfas_back(idx, bad_record())
    idx.close()
    for f in ("vectors.faiss", "space.npz", "derived.pkl"):
        (home / f).unlink(missing_ok=True)
    again = make_index(home)
    again.load()
    assert again.count() == 4 and list(again.quarantined) == ["test-bad"]
    assert any("test-bad" in r.getMessage() and "left out of search" in r.getMessage() for r in caplog.records)
    client = app_for(again)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "test-bad" in ready.json()["quarantined"]
    assert client.get("/search", params={"q": "byggesak"}).status_code == 200
    # the checkpoint remembers it: the next start names it again without rebuilding
    caplog.clear()
    third = make_index(home)
    assert list(third.load().quarantined) == ["test-bad"]
    assert any("test-bad" in r.getMessage() for r in caplog.records)


def test_a_running_index_catches_up_past_a_poisoned_record_and_keeps_taking_writes(
    make_index: Make, poisoned: None
) -> None:
    reader, writer = make_index(), None
    reader.upsert(CORPUS)
    writer = make_index(reader.home)
    _store_behind_erfas_back(writer, bad_record())
    _store_behind_erfas_back(writer, rec("6", "Droner som inspiserer bruer", organisation="Statens vegvesen"))
    reader.refresh(min_interval=0)
    assert reader.generation == reader.store.generation()  # not frozen at the old generation
    assert "test-6" in [h.record.id for h in reader.search("drone bridge inspection", limit=3).hits]
    assert list(reader.quarantined) == ["test-bad"]
    assert reader.upsert([rec("7", "Prognoser for skoleplasser", organisation="Bergen kommune")]).added == 1
    # corrected, it goes in and leaves the quarantine; deleted, it is gone from it too
    _store_behind_erfas_back(writer, bad_record().model_copy(update={"organisation": "Askøy kommune"}))
    reader.refresh(min_interval=0)
    assert not reader.quarantined and reader.get("test-bad") is not None
    assert "test-bad" in [h.record.id for h in reader.search("chatbot byggesøknader", limit=3).hits]


def test_failing_halves_its_way_to_the_bad_records() -> None:
    records = [StoredRecord(i, rec(str(i), f"Prosjekt {i}")) for i in range(1, 65)]
    tries: list[int] = []

    def attempt(part: Any) -> None:
        tries.append(len(part))
        if any(s.rowid in (7, 50) for s in part):
            raise ValueError("bad row")

    assert {r for r in snapshot.failing(records, attempt)} == {7, 50}
    assert len(tries) < 30  # not one try per record


# -- property: arbitrary Unicode in every field, into a real index, on both stores ---------
_ids = itertools.count(1)
_odd = st.sampled_from(
    [
        "...",
        "§",
        "«»",
        "(  )",
        "—",
        "\u200b",
        "\ufeff",
        "\x00",
        "\u0301",
        "🤖",
        "ﷺ",
        "Ⅻ",
        "ǅ",
        "\U000e0001",
        "NaN",
        "null",
        "-",
        "   ",
        "𝕏",
        "İ",
        "ß",
        "ﬃ",
        "a\u0300",
    ]
)
_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(categories=["P", "S", "Z", "M", "C"], exclude_characters="\ud800"), max_size=12),
    _odd,
    st.lists(_odd, max_size=5).map("".join),
)


def _mostly(*valid: str) -> st.SearchStrategy[str]:
    """A field the reader validates: usually a value it takes, so the rest reaches the index."""
    return st.one_of(*[st.sampled_from(valid)] * 4, _text)


_fields = st.fixed_dictionaries(
    {"title": st.one_of(_text, *[_text.map(lambda t: f"Prosjekt {t}")] * 2)},
    optional={
        "description": _text,
        "purpose": _text,
        "organisation": _text,
        "owner_type": _text,
        "partners": st.lists(_text, max_size=3),
        "region": _text,
        "municipality": _text,
        "sector": _text,
        "status": _text,
        "start_year": _text,
        "end_year": _text,
        "tags": st.lists(_text, max_size=3),
        "language": _text,
        "country": _mostly("NO", "SE", "dk", "FI", "GB"),
        "organisation_number": _mostly("974760673", "212000-0142"),
        "website": _mostly("https://www.askoy.kommune.no", "kommune.se"),
        "link": _mostly("https://example.org/p?id=1"),
        "contact": _mostly("digitalisering@fjordvik.kommune.no"),
    },
)


def _push(idx: ProjectIndex, fields: dict[str, Any]) -> None:
    """One record through the door: a reason or a searchable project, never an exception."""
    fields.setdefault("title", "Prosjekt")
    try:
        record = Record.build("fuzz", str(next(_ids)), **fields)
    except RecordError as exc:
        assert str(exc)  # refused with a reason at reading
        return
    summary = idx.upsert([record])
    if summary.refused:
        assert summary.refused[record.id]
        assert idx.store.get(record.id) is None
        return
    assert idx.get(record.id) is not None
    query = " ".join(x for x in (record.title, record.organisation or "") if x)
    idx.search(query, limit=3)
    idx.partners(query, limit=3)
    idx.similar(record.id, limit=3)


@pytest.fixture
def fuzz_index(make_index: Make) -> ProjectIndex:
    idx = make_index()
    idx.upsert(CORPUS)
    return idx


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_fields, min_size=1, max_size=3))
def test_any_unicode_in_any_field_never_takes_sqlite_search_down(
    fuzz_index: ProjectIndex, batch: list[dict[str, Any]]
) -> None:
    for fields in batch:
        _push(fuzz_index, fields)
    assert fuzz_index.search("chatbot", limit=5).hits


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_fields, min_size=15, max_size=15))
def test_after_any_unicode_a_start_from_the_store_alone_serves_every_record(
    make_index: Make, tmp_path: Path, batch: list[dict[str, Any]]
) -> None:
    idx = make_index(tmp_path / f"home-{next(_ids)}")
    idx.upsert(CORPUS)
    for fields in batch:
        _push(idx, fields)
    for f in ("vectors.faiss", "space.npz", "derived.pkl"):
        (idx.home / f).unlink(missing_ok=True)
    again = make_index(idx.home)
    assert again.load().count() == idx.count() and not again.quarantined


@pytest.fixture
def pg_pair(make_pg_index: Callable[..., ProjectIndex], pg_url: str) -> tuple[ProjectIndex, ProjectIndex]:
    """A writer and a replica on one PostgreSQL database."""
    writer = make_pg_index(pg_url, "writer")
    writer.upsert(CORPUS)
    replica = make_pg_index(pg_url, "replica")
    replica.load()
    return writer, replica


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_fields, min_size=1, max_size=3))
def test_any_unicode_in_any_field_never_takes_a_postgres_replica_down(
    pg_pair: tuple[ProjectIndex, ProjectIndex], batch: list[dict[str, Any]]
) -> None:
    writer, replica = pg_pair
    for fields in batch:
        _push(writer, fields)
    replica.refresh(min_interval=0)
    assert replica.generation == replica.store.generation() and not replica.quarantined
    assert replica.count() == writer.count()
    assert replica.search("chatbot", limit=5).hits


@pytest.mark.postgres
def test_a_postgres_replica_leaves_a_poisoned_record_out_and_keeps_following(
    pg_pair: tuple[ProjectIndex, ProjectIndex], poisoned: None
) -> None:
    writer, replica = pg_pair
    assert writer.upsert([bad_record()]).refused  # the door holds on PostgreSQL too
    _store_behind_erfas_back(writer, bad_record())
    writer.upsert([rec("6", "Droner som inspiserer bruer", organisation="Statens vegvesen")])
    replica.refresh(min_interval=0)
    assert replica.generation == replica.store.generation() and list(replica.quarantined) == ["test-bad"]
    assert "test-6" in [h.record.id for h in replica.search("drone bridge inspection", limit=3).hits]


def test_sync_counts_a_row_the_index_refuses_as_rejected_and_removes_nothing(
    tmp_path: Path, make_index: Make, poisoned: None
) -> None:
    from erfa.service.sync import Source, sync
    from tests._http import serving
    from tests.factories import SYNC_PROJECTS as PROJECTS
    from tests.factories import erfa_jsonl

    idx = make_index()
    with serving() as served:
        src = Source("vestland", served.base + "/vestland.jsonl", "erfa-jsonl", "vestland")
        served.files["/vestland.jsonl"] = erfa_jsonl(PROJECTS)
        (first,) = sync([src], idx.home, lambda: idx)
        assert (first.outcome, first.added) == ("changed", 4)
        # project 4 gone from the file, project 2 now names the organisation the index cannot take
        served.files["/vestland.jsonl"] = erfa_jsonl(
            {**{k: PROJECTS[k] for k in "13"}, "2": (POISON, *PROJECTS["2"][1:])}
        )
        (second,) = sync([src], idx.home, lambda: idx)
    assert second.outcome == "failed" and second.rejected == 1
    assert any("rejected: erfa cannot index this record" in p for p in second.problems)
    assert idx.count() == 4  # nothing removed on a file with a rejected row
