"""`erfa sync` against a real HTTP server on 127.0.0.1: what a scheduled run must and must not change.

The server is http.server in a thread, serving files the tests write (a small overview in
Digdir's CSV format, with our own invented projects) and, for the `shared` test, the real
files from ../shared/data. It records the request headers, so a test can prove that the
conditional request was made, and it can answer 500, cut a body short, drip bytes or
redirect on demand. A second server (`elsewhere`) stands for another port of the same host.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import hashlib
import io
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index.engine import passages_of
from erfa.ingest import make_id
from erfa.service.settings import Settings
from erfa.service.sync import (
    DEFAULT_SOURCES,
    HISTORY_LEN,
    STATE_FILE,
    Report,
    Source,
    SourcesError,
    fetch,
    load_sources,
    redirect_problem,
    register,
    remembered,
    run,
    sync,
)
from tests._http import Served, serving
from tests._shared import shared_data_dir
from tests.factories import SYNC_PROJECTS as PROJECTS
from tests.factories import CountingEncoder, erfa_jsonl

DIGDIR_HEADER = [
    "",
    "Prosjekteier",
    "Prosjekttittel",
    "Departement",
    "Eiertype",
    "Sektor (intern | ikke publisering)",
    "Beskrivelse av prosjekt",
    "Formål med prosjekt",
    "Prosjektstart",
    "Prosjektslutt",
    "Tilknyttede organisasjoner",
    "Bruk av innleide konsulenter",
    "Lenke til prosjekt",
    "Status",
    "Type data",
    "Datakilde",
    "Modellutvikling",
    "Klassifisering",
]


def digdir_csv(projects: dict[str, tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DIGDIR_HEADER)
    for pid, (org, title, description) in projects.items():
        writer.writerow(
            [
                pid,
                org,
                title,
                "Kommunal- og distriktsdepartementet",
                "Kommunal virksomhet",
                "",
                description,
                "",
                "2022",
                "",
                "",
                "Nei",
                "",
                "Pilot",
                "",
                "",
                "Nei",
                "",
            ]
        )
    return out.getvalue().encode("utf-8")


def many_projects(n: int) -> dict[str, tuple[str, str, str]]:
    """``n`` small invented projects; the comma makes the CSV writer quote each description."""
    return {
        str(i): (f"Etat {i}", f"Prosjekt nummer {i}", f"Et lite prosjekt om tema {i}, med egne data.")
        for i in range(1, n + 1)
    }


@pytest.fixture
def served() -> Iterator[Served]:
    with serving() as state:
        yield state


@pytest.fixture
def elsewhere() -> Iterator[Served]:
    """Another server on the same host: another port is another host as far as redirects go."""
    with serving() as state:
        yield state


@pytest.fixture
def counting(encoder: Encoder) -> CountingEncoder:
    return CountingEncoder(encoder)


@pytest.fixture
def index(tmp_path: Path, counting: CountingEncoder) -> Iterator[ProjectIndex]:
    idx = ProjectIndex(tmp_path / "home", encoder=counting)  # type: ignore[arg-type]
    yield idx
    idx.close()


def digdir_source(served: Served, path: str = "/oversikt.csv") -> Source:
    return Source("digdir", served.base + path, "digdir-csv", "digdir", "daily")


def run_sync(idx: ProjectIndex, *sources: Source, **kw: object) -> list[Report]:
    return sync(sources, idx.home, lambda: idx, **kw)  # type: ignore[arg-type]


def snapshot(idx: ProjectIndex, source: str | None = None) -> dict[str, str]:
    return {r.id: r.model_dump_json() for r in idx.records() if source in (None, r.source)}


def state_of(idx: ProjectIndex) -> dict[str, dict[str, object]]:
    return json.loads((idx.home / STATE_FILE).read_text(encoding="utf-8"))


def no_partial_downloads(idx: ProjectIndex) -> bool:
    return not list(idx.home.glob(".sync-*"))


def no_index() -> ProjectIndex:
    raise AssertionError("a download that failed must not open the index")


def lock_is_free(home: Path) -> bool:
    with open(home / "sync.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def sources_file(tmp_path: Path, *sources: Source) -> Path:
    """A sources file for `run`, so a test sees the exit status and the lines an operator sees."""
    path = tmp_path / "sources.toml"
    path.write_text(
        "".join(
            f'[[source]]\nname = "{s.name}"\nurl = "{s.url}"\nformat = "{s.format}"\nsource = "{s.source}"\n\n'
            for s in sources
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.model
def test_first_sync_ingests_and_the_next_gets_a_304_that_changes_nothing(
    served: Served, index: ProjectIndex, counting: CountingEncoder
) -> None:
    served.files["/oversikt.csv"] = body = digdir_csv(PROJECTS)
    (first,) = run_sync(index, digdir_source(served))
    assert (first.outcome, first.http, first.added, first.updated, first.unchanged, first.removed) == (
        "changed",
        200,
        4,
        0,
        0,
        0,
    )
    assert "If-None-Match" not in served.seen[-1] and "if-none-match" not in served.seen[-1]
    stored = state_of(index)["digdir"]
    assert stored["etag"] == served.etag("/oversikt.csv")
    assert stored["sha256"] == hashlib.sha256(body).hexdigest()
    before, embedded = snapshot(index), counting.passages

    (second,) = run_sync(index, digdir_source(served))
    assert (second.outcome, second.http) == ("unchanged", 304)
    assert served.headers_of_last("/oversikt.csv")["if-none-match"] == served.etag("/oversikt.csv")
    assert snapshot(index) == before and counting.passages == embedded
    assert "HTTP 304, unchanged" in second.line()
    assert no_partial_downloads(index)


@pytest.mark.model
def test_a_200_with_the_same_body_is_unchanged_when_the_server_sends_no_validators(
    served: Served, index: ProjectIndex, counting: CountingEncoder
) -> None:
    """Digdir's API service sets no ETag or Last-Modified itself: the body's hash must stand in for them."""
    served.etags = False
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    before, embedded = snapshot(index), counting.passages
    (again,) = run_sync(index, digdir_source(served))
    assert (again.outcome, again.http) == ("unchanged", 200)
    assert "if-none-match" not in served.headers_of_last("/oversikt.csv")
    assert snapshot(index) == before and counting.passages == embedded


@pytest.mark.model
def test_a_500_or_no_server_fails_that_source_only_and_changes_nothing(
    served: Served, index: ProjectIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    before, state_before = snapshot(index), state_of(index)["digdir"]

    served.files["/oversikt.csv"] = digdir_csv({**PROJECTS, "5": ("Ny etat", "Nytt prosjekt", "Noe nytt.")})
    served.mode["/oversikt.csv"] = "500"
    served.files["/vestland.csv"] = (
        "source_id,title,description,organisation,country\n"
        "v-1,Oversetting av vedtaksbrev,Vedtak skrives om til klart språk før de sendes.,Vestby kommune,NO\n"
    ).encode()
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f"""
[[source]]
name = "digdir"
url = "{served.base}/oversikt.csv"
format = "digdir-csv"
source = "digdir"

