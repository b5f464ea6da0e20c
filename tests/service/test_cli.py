"""`erfa` commands: ingest summaries, idempotent re-ingest, clear errors that lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from erfa.service import cli
from tests.factories import Make

ROWS = [
    {
        "source": "vestland",
        "source_id": "p1",
        "title": "Chatbot for byggjesaker",
        "description": "Innbyggjarane får svar på spørsmål om byggjesøknader frå ein chatbot.",
        "organisation": "Aurland kommune",
        "country": "NO",
    },
    {
        "source": "vestland",
        "source_id": "p2",
        "title": "Taleattkjenning i heimetenesta",
        "description": "Tilsette i heimetenesta dikterer rapportar som blir gjort om til tekst.",
        "organisation": "Voss herad",
        "country": "NO",
    },
]


@pytest.fixture
def run(make_index: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process against one shared model (reloading it per command costs seconds)."""
    idx = make_index(tmp_path / "home")
    monkeypatch.setattr(cli.common, "index", lambda settings: idx)

    def _run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--home", str(tmp_path / "home"), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    _run.index = idx  # type: ignore[attr-defined]
    return _run


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_ingest_twice_reports_nothing_new(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = write_jsonl(tmp_path / "p.jsonl", ROWS)
    code, out, _ = run("ingest", str(f))
    assert code == 0 and "2 records: 2 added, 0 updated, 0 unchanged" in out and "0 rejected" in out
    code, out, _ = run("ingest", str(f))
    assert code == 0 and "0 added, 0 updated, 2 unchanged" in out


def test_changed_row_updates_and_prune_deletes(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(write_jsonl(tmp_path / "p.jsonl", ROWS)))
    changed = [dict(ROWS[0], title="Chatbot for plan- og byggjesaker")]
    code, out, _ = run("ingest", "--prune", str(write_jsonl(tmp_path / "p2.jsonl", changed)))
    assert code == 0 and "0 added, 1 updated, 0 unchanged, 1 deleted" in out
    assert run.index.get("vestland-p2") is None
    assert run.index.get("vestland-p1").title == "Chatbot for plan- og byggjesaker"


def test_bad_rows_are_reported_and_good_rows_still_go_in(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "mixed.jsonl"
    f.write_text(
        json.dumps(ROWS[0], ensure_ascii=False) + "\n" + json.dumps(dict(ROWS[1], title="")) + "\n" + "{not json\n",
        encoding="utf-8",
    )
    code, out, err = run("ingest", str(f))
    assert code == 0
    assert f"{f}:2: rejected:" in err and "title" in err
    assert f"{f}:3: rejected:" in err
    assert "1 added" in out and "2 rejected" in out
    code, _, _ = run("ingest", "--strict", str(f))
    assert code == 1


def test_unreadable_file_fails_clearly_and_loses_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(write_jsonl(tmp_path / "p.jsonl", ROWS)))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 20)
    code, _, err = run("ingest", str(garbage))
    assert code == 1 and str(garbage) in err
    code, _, err = run("ingest", str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv" in err
    assert run.index.count() == 2


def test_search_show_similar_delete(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("ingest", str(write_jsonl(tmp_path / "p.jsonl", ROWS)))
    code, out, _ = run("search", "chattbot för bygglov", "--json", "--limit", "1")
    assert code == 0 and json.loads(out)["results"][0]["id"] == "vestland-p1"
    code, out, _ = run("show", "vestland-p2")
    assert code == 0 and json.loads(out)["organisation"] == "Voss herad"
    code, out, _ = run("similar", "vestland-p1", "--json")
    assert [r["id"] for r in json.loads(out)["results"]] == ["vestland-p2"]
    code, out, _ = run("delete", "vestland-p2", "nope")
    assert code == 1 and "1 deleted" in out and "nope" in out
    assert run("show", "vestland-p2")[0] == 1


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("ERFA_PORT", "eighty", "must be a whole number from 1 to 65535"),
        ("ERFA_PORT", "70000", "must be a whole number from 1 to 65535"),
        ("ERFA_RATE_LIMIT", "lots", "must be a whole number"),
    ],
)
def test_a_bad_number_in_the_environment_is_a_message_not_a_traceback(
    tmp_path: Path, env: str, value: str, expected: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "erfa.service.cli", "--home", str(tmp_path), "serve"],
        env={**os.environ, env: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert f"erfa: {env}='{value}' {expected}" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_prune_deletes_per_source_only_what_the_file_no_longer_holds(make_index: Make) -> None:
    """The one upsert-then-prune path of `erfa ingest` and POST /ingest: a source missing
    from the file is left alone; a source in it loses the records the file dropped."""
    from erfa.ingest import Record
    from erfa.service.writes import upsert_and_prune

    def r(source: str, sid: str) -> Record:
        return Record.build(
            source, sid, title=f"Prosjekt {source} {sid}", description="Saksbehandling med maskinlæring."
        )

    idx = make_index()
    first = upsert_and_prune(idx, [r("a", "1"), r("a", "2"), r("b", "1"), r("c", "1")], prune=True)
    assert (first.added, first.deleted) == (4, 0)
    kept = upsert_and_prune(idx, [r("a", "1"), r("b", "2")], prune=False)
    assert (kept.added, kept.unchanged, kept.deleted) == (1, 1, 0) and idx.count() == 5
    pruned = upsert_and_prune(idx, [r("a", "1"), r("b", "2")], prune=True)
    assert (pruned.unchanged, pruned.deleted) == (2, 2)
    assert sorted(x.id for x in idx.records()) == ["a-1", "b-2", "c-1"]
