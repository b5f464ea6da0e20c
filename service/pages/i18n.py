"""User-facing strings of the web page, the embed page, the widget and the moderation pages, in nb, nn, sv, da and en.

The people using erfa read Bokmål, Nynorsk, Swedish or Danish at work, so the interface speaks
their language: chosen from ``?lang=``, else the ``erfa_lang`` cookie, else the browser's
``Accept-Language``, else English. The cookie is set only when the user chooses a language
(the visible switch or ``?lang=``), holds nothing but the language code, and is strictly
necessary for the function the user asked for, so it needs no consent banner; an explicit
choice also travels in the links, so the page works with cookies blocked.

The strings live in gettext catalogs, ``locale/<lang>/LC_MESSAGES/erfa.po``, one per language,
so a translator works in any PO editor and each language brings its own ``Plural-Forms``.

*msgid is a stable key, not the English text* (``msgid "question"``, ``msgid "status.pilot"``).
Templates and Python name a string by what it is for, so improving the English wording (which
is a translation like the others, in ``en/.../erfa.po``) never changes a template or orphans
the other four catalogs; every entry in the other catalogs carries the English text as an
extracted comment (``#. en: ...``) so a translator still sees the source; ``python -m
erfa.service.pages.i18n`` keeps those comments, the msgid list and the widget's copy in step
with ``en/.../erfa.po``. Plural entries use
``msgid_plural "<key>_plural"``, and ``t(lang, key, n=...)`` picks the form through
``ngettext``.

*No build step.* The ``.po`` files are read with Babel at first use and compiled in memory to
the ``.mo`` form ``gettext.GNUTranslations`` reads, once per process and language (measured
about 20 ms a catalog, the first one about 0.1 s more for Babel's imports), so there is no
committed ``.mo`` that can fall out of step with its ``.po``. A broken catalog fails loudly at
first use, naming the file and line.

Codes from ``erfa.ingest.vocab`` (status, sector, owner type), record sources and description
languages get readable labels here (``status.pilot`` and so on); an unknown code is shown
humanised ("new_registry" -> "New registry"), never as raw snake_case, and an unknown country code
stays the code rather than a guess. Country and language names come from Babel's CLDR data.
"""

from __future__ import annotations

import gettext
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

LANGS: Final = ("nb", "nn", "sv", "da", "en")
DEFAULT: Final = "en"
# How each language names itself, for the visible switch (each link carries its own lang attribute).
ENDONYMS: Final = {"nb": "Bokmål", "nn": "Nynorsk", "sv": "Svenska", "da": "Dansk", "en": "English"}
# Browser language tags that map onto a UI language ("no" is the generic Norwegian tag).
_ALIASES: Final = {"no": "nb", "nb": "nb", "nn": "nn", "sv": "sv", "da": "da", "en": "en"}

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "erfa"
# Kinds of code with a readable label in the catalogs (msgid "<kind>.<code>").
LABEL_KINDS: Final = ("status", "owner_type", "sector", "language", "source")
# A gettext plural expression the widget may carry as code: n, numbers, comparisons, arithmetic, ?: and parentheses.
_SAFE_PLURAL: Final = re.compile(r"^[\sn0-9!=<>%&|?:()+\-*/]+$")

# Countries offered in the submission form and carried by the widget: Nordic first (erfa's users),
# then the rest of Europe that EU Public Sector Tech Watch covers. Their names, like any other
# country code's, come from Babel's CLDR data in the interface language (Babel has nb, nn and da).
NORDIC: Final = ("NO", "SE", "DK", "FI", "IS")
COUNTRIES: Final = (
    *NORDIC,
    "AL",
    "AT",
    "BA",
    "BE",
    "BG",
    "CH",
    "CY",
    "CZ",
    "DE",
    "EE",
    "ES",
    "FR",
    "GB",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MD",
    "ME",
    "MK",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "RS",
    "SI",
    "SK",
    "TR",
    "UA",
    "US",
    "XK",
)
# Strings the <erfa-search> widget needs; static/erfa-widget.js carries a copy, kept equal by a test.
WIDGET_KEYS: Final = (
    "question",
    "search_button",
    "searching",
    "n_results",
    "no_close",
    "widget_error",
    "all_results",
    "opens_new_tab",
    "close_mark",
    "also_in",
    "widget_origin",
)


