"""Organisation names as registries write them, made into names people can use.

The registries' "responsible organisation" cell is free text, and on the real data
(Digdir, PSTW, AI Watch, IPS-X: 2,972 projects) it holds more than a name: "Unknown",
an empty cell, a person's e-mail ("University Hospital Olomouc, contact ...@fnol.cz"),
a web address instead of a name ("https://henchman.io/"), the country or city behind
a bar or comma ("UPMC | Waterford, Ireland", "CitizenLab, Belgium"), the EU project it
ran in ("ETAPAS project: SINTEF-Prokom"), the same name twice ("X, X, Cyprus"), a
bracket cut off mid-acronym ("... Authority (NVW"), and lists and collectives that are
no one body ("About 120 different municipalities in the Netherlands", "Aalborg, Viborg
and Skive Municipalities", "Municipality of Deventer, Municipality of Goirle").

`clean` runs when any record is built (`Record`), so every door gets it (registry files,
`erfa sync`, the API and submissions): what is not a name leaves the name, an e-mail
address of a team mailbox becomes the record's contact, a web address its web site.
A personal address ("first.last@") is dropped, not published: erfa points to
organisations, never to people (as the Digdir adapter drops `kontaktperson`).

`several_bodies` tells a list or a collective from a body's name. Such a name stays the
project's organisation text (people still read who ran it) but is never filed as a
body: `erfa.index.bodies.organisations.name_keys` gives it no key, so it is never a partner
and no spelling of a real body is merged into it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from erfa.ingest import vocab

# A name meaning "nobody known", in the registries' languages (compared whole, folded).
_UNKNOWN = frozenset(
    {
        "unknown",
        "unknown organisation",
        "unknown organization",
        "not known",
        "not specified",
        "unspecified",
        "not available",
        "not applicable",
        "n/a",
        "na",
        "n.a",
        "none",
        "null",
        "nan",
        "nil",
        "tbd",
        "tba",
        "anonymous",
        "undisclosed",
        "confidential",
        "various",
        "other",
        "others",
        "ukjent",
        "ukjend",
        "ikke oppgitt",
        "ikkje oppgitt",
        "ikke kjent",
        "annen",
        "anna",
        "diverse",  # nb, nn
        "okand",
        "okant",
        "ej angiven",
        "ej angivet",
        "ingen uppgift",
        "annan",  # sv (folded: okänd -> okand)
        "ukendt",
        "ikke oplyst",
        "ikke angivet",
        "anden",  # da
        "tuntematon",
        "ei tiedossa",
        "ei tietoa",
        "muu",  # fi
        "othekkt",
        "oþekkt",  # is
        "unbekannt",
        "inconnu",
        "inconnue",
        "desconocido",
        "sconosciuto",
        "onbekend",
        "nieznany",
    }
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "contact", "e-mail:" and the like that introduce an address, with the separators around it.
_EMAIL_LEAD = re.compile(
    r"(?:[,;:(\-–|/]\s*)?(?:\b(?:contact|kontakt|kontaktperson|e-?mail|e-?post|mail)\b\s*[:.]?\s*)?$", re.I
)
# A phone number: after "tel"/"phone"/... or with a country code ("+47 ..."); a bare number may
# be a registry number or a year range, and stays.
_PHONE = re.compile(r"(?:[,;(\-–|]\s*)?(?:\b(?:tel|tlf|phone|telefon|puh|ph)\b\.?:?\s*\+?|\+)\d[\d ()-]{5,}\d\)?", re.I)
# A whole name that is a web address: with a scheme or "www."; "Boost.ai" is a company's name.
_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
_URL_INSIDE = re.compile(r"\(?\b(?:https?://|www\.)[^\s,;()]+\)?", re.I)
# "ETAPAS project: SINTEF-Prokom": the EU project a case ran in, before its owner.
_PROJECT_PREFIX = re.compile(
    r"^[\w.-]{2,30} (?:project|prosjekt|projekt|projektet|prosjektet|hanke):\s*(?P<rest>\S.*)$", re.I
)
_EDGE_PUNCT = " \t,;:|/-–—"  # and a full stop that ends no abbreviation (_trim)
# Words that make a part of a name a body of its own (used to see "A and B" lists).
_BODY_WORD = re.compile(
    r"\b(?:municipality|kommune|kommun|kommunen|city|town|region|regionen|county|fylkeskommune|province|university|"
    r"universitet|universitetet|universität|universidad|università|hospital|sykehus|sjukhus|sygehus|hospitalet|ministry|"
    r"agency|authority|directorate|direktorat|direktoratet|police|politi|polis|politiet|polisen|council|inspectorate|"
    r"register|government|gemeente|stadt|gemeinde|agentschap|ministerie|ministère|ministerio|ministero|ministerium)\b",
    re.I,
)
# Plural collective nouns: a name built on one is many bodies ("Danish Municipalities").
_COLLECTIVE = (
    r"municipalities|kommuner|kommunene|kommunar|kommunane|kommunerna|councils|counties|regions|regioner|"
    r"regionerna|provinces|cities|towns|universities|universiteter|hospitals|hospitaler|ministries|"
    r"departementer|agencies|authorities|myndigheter|myndighederne|etater|directorates|direktorater|"
    r"institutions|entities|organisations|organizations|organisasjoner|organisationer|bodies|partners|"
    r"schools|colleges|governments|gemeenten|kunnat|kaupungit|parties"
)
_QUANTITY = (
    r"\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|several|various|different|multiple|many|"
    r"numerous|all|some|flere|fleire|ulike|ulike|forskjellige|alle|flera|olika|manga|adskillige|forskellige|"
    r"useita|eri|kaikki"
)
_LIST_PHRASES = re.compile(
    rf"(?:(?:\band|&|\bog|\boch|\bwith|\bplus)\s+(?:\w+\s+){{0,2}}others?\b|\bamong others\b|\betc\b\.?|\be\.g\.|"
    rf"\bother\s+(?:\d+\s+)?(?:\w+\s+){{0,2}}(?:{_COLLECTIVE})\b|"
    rf"\b(?:{_QUANTITY})\s+(?:[\w-]+\s+){{0,3}}(?:{_COLLECTIVE})\b)",
    re.I,
)
# "Municipality of Amersfoort and Dordrecht": one type of place-body, several places
_PLACES_OF_ONE_TYPE = re.compile(
    r"^(?:the\s+)?(?:municipality|munipality|city|town|province|county|region) of "
    r"(?:[^(),&]|\([^)]*\))+?(?:,|\s+and\s+|\s+&\s+)\s*\S",
    re.I,
)
_COLLECTIVE_START = re.compile(rf"^(?:the\s+)?(?:{_COLLECTIVE})\b", re.I)
# ... or ending in one, unless it is the complement of one body ("Directorate of Local Authorities")
_COLLECTIVE_END = re.compile(rf"^(?!.*\b(?:of|for|för|for|til|för)\b).*\b(?:{_COLLECTIVE})$", re.I)
# A body that is a group by design: "European Consortium of Innovative Universities (ECIU)".
_ONE_GROUP = re.compile(
    r"\b(?:network|consortium|association|federation|union|alliance|joint undertaking|forum|"
    r"foundation|cooperation|co-operation|sentralforbund|forbund|förbund|samarbeid|samarbete|"
    r"samarbejde|partnership|chamber|initiative)\b",
    re.I,
)
# A part that is an acronym ("NFI", "UWV", "OU (CAROU)"); two letters only with its expansion,
# and never a common abbreviation that ends a body's own name ("... for Finance and HR").
_ACRONYM_PART = re.compile(r"^(?:the\s+)?(?:[A-ZÆØÅÄÖ][A-ZÆØÅÄÖ0-9&]{2,6}|[A-ZÆØÅÄÖ]{2}\s*\([^)]*\))(?:\s*\([^)]*\))?$")
_NOT_ACRONYMS = frozenset({"ICT", "IKT", "HR", "IT", "AI", "KI", "EU", "R&D", "NLP", "GIS", "API"})
# A part that is only a legal form ("X, EPE", "X, Inc."): part of the name before it.
_LEGAL_FORM_PART = re.compile(
    r"^(?:epe|sa|s\.a\.?|ltd\.?|inc\.?|ab|as|asa|oy|oyj|gmbh|bv|b\.v\.?|nv|ip|plc|llc|spa|srl)$", re.I
)
_COMPANY = re.compile(
    r"\b(?:b\.?v\.?|gmbh|ltd\.?|s\.?a\.?|s\.?l\.?|oy|ab|as|asa|inc\.?|plc|sas|srl|spa|a/s|aps)$", re.I
)
_SPLIT_WORDS = re.compile(r"\s+(?:and|og|och|&|with|as well as)\s+", re.I)
# Local parts of a team mailbox (never one person's): "post@", "digitalisering@", "ai-lab@".
_ROLE_WORDS = frozenset(
    {
        "post",
        "postmottak",
        "postmottaket",
        "mottak",
        "kontakt",
        "contact",
        "info",
        "information",
        "support",
        "service",
        "kundeservice",
        "servicedesk",
        "helpdesk",
        "office",
        "admin",
        "press",
        "presse",
        "media",
        "registry",
        "registrator",
        "registrar",
        "registratur",
        "ai",
        "ki",
        "data",
        "digital",
        "digitalisering",
        "digitalisation",
        "digitalization",
        "innovation",
        "innovasjon",
        "team",
        "lab",
        "hello",
        "hei",
        "hej",
        "mail",
        "enquiries",
        "inquiries",
        "kommune",
        "kommun",
        "kirjaamo",
        "servicecenter",
        "kundtjanst",
        "kundcenter",
        "it",
        "ikt",
        "dpo",
        "personvern",
        "personvernombud",
        "privacy",
        "security",
        "sikkerhet",
    }
)


@dataclass(frozen=True)
class CleanName:
    """What a registry's organisation cell holds, sorted out."""

    name: str | None  # the organisation as the record keeps it; None: no organisation
    contact: str | None = None  # a team mailbox that was inside the name
    website: str | None = None  # a web address that was (inside) the name
    notes: tuple[str, ...] = field(default=())  # what was changed, for the ingest report


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().replace("ø", "o").replace("æ", "ae").replace("þ", "th"))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def is_unknown(name: str) -> bool:
    """True for a name that says nobody is known ("Unknown", "ukjent", "N/A", "-")."""
    return _fold(name).strip(" .:;,()[]") in _UNKNOWN


