"""Where to reach a public body: its web site and registry number from public registers.

The four registries erfa reads name the organisation behind a project but give neither
its web site nor its registry number (on the full corpus, 8 of 130 partner rows had a
web site). Public, keyless registers do: Wikidata (official website P856, Norwegian and
Swedish organisation numbers P2333 / P6460) and Norway's Enhetsregisteret (`hjemmeside`
by organisation number). `erfa sync` asks them at the operator's site (service/sync.py,
docs/sync.md) and files what they answer here, per (country, body key); partners read it.

A web site shown beside a body's name is a claim about that body, so nothing is guessed:

- a match is made by name *and* country: the name erfa holds, as written, is a label
  (`exact`) or an alternative label (`alias`) of an entity in that country, or the
  registry number a record carries is the entity's (`number`);
- each kind of match has a confidence (`CONFIDENCE`), stored and shown with the web site;
  anything below `MIN_CONFIDENCE` (a `fuzzy` match: a spelling only close to the name)
  is never stored;
- two entities that match one body equally well with different web sites are left out
  (ambiguous), and so is an entity whose registry number contradicts a record's.

The directory is one JSON file in the data directory (`bodies.json`), replaced atomically
by each sync and read again by a running server when it changes (`cached`).
"""

from __future__ import annotations

import json
import os
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from erfa.index.atomic import atomic_file
from erfa.index.bodies.organisations import name_keys
from erfa.ingest.record import web_link

DIRECTORY_FILE = "bodies.json"
_VERSION = 1

Match = Literal["number", "exact", "alias", "fuzzy"]
# How sure a match is. A registry number is the body's identity; a label is the name the
# register itself gives the entity; an alternative label is one it also goes by; a name that
# is only close (one letter, another legal form) may be another body and is never stored.
CONFIDENCE: dict[str, float] = {"number": 1.0, "exact": 0.95, "alias": 0.85, "fuzzy": 0.5}
MIN_CONFIDENCE = 0.8
SOURCES = ("wikidata", "enhetsregisteret")

# Languages a country's bodies are labelled in on Wikidata (besides "en" and "mul").
LANGUAGES: dict[str, tuple[str, ...]] = {
    "NO": ("nb", "nn", "no"),
    "SE": ("sv",),
    "DK": ("da",),
    "FI": ("fi", "sv"),
    "IS": ("is",),
    "EE": ("et",),
    "LV": ("lv",),
    "LT": ("lt",),
    "DE": ("de",),
    "AT": ("de",),
    "CH": ("de", "fr", "it"),
    "NL": ("nl",),
    "BE": ("nl", "fr"),
    "LU": ("fr", "de", "lb"),
    "FR": ("fr",),
    "IT": ("it",),
    "ES": ("es", "ca"),
    "PT": ("pt",),
    "IE": ("ga",),
    "PL": ("pl",),
    "CZ": ("cs",),
    "SK": ("sk",),
    "SI": ("sl",),
    "HR": ("hr",),
    "HU": ("hu",),
    "RO": ("ro",),
    "BG": ("bg",),
    "GR": ("el",),
    "CY": ("el",),
    "MT": ("mt",),
    "GB": (),
}


def fold(name: str) -> str:
    """How two spellings of one name compare: Unicode form, case and spacing only. A label
    differing in anything else is a different string, so at best a fuzzy match."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


@dataclass(frozen=True)
class Entry:
    """One body's reach as a public register gives it."""

    country: str
    key: str  # the body key of ``name`` (organisations.name_keys(name)[0])
    name: str  # the name erfa holds for the body, the one that matched
    website: str | None
    registry_id: str | None
    source: str  # "wikidata" or "enhetsregisteret"
    ref: str  # where to check it: the Wikidata entity or the Enhetsregisteret record
    matched: str  # the register's own name that matched
    match: str  # "number", "exact" or "alias" (see CONFIDENCE)
    confidence: float
    checked_at: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Entry:
        # JSON values, checked by the caller (a hand-edited entry that does not read is left out)
        values: dict[str, Any] = {f: data.get(f) for f in cls.__dataclass_fields__}
        return cls(**values)