class CatalogError(RuntimeError):
    """A catalog is missing, unreadable or lacks a string: a packaging or translation mistake, not user input."""


@dataclass(frozen=True)
class _Messages:
    """One language's catalog, compiled in memory: what ``t`` and ``label`` read."""

    path: Path
    translations: gettext.GNUTranslations
    keys: frozenset[str]
    plural_keys: frozenset[str]
    plural_expr: str
    forms: Mapping[str, tuple[str, ...]]  # plural key -> its forms in gettext order, for the widget


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The Babel catalog of one language, as written (a clear error for a missing or malformed file)."""
    path = catalog_path(lang)
    try:
        with path.open("rb") as f:
            return read_po(f, locale=lang, domain=DOMAIN, abort_invalid=True)
    except FileNotFoundError:
        raise CatalogError(f"no catalog for {lang!r}: {path} is missing; the package is incomplete") from None
    except (PoFileError, ValueError) as e:
        raise CatalogError(f"{path} cannot be read: {e}. Fix the file (msgfmt --check {path} shows where).") from e


def _key_of(message: Message) -> str:
    """A message's key: its msgid, or a plural message's singular msgid."""
    return str(message.id[0] if message.pluralizable else message.id)


@lru_cache(maxsize=len(LANGS))
def _messages(lang: str) -> _Messages:
    catalog = read_catalog(lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    keys: set[str] = set()
    plurals: set[str] = set()
    forms: dict[str, tuple[str, ...]] = {}
    for m in catalog:
        if not m.id:
            continue  # the header
        key = _key_of(m)
        keys.add(key)
        if m.pluralizable:
            plurals.add(key)
            forms[key] = tuple(m.string or ())
    return _Messages(
        catalog_path(lang),
        gettext.GNUTranslations(buf),
        frozenset(keys),
        frozenset(plurals),
        catalog.plural_expr,
        forms,
    )


def _lang(lang: str) -> str:
    return lang if lang in LANGS else DEFAULT


def normalise(tag: str | None) -> str | None:
    """The UI language for a language tag such as 'sv-FI', 'da-DK' or 'no', or None."""
    if not tag:
        return None
    return _ALIASES.get(tag.strip().lower().replace("_", "-").split("-")[0])


def from_accept_language(header: str | None) -> str:
    """Pick from ``Accept-Language`` by its q-values; English when nothing matches."""
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise(tag)
        if lang and q > 0:
            ranked.append((-q, pos, lang))
    return min(ranked)[2] if ranked else DEFAULT


def choose(query_lang: str | None, accept_language: str | None, cookie: str | None = None) -> tuple[str, bool]:
    """(UI language, explicit?): ``?lang=`` wins over the remembered choice (the cookie),
    which wins over the browser's preference; only ``?lang=`` counts as explicit."""
    explicit = normalise(query_lang)
    if explicit:
        return explicit, True
    remembered = (cookie or "").strip().lower()
    if remembered in LANGS:
        return remembered, False
    return from_accept_language(accept_language), False


def t(lang: str, key: str, n: int | None = None, **values: object) -> str:
    """A UI string; ``values`` fill its {placeholders}. A plural string needs ``n``, which picks
    the form by the language's own plural rule and fills {n}; a singular string may take ``n``
    as an ordinary value."""
    msgs = _messages(_lang(lang))
    if key not in msgs.keys:
        raise CatalogError(f"no string {key!r} in {msgs.path}: add it to every catalog under {LOCALE_DIR}")
    if key in msgs.plural_keys:
        if n is None:
            raise TypeError(f"{key!r} has plural forms: call t(lang, {key!r}, n=<count>)")
        text = msgs.translations.ngettext(key, f"{key}_plural", n)
    else:
        text = msgs.translations.gettext(key)
    if n is not None:
        values["n"] = n
    return text.format(**values) if values else text