def functional_mailbox(address: str) -> bool:
    """True for a team's or role's mailbox ("post@", "digitalisering@", "ai-lab@"), False
    for what may be one person's ("antonin.hlavinka@", "jdoe@"): only the first may be
    published, so anything not made of role words counts as a person's."""
    local = address.split("@", 1)[0].casefold()
    words = [w for w in re.split(r"[._+-]", local) if w]
    return bool(words) and all(w in _ROLE_WORDS or w.isdigit() for w in words)


def top_level_parts(name: str, separators: re.Pattern[str]) -> list[str]:
    """``name`` split at ``separators`` outside brackets ("X (a, b), Y" -> ["X (a, b)", "Y"])."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(name):
        ch = name[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif depth == 0:
            m = separators.match(name, i)
            if m and m.end() > i:
                parts.append(name[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(name[start:])
    return [p.strip(_EDGE_PUNCT + " ") for p in parts if p.strip(_EDGE_PUNCT + " ")]


_COMMA = re.compile(r"\s*[,;]\s*")
_ANY_SEP = re.compile(r"\s*[,;]\s*(?:(?:and|og|och|&)\s+)?|\s+(?:and|og|och|&|with|as well as)\s+", re.I)
_SEMICOLON = re.compile(r"\s*;\s*")


def _acronym(part: str) -> bool:
    return bool(_ACRONYM_PART.match(part)) and part.split("(")[0].strip().removeprefix("the ") not in _NOT_ACRONYMS


def _is_country(text: str) -> bool:
    """A country's name ("Belgium", "the Netherlands", "Sverige"), not a code ("NL", "UM")."""
    text = re.sub(r"^the\s+", "", text.strip(), flags=re.I)
    return len(text) > 3 and not text.isupper() and vocab.country_code(text) is not None