[[source]]
name = "gone"
url = "http://127.0.0.1:{closed_port}/x.csv"
format = "digdir-csv"
source = "digdir"
timeout = 5

[[source]]
name = "vestland"
url = "{served.base}/vestland.csv"
format = "erfa-csv"
source = "vestland"
schedule = "Mon *-*-* 06:00"
""",
        encoding="utf-8",
    )
    args = argparse.Namespace(sources=str(sources), only=[], dry_run=False, force=False)
    code = run(args, Settings(home=index.home), index=index)
    out, err = capsys.readouterr()
    assert code == 1
    assert "digdir: FAILED (HTTP 500)" in err and "nothing changed" in err
    assert "gone: FAILED (no response): cannot reach" in err
    assert "vestland: HTTP 200, 1 records: 1 added, 0 updated, 0 unchanged, 0 removed" in out
    assert snapshot(index, "digdir") == before
    state = state_of(index)
    assert state["digdir"] == state_before and "gone" not in state and "vestland" in state


@pytest.mark.model
def test_a_cut_off_or_unreadable_download_changes_nothing(served: Served, index: ProjectIndex) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    before, state_before = snapshot(index), state_of(index)
    edited = {**PROJECTS, "2": (PROJECTS["2"][0], PROJECTS["2"][1], "Ny beskrivelse av veiprosjektet.")}
    served.files["/oversikt.csv"] = digdir_csv(edited)
    served.mode["/oversikt.csv"] = "truncate"
    (cut,) = run_sync(index, digdir_source(served))
    assert cut.outcome == "failed" and "cut short" in cut.detail, cut.line()
    assert snapshot(index) == before and state_of(index) == state_before and no_partial_downloads(index)

    # A body that arrives whole but is itself cut off (an export that broke upstream) fails to parse.
    served.files["/api"] = json.dumps(
        [{"id": "1", "prosjekteier": "Fjordby kommune", "prosjekttittel": "Chatbot for byggesaker"}]
    ).encode()[:-20]
    (broken,) = run_sync(index, Source("api", served.base + "/api", "digdir-json", "digdir"))
    assert broken.outcome == "failed" and "could not be read as digdir-json" in broken.detail, broken.line()
    assert snapshot(index) == before and state_of(index) == state_before

    # The stored validators were kept, so the next good run downloads and applies the change.
    served.mode["/oversikt.csv"] = "ok"
    (fixed,) = run_sync(index, digdir_source(served))
    assert (fixed.outcome, fixed.updated, fixed.unchanged) == ("changed", 1, 3)


@pytest.mark.model
def test_a_changed_file_applies_only_the_change(served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    old_etag = served.etag("/oversikt.csv")
    edited = {k: v for k, v in PROJECTS.items() if k != "4"}
    edited["2"] = (
        PROJECTS["2"][0],
        PROJECTS["2"][1],
        "Kameraer på renovasjonsbilene finner hull og sprekker i veiene, og driften får et kart over dem.",
    )
    served.files["/oversikt.csv"] = digdir_csv(edited)
    untouched = {k: v for k, v in snapshot(index).items() if k in (make_id("digdir", "1"), make_id("digdir", "3"))}
    counting.passages = 0

    (report,) = run_sync(index, digdir_source(served))
    assert served.headers_of_last("/oversikt.csv")["if-none-match"] == old_etag
    assert len(untouched) == 2
    assert (report.outcome, report.http, report.added, report.updated, report.unchanged, report.removed) == (
        "changed",
        200,
        0,
        1,
        2,
        1,
    ), report.line()
    assert index.count() == 3 and index.get(make_id("digdir", "4")) is None
    changed = index.get(make_id("digdir", "2"))
    assert changed is not None and changed.description == edited["2"][2]
    assert {k: v for k, v in snapshot(index).items() if k in untouched} == untouched
    # Only the edited record's new text went to the model; the unchanged ones were not re-embedded.
    assert 1 <= counting.passages <= len(passages_of(changed))


@pytest.mark.model
def test_a_file_that_would_empty_most_of_a_source_is_held_back(served: Served, index: ProjectIndex) -> None:
    many = {str(i): (f"Etat {i}", f"Prosjekt nummer {i}", f"Et lite prosjekt om tema {i}.") for i in range(1, 13)}
    served.files["/oversikt.csv"] = digdir_csv(many)
    run_sync(index, digdir_source(served))
    served.files["/oversikt.csv"] = digdir_csv({k: many[k] for k in ("1", "2")})
    (held,) = run_sync(index, digdir_source(served))
    assert held.outcome == "failed" and "remove 10 of the 12" in held.detail and index.count() == 12
    served.files["/oversikt.csv"] = digdir_csv({})
    (empty,) = run_sync(index, digdir_source(served))
    assert empty.outcome == "failed" and "no record" in empty.detail and index.count() == 12
    served.files["/oversikt.csv"] = digdir_csv({k: many[k] for k in ("1", "2")})
    (forced,) = run_sync(index, digdir_source(served), force=True)
    assert (forced.outcome, forced.removed, forced.unchanged) == ("changed", 10, 2) and index.count() == 2


@pytest.mark.model
def test_a_csv_cut_mid_row_applies_nothing_even_with_force_and_is_downloaded_again(
    served: Served, index: ProjectIndex
) -> None:
    """Issue 18.3: a whole response holding a CSV cut mid-row gave "removed, rejected", exit 0.

    Cut in an unquoted title, the last row still reads as a record (with a cut title and no
    description); cut in a quoted description, it is rejected. Either way the rows after the
    cut are missing, so applying the file would delete them: nothing may be applied.
    """
    projects = many_projects(12)
    served.files["/oversikt.csv"] = digdir_csv(projects)
    run_sync(index, digdir_source(served))
    before, state_before = snapshot(index), state_of(index)
    edited = {**projects, "3": (projects["3"][0], projects["3"][1], "Prosjektet har fått en ny beskrivelse.")}
    whole = digdir_csv(edited)
    for inside in (b"Prosjekt nummer 9", b"tema 9, med"):  # row 10: project 9 (the header is row 1)
        served.files["/oversikt.csv"] = whole[: whole.index(inside) + len(inside) - 4]
        for force in (False, True):
            (report,) = run_sync(index, digdir_source(served), force=force)
            assert report.outcome == "failed", report.line()
            assert "ends in the middle of row 10" in report.detail and "cut off" in report.detail, report.line()
            assert snapshot(index) == before and state_of(index) == state_before and no_partial_downloads(index)

    served.files["/oversikt.csv"] = whole  # the next run downloads again (nothing was stored) and applies
    (fixed,) = run_sync(index, digdir_source(served))
    assert (fixed.outcome, fixed.updated, fixed.unchanged, fixed.removed) == ("changed", 1, 11, 0), fixed.line()


@pytest.mark.model
def test_a_jsonl_file_with_a_broken_line_is_refused_and_force_applies_only_its_valid_rows(
    served: Served, index: ProjectIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18.3: a JSON Lines file ending in a broken line was applied ("2 removed, 1 rejected")
    and its hash stored. A rejected row blocks the sync; --force may add and update the valid
    rows but never removes anything on such a file, and never stores its hash."""
    src = Source("vestland", served.base + "/vestland.jsonl", "erfa-jsonl", "vestland")
    served.files["/vestland.jsonl"] = erfa_jsonl(PROJECTS)
    (first,) = run_sync(index, src)
    assert (first.outcome, first.added) == ("changed", 4), first.line()
    before, state_before = snapshot(index), state_of(index)
    edited = {**PROJECTS, "1": (PROJECTS["1"][0], PROJECTS["1"][1], "Chatboten svarer nå også om ferdigattest.")}
    args = argparse.Namespace(sources=str(sources_file(tmp_path, src)), only=[], dry_run=False, force=False)
    forced = argparse.Namespace(**{**vars(args), "force": True})

    # Cut in its last line: the file ends mid-line, and --force does not apply a cut file.
    cut = erfa_jsonl({k: edited[k] for k in ("1", "2", "3")}) + erfa_jsonl({"4": edited["4"]})[:40]
    served.files["/vestland.jsonl"] = cut
    for how in (args, forced):
        assert run(how, Settings(home=index.home), index=index) == 1
        err = capsys.readouterr().err
        assert "vestland:4: rejected: not valid JSON" in err
        assert "vestland: FAILED (HTTP 200): the file ends in the middle of line 4" in err and "nothing changed" in err
        assert snapshot(index) == before and state_of(index) == state_before

    # A whole file with a broken line (2) and without project 4: refused; --force applies 1 and 3 only.
    lines = erfa_jsonl({k: edited[k] for k in ("1", "2", "3")}).decode().splitlines(keepends=True)
    served.files["/vestland.jsonl"] = (lines[0] + '{"source_id": "2", "title": }\n' + lines[2]).encode()
    assert run(args, Settings(home=index.home), index=index) == 1
    err = capsys.readouterr().err
    assert "vestland:2: rejected: not valid JSON" in err
    assert "vestland: FAILED (HTTP 200): 1 row of the file was rejected" in err and "--force" in err
    assert snapshot(index) == before and state_of(index) == state_before
    assert run(forced, Settings(home=index.home), index=index) == 1
    err = capsys.readouterr().err
    assert (
        "vestland: PARTIAL (HTTP 200): 2 valid records applied: 0 added, 1 updated, 1 unchanged; "
        "1 rejected row skipped, nothing removed"
    ) in err, err
    assert index.count() == 4 and state_of(index) == state_before  # 2 and 4 stay; the hash is not stored
    changed = index.get(make_id("vestland", "1"))
    assert changed is not None and changed.description == edited["1"][2]

    served.files["/vestland.jsonl"] = erfa_jsonl({k: edited[k] for k in ("1", "2", "3")})
    assert run(args, Settings(home=index.home), index=index) == 0
    assert "3 records: 0 added, 0 updated, 3 unchanged, 1 removed, 0 rejected" in capsys.readouterr().out
    assert state_of(index)["vestland"]["sha256"] != state_before["vestland"]["sha256"]


