"""One key per public body, however its name is spelled, in whatever language.

Registries write the same body many ways: "Helse Bergen HF" / "Helse Bergen",
"Stockholms stad" / "City of Stockholm", "Kristiansand kommune" / "Kristiansand
Municipality", "Finnish Tax Administration (FTA)" / "Finnish Tax Administration".
Counting them apart splits an organisation's experience and hides it from the ranking,
so every name is folded to keys and the keys that name one body are joined:

1. `org_key` folds case, accents, punctuation, legal form ("HF", "AS") and the body's
   type: "X kommune" = "X kommun" = "X Kommune" = "X Municipality" = "Municipality of X"
   = "City of X" = "X stad" (the place's genitive -s dropped, its exonym replaced:
   "Copenhagen" -> "København"), likewise regions and counties, universities and
   university hospitals. Two bodies merge only when the place and the body type agree.
2. `name_keys` adds the other keys a name gives: its bracketed or trailing acronym or
   one-word short name ("Norwegian Customs (Tolletaten)"), the alias table's key.
3. `Directory` joins, per country, every key seen in one name, the keys of names with
   the same registry number (`Record.organisation_number`), keys one letter apart
   (typos such as "Stockholm stad"), and the alias table's pairs (index/bodies/aliases.toml:
   the same body under unrelated names, "Utlendingsdirektoratet" = "Directorate of
   Immigration"). It also says which name to show: the one the body uses itself.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from erfa.ingest.orgnames import several_bodies

ALIASES_FILE = Path(__file__).with_name("aliases.toml")

# Legal-form suffixes that do not change which body is meant.
_SUFFIXES = re.compile(r"\s+(hf|rhf|iks|as|asa|ab|a/s|sf|kf|fkf|ikt|oy|oyj|ltd|ltd\.|inc)$")
# Trailing capitals that are a legal form, not an acronym of the name ("Norsk Hydro ASA").
_LEGAL_FORMS = frozenset(
    {
        "as",
        "asa",
        "ab",
        "hf",
        "rhf",
        "iks",
        "sf",
        "kf",
        "oy",
        "oyj",
        "ltd",
        "plc",
        "llc",
        "inc",
        "gmbh",
        "mbh",
        "kg",
        "ag",
        "spa",
        "srl",
        "sas",
        "sa",
        "bv",
        "nv",
        "aps",
        "a/s",
    }
)
_PAREN = re.compile(r"\(([^)]*)\)")
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "ß": "ss", "đ": "d", "ð": "d", "þ": "th", "ł": "l"})
# Countries (folded) a registry writes beside a body's name: "Research Council of Norway",
# "Federal Statistical Office Germany", "... of the Republic of Estonia". Keys are per country,
# so dropping the country never joins bodies of two countries.
_COUNTRY_NAMES = (
    r"(?:(?:the )?(?:republic of )?(?:norway|sweden|denmark|finland|iceland|estonia|latvia|lithuania|germany|"
    r"netherlands|belgium|france|italy|spain|portugal|greece|austria|switzerland|poland|czechia|"
    r"czech republic|slovakia|slovenia|croatia|hungary|romania|bulgaria|ireland|malta|cyprus|luxembourg|"
    r"united kingdom|uk))"
)
# The country's adjective or name before a body's name: "Estonian Road Administration" = "Road
# Administration", "German Federal Foreign Office" = "Federal Foreign Office", "Spanish Government"
# = "Government of Spain" (measured on the four registries, models.md).
_NATIONAL = re.compile(
    r"^(?:the )?(?:royal )?(?:norwegian|swedish|danish|finnish|icelandic|estonian|estonia|latvian|"
    r"lithuanian|german|dutch|netherlands|belgian|french|italian|spanish|portuguese|greek|hellenic|"
    r"austrian|swiss|polish|czech|slovak|slovenian|croatian|hungarian|romanian|bulgarian|irish|"
    r"british|uk|maltese|cypriot|luxembourgish) (?=\w+ \w)"
)
# Spelling variants that name the same thing ("Centre of Registers" = "Center of Registers").
_VARIANTS = (
    (re.compile(r"\bcentre\b"), "center"),
    (re.compile(r"\borganisation\b"), "organization"),
    (re.compile(r"\bprogramme\b"), "program"),
    (re.compile(r" & "), " and "),
)
# Words that join the parts of a name without telling bodies apart: "Politecnico di Milano" =
# "Politecnico of Milano", "Technical University of Munich" = "Technical University Munich".
_CONNECTIVES = re.compile(r" (?:of the|of|the|di|de|del|della|degli|du|des|da|do) ")

# Body types, each a family of equivalent words across nb, nn, sv, da, fi and en.
# (kind, pattern with a named group "place"); tried in order, first match wins.
_BODY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(p))
    for kind, p in (
        (
            "university-hospital",
            r"^(?P<place>.+?) (?:universitetssykehus|universitetssjukehus|universitetssjukhus"
            r"|universitetshospital|university hospital)$",
        ),
        ("university-hospital", r"^university hospital (?:of|in) (?P<place>.+)$"),
        ("university", r"^(?:universitetet|universitetet) i (?P<place>.+)$"),
        ("university", r"^university of (?P<place>.+)$"),
        ("university", r"^(?P<place>[^ ]+(?: [^ ]+)?) (?:universitet|university|yliopisto)$"),
        (
            "county",
            r"^(?P<place>.+?) (?:fylkeskommune|fylkeskommunen|fylke|county council|county municipality|county)$",
        ),
        ("county", r"^(?:county council|county) of (?P<place>.+)$"),
        ("region", r"^(?:region|regionen) (?P<place>.+)$"),
        ("region", r"^(?P<place>.+?) (?:region|regionen)$"),
        ("region", r"^region of (?P<place>.+)$"),
        ("municipality", r"^(?:municipality|city|town|kommune|kommun) of (?P<place>.+)$"),
        ("municipality", r"^(?P<place>.+?) (?:kommune|kommun|kommunen|municipality|stad|city|kaupunki|kunta)$"),
    )
)
# A "place" holding these is a list of bodies or a part of one, not a place.
_NOT_A_PLACE = re.compile(r"\b(?:and|og|och|of|for|the|university|hospital|municipalities)\b|,")


@dataclass(frozen=True)
class _Aliases:
    """The alias table (index/bodies/aliases.toml), folded to keys."""

    places: dict[str, str]  # folded exonym -> folded own name of the place
    bodies: dict[tuple[str, str], str]  # (country, key) -> the body's own name
    own_key: dict[tuple[str, str], str]  # (country, key) -> the key of that own name


@lru_cache(maxsize=1)
def aliases() -> _Aliases:
    data = tomllib.loads(ALIASES_FILE.read_text(encoding="utf-8"))
    places = {_fold(k): _fold(v["own"]) for k, v in data.get("places", {}).items()}
    bodies: dict[tuple[str, str], str] = {}
    own_key: dict[tuple[str, str], str] = {}
    for body in data.get("bodies", []):
        country, name = body["country"], body["name"]
        main = _key(name, places)
        for alias in [name, *body.get("aliases", [])]:
            k = _key(alias, places)
            bodies[(country, k)] = name
            own_key[(country, k)] = main
    return _Aliases(places, bodies, own_key)


def _fold(text: str) -> str:
    """Case and accents away: "Københavns" and "Kobenhavns", "Växjö" and "Vaxjo" are one."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _plain(text: str) -> str:
    """Punctuation and legal form away, words single-spaced."""
    text = re.sub(r"[^\w\s/&-]", " ", text)
    text = " ".join(text.replace("-", " ").replace("/", " ").split())
    prev = None
    while prev != text:
        prev, text = text, _SUFFIXES.sub("", text)
    text = re.sub(r"^the ", "", text)
    for pattern, variant in _VARIANTS:
        text = pattern.sub(variant, text)
    text = re.sub(rf" (?:(?:in|of) )?{_COUNTRY_NAMES}$", "", text)
    return _NATIONAL.sub("", text)


