"""`erfa export` / `erfa import`: a round trip loses nothing, a damaged file writes nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from erfa.index import ProjectIndex
from erfa.index.backup import BackupError, export, import_file
from erfa.index.moderation.sqlite import SqliteSubmissionQueue
from erfa.index.moderation.workflow import Moderation
from erfa.service.cli import main
from tests._ops import check_consistent, prepare_home
from tests.factories import CORPUS, Make, bulk_records


def _populate(idx: ProjectIndex) -> SqliteSubmissionQueue:
    from erfa.ingest.formats.erfa import erfa_jsonl

    idx.upsert(CORPUS)
    idx.upsert([r for _, r in erfa_jsonl(list(enumerate(bulk_records(12, source="vest"), 1)))])  # type: ignore[misc]
    subs = SqliteSubmissionQueue.in_home(idx.home)
    keep = subs.add({"title": "Ventende forslag", "organisation": "Fjordby kommune", "country": "NO"})
    gone = subs.add({"title": "Avvist forslag", "organisation": "Ingen"})
    listed = subs.add({"title": "Godkjent forslag om tolking", "organisation": "Tolketjenesten", "status": "pilot"})
    Moderation(subs, idx).reject(gone.id, "not public sector")
    Moderation(subs, idx).approve(listed.id)
    assert keep.status == "pending"
    return subs


def _dump(idx: ProjectIndex, subs: SqliteSubmissionQueue) -> list[str]:
    buf = io.StringIO()
    export(idx, subs, buf)
    lines = buf.getvalue().splitlines()
    header = json.loads(lines[0])
    assert header["erfa_export"] == 1
    return lines[1:]  # the header holds the export time


def test_round_trip_loses_nothing(make_index: Make, tmp_path: Path) -> None:
    a = make_index(tmp_path / "a")
    subs_a = _populate(a)
    lines = _dump(a, subs_a)
    assert len(lines) == 4 + 12 + 1 + 3
    path = tmp_path / "backup.jsonl"
    with path.open("w", encoding="utf-8") as f:
        export(a, subs_a, f)

    b = make_index(tmp_path / "b")
    subs_b = SqliteSubmissionQueue.in_home(b.home)
    summary = import_file(path, b, subs_b)
    assert (summary.records, summary.added, summary.submissions) == (17, 17, 3)
    assert _dump(b, subs_b) == lines  # byte for byte: ids, languages, timestamps, moderation state
    assert [s.id for s in subs_b.list("pending")] == [s.id for s in subs_a.list("pending")]
    assert subs_b.list("rejected")[0].reason == "not public sector"
    assert check_consistent(b)["records"] == 17
    need = "chattbot som svarar på frågor om bygglov"
    assert [h.record.id for h in b.search(need, limit=5).hits] == [h.record.id for h in a.search(need, limit=5).hits]

    again = import_file(path, b, subs_b)  # importing twice changes nothing
    assert (again.added, again.updated, again.unchanged, again.submissions_added) == (0, 0, 17, 0)


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda ls: ls[1:], "no erfa export header"),
        (lambda ls: ls[:-2], "truncated"),
        (lambda ls: [*ls[:3], "{not json", *ls[3:]], "not JSON"),
        (lambda ls: [*ls[:3], json.dumps({"id": "x", "source": "x"}), *ls[3:]], "title"),
        (lambda ls: [*ls, ls[2]], "appears twice"),
        (lambda ls: [*ls, json.dumps({"_submission": {"id": "s1", "status": "lost"}})], "status"),
    ],
)
def test_a_damaged_backup_is_refused_whole(
    make_index: Make, tmp_path: Path, damage: Callable[[list[str]], list[str]], words: str
) -> None:
    a = make_index(tmp_path / "a")
    a.upsert(CORPUS)
    buf = io.StringIO()
    export(a, SqliteSubmissionQueue.in_home(a.home), buf)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(damage(buf.getvalue().splitlines())) + "\n", encoding="utf-8")
    b = make_index(tmp_path / "b")
    with pytest.raises(BackupError, match=words):
        import_file(path, b, SqliteSubmissionQueue.in_home(b.home))
    assert b.count() == 0


def test_cli_export_and_import(
    make_index: Make, tmp_path: Path, model_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = make_index(prepare_home(tmp_path / "a", model_home))
    _populate(a)
    out = tmp_path / "backup.jsonl"
    assert main(["--home", str(a.home), "export", str(out)]) == 0
    assert "exported 17 records and 3 submissions" in capsys.readouterr().err
    b_home = prepare_home(tmp_path / "b", model_home)
    assert main(["--home", str(b_home), "import", str(out)]) == 0
    assert "17 records: 17 added" in capsys.readouterr().out
    assert main(["--home", str(b_home), "import", str(tmp_path / "missing.jsonl")]) == 1
    (tmp_path / "x.jsonl").write_text('{"source": "x", "source_id": "1", "title": "t"}\n', encoding="utf-8")
    assert main(["--home", str(b_home), "import", str(tmp_path / "x.jsonl")]) == 1
    assert "erfa ingest" in capsys.readouterr().err