def _strip_place(name: str) -> str:
    """The country or "city, country" a registry wrote after the name: "UPMC | Waterford, Ireland",
    "CitizenLab, Belgium", "Karolinska Institutet in Sweden", "Fondazione Don Gnocchi (Italy)"."""
    head, bar, tail = name.rpartition("|")
    if bar and head.strip() and _is_country(tail.split(",")[-1]):
        name = head.strip()
    m = re.match(r"^(?P<head>.+?)\s*(?:,\s*|\s+in\s+|\()(?P<country>[^,()]+?)\)?$", name)
    head = m.group("head") if m else ""
    if m and _is_country(m.group("country")) and len(head) > 2 and head.count("(") == head.count(")"):
        name = m.group("head").strip()
    return name


def _trim(name: str) -> str:
    """Separators and a sentence's full stop off both ends ("Amsterdam City Archive.", "Risks .",
    "Ministry of Public Administration,"), but not an abbreviation's ("B.V.", "Ltd.", "e.V.")."""
    prev = None
    while prev != name:
        prev = name = name.strip(_EDGE_PUNCT)
        if name.endswith("."):
            last = name[:-1].rsplit(" ", 1)[-1]
            if name[-2:-1].isspace() or (len(last) >= 4 and "." not in last and not _ABBREVIATION.match(last)):
                name = name[:-1]
    return name