def _typed(text: str, places: dict[str, str]) -> str | None:
    """ "kind:place" when the name is a body type plus a place, else None."""
    for kind, pattern in _BODY_PATTERNS:
        m = pattern.match(text)
        if m is None:
            continue
        place = m.group("place").strip()
        if not place or _NOT_A_PLACE.search(place):
            continue
        place = places.get(place, place)
        if len(place) > 3 and place.endswith("s"):  # the genitive: "Stockholms stad", "Københavns Kommune"
            place = place[:-1]
        return f"{kind}:{places.get(place, place)}"
    return None


def _key(name: str, places: dict[str, str]) -> str:
    text = _fold(name).strip()
    head, sep, rest = text.partition(", the ")
    if sep and "(" not in head and not re.search(r"\b(?:and|og|och)\b|,", rest):
        text = head  # "Statnett, the Norwegian electricity ... operator" is Statnett
    text = _plain(_PAREN.sub(" ", text))
    return _typed(text, places) or _CONNECTIVES.sub(" ", f" {text} ").strip()


def _acronym(inner: str) -> str | None:
    inner = inner.strip()
    if re.fullmatch(r"[^\W\d_][\w&-]{1,19}", inner):
        return _plain(_fold(inner))
    return None


def org_key(name: str) -> str:
    """The key a name is filed under: case, accents, spacing, punctuation, legal form and
    the body's type folded away; a bracketed acronym wins.

    "Arbeids- og velferdsetaten (NAV)" -> "nav", because people search and write the
    acronym; the long form usually appears only beside it (`name_keys` joins both).
    """
    bracket = _PAREN.search(name)
    short = _acronym(bracket.group(1)) if bracket else None
    if short and len(short) <= 10 and short.isalpha():
        return short
    return _key(name, aliases().places)


