"""Feeds and exports of a search, for portals and spreadsheets: /feed.atom, /export.csv, /export.json.

None of the registries erfa is compared with lets a municipality *follow* a need: an
intranet page that shows "new projects like ours" needs a feed it can poll, and a
project group that writes a report needs the list in a spreadsheet. All three take the
very parameters of ``GET /search`` (``q`` and the filters, parsed by the same
dependencies), so a link copied from the results page means the same search, and a
bad value is refused with the API's own 422.

* ``/feed.atom``: the close matches for the need (at most ``limit``; the nearest five when
  none is close, see ``feed_size``), newest ``updated_at`` first,
  as Atom 1.0 (RFC 4287). Feed readers poll, so the answer carries a strong ``ETag``
  (a hash of the body: it changes whenever an entry, its order or its text does) and
  ``Last-Modified``, and a repeated request answers 304. Last-Modified is the newest
  entry's time or, if later, when this process first answered from the index's current
  generation (``GenerationClock``): an entry edited without a new date, deleted, or added
  with an old one changes the feed without moving the newest date, so that date alone
  would let ``If-Modified-Since`` answer 304 for a changed feed. Every write moves it,
  so 304 by date means nothing was written since; ``If-None-Match`` (exact) still wins.
  It may be kept by the reader's own cache for a few minutes, never by a shared one: the
  need is in the URL (see service/api/security.py).
* ``/export.json``: the API's search response (service/api/schemas.py), up to MAX_WINDOW
  results in one request instead of pages of 100.
* ``/export.csv``: what the results page shows as relevant, one row per project: the close
  matches when there are any (however they are paged), else the page of results the person
  was on (``offset``, ten results); ``limit`` asks for a plain window of the ranking instead,
  for scripts. Each row has its rank, score and close-match mark, the labels of its codes
  in the reader's language (``lang``, as for the feed), the organisation's web site where
  any record of that body gives one, the project's own link and its erfa page (issue 21).
  UTF-8 with a byte-order mark so that Excel reads the letters æøå right, and formula-safe:
  a cell that begins with ``= + - @``, a tab or a carriage return gets a leading ``'``, so a
  record titled ``=HYPERLINK(...)`` stays text in a spreadsheet instead of running (CSV injection).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
import unicodedata
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from erfa.index import MAX_WINDOW, Filters, Hit, ProjectIndex
from erfa.index.search.marker import DEPTH as JUDGED
from erfa.service.api.deps import (
    LANG_COOKIE,
    PAGE_SIZE,
    AdmittedDep,
    FiltersDep,
    IndexDep,
    NeedDep,
    filters_as_params,
)
from erfa.service.api.errors import problem
from erfa.service.api.presenter import search_response
from erfa.service.api.schemas import SearchResponse
from erfa.service.pages import i18n

router = APIRouter(tags=["feeds and export"])

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
FEED_SIZE, FEED_MAX = 20, 100  # entries: at most the best this many close matches (like two result pages)
FEED_FALLBACK = 5  # entries when no project is a close match: the nearest few (as /partners does)
FEED_MAX_AGE = 300  # s a feed reader may reuse an answer before asking again (then 304 if nothing changed)
# Entry and feed ids are name-based UUIDs (RFC 9562 v5) under this namespace: valid URNs that stay the same
# whatever host name or proxy the feed is read through, so a reader never shows one project twice.
ERFA_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://erfa/ns/feeds")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "updated" of a record that never said (and of an empty feed)
# Header names stay English snake_case whatever the language: scripts and spreadsheet formulas
# refer to them; the values under them (country, status, ...) are labels in the reader's language.
CSV_COLUMNS = (
    "rank",
    "close_match",
    "score",
    "id",
    "title",
    "organisation",
    "organisation_website",
    "country",
    "owner_type",
    "status",
    "sector",
    "start_year",
    "end_year",
    "link",
    "erfa_url",
    "description",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as the start of a formula
# Characters XML 1.0 cannot carry at all (C0 controls but tab and newlines, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ASCII_FOLD = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ð": "d", "þ": "th", "đ": "d", "ł": "l"}
)

ET.register_namespace("", ATOM_NS)

Limit = Annotated[
    int,
    Query(
        ge=1, le=MAX_WINDOW, description=f"How many projects (at most {MAX_WINDOW}, the deepest a ranking is paged to)."
    ),
]
Offset = Annotated[int, Query(ge=0, lt=MAX_WINDOW)]
Lang = Annotated[
    str | None,
    Query(
        description="Language of the feed's own title: nb, nn, sv, da or en (default: "
        "the erfa_lang cookie, else Accept-Language, else en)."
    ),
]


# -- /feed.atom ------------------------------------------------------------------------
@router.get(
    "/feed.atom",
    response_class=Response,
    responses={
        200: {"description": "An Atom 1.0 feed", "content": {"application/atom+xml": {}}},
        304: {"description": "Not modified since the ETag given in If-None-Match (or the date in If-Modified-Since)"},
        422: problem("q is missing, blank or too long, or a filter value cannot match"),
    },
)
def feed(
    request: Request,
    idx: IndexDep,
    q: NeedDep,
    filters: FiltersDep,
    _turn: AdmittedDep,
    limit: Annotated[int, Query(ge=1, le=FEED_MAX)] = FEED_SIZE,
    lang: Lang = None,
) -> Response:
    """New and updated projects for a need: its close matches (at most `limit`; the nearest five when none is
    close), newest first, as Atom.

    Subscribe to it in a feed reader, or show it on an intranet page as "new projects like ours".
    """
    page = idx.search(q, limit=limit, filters=filters)
    hits = page.hits[: feed_size(limit, page.matches)]
    ui, _ = i18n.choose(lang, request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))
    body = atom_feed(
        hits,
        q=q,
        filters=filters,
        lang=ui,
        close_match=page.close_match,
        limit=limit,
        base=str(request.base_url),
        self_url=str(request.url),
    )
    # read after the search: a write in between makes it later, never earlier, than the body
    modified = max([generation_clock(request).since(idx.generation), *(updated(h) for h in hits)])
    headers = {
        "ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": f"private, max-age={FEED_MAX_AGE}",
        "Vary": "Accept-Language, Cookie",
    }
    if not_modified(request, headers["ETag"], modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=ATOM_TYPE, headers=headers)


class GenerationClock:
    """When this process first answered from each generation of the index, to the second.

    The store keeps no time per generation, so this process notes when it first sees one.
    Each new generation gets a later second than the last (two writes within one second
    still move Last-Modified), and a restarted process starts from its start-up time, so a
    date it hands out is never earlier than the data it describes: at worst a reader
    downloads an unchanged feed once more, never misses a changed one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._since: datetime | None = None

    def since(self, generation: int, now: datetime | None = None) -> datetime:
        with self._lock:
            if generation != self._generation or self._since is None:
                at = (now or datetime.now(UTC)).replace(microsecond=0)
                if self._since is not None and at <= self._since:
                    at = self._since + timedelta(seconds=1)
                self._generation, self._since = generation, at
            return self._since