def is_plural(key: str) -> bool:
    """Whether a string has plural forms (then ``t`` needs ``n``)."""
    return key in _messages(DEFAULT).plural_keys


@lru_cache(maxsize=len(LANGS))
def _territories(lang: str) -> Mapping[str, str]:
    return Locale.parse(_lang(lang)).territories


@lru_cache(maxsize=len(LANGS))
def _languages(lang: str) -> Mapping[str, str]:
    return Locale.parse(_lang(lang)).languages


def country(lang: str, code: str | None) -> str:
    """A country's name in the interface language ('RS' -> 'Serbien' in sv); an unknown code stays the code."""
    if not code:
        return ""
    key = code.strip().upper()
    if len(key) != 2 or not key.isalpha() or key == "ZZ":  # ZZ is CLDR's "unknown region", not a country
        return code
    return _territories(lang).get(key, code)


def humanise(code: str) -> str:
    """A code nobody labelled yet, made readable: 'new_registry' -> 'New registry' (never snake_case)."""
    words = " ".join(re.split(r"[_\-.\s]+", code.strip())).strip()
    return words[:1].upper() + words[1:] if words else code


def label(lang: str, kind: str, code: str | None) -> str:
    """Readable label of a code (status, sector, owner_type, source, language, country) in the UI language."""
    if kind == "country":
        return country(lang, code)
    if not code:
        return ""
    if kind not in LABEL_KINDS:
        raise ValueError(f"no labels for {kind!r}: use one of country, {', '.join(LABEL_KINDS)}")
    msgs = _messages(_lang(lang))
    key = f"{kind}.{code}"
    if key in msgs.keys:
        return msgs.translations.gettext(key)
    if kind == "language" and (name := _languages(lang).get(code.strip().lower().replace("-", "_"))):
        return name[:1].upper() + name[1:]
    return humanise(code)


def codes(kind: str) -> tuple[str, ...]:
    """The codes of one kind that have a label, in catalog order."""
    prefix = kind + "."
    return tuple(k[len(prefix) :] for k in _ordered_keys() if k.startswith(prefix))


@lru_cache(maxsize=1)
def _ordered_keys() -> tuple[str, ...]:
    return tuple(_key_of(m) for m in read_catalog(DEFAULT) if m.id)


def all_keys() -> list[str]:
    """Every UI string's key (labels excluded: see ``codes``), in catalog order."""
    return [k for k in _ordered_keys() if "." not in k]


def widget_strings() -> dict[str, dict[str, Any]]:
    """What the widget needs per language: its sentences (a plural one as its list of forms, with
    the catalog's plural expression beside them) and the labels results show."""
    out: dict[str, dict[str, Any]] = {}
    for lang in LANGS:
        msgs = _messages(lang)
        out[lang] = {
            **{k: list(msgs.forms[k]) if k in msgs.plural_keys else t(lang, k) for k in WIDGET_KEYS},
            "plural": msgs.plural_expr,
            "status": {code: label(lang, "status", code) for code in codes("status")},
            "source": {code: label(lang, "source", code) for code in codes("source")},
            "country": {code: country(lang, code) for code in COUNTRIES},
        }
    return out


def widget_plural_code() -> str:
    """The widget's plural rules as JavaScript: each catalog's own Plural-Forms expression, written
    as code (not evaluated from a string, so a portal's CSP without 'unsafe-eval' still runs it)."""
    parts = []
    for lang in LANGS:
        expr = _messages(lang).plural_expr
        if not _SAFE_PLURAL.match(expr):
            raise CatalogError(f"{catalog_path(lang)}: Plural-Forms expression {expr!r} is not a plain gettext rule")
        parts.append(f'"{lang}": function (n) {{ return Number({expr}); }}')
    return "var PLURAL = {\n    " + ",\n    ".join(parts) + "\n  };"