def name_keys(name: str) -> list[str]:
    """Every key one name gives, `org_key` first: the long form beside its acronym, a
    trailing acronym ("Finnish Patent and Registration Office PRH"), a bracketed short
    name ("Swedish Tax Agency (Skatteverket)"). None for a list or a collective ("Aalborg
    Municipality and Rødovre Municipality", "About 120 different municipalities",
    `erfa.ingest.orgnames.several_bodies`): it names no one body, so nothing is filed
    under it, no spelling of a real body merges into it and it is never a partner."""
    if several_bodies(name):
        return []
    places = aliases().places
    keys = [org_key(name), _key(name, places)]
    bracket = _PAREN.search(name)
    if bracket and (short := _acronym(bracket.group(1))):
        keys.append(short)
    words = name.split()
    rest = " ".join(words[:-1])
    if (
        len(words) >= 4
        and re.fullmatch(r"[A-ZÆØÅÄÖ]{2,5}", words[-1])
        and words[-1].casefold() not in _LEGAL_FORMS
        and not rest.isupper()
        and not re.search(r",| - ", rest)
    ):
        keys += [_key(rest, places), words[-1].casefold()]
    # a key with no letter or digit ("&", "/") names nothing
    return list(dict.fromkeys(k for k in keys if any(c.isalnum() for c in k)))


def names_a_body(name: str) -> bool:
    """False for a name nothing can be keyed from ("...", "§", "«»") and for a list of bodies:
    no one body to file it under."""
    return bool(name_keys(name))


def no_body_reason(name: str) -> str | None:
    """Why ``name`` is filed under no body (for the ingest report), or None when it names one."""
    if names_a_body(name):
        return None
    if several_bodies(name):
        return (
            f"organisation {name!r} names several bodies (a list or a group): kept as the project's "
            "organisation text, never shown as a partner"
        )
    return (
        f"organisation {name!r} names no body (nothing but punctuation or symbols): stored without one, "
        "so it is never shown as a partner"
    )


def same_body(a: str, b: str) -> bool:
    """One edit (or two neighbouring letters swapped: "Univesrity", "Entreprise") apart and
    long enough that one edit cannot make a different body; typed keys
    ("municipality:kristiansand") must share the type, and the place is compared."""
    if a == b:
        return True
    ka, _, pa = a.rpartition(":")
    kb, _, pb = b.rpartition(":")
    if ka != kb:
        return False
    a, b = pa, pb
    if min(len(a), len(b)) < 10 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return True
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


# How native a name looks for its country: the name shown is the one the body uses itself.
_OWN_LANGUAGES = {"NO": {"nb", "nn", "no"}, "SE": {"sv"}, "DK": {"da"}, "FI": {"fi", "sv"}, "IS": {"is"}}
_ENGLISH = re.compile(
    r"\b(?:municipality|city of|university|hospital|agency|ministry|authority|administration|directorate|"
    r"office|service|norwegian|swedish|danish|finnish|icelandic|national|county|region of|the|"
    r"(?:in|of) (?:norway|sweden|denmark|finland|iceland))\b",
    re.I,
)


def own_name_score(name: str, country: str, language: str | None) -> int:
    """Higher for a name in the country's own language: a record written in it, and no
    English body words ("Municipality", "Directorate")."""
    score = 0
    if language in _OWN_LANGUAGES.get(country, ()):
        score += 1
    if not _ENGLISH.search(name):
        score += 1
    return score