@pytest.mark.model
def test_a_source_shrinking_over_several_runs_is_held_back_against_its_largest_recent_size(
    served: Served, index: ProjectIndex
) -> None:
    """Issue 18.3: 18 -> 10 -> 6 -> 3 -> 1 rows over four runs deleted 17 of 18 records, because each
    run was compared with the last one only. The guard compares with the largest size in the
    source's recent history and with what erfa holds of it; --force starts the history afresh."""
    projects = many_projects(18)

    def serve(n: int) -> None:
        served.files["/oversikt.csv"] = digdir_csv({k: projects[k] for k in list(projects)[:n]})

    reports = []
    for n in (18, 10, 6, 3, 1):
        serve(n)
        reports += run_sync(index, digdir_source(served))
    assert [(r.outcome, r.removed) for r in reports] == [
        ("changed", 0),
        ("changed", 8),
        ("failed", 0),
        ("failed", 0),
        ("failed", 0),
    ]
    # 6 would remove only 4 of the 10 erfa holds: the history is what catches it.
    assert "the file lists 6 records; this source had 18 in a recent sync" in reports[2].detail, reports[2].line()
    assert "--force" in reports[2].detail
    assert "remove 9 of the 10" in reports[4].detail and index.count() == 10
    assert [h["records"] for h in state_of(index)["digdir"]["history"]] == [18, 10]  # type: ignore[index]

    # Without its history (sync.json deleted), what erfa holds of the source still guards it.
    (index.home / STATE_FILE).unlink()
    serve(3)
    (held,) = run_sync(index, digdir_source(served))
    assert held.outcome == "failed" and "remove 7 of the 10" in held.detail and index.count() == 10

    # The operator confirms the registry shrank: --force applies it and is the new baseline.
    serve(6)
    (forced,) = run_sync(index, digdir_source(served), force=True)
    assert (forced.outcome, forced.removed) == ("changed", 4) and index.count() == 6
    serve(5)
    (after,) = run_sync(index, digdir_source(served))
    assert (after.outcome, after.removed) == ("changed", 1), after.line()
    assert [h["records"] for h in state_of(index)["digdir"]["history"]] == [6, 5]  # type: ignore[index]