_clock_lock = threading.Lock()


def generation_clock(request: Request) -> GenerationClock:
    """The app's clock (one per app, like its index)."""
    st = request.app.state
    with _clock_lock:
        clock: GenerationClock | None = getattr(st, "erfa_feed_clock", None)
        if clock is None:
            clock = st.erfa_feed_clock = GenerationClock()
    return clock


def feed_size(limit: int, matches: int | None) -> int:
    """How many of the ranked projects the feed lists: the close matches (at most ``limit``); when
    none is close, only the nearest few (a feed of "new projects like ours" should not fill up with
    whatever is nearest); all ``limit`` when closeness cannot be judged (see SearchPage.matches)."""
    if matches is None:
        return limit
    return min(limit, matches or FEED_FALLBACK)


def updated(hit: Hit) -> datetime:
    """When the record last changed, in UTC to the second (the index stamps every write)."""
    when = hit.record.updated_at or EPOCH
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).replace(microsecond=0)


def not_modified(request: Request, etag: str, newest: datetime | None) -> bool:
    """RFC 9110 §13.1: If-None-Match decides when sent (weak comparison); else If-Modified-Since,
    against ``newest``, the Last-Modified sent (see GenerationClock)."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims and newest is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return newest <= since
    return False


def atom_feed(
    hits: Sequence[Hit],
    *,
    q: str,
    filters: Filters,
    lang: str,
    close_match: bool | None,
    limit: int,
    base: str,
    self_url: str,
) -> bytes:
    """The feed as UTF-8 bytes. Deterministic for a given index and request (the ETag hashes it):
    entries newest first, ties in ranking order; no "now" anywhere."""
    params = [("q", q), *filters_as_params(filters)]
    ranked = sorted(enumerate(hits), key=lambda pair: (-updated(pair[1]).timestamp(), pair[0]))
    root = ET.Element(f"{{{ATOM_NS}}}feed", {XML_LANG: lang})
    _text(root, "id", _urn("search?" + urlencode([*params, ("limit", str(limit))])))
    _text(root, "title", i18n.t(lang, "feed_title", q=q))
    _text(root, "subtitle", i18n.t(lang, "feed_subtitle" if close_match is not False else "feed_subtitle_none"))
    _text(root, "updated", _rfc3339(max((updated(h) for h in hits), default=EPOCH)))
    _link(root, "self", self_url, "application/atom+xml")
    _link(root, "alternate", base + "?" + urlencode([*params, ("lang", lang)]), "text/html")
    author = ET.SubElement(root, f"{{{ATOM_NS}}}author")  # entries without an organisation fall back to it
    _text(author, "name", "erfa")
    _text(root, "generator", "erfa")
    for _, hit in ranked:
        r = hit.record
        entry = ET.SubElement(root, f"{{{ATOM_NS}}}entry")
        _text(entry, "id", _urn("project:" + r.id))
        _text(entry, "title", r.title, r.language)
        _text(entry, "updated", _rfc3339(updated(hit)))
        _link(entry, "alternate", project_url(base, r.id), "text/html")
        if r.link:
            _link(entry, "related", r.link)
        if r.organisation:
            _text(ET.SubElement(entry, f"{{{ATOM_NS}}}author"), "name", r.organisation)
        for scheme, term in (("country", r.country), ("status", r.status), ("sector", r.sector)):
            if term:
                ET.SubElement(
                    entry, f"{{{ATOM_NS}}}category", {"term": term, "label": _clean(i18n.label(lang, scheme, term))}
                )
        if hit.snippet:
            _text(entry, "summary", hit.snippet, r.language)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)  # bytes for an encoding, per its docs
    return document


def project_url(base: str, record_id: str) -> str:
    """The project's page on this erfa, absolute (``base`` is the request's base URL, ending in /)."""
    return base + "project/" + quote(record_id, safe="")


def _urn(name: str) -> str:
    return uuid.uuid5(ERFA_NS, name).urn


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _text(parent: ET.Element, tag: str, text: str, lang: str | None = None) -> ET.Element:
    """A child element holding text (ElementTree escapes it; what XML cannot hold at all is dropped)."""
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {XML_LANG: lang} if lang else {})
    el.text = _clean(text)
    return el


def _link(parent: ET.Element, rel: str, href: str, media_type: str | None = None) -> None:
    attrs = {"rel": rel, "href": _clean(href)}
    if media_type:
        attrs["type"] = media_type
    ET.SubElement(parent, f"{{{ATOM_NS}}}link", attrs)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- /export.json, /export.csv ---------------------------------------------------------
@router.get(
    "/export.json",
    response_model=SearchResponse,
    responses={422: problem("q is missing, blank or too long, or a filter value cannot match")},
)
def export_json(
    idx: IndexDep, q: NeedDep, filters: FiltersDep, _turn: AdmittedDep, limit: Limit = MAX_WINDOW, offset: Offset = 0
) -> Response:
    """The result list as a file: the body of `GET /search` for the same query, up to 1,000 results at once."""
    body = search_response(idx.search(q, limit=limit, offset=offset, filters=filters)).model_dump_json()
    return Response(body, media_type="application/json", headers=attachment(q, "json"))


@router.get(
    "/export.csv",
    response_class=Response,
    responses={
        200: {"description": "CSV, UTF-8 with a byte-order mark, header row first", "content": {"text/csv": {}}},
        422: problem("q is missing, blank or too long, or a filter value cannot match"),
    },
)
def export_csv(
    request: Request,
    idx: IndexDep,
    q: NeedDep,
    filters: FiltersDep,
    _turn: AdmittedDep,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_WINDOW,
            description="A plain window of the ranking (from offset) instead of what the page shows as "
            f"relevant; at most {MAX_WINDOW}.",
        ),
    ] = None,
    offset: Offset = 0,
    sep: Annotated[
        Literal[",", ";"],
        Query(
            description="Column separator: ',' (RFC 4180) or ';' (what Excel expects "
            "where the decimal mark is a comma, as in Norway and Sweden)."
        ),
    ] = ",",
    lang: Annotated[
        str | None,
        Query(
            description="Language of the labels (country, status, sector, type of organisation, close match): "
            "nb, nn, sv or en (default: the erfa_lang cookie, else Accept-Language, else en)."
        ),
    ] = None,
) -> Response:
    """What the results page shows as relevant, for a spreadsheet: the close matches, or when none is
    close the page of results from `offset` (`limit` asks for a plain window instead). One row per
    project with its rank, score, close-match mark, readable labels, the organisation's web site and
    the project's link; formula-safe."""
    ui, _ = i18n.choose(lang, request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))
    ranked = export_selection(idx, q, filters, limit, offset)
    base = str(request.base_url)
    close = i18n.t(ui, "close_mark")
    rows = []
    for rank, hit in ranked:
        r = hit.record
        website, _number = idx.organisation_contact(r.id)
        rows.append(
            [
                rank,
                close if hit.close_match else "",
                f"{hit.score:.4f}",
                r.id,
                r.title,
                r.organisation,
                website,
                i18n.label(ui, "country", r.country),
                i18n.label(ui, "owner_type", r.owner_type),
                i18n.label(ui, "status", r.status),
                i18n.label(ui, "sector", r.sector),
                r.start_year,
                r.end_year,
                r.link,
                project_url(base, r.id),
                r.description,
            ]
        )
    return Response(
        csv_text(CSV_COLUMNS, rows, sep).encode("utf-8"),
        media_type="text/csv; charset=utf-8; header=present",
        headers={**attachment(q, "csv"), "Content-Language": ui},
    )