_ABBREVIATION = re.compile(r"^(?:ltd|inc|co|corp|mbh|gmbh|bros|dept|univ|assn|kft|zrt|spol|oyj|ab|as|asa)$", re.I)


def _without_unclosed_bracket(name: str) -> str:
    """ "... Safety Authority (NVW" -> "... Safety Authority": a cell cut inside its last
    bracket; the stump is no acronym anyone uses, the rest is the name."""
    opened = name.rfind("(")
    if opened > 0 and ")" not in name[opened:]:
        return name[:opened].strip()
    return name


def _deduplicated(name: str) -> str:
    """ "X, X, Cyprus" -> "X": registries join the same name twice."""
    parts = [p for p in top_level_parts(name, _COMMA) if not _is_country(p)]
    if len(parts) < 2:
        return name
    keys = [_fold(re.sub(r"\([^)]*\)", " ", p)).replace(":", " ") for p in parts]
    keys = [" ".join(k.split()) for k in keys]
    if len(set(keys)) == 1:
        return parts[0]
    return name


def clean(raw: str | None) -> CleanName:
    """The organisation a registry's cell names, and the contact or web site inside it."""
    if raw is None:
        return CleanName(None)
    name = " ".join(raw.split())
    notes: list[str] = []
    contact = website = None
    if not name:
        return CleanName(None)
    if not any(c.isalnum() for c in name):
        return CleanName(
            name
        )  # "...", "§", "?": kept as written, and names no body (issue 18, organisations.name_keys)
    for address in _EMAIL.findall(name):
        start = name.find(address)
        lead = _EMAIL_LEAD.search(name[:start])
        cut_from = lead.start() if lead else start
        end = start + len(address)
        if name[cut_from:start].lstrip().startswith("(") and name[end:].lstrip().startswith(")"):
            end = name.index(")", end) + 1  # "(post@...)": the bracket goes with the address
        name = (name[:cut_from] + name[end:]).strip()
        if functional_mailbox(address):
            contact = contact or address
            notes.append(f"the e-mail address {address} in the organisation name became the record's contact")
        else:
            notes.append(
                "a person's e-mail address was removed from the organisation name "
                "(erfa points to organisations, not people)"
            )
    if _PHONE.search(name):
        name = _PHONE.sub("", name).strip()
        notes.append("a phone number was removed from the organisation name")
    if _URL.match(name):
        address = name if "://" in name else "https://" + name
        website = _web(address)
        host = (urlsplit(address).hostname or "").removeprefix("www.")
        notes.append(
            f"the organisation name was a web address: kept {host!r} as the name and the address as its web site"
        )
        name = host
    else:
        inside = _URL_INSIDE.search(name)
        if inside and name.replace(inside.group(0), "").strip(_EDGE_PUNCT):
            address = inside.group(0).strip("()")
            website = _web(address if "://" in address else "https://" + address)
            name = name.replace(inside.group(0), " ")
            notes.append("a web address was moved out of the organisation name into its web site")
    name = _trim(" ".join(name.split()))
    if (m := _PROJECT_PREFIX.match(name)) is not None:
        name = m.group("rest").strip()
    name = _deduplicated(_without_unclosed_bracket(name))
    if not several_bodies(name):  # a list stays as written: people read who ran the project
        name = _trim(_strip_place(name))
    # a country, a project's name or a stray full stop trimmed off is not worth a line in every
    # sync's report; what moved to the contact or web site, or was dropped, is
    if not name or is_unknown(name):
        return CleanName(None, contact, website, tuple(notes))
    return CleanName(name, contact, website, tuple(notes))