def test_the_size_history_is_bounded_and_force_starts_it_afresh() -> None:
    history: list[dict[str, object]] = []
    for n in range(1, 3 * HISTORY_LEN):
        history = remembered(history, n, forced=False)
    assert len(history) == HISTORY_LEN and history[-1]["records"] == 3 * HISTORY_LEN - 1
    assert [h["records"] for h in remembered(history, 4, forced=True)] == [4]
    assert remembered([{"records": "junk"}, {"x": 1}, 7], 3, forced=False)[0]["records"] == 3  # type: ignore[list-item]


@pytest.mark.parametrize("mode", ["drip", "drip-headers"])
def test_a_dripping_server_fails_at_the_deadline_and_the_lock_is_released(
    served: Served, tmp_path: Path, mode: str
) -> None:
    """Issue 18.4: a source with `timeout = 5` dripping a byte a second held sync.lock for 40 s.

    Every read returns in time, so only a wall-clock deadline over the whole download (the
    headers included) stops it.
    """
    served.files["/slow.csv"] = digdir_csv(PROJECTS)
    served.mode["/slow.csv"] = mode
    home = tmp_path / "home"
    started = time.monotonic()
    (report,) = sync([replace(digdir_source(served, "/slow.csv"), timeout=1.0)], home, no_index)
    took = time.monotonic() - started
    assert report.outcome == "failed" and "took longer than 1 s (timeout)" in report.detail, report.line()
    assert took < 2.5, f"the 1 s deadline took {took:.1f} s"
    assert lock_is_free(home) and not (home / STATE_FILE).exists() and not list(home.glob(".sync-*"))