def export_selection(
    idx: ProjectIndex, q: str, filters: Filters, limit: int | None, offset: int
) -> list[tuple[int, Hit]]:
    """(rank, hit) pairs the export holds. With ``limit``: that window of the ranking. Else what the
    page shows as relevant: the close matches (all of them, wherever the person had paged to: they
    are judged among the first ``JUDGED`` results), or when none is close, or closeness cannot be
    judged, the page of ``PAGE_SIZE`` results that starts at ``offset``. One search serves both."""
    if limit is not None:
        page = idx.search(q, limit=limit, offset=offset, filters=filters)
        return [(offset + i + 1, h) for i, h in enumerate(page.hits)]
    depth = min(max(JUDGED, offset + PAGE_SIZE), MAX_WINDOW)
    page = idx.search(q, limit=depth, offset=0, filters=filters)
    ranked = list(enumerate(page.hits[: page.total], start=1))
    if page.matches:
        return [(rank, h) for rank, h in ranked if h.close_match]
    return ranked[offset : offset + PAGE_SIZE]


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], sep: str = ",") -> str:
    """CSV with a byte-order mark (Excel reads UTF-8 only with one), every cell formula-safe."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one that could start a formula gets a leading apostrophe
    (OWASP's advice on CSV injection). Numbers erfa writes (years) are never negative, so none is changed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def attachment(q: str, ext: str) -> dict[str, str]:
    """Content-Disposition that saves the file as erfa-<the need>.<ext>: an ASCII name for old
    clients and the real one in UTF-8 (RFC 6266) for the rest."""
    folded = unicodedata.normalize("NFKD", q.translate(_ASCII_FOLD)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-").lower()[:60].rstrip("-") or "search"
    full = re.sub(r"[\s/\\\"<>:|?*\x00-\x1f]+", "-", q).strip("-")[:60] or "search"
    return {
        "Content-Disposition": f'attachment; filename="erfa-{slug}.{ext}"; '
        f"filename*=UTF-8''{quote(f'erfa-{full}.{ext}', safe='')}"
    }