def _replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(/\*{name}\*/\n).*?(\n  /\*END {name}\*/)", re.S)
    if not pattern.search(text):
        raise CatalogError(f"erfa-widget.js has no /*{name}*/ ... /*END {name}*/ block")
    return pattern.sub(lambda m: f"{m[1]}  {body}{m[2]}", text)


def write_widget_strings(path: str | None = None) -> None:
    """Rewrite the STRINGS and PLURALS blocks of static/erfa-widget.js after editing a catalog (atomically)."""
    js = Path(path or Path(__file__).parent / "static" / "erfa-widget.js")
    block = json.dumps(widget_strings(), ensure_ascii=False, indent=1).replace("\n", "\n  ")
    text = js.read_text(encoding="utf-8")
    text = _replace_block(text, "STRINGS", f"var STRINGS = {block};")
    text = _replace_block(text, "PLURALS", widget_plural_code())
    _write_atomic(js, text.encode("utf-8"))


_NAMES: Final = {"nb": "norsk bokmål", "nn": "nynorsk", "sv": "svenska", "da": "dansk", "en": "English"}


def _header_comment(lang: str) -> str:
    return (
        f"# erfa's user-facing strings: {_NAMES[lang]} ({lang}).\n"
        "# msgid is a stable key, not the English text (why: service/pages/i18n.py); in the other\n"
        "# catalogs, '#. en:' gives the English. {name} placeholders must stay as they are.\n"
        "# After editing, run: python -m erfa.service.pages.i18n (the other catalogs and the widget)."
    )


def _english_comment(message: Message) -> str:
    string = message.string
    return "en: " + (" | ".join(string) if isinstance(string, (list, tuple)) else str(string))


def synced_catalog(lang: str) -> bytes:
    """One catalog as it should be written: every msgid of en.po, in its order (a new one with an empty
    msgstr for the translator, which the tests flag until it is filled; one en.po no longer has dropped),
    and beside each entry the current English as '#. en:'. Translations and translator comments stay."""
    english = read_catalog(DEFAULT)
    old = read_catalog(lang)
    new = Catalog(
        locale=lang,
        domain=DOMAIN,
        header_comment=_header_comment(lang),
        project=old.project,
        version=old.version,
        msgid_bugs_address=old.msgid_bugs_address,
        creation_date=old.creation_date,
        revision_date=old.revision_date,
        last_translator=old.last_translator,
        language_team=old.language_team,
        charset="utf-8",
        fuzzy=False,
    )
    for m in english:
        if not m.id:
            continue
        was = old.get(m.id)
        empty: str | tuple[str, ...] = ("",) * new.num_plurals if m.pluralizable else ""
        keep = was is not None and was.pluralizable == m.pluralizable
        new.add(
            m.id,
            was.string if keep and was is not None else empty,
            auto_comments=[] if lang == DEFAULT else [_english_comment(m)],
            user_comments=list(was.user_comments) if was is not None else [],
        )
    buf = io.BytesIO()
    write_po(buf, new, width=120)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
    os.replace(tmp, path)


def sync_catalogs() -> list[Path]:
    """Bring every catalog in line with en.po (see ``synced_catalog``); the files that changed."""
    changed = []
    for lang in LANGS:
        path = catalog_path(lang)
        data = synced_catalog(lang)
        if path.read_bytes() != data:
            _write_atomic(path, data)
            changed.append(path)
    return changed


if __name__ == "__main__":  # python -m erfa.service.pages.i18n
    for changed in sync_catalogs():
        print(f"updated {changed}")
    _messages.cache_clear()
    write_widget_strings()