def test_redirects_are_followed_only_over_http_to_the_configured_host_and_port(
    served: Served, elsewhere: Served, tmp_path: Path
) -> None:
    """Issue 18.4: redirects were followed to other ports of the host and attempted to ftp://."""
    body = digdir_csv(PROJECTS)
    served.files["/oversikt.csv"] = elsewhere.files["/oversikt.csv"] = body
    served.redirects["/moved"] = "/oversikt.csv"
    served.redirects["/other-port"] = elsewhere.base + "/oversikt.csv"
    served.redirects["/ftp"] = "ftp://127.0.0.1/oversikt.csv"
    home = tmp_path / "home"
    port = elsewhere.base.rsplit(":", 1)[1]

    def source(name: str) -> Source:
        return replace(digdir_source(served, "/" + name), name=name)

    other, ftp = sync([source("other-port"), source("ftp")], home, no_index)
    assert other.outcome == "failed" and other.http == 302, other.line()
    assert f"refused a redirect to {elsewhere.base}/oversikt.csv: 127.0.0.1:{port} is not" in other.detail
    assert "allow_hosts" in other.detail
    assert ftp.outcome == "failed" and "refused a redirect to ftp://127.0.0.1/oversikt.csv: only http" in ftp.detail
    assert elsewhere.seen == [] and lock_is_free(home) and not (home / STATE_FILE).exists()

    for src, server in (
        (source("moved"), served),
        (replace(source("other-port"), allow_hosts=(f"127.0.0.1:{port}",)), elsewhere),
    ):
        got = fetch(src, {}, tmp_path)
        assert got.status == 200 and got.path is not None and got.path.read_bytes() == body
        assert server.seen[-1]["path"] == "/oversikt.csv"
        got.path.unlink()


