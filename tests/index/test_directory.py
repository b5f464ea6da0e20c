"""The directory of bodies' web sites (issue 19 item 4): `erfa sync` asks Wikidata's SPARQL
endpoint and Norway's Enhetsregisteret, matched by name and country or by registry number,
with a confidence that is stored and shown; nothing is guessed. Every HTTP service here is
a server on 127.0.0.1 that the test starts and stops: it answers like the real services
(SPARQL 1.1 JSON results; Enhetsregisteret's `/enheter/{orgnr}` with `hjemmeside`), from
fixtures written for these tests."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from erfa.index import ProjectIndex
from erfa.index.bodies.directory import (
    DIRECTORY_FILE,
    MIN_CONFIDENCE,
    BodiesDirectory,
    Body,
    Entry,
    cached,
    match_wikidata,
    sparql_query,
)
from erfa.ingest import Record
from erfa.service.api.presenter import partners_response
from erfa.service.sync import STATE_FILE, Source, SourcesError, load_sources, sync
from tests._http import local_server

WD = "http://www.wikidata.org/entity/"


def _b(
    item: str, name: str, how: str, cc: str, site: str | None = None, no: str | None = None, lang: str = "nb"
) -> dict[str, Any]:
    """One SPARQL 1.1 JSON results binding, shaped as the Wikidata Query Service sends it."""
    row: dict[str, Any] = {
        "item": {"type": "uri", "value": WD + item},
        "name": {"type": "literal", "xml:lang": lang, "value": name},
        "how": {"type": "literal", "value": how},
        "cc": {"type": "literal", "value": cc},
    }
    if site:
        row["site"] = {"type": "uri", "value": site}
    if no:
        row["no"] = {"type": "literal", "value": no}
    return row


# What the fake Wikidata knows: bindings by the name (label or alias) they answer to.
BINDINGS = [
    _b("Q1001", "Fjordby kommune", "exact", "NO", "https://www.fjordby.kommune.no/", "944000001"),
    _b("Q1002", "Fjellbygd kommune", "exact", "NO", "https://fjellbygd.kommune.no/"),
    _b("Q1003", "Vassdragsetaten", "exact", "NO", None, "974000003"),  # no web site here: Enhetsregisteret has one
    _b("Q1004", "Havdirektoratet", "alias", "NO", "https://havdir.no/"),  # known to Wikidata by another label
    _b("Q1005", "Fjordby kommune", "exact", "SE", "https://fjordby.se/"),  # the same name in another country
    _b("Q1006", "Bergby kommune", "exact", "NO", "https://bergby.kommune.no/"),  # two entities, two sites:
    _b("Q1007", "Bergby kommune", "exact", "NO", "https://bergby-kultur.no/"),  # ambiguous, left out
    _b(
        "Q1008", "Dalby kommune", "exact", "NO", "https://dalby.kommune.no/", "944000099"
    ),  # contradicts the record's number
]
ENHETER = {
    "974000003": {
        "organisasjonsnummer": "974000003",
        "navn": "VASSDRAGSETATEN",
        "hjemmeside": "www.vassdragsetaten.no",
    },
    "944000001": {"organisasjonsnummer": "944000001", "navn": "FJORDBY KOMMUNE", "hjemmeside": "fjordby.kommune.no"},
    "944000055": {
        "organisasjonsnummer": "944000055",
        "navn": "NABOVIK KOMMUNE",
        "hjemmeside": "https://nabovik.kommune.no",
    },
}


@dataclass
class Registers:
    base: str = ""
    queries: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    fail: set[str] = field(default_factory=set)  # "sparql" / "enheter": answer 500
    redirect_to: str | None = None


def _handler(state: Registers) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def send(self, status: int, body: bytes = b"", ctype: str = "application/json", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            state.paths.append(url.path)
            if url.path == "/sparql":
                if state.redirect_to:
                    return self.send(302, Location=state.redirect_to)
                if "sparql" in state.fail:
                    return self.send(500)
                params = urllib.parse.parse_qs(url.query)
                query = params["query"][0]
                state.queries.append(query)
                assert params["format"] == ["json"]
                # answer as the real endpoint would: the bindings whose name the VALUES list and country filter ask for
                cc = query.split('FILTER(?cc = "')[1][:2]
                rows = [b for b in BINDINGS if f'"{b["name"]["value"]}"@' in query and b["cc"]["value"] == cc]
                doc = {
                    "head": {"vars": ["item", "name", "how", "cc", "site", "no", "se"]},
                    "results": {"bindings": rows},
                }
                return self.send(200, json.dumps(doc).encode(), "application/sparql-results+json")
            if url.path.startswith("/enhetsregisteret/api/enheter/"):
                if "enheter" in state.fail:
                    return self.send(500)
                number = url.path.rsplit("/", 1)[1]
                if number not in ENHETER:
                    return self.send(404, json.dumps({"status": 404, "error": "Not Found"}).encode())
                return self.send(200, json.dumps(ENHETER[number]).encode(), "application/hal+json")
            self.send(404)

    return Handler


@contextmanager
def registers() -> Iterator[Registers]:
    state = Registers()
    with local_server(_handler(state)) as base:
        state.base = base
        yield state


@pytest.fixture
def served() -> Iterator[Registers]:
    with registers() as state:
        yield state


def _sources(base: str, **extra: Any) -> list[Source]:
    return [
        Source("wikidata", f"{base}/sparql", "directory-json", kind="wikidata", countries=("NO", "SE"), **extra),
        Source(
            "enhetsregisteret",
            f"{base}/enhetsregisteret/api/enheter",
            "directory-json",
            kind="enhetsregisteret",
            **extra,
        ),
    ]


ABOUT = "Innbyggerne får svar døgnet rundt på spørsmål om byggesøknader fra en chatbot."


def _records() -> list[Record]:
    def rec(
        sid: str,
        org: str,
        country: str = "NO",
        number: str | None = None,
        link: str | None = None,
        title: str = "Chatbot for byggesaker",
        about: str = ABOUT,
    ) -> Record:
        return Record.build(
            "t",
            sid,
            title=f"{title} {sid}",
            description=f"{org} ({sid}): {about}",
            organisation=org,
            country=country,
            organisation_number=number,
            link=link,
            language="nb",
        )

    return [
        rec("1", "Fjordby kommune", link="https://fjordby.kommune.no/prosjekt/chatbot"),
        rec("2", "Fjordby Municipality"),  # one body, two spellings
        rec("3", "Fjellbygd kommune"),
        rec("4", "Vassdragsetaten"),
        rec("5", "Havdirektoratet"),
        rec("6", "Fjordby kommune", country="SE"),
        rec("7", "Bergby kommune", link="https://bergby.kommune.no/ki/chatbot"),
        rec("8", "Dalby kommune", number="944000011"),
        rec("9", "Nabovik kommune", number="944000055"),
        rec("10", "Fjordbyy kommune"),  # only close to a name Wikidata knows: another body for all erfa can tell
    ]


def test_sync_fills_the_directory_by_name_country_and_number_and_never_guesses(
    served: Registers, make_index: Callable[..., ProjectIndex]
) -> None:
    idx = make_index()
    idx.upsert(_records())
    reports = sync(_sources(served.base), idx.home, lambda: idx)
    assert [r.ok for r in reports] == [True, True], [r.line() for r in reports]
    assert "matched" in reports[0].line() and "1 ambiguous" in reports[0].line()
    d = BodiesDirectory.load(idx.home)

    def of(country: str, name: str, source: str = "wikidata") -> Entry | None:
        return next((e for e in d.all() if e.country == country and e.name == name and e.source == source), None)

    fjordby = of("NO", "Fjordby kommune")
    assert fjordby is not None and fjordby.website == "https://www.fjordby.kommune.no/" and fjordby.match == "exact"
    assert fjordby.confidence == 0.95 and fjordby.ref == WD + "Q1001" and fjordby.registry_id == "944000001"
    alias = of("NO", "Havdirektoratet")
    assert alias is not None and alias.match == "alias" and alias.confidence == 0.85
    # matched by country: the Swedish Fjordby gets the Swedish entity's site, never the Norwegian one
    sweden = of("SE", "Fjordby kommune")
    assert sweden is not None and sweden.website == "https://fjordby.se/"
    # ambiguous (two entities, two sites), a contradicting registry number, a name only close: nothing stored
    assert of("NO", "Bergby kommune") is None and of("NO", "Dalby kommune") is None
    assert of("NO", "Fjordbyy kommune") is None
    assert all(e.confidence >= MIN_CONFIDENCE for e in d.all())
    # Enhetsregisteret: by the number a record carries (sure), and by the number Wikidata gave (as sure as that match)
    nabovik = of("NO", "Nabovik kommune", "enhetsregisteret")
    assert nabovik is not None and nabovik.match == "number" and nabovik.confidence == 1.0
    assert nabovik.website == "https://nabovik.kommune.no" and nabovik.matched == "NABOVIK KOMMUNE"
    vassdrag = of("NO", "Vassdragsetaten", "enhetsregisteret")
    assert vassdrag is not None and vassdrag.website == "https://www.vassdragsetaten.no" and vassdrag.confidence == 0.95
    assert "/enhetsregisteret/api/enheter/944000011" in served.paths  # looked up, not in the register: skipped
    # every query asked by name and the country's ISO code, names as literals (never query syntax)
    assert all("wdt:P297" in q and "wdt:P856" in q and "wdt:P2333" in q for q in served.queries)
    assert json.loads((idx.home / STATE_FILE).read_text())["wikidata"]["entries"] == len(
        [e for e in d.all() if e.source == "wikidata"]
    )


def test_partners_show_the_directorys_web_site_and_how_sure_it_is(
    served: Registers, make_index: Callable[..., ProjectIndex]
) -> None:
    idx = make_index()
    idx.upsert(_records())
    before = {
        p.organisation: p
        for p in idx.partners("chatbot som svarer om byggesøknader", limit=20).partners
        if p.country == "NO"
    }
    assert before["Fjordby kommune"].reach is not None and before["Fjordby kommune"].reach.kind == "project_link"
    sync(_sources(served.base), idx.home, lambda: idx)  # a running server reads the new file on its next request
    page = idx.partners("chatbot som svarer om byggesøknader", limit=20)
    rows = partners_response(page).model_dump(mode="json")["partners"]
    shown = {p["organisation"]: p for p in rows if p["country"] == "NO"}
    sweden = next(p for p in rows if p["country"] == "SE")
    assert sweden["reach"]["url"] == "https://fjordby.se/"  # the same name in Sweden: the Swedish entity's site
    fjordby = next(p for p in shown.values() if p["organisation"] == "Fjordby kommune" and p["country"] == "NO")
    # Wikidata matched the name (0.95) and gave its number; the official register's site for that
    # number comes first, as sure as the name match the number came from
    assert fjordby["contact"]["website"] == "https://fjordby.kommune.no" == fjordby["link"]
    assert fjordby["contact"]["registry_id"] == "944000001"
    assert fjordby["reach"] == {
        "kind": "website",
        "url": "https://fjordby.kommune.no",
        "source": "enhetsregisteret",
        "confidence": 0.95,
        "matched": "FJORDBY KOMMUNE",
        "project_id": None,
    }
    assert shown["Havdirektoratet"]["reach"] == {
        "kind": "website",
        "url": "https://havdir.no/",
        "source": "wikidata",
        "confidence": 0.85,
        "matched": "Havdirektoratet",
        "project_id": None,
    }
    assert shown["Dalby kommune"]["reach"] is None  # a contradicted match stored nothing, and it has no page
    # nothing stored for Bergby: it is still reachable, through its project
    assert shown["Bergby kommune"]["reach"] == {
        "kind": "project_link",
        "url": "https://bergby.kommune.no/ki/chatbot",
        "source": "project",
        "confidence": None,
        "matched": None,
        "project_id": "t-7",
    }
    assert shown["Bergby kommune"]["contact"]["website"] is None


def test_a_failed_request_changes_nothing_and_a_restart_keeps_the_directory(
    served: Registers, make_index: Callable[..., ProjectIndex]
) -> None:
    idx = make_index()
    idx.upsert(_records())
    sync(_sources(served.base), idx.home, lambda: idx)
    saved = (idx.home / DIRECTORY_FILE).read_bytes()
    served.fail = {"sparql", "enheter"}
    reports = sync(_sources(served.base), idx.home, lambda: idx)
    assert [r.outcome for r in reports] == ["failed", "failed"] and "500" in reports[0].line()
    assert (idx.home / DIRECTORY_FILE).read_bytes() == saved
    assert cached(idx.home).lookup("NO", ["Fjordby Municipality"]) is not None  # by another spelling of the body
    # a redirect off the configured host is refused, as for every source (the same fetch)
    served.fail = set()
    served.redirect_to = "http://127.0.0.2:9/sparql"
    wikidata = sync(_sources(served.base)[:1], idx.home, lambda: idx)[0]
    assert wikidata.outcome == "failed" and "refused a redirect" in wikidata.detail
    assert (idx.home / DIRECTORY_FILE).read_bytes() == saved
    # more requests than the source allows: refused before the first one
    served.redirect_to = None
    asked = len(served.queries)
    capped = sync(_sources(served.base, max_requests=1)[:1], idx.home, lambda: idx)[0]
    assert capped.outcome == "failed" and "max_requests" in capped.detail and len(served.queries) == asked


def test_a_dry_run_asks_but_files_nothing(served: Registers, make_index: Callable[..., ProjectIndex]) -> None:
    idx = make_index()
    idx.upsert(_records())
    report = sync(_sources(served.base), idx.home, lambda: idx, dry_run=True)[0]
    assert report.ok and "would be filed" in report.line() and served.queries
    assert not (idx.home / DIRECTORY_FILE).exists()


def test_matching_is_by_exact_name_and_country_only() -> None:
    bodies = [
        Body("NO", ("Fjordby kommune", "Fjordby Municipality")),
        Body("NO", ("Fjordbyy kommune",)),
        Body("NO", ("Dalby kommune",), ("944000011",)),
        Body("DK", ("Fjordby kommune",)),
    ]
    doc = {
        "head": {"vars": []},
        "results": {"bindings": [*BINDINGS, _b("Q2000", "FJORDBY KOMMUNE", "alias", "NO", "https://fjordby-alt.no/")]},
    }  # case alone: the same name
    out = match_wikidata(bodies, [doc])
    found = {(e.country, e.name): e for e in out.entries}
    assert set(found) == {("NO", "Fjordby kommune")}  # not the near-miss, not the contradicted, not Denmark
    assert found[("NO", "Fjordby kommune")].website == "https://www.fjordby.kommune.no/"  # the label beats an alias
    assert out.contradicted == ["Dalby kommune"]
    with pytest.raises(ValueError, match="never stored"):
        BodiesDirectory().add(Entry("NO", "x", "X", "https://x.no", None, "wikidata", "Q1", "X", "fuzzy", 0.5))
    # a name is a literal in the query, never syntax
    query = sparql_query("NO", ['Fjordby "} DELETE {'])
    assert '"Fjordby \\"} DELETE {"@nb' in query and 'FILTER(?cc = "NO")' in query


def test_sources_file_takes_directory_kinds_and_refuses_their_mistakes(tmp_path: Path) -> None:
    shipped = {s.name: s for s in load_sources(Path(__file__).resolve().parents[2] / "service" / "sources.toml")}
    assert shipped["wikidata"].kind == "wikidata" and shipped["wikidata"].countries == ("NO", "SE", "DK", "FI", "IS")
    assert shipped["enhetsregisteret"].url == "https://data.brreg.no/enhetsregisteret/api/enheter"
    bad = {
        'name = "w"\nkind = "wikidata"\nurl = "https://a/sparql"\nformat = "digdir-csv"': "takes no 'format'",
        'name = "w"\nkind = "dbpedia"\nurl = "https://a/sparql"': "'kind' must be",
        'name = "w"\nkind = "wikidata"\nurl = "https://a/sparql"\ncountries = ["Norway"]': "'countries'",
        'name = "w"\nurl = "https://a/b"\nformat = "digdir-csv"\ncountries = ["NO"]': "'countries' is for directory",
        'name = "w"\nkind = "wikidata"\nurl = "https://a/sparql"\nmax_requests = 0': "'max_requests'",
    }
    for n, (entry, message) in enumerate(bad.items()):
        path = tmp_path / f"bad{n}.toml"
        path.write_text(f"[[source]]\n{entry}\n", encoding="utf-8")
        with pytest.raises(SourcesError, match=message):
            load_sources(path)