@dataclass
class Directory:
    """Which keys name one body, per country, and the names seen for each body.

    `add` files a name and returns its body's canonical key. Building it from every
    record gives the same bodies whatever the order; `copy` lets a write extend a
    snapshot's directory while searches keep reading the old one.
    """

    parent: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # union-find over (country, key)
    names: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # root -> name -> own-name score
    counts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # root -> name -> records
    # keys seen, by (country, type, length of the name or place): where one-edit joins look
    _by_length: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)
    _bare: set[tuple[str, str]] = field(default_factory=set)  # names that are only a place ("Helsinki")
    merged: list[tuple[str, str, str]] = field(default_factory=list)  # (country, old root, new root) since the copy

    def copy(self) -> Directory:
        """An independent copy for the next snapshot (``merged`` starts empty)."""
        return Directory(
            dict(self.parent),
            {k: dict(v) for k, v in self.names.items()},
            {k: dict(v) for k, v in self.counts.items()},
            {k: list(v) for k, v in self._by_length.items()},
            set(self._bare),
        )

    def _find(self, node: tuple[str, str]) -> tuple[str, str]:
        root = node
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while node != root:  # path compression
            self.parent[node], node = root, self.parent[node]
        return root

    def _union(self, a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return ra
        # the smaller key wins, so the outcome does not depend on the order names come in
        keep, gone = (ra, rb) if ra[1] <= rb[1] else (rb, ra)
        self.parent[gone] = keep
        self.merged.append((keep[0], gone[1], keep[1]))
        for table in (self.names, self.counts):
            merged = table.pop(gone, {})
            into = table.setdefault(keep, {})
            for n, v in merged.items():
                into[n] = max(into.get(n, v), v) if table is self.names else into.get(n, 0) + v
        return keep

    def _node(self, country: str, key: str) -> tuple[str, str]:
        node = (country, key)
        if node in self.parent:
            return node
        self.parent[node] = node
        if key.startswith("#"):  # registry numbers one digit apart are different bodies
            return node
        kind, _, place = key.rpartition(":")
        near = next(
            (
                k
                for n in (len(place) - 1, len(place), len(place) + 1)
                for k in self._by_length.get((country, kind, n), ())
                if same_body(key, k)
            ),
            None,
        )
        self._by_length.setdefault((country, kind, len(place)), []).append(key)
        if near is not None:
            self._union(node, (country, near))
        if kind == "municipality" and (country, place) in self._bare:
            self._union(node, (country, place))
        return node

    def add(self, name: str, country: str = "", number: str | None = None, language: str | None = None) -> str:
        """File ``name`` (of a body in ``country``; ``number`` its registry number) and
        return the canonical key of its body; "" when the name gives no key (no body)."""
        table = aliases()
        keys = name_keys(name)
        if not keys:
            # nothing in the name can be keyed ("...", "§", "«»"): it names no body, so it is
            # filed nowhere (not even under its registry number, where it would become the
            # body's shown name), is never a partner and joins no twins (issue 18)
            return ""
        nodes = [self._node(country, k) for k in keys]
        for k in keys:
            if (own := table.own_key.get((country, k))) is not None:
                nodes.append(self._node(country, own))
        if number:
            nodes.append(self._node(country, "#" + number))
        plain = _key(name, table.places)
        if plain and ":" not in plain and _PAREN.search(name) is None:
            # a name that is only a place is that place's municipality ("Helsinki" = "City of Helsinki")
            self._bare.add((country, plain))
            if (country, f"municipality:{plain}") in self.parent:
                nodes.append((country, f"municipality:{plain}"))
        root = nodes[0]
        for n in nodes[1:]:
            root = self._union(root, n)
        root = self._find(root)
        score = own_name_score(name, country, language)
        names = self.names.setdefault(root, {})
        names[name] = max(names.get(name, score), score)
        counts = self.counts.setdefault(root, {})
        counts[name] = counts.get(name, 0) + 1
        return root[1]

    def key(self, name: str, country: str = "") -> str:
        """The canonical key ``name`` resolves to, without filing it."""
        keys = name_keys(name)
        for k in keys:
            if (country, k) in self.parent:
                return self._find((country, k))[1]
        return org_key(name) if keys else ""

    def resolve(self, name: str) -> set[str]:
        """Canonical keys ``name`` may mean in any country (the organisation filter)."""
        keys = name_keys(name)
        table = aliases()
        return {self._find(node)[1] for node in self.parent if node[1] in keys or table.own_key.get(node) in keys}

    def names_of(self, key: str, country: str = "") -> list[str]:
        """Every spelling seen of the body ``key`` (a canonical key) in ``country``: what a
        directory of web sites is looked up by (index/bodies/directory.py)."""
        return list(self.names.get(self._find((country, key)), {}))

    def display(self, key: str, country: str = "") -> str | None:
        """The name a body uses itself: the alias table's, else the most native-looking
        spelling seen (a Norwegian body's Norwegian name), else the commonest; never SHOUTED."""
        root = self._find((country, key))
        names = self.names.get(root)
        if not names:
            return None
        table = aliases()
        for n in names:
            own = table.bodies.get((country, _key(n, table.places)))
            if own:
                return own
        counts = self.counts.get(root, {})
        return max(names, key=lambda n: (names[n], not n.isupper(), counts.get(n, 0), len(n), n))


def merge_keys(names: Iterable[str], country: str = "") -> dict[str, str]:
    """Map every name's `org_key` to its body's canonical key (one country's names)."""
    d = Directory()
    names = list(names)
    for n in names:
        d.add(n, country)
    return {org_key(n): d.key(n, country) for n in names}