def test_which_redirects_are_allowed() -> None:
    """The rule the handler applies to every hop, including the cases a local test cannot serve."""
    https = Source("x", "https://data.example.no/a.csv", "digdir-csv")
    plain = Source("x", "http://data.example.no/a.csv", "digdir-csv", allow_hosts=("cdn.example.org", "[::1]:8443"))
    assert redirect_problem(https, "https://DATA.example.no:443/b.csv") is None
    assert redirect_problem(plain, "https://data.example.no/b.csv") is None  # http -> https on the same host
    assert redirect_problem(plain, "https://cdn.example.org/b.csv") is None
    assert redirect_problem(plain, "http://[::1]:8443/b.csv") is None
    refused = {
        (https, "http://data.example.no/b.csv"): "from https to http",
        (https, "https://data.example.no:8443/b.csv"): "data.example.no:8443 is not",
        (https, "https://evil.example.no/b.csv"): "evil.example.no is not",
        (https, "file:///etc/passwd"): "only http",
        (plain, "ftp://cdn.example.org/b.csv"): "only http",
        (plain, "https://cdn.example.org:8443/b.csv"): "cdn.example.org:8443 is not",
        (plain, "https://[::1]/b.csv"): "[::1] is not",
    }
    for (src, url), message in refused.items():
        problem = redirect_problem(src, url)
        assert problem is not None and message in problem, (url, problem)