@dataclass
class BodiesDirectory:
    """Entries by (country, body key); ``lookup`` finds a body by any of its names."""

    entries: dict[tuple[str, str], list[Entry]] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        """File ``entry``, replacing one from the same source for the same body."""
        if entry.confidence < MIN_CONFIDENCE:
            raise ValueError(
                f"{entry.name!r}: a {entry.match} match ({entry.confidence}) is below "
                f"{MIN_CONFIDENCE} and is never stored"
            )
        kept = [e for e in self.entries.get((entry.country, entry.key), []) if e.source != entry.source]
        self.entries[(entry.country, entry.key)] = [*kept, entry]

    def all(self) -> list[Entry]:
        return [e for es in self.entries.values() for e in es]

    def lookup(self, country: str, names: Iterable[str]) -> Entry | None:
        """The surest entry for a body known under ``names`` in ``country``: highest confidence,
        then the official register (Enhetsregisteret) before Wikidata; None when none is filed."""
        found = [e for name in names for k in name_keys(name) for e in self.entries.get((country, k), ())]
        if not found:
            return None
        return max(found, key=lambda e: (e.confidence, e.source == "enhetsregisteret", bool(e.website), e.ref))

    def replaced(self, source: str, entries: Iterable[Entry]) -> BodiesDirectory:
        """A new directory holding ``entries`` as everything ``source`` says: one sync of a
        source is its whole current answer, so what it no longer says is dropped."""
        out = BodiesDirectory({k: [e for e in es if e.source != source] for k, es in self.entries.items()})
        for e in entries:
            out.add(e)
        out.entries = {k: es for k, es in out.entries.items() if es}
        return out

    # -- the file ---------------------------------------------------------------------------

    def save(self, home: Path) -> None:
        """Replace ``home/bodies.json`` atomically (a crash leaves the old file or the new one)."""
        data = {
            "version": _VERSION,
            "entries": [asdict(e) for e in sorted(self.all(), key=lambda e: (e.country, e.key, e.source))],
        }

        def write(tmp: Path) -> None:
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

        atomic_file(Path(home) / DIRECTORY_FILE, write)

    @classmethod
    def load(cls, home: Path) -> BodiesDirectory:
        """The directory in ``home``; empty when there is none. A damaged file is empty too
        (the next sync writes it anew): a partner is still reachable through its projects."""
        path = Path(home) / DIRECTORY_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            return cls()
        out = cls()
        for raw in data.get("entries", []) if isinstance(data, dict) else []:
            try:
                entry = Entry.from_json(raw)
                if entry.confidence >= MIN_CONFIDENCE and entry.country and entry.key:
                    out.entries.setdefault((entry.country, entry.key), []).append(entry)
            except (TypeError, ValueError, AttributeError):
                continue  # a hand-edited entry that does not read is left out, not fatal
        return out


_CACHE: dict[Path, tuple[tuple[int, int], BodiesDirectory]] = {}
_CACHE_LOCK = threading.Lock()


def cached(home: Path) -> BodiesDirectory:
    """The directory of ``home``, read again only when the file changed (a sync replaced it):
    one stat per partners request, so a running server picks up a sync without a restart."""
    path = Path(home) / DIRECTORY_FILE
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        return BodiesDirectory()
    with _CACHE_LOCK:
        hit = _CACHE.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    directory = BodiesDirectory.load(home)
    with _CACHE_LOCK:
        _CACHE[path] = (stamp, directory)
    return directory


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def website(raw: object) -> str | None:
    """A register's web-site value as a link erfa serves (http/https only), else None."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return web_link(raw.strip())
    except ValueError:
        return None


# -- Wikidata -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """A body as erfa holds it: its country, every name it goes by, the registry numbers its records carry."""

    country: str
    names: tuple[str, ...]
    numbers: tuple[str, ...] = ()


def sparql_query(country: str, names: Sequence[str]) -> str:
    """A SPARQL query for the entities of ``country`` (by ISO code, P297 of P17) labelled, or
    also known as, one of ``names`` in the country's languages or English: their official web
    site (P856) and Norwegian / Swedish organisation numbers (P2333 / P6460)."""
    languages = ("en", "mul", *LANGUAGES.get(country, ()))
    values = " ".join(f"{_literal(n)}@{lang}" for n in dict.fromkeys(names) for lang in dict.fromkeys(languages))
    return (
        "SELECT ?item ?name ?how ?cc ?site ?no ?se WHERE {\n"
        f"  VALUES ?name {{ {values} }}\n"
        '  { ?item rdfs:label ?name . BIND("exact" AS ?how) }\n'
        '  UNION { ?item skos:altLabel ?name . BIND("alias" AS ?how) }\n'
        f"  ?item wdt:P17 ?country . ?country wdt:P297 ?cc . FILTER(?cc = {_literal(country)})\n"
        "  OPTIONAL { ?item wdt:P856 ?site }\n"
        "  OPTIONAL { ?item wdt:P2333 ?no }\n"
        "  OPTIONAL { ?item wdt:P6460 ?se }\n"
        "}"
    )


def _literal(text: str) -> str:
    """``text`` as a SPARQL string literal: a name is data, never query syntax."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _value(binding: Mapping[str, Any], var: str) -> str | None:
    cell = binding.get(var)
    value = cell.get("value") if isinstance(cell, dict) else None
    return value if isinstance(value, str) else None