def _web(address: str) -> str | None:
    from erfa.ingest.record import web_link  # record.py imports this module

    try:
        return web_link(address.rstrip("."))
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def several_bodies(name: str) -> bool:
    """True when ``name`` is a list or a collective, not one body's name: "Aalborg Municipality
    and Rødovre Municipality", "Municipality of Deventer, Municipality of Goirle", "Danish
    Municipalities", "About 120 different municipalities", "Helsinki, Skansa and others",
    "Kortrijk, Kuurne, and Lendelde", "A; B".

    Measured on the four registries' names (models.md): a body's own name keeps its commas
    and "and"s ("Ministry of Education, Science and Sport", "Police and Border Guard Board",
    "Statnett, the Norwegian electricity transmission system operator", "Brønnøysund Register
    Centre under the Ministry of Trade, Industry and Fisheries"), since only one of its parts
    names a body; a group by design ("European Consortium of Innovative Universities") is one.
    """
    text = " ".join(name.split())
    if not text:
        return False
    if len(top_level_parts(text, _SEMICOLON)) >= 2:
        return True
    flat = re.sub(r"\([^)]*\)", " ", text)  # what a bracket says is about the one name before it
    bare = re.sub(r"\s+in\s+(?:the\s+)?[\w -]+$", "", " ".join(flat.split())).strip(_EDGE_PUNCT)
    if not _ONE_GROUP.search(flat) and (
        _LIST_PHRASES.search(text) or _COLLECTIVE_START.search(bare) or _COLLECTIVE_END.match(bare)
    ):
        return True
    if _PLACES_OF_ONE_TYPE.match(text):
        return True
    parts = [p for p in top_level_parts(text, _ANY_SEP) if not _LEGAL_FORM_PART.match(p)]
    if len(parts) < 2:
        return False
    named = [bool(_BODY_WORD.search(p)) or _acronym(p) or bool(_COMPANY.search(p)) for p in parts]
    if (
        len(parts) == 2
        and not _BODY_WORD.search(parts[0])
        and _BODY_WORD.search(parts[1])
        and len(top_level_parts(text, _COMMA)) == 2
    ):
        return False  # "FORWISS, University of Passau": a unit, then the body it belongs to
    bodies = sum(named)
    if bodies >= 2:
        return True
    # three or more names, none with a body type, the first no "Ministry of ..." head: places or
    # firms ("Kortrijk, Kuurne, and Lendelde", "ProRail, Schiphol, DSM, ..."); "&" joins the words
    # of one name ("Foreign, Commonwealth & Development Office", "Research, Information & Statistics")
    return (
        len(parts) >= 3
        and not any(_BODY_WORD.search(p) for p in parts)
        and "&" not in text
        and not re.search(r"\b(?:of|for|für|de|di|du|van|voor)\b", parts[0], re.I)
    )
