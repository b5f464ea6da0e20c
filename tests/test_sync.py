"""`erfa sync` against a real HTTP server on 127.0.0.1: what a scheduled run must and must not change.

The server is http.server in a thread, serving files the tests write (a small overview in
Digdir's CSV format, with our own invented projects) and, for the `shared` test, the real
files from ../shared/data. It records the request headers, so a test can prove that the
conditional request was made, and it can answer 500 or cut a body short on demand.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index.engine import passages_of
from erfa.ingest import make_id
from erfa.service.settings import Settings
from erfa.service.sync import DEFAULT_SOURCES, STATE_FILE, Report, Source, SourcesError, load_sources, register, run, sync
from tests._shared import shared_data_dir
from tests.test_index import CountingEncoder

DIGDIR_HEADER = ["", "Prosjekteier", "Prosjekttittel", "Departement", "Eiertype", "Sektor (intern | ikke publisering)",
                 "Beskrivelse av prosjekt", "Formål med prosjekt", "Prosjektstart", "Prosjektslutt",
                 "Tilknyttede organisasjoner", "Bruk av innleide konsulenter", "Lenke til prosjekt", "Status",
                 "Type data", "Datakilde", "Modellutvikling", "Klassifisering"]
# Invented projects (id -> organisation, title, description), written for these tests.
PROJECTS: dict[str, tuple[str, str, str]] = {
    "1": ("Fjordby kommune", "Chatbot for byggesaker",
          "Innbyggere får svar om byggesøknader, gebyrer og regler for tilbygg fra en chatbot på kommunens nettside."),
    "2": ("Nordvik kommune", "Varsling av hull i veidekket",
          "Bilder fra renovasjonsbilene analyseres for å finne skader i kommunale veier før de blir farlige."),
    "3": ("Helse Midtfjord", "Talegjenkjenning for journalnotater",
          "Leger dikterer notater som blir til tekst i pasientjournalen, slik at de bruker mindre tid ved tastaturet."),
    "4": ("Sjøstad havn", "Prognose for anløp",
          "Havnen beregner ventetid for skip ut fra vær, tidevann og tidligere anløp."),
}


def digdir_csv(projects: dict[str, tuple[str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DIGDIR_HEADER)
    for pid, (org, title, description) in projects.items():
        writer.writerow([pid, org, title, "Kommunal- og distriktsdepartementet", "Kommunal virksomhet", "", description,
                         "", "2022", "", "", "Nei", "", "Pilot", "", "", "Nei", ""])
    return out.getvalue().encode("utf-8")


@dataclass
class Served:
    """What the test server serves, how, and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    mode: dict[str, str] = field(default_factory=dict)  # path -> "ok" | "500" | "truncate"
    etags: bool = True
    seen: list[dict[str, str]] = field(default_factory=list)
    base: str = ""

    def etag(self, path: str) -> str:
        return '"' + hashlib.sha256(self.files[path]).hexdigest()[:16] + '"'

    def headers_of_last(self, path: str) -> dict[str, str]:
        return [h for h in self.seen if h["path"] == path][-1]


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
            pass

        def do_GET(self) -> None:
            served.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            mode = served.mode.get(self.path, "ok")
            body = served.files.get(self.path)
            if mode == "500" or body is None:
                self.send_response(500 if mode == "500" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = served.etag(self.path) if served.etags else None
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if etag:
                self.send_header("ETag", etag)
            if mode == "truncate":  # promise the whole body, send half, hang up
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def served() -> Iterator[Served]:
    state = Served()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


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


@pytest.mark.model
def test_first_sync_ingests_and_the_next_gets_a_304_that_changes_nothing(
        served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    served.files["/oversikt.csv"] = body = digdir_csv(PROJECTS)
    first, = run_sync(index, digdir_source(served))
    assert (first.outcome, first.http, first.added, first.updated, first.unchanged, first.removed) == \
        ("changed", 200, 4, 0, 0, 0)
    assert "If-None-Match" not in served.seen[-1] and "if-none-match" not in served.seen[-1]
    stored = state_of(index)["digdir"]
    assert stored["etag"] == served.etag("/oversikt.csv")
    assert stored["sha256"] == hashlib.sha256(body).hexdigest()
    before, embedded = snapshot(index), counting.passages

    second, = run_sync(index, digdir_source(served))
    assert (second.outcome, second.http) == ("unchanged", 304)
    assert served.headers_of_last("/oversikt.csv")["if-none-match"] == served.etag("/oversikt.csv")
    assert snapshot(index) == before and counting.passages == embedded
    assert "HTTP 304, unchanged" in second.line()
    assert no_partial_downloads(index)


@pytest.mark.model
def test_a_200_with_the_same_body_is_unchanged_when_the_server_sends_no_validators(
        served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    """Digdir's API service sets no ETag or Last-Modified itself: the body's hash must stand in for them."""
    served.etags = False
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    before, embedded = snapshot(index), counting.passages
    again, = run_sync(index, digdir_source(served))
    assert (again.outcome, again.http) == ("unchanged", 200)
    assert "if-none-match" not in served.headers_of_last("/oversikt.csv")
    assert snapshot(index) == before and counting.passages == embedded


@pytest.mark.model
def test_a_500_or_no_server_fails_that_source_only_and_changes_nothing(
        served: Served, index: ProjectIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
    sources.write_text(f"""
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
""", encoding="utf-8")
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
    cut, = run_sync(index, digdir_source(served))
    assert cut.outcome == "failed" and "cut short" in cut.detail, cut.line()
    assert snapshot(index) == before and state_of(index) == state_before and no_partial_downloads(index)

    # A body that arrives whole but is itself cut off (an export that broke upstream) fails to parse.
    served.files["/api"] = json.dumps([{"id": "1", "prosjekteier": "Fjordby kommune",
                                        "prosjekttittel": "Chatbot for byggesaker"}]).encode()[:-20]
    broken, = run_sync(index, Source("api", served.base + "/api", "digdir-json", "digdir"))
    assert broken.outcome == "failed" and "could not be read as digdir-json" in broken.detail, broken.line()
    assert snapshot(index) == before and state_of(index) == state_before

    # The stored validators were kept, so the next good run downloads and applies the change.
    served.mode["/oversikt.csv"] = "ok"
    fixed, = run_sync(index, digdir_source(served))
    assert (fixed.outcome, fixed.updated, fixed.unchanged) == ("changed", 1, 3)


@pytest.mark.model
def test_a_changed_file_applies_only_the_change(served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    run_sync(index, digdir_source(served))
    old_etag = served.etag("/oversikt.csv")
    edited = {k: v for k, v in PROJECTS.items() if k != "4"}
    edited["2"] = (PROJECTS["2"][0], PROJECTS["2"][1],
                   "Kameraer på renovasjonsbilene finner hull og sprekker i veiene, og driften får et kart over dem.")
    served.files["/oversikt.csv"] = digdir_csv(edited)
    untouched = {k: v for k, v in snapshot(index).items() if k in (make_id("digdir", "1"), make_id("digdir", "3"))}
    counting.passages = 0

    report, = run_sync(index, digdir_source(served))
    assert served.headers_of_last("/oversikt.csv")["if-none-match"] == old_etag
    assert len(untouched) == 2
    assert (report.outcome, report.http, report.added, report.updated, report.unchanged, report.removed) == \
        ("changed", 200, 0, 1, 2, 1), report.line()
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
    held, = run_sync(index, digdir_source(served))
    assert held.outcome == "failed" and "remove 10 of the 12" in held.detail and index.count() == 12
    served.files["/oversikt.csv"] = digdir_csv({})
    empty, = run_sync(index, digdir_source(served))
    assert empty.outcome == "failed" and "no record" in empty.detail and index.count() == 12
    served.files["/oversikt.csv"] = digdir_csv({k: many[k] for k in ("1", "2")})
    forced, = run_sync(index, digdir_source(served), force=True)
    assert (forced.outcome, forced.removed, forced.unchanged) == ("changed", 10, 2) and index.count() == 2


@pytest.mark.model
def test_dry_run_reports_and_writes_nothing(served: Served, index: ProjectIndex, counting: CountingEncoder) -> None:
    served.files["/oversikt.csv"] = digdir_csv(PROJECTS)
    report, = run_sync(index, digdir_source(served), dry_run=True)
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
    }
    for n, (entry, message) in enumerate(bad.items()):
        path = tmp_path / f"bad{n}.toml"
        path.write_text(f"[[source]]\n{entry}\n", encoding="utf-8")
        with pytest.raises(SourcesError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_sources(path)
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

    first, = run_sync(index, digdir_source(served, "/digdir.csv"))
    assert (first.outcome, first.added, first.records) == ("changed", expected, expected), first.line()
    again, = run_sync(index, digdir_source(served, "/digdir.csv"))
    assert (again.outcome, again.http) == ("unchanged", 304)

    pstw = Source("pstw", served.base + "/pstw.xlsx", "pstw-xlsx", "pstw", "weekly")
    looked, = run_sync(index, pstw, dry_run=True)
    assert looked.outcome == "dry-run" and looked.records > 1000 and looked.added == looked.records, looked.line()
    served.files["/pstw.xlsx"] = pstw_bytes[: len(pstw_bytes) // 2]  # a whole response of half a workbook
    broken, = run_sync(index, pstw)
    assert broken.outcome == "failed" and "could not be read as pstw-xlsx" in broken.detail, broken.line()
    assert index.count() == expected and "pstw" not in state_of(index)