@dataclass
class Outcome:
    """What one source's answers came to, for the sync report."""

    entries: list[Entry] = field(default_factory=list)
    asked: int = 0  # bodies asked about
    ambiguous: list[str] = field(default_factory=list)  # bodies left out: equally good matches disagree
    contradicted: list[str] = field(default_factory=list)  # bodies left out: a registry number disagrees
    without_site: int = 0  # matched, but the register gives no web site or number


def match_wikidata(bodies: Sequence[Body], results: Iterable[Mapping[str, Any]], checked_at: str = "") -> Outcome:
    """Entries for ``bodies`` from SPARQL 1.1 JSON results (``{"head":…, "results": {"bindings": […]}}``)
    of `sparql_query`: a binding counts only when its country is the body's and its name is one of
    the body's names; the best kind of match wins; equally good matches with different web sites,
    and a registry number that contradicts one a record carries, leave the body out."""
    by_name: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for doc in results:
        for b in (doc.get("results") or {}).get("bindings") or []:
            name, cc = _value(b, "name"), _value(b, "cc")
            if name and cc and _value(b, "item"):
                by_name.setdefault((cc.upper(), fold(name)), []).append(b)
    out = Outcome(asked=len(bodies))
    for body in bodies:
        hits: list[tuple[str, str, Mapping[str, Any]]] = []  # (match, erfa name, binding)
        for n in body.names:
            for b in by_name.get((body.country, fold(n)), ()):
                how = "exact" if _value(b, "how") == "exact" else "alias"
                hits.append((how, n, b))
        if not hits:
            continue
        # a registry number a record carries is the body's identity: an entity with another is another body
        numbers = set(body.numbers)
        items: dict[str, dict[str, Any]] = {}
        for how, n, b in hits:
            item = _value(b, "item") or ""
            info = items.setdefault(item, {"how": set(), "names": set(), "sites": set(), "numbers": set()})
            info["how"].add(how)
            info["names"].add(n)
            if (site := website(_value(b, "site"))) is not None:
                info["sites"].add(site)
            for var in ("no", "se"):
                if (num := _value(b, var)) is not None:
                    info["numbers"].add("".join(ch for ch in num if ch.isdigit() or ch == "-"))
        if numbers and any(info["numbers"] and not info["numbers"] & numbers for info in items.values()):
            out.contradicted.append(body.names[0])
            continue
        for info in items.values():
            info["match"] = "number" if info["numbers"] & numbers else ("exact" if "exact" in info["how"] else "alias")
        best = max(CONFIDENCE[i["match"]] for i in items.values())
        top = {item: i for item, i in items.items() if CONFIDENCE[i["match"]] == best}
        sites = {s for i in top.values() for s in i["sites"]}
        nums = {x for i in top.values() for x in i["numbers"]}
        if len(top) > 1 and (len(sites) > 1 or len(nums) > 1):
            out.ambiguous.append(body.names[0])
            continue
        item, info = sorted(top.items())[0]
        site = _preferred(info["sites"] or sites)
        number = sorted(info["numbers"] or nums)[0] if (info["numbers"] or nums) else None
        if site is None and number is None:
            out.without_site += 1
            continue
        name = sorted(info["names"], key=lambda x: (x not in body.names[:1], x))[0]
        keys = name_keys(name)
        if not keys:
            continue
        out.entries.append(
            Entry(
                country=body.country,
                key=keys[0],
                name=name,
                website=site,
                registry_id=number,
                source="wikidata",
                ref=item,
                matched=name,
                match=info["match"],
                confidence=CONFIDENCE[info["match"]],
                checked_at=checked_at,
            )
        )
    return out


def _preferred(sites: Iterable[str]) -> str | None:
    """One entity with several official web sites (language versions): https first, then the
    shortest; all are the body's own."""
    return min(sites, key=lambda s: (not s.startswith("https://"), len(s), s), default=None)


# -- Enhetsregisteret -------------------------------------------------------------------------


def match_enhet(
    body_name: str,
    number: str,
    enhet: Mapping[str, Any],
    source_confidence: float,
    source_match: str,
    ref: str,
    checked_at: str = "",
) -> Entry | None:
    """An entry from one Enhetsregisteret record (``GET …/enheter/{orgnr}``): the body is
    identified by its number, so the match is as sure as the number's origin (a record's own
    number: `number`; a number Wikidata gave a matched entity: that match). A record for
    another number, or a deleted one, gives nothing."""
    if str(enhet.get("organisasjonsnummer", "")).replace(" ", "") != number or enhet.get("slettedato"):
        return None
    site = website(enhet.get("hjemmeside"))
    keys = name_keys(body_name)
    if site is None or not keys or source_confidence < MIN_CONFIDENCE:
        return None
    return Entry(
        country="NO",
        key=keys[0],
        name=body_name,
        website=site,
        registry_id=number,
        source="enhetsregisteret",
        ref=ref,
        matched=str(enhet.get("navn") or ""),
        match=source_match,
        confidence=source_confidence,
        checked_at=checked_at,
    )