@pytest.mark.model
def test_dry_run_reports_and_writes_nothing(served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    (report,) = run_sync(index, digdir_source(served), dry_run=True)
    assert (report.outcome, report.added) == ("dry-run", 4) and "4 would be added" in report.line()
    assert index.count() == 0 and counting.passages == 0 and not (index.home / STATE_FILE).exists()


def test_sources_files_are_checked_before_anything_is_fetched(tmp_path: Path) -> None:
    shipped = {s.name: s for s in load_sources(DEFAULT_SOURCES)}
    assert {"digdir-api", "digdir-csv", "pstw"} <= set(shipped)
    assert all(s.url.startswith("https://") for s in shipped.values() if s.enabled)
    bad = {
        'name = "x"\nurl = "ftp://a/b"\nformat = "digdir-csv"': "'url' must be an http(s) URL",
        'name = "x"\nurl = "https://a/b"\nformat = "excel"': "'format' must be one of",
        'name = "x"\nformat = "digdir-csv"': "no 'url'",
        'name = "x y"\nurl = "https://a/b"\nformat = "digdir-csv"': "'name' must be",
        'name = "x"\nurl = "https://a/b"\nformat = "digdir-csv"\nshedule = "daily"': "unknown key(s) shedule",
        'name = "x"\nurl = "https://a/b"\nformat = "digdir-csv"\nallow_hosts = "cdn.a"': "'allow_hosts' must be a list",
        (
            'name = "x"\nurl = "https://a/b"\nformat = "digdir-csv"\nallow_hosts = ["https://cdn.a/"]'
        ): "'allow_hosts' entries must be a host or host:port",
        'name = "x"\nurl = "https://a/b"\nformat = "digdir-csv"\ntimeout = 0': "'timeout' must be a positive",
    }
    for n, (entry, message) in enumerate(bad.items()):
        path = tmp_path / f"bad{n}.toml"
        path.write_text(f"[[source]]\n{entry}\n", encoding="utf-8")
        with pytest.raises(SourcesError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_sources(path)
    hosts = tmp_path / "hosts.toml"
    hosts.write_text(
        '[[source]]\nname = "a"\nurl = "https://a/b"\nformat = "digdir-csv"\n'
        'allow_hosts = ["CDN.example.org", "[::1]:8443"]\n',
        encoding="utf-8",
    )
    assert load_sources(hosts)[0].allow_hosts == ("cdn.example.org", "[::1]:8443")
    twice = tmp_path / "twice.toml"
    twice.write_text('[[source]]\nname = "a"\nurl = "https://a/b"\nformat = "digdir-csv"\n' * 2, encoding="utf-8")
    with pytest.raises(SourcesError, match="used twice"):
        load_sources(twice)


def test_the_sync_command_parses_and_refuses_unknown_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="erfa")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sync", "--only", "nowhere", "--dry-run"])
    assert args.func is run and args.only == ["nowhere"] and args.dry_run and args.sources is None
    assert run(args, Settings(home=tmp_path / "home")) == 2
    assert "no source named 'nowhere'" in capsys.readouterr().err


@pytest.mark.shared
@pytest.mark.model
def test_the_real_registries_sync_from_a_local_server(served: Served, index: ProjectIndex) -> None:
    from erfa.ingest import read_file

    data = shared_data_dir()
    digdir_file = data / "digdir_ai_projects_norwegian_state_Oversatt_v1.csv"
    pstw_file = data / "pstw" / "pstw_dataset_from_Marchant01_ai_eu_project.xlsx"
    served.files["/digdir.csv"] = digdir_file.read_bytes()
    served.files["/pstw.xlsx"] = pstw_bytes = pstw_file.read_bytes()
    expected = len(read_file(digdir_file).records)

    (first,) = run_sync(index, digdir_source(served, "/digdir.csv"))
    assert (first.outcome, first.added, first.records) == ("changed", expected, expected), first.line()
    (again,) = run_sync(index, digdir_source(served, "/digdir.csv"))
    assert (again.outcome, again.http) == ("unchanged", 304)

    pstw = Source("pstw", served.base + "/pstw.xlsx", "pstw-xlsx", "pstw", "weekly")
    (looked,) = run_sync(index, pstw, dry_run=True)
    assert looked.outcome == "dry-run" and looked.records > 1000 and looked.added == looked.records, looked.line()
    served.files["/pstw.xlsx"] = pstw_bytes[: len(pstw_bytes) // 2]  # a whole response of half a workbook
    (broken,) = run_sync(index, pstw)
    assert broken.outcome == "failed" and "could not be read as pstw-xlsx" in broken.detail, broken.line()
    assert index.count() == expected and "pstw" not in state_of(index)
