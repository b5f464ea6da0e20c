"""The pages people use: search, project, partners, submission form, and the embed page.

Municipal staff meet erfa in a browser, often inside an intranet portal, so the pages
are server-rendered HTML that works without JavaScript (only the submission form needs
it, to post JSON to the public ``POST /submissions``). The security middleware gives
every HTML page a strict Content-Security-Policy (no inline script or style), which is
why all behaviour and styling live in files under ``/static``.

Handlers get the loaded ``ProjectIndex`` from ``deps.loaded_index`` instead of calling
the JSON API over HTTP: same ranking, no extra hop. While the model is loading they
answer a friendly 503 page instead of the API's JSON error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from babel.dates import format_date
from babel.numbers import format_decimal
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from erfa.index import LIST_FILTERS, MAX_WINDOW, FilterError, Filters, Hit
from erfa.index.engine import FACET_DEPTH
from erfa.index.search.english import english_wording, proposable
from erfa.index.search.facets import recount
from erfa.ingest import vocab
from erfa.ingest.language import detect_language
from erfa.service.admission import Busy
from erfa.service.api.csp import frame_ancestors
from erfa.service.api.deps import (
    LANG_COOKIE,
    MAX_NEED,
    PAGE_SIZE,
    PageAdmittedDep,
    filters_as_params,
    get_settings,
    get_submissions,
    loaded_index,
)
from erfa.service.api.errors import http_error
from erfa.service.api.ids import has_control
from erfa.service.pages import i18n
from erfa.service.pages.embedding import REFUSED_CSP, refused_origin

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
EMBED_DEFAULT, EMBED_MAX = 5, 20
SIMILAR = 5
MAX_QUERY = MAX_NEED  # characters of a need; the same limit as the JSON API's q
LANG_COOKIE_AGE = 365 * 24 * 3600
# First path segments that belong to the JSON API (and its docs): their errors stay JSON for everyone.
API_PREFIXES = frozenset(
    {"search", "partners", "projects", "submissions", "ingest", "healthz", "readyz", "metrics", "openapi.json", "docs"}
)
# Facet groups in the order the filter panel shows them.
FACET_ORDER = ("country", "status", "sector", "owner_type", "language")
SUBMIT_FIELDS = (
    "title",
    "organisation",
    "description",
    "purpose",
    "country",
    "municipality",
    "sector",
    "status",
    "start_year",
    "end_year",
    "link",
    "website",
    "contact",
)

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


def install_web(app: FastAPI) -> None:
    """Add the pages and /static to an app (call once, in create_app)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Starlette types handlers as taking plain Exception; this one takes the HTTPException it is registered for
    app.add_exception_handler(StarletteHTTPException, not_found)  # type: ignore[arg-type]


# -- request helpers ---------------------------------------------------------------------
@dataclass
class Query:
    """What a page was asked for, parsed leniently: a bad value becomes a message, not a JSON 422."""

    q: str
    lang: str
    explicit_lang: bool
    filters: Filters
    offset: int
    errors: list[str]
    too_long: bool = False  # q is over MAX_QUERY: never searched, never cut
    q_error: str | None = None  # what is wrong with the need as sent (blank, or too long), shown by the search box


def _int(raw: str | None, lo: int, hi: int) -> int | None:
    try:
        value = int((raw or "").strip())
    except ValueError:
        return None
    return value if lo <= value <= hi else None


def parse(request: Request) -> Query:
    params = request.query_params
    lang, explicit = i18n.choose(
        params.get("lang"), request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE)
    )
    errors: list[str] = []
    years: dict[str, int | None] = {}
    for name in ("year_from", "year_to"):
        raw = params.get(name, "").strip()
        years[name] = _int(raw, 1900, 2100) if raw else None
        if raw and years[name] is None and i18n.t(lang, "bad_year") not in errors:
            errors.append(i18n.t(lang, "bad_year"))
    filters = Filters.parse(
        {f: [v for raw in params.getlist(f) for v in _codes(f, raw)] for f in LIST_FILTERS}, **years
    )
    # Past the deepest page the engine ranks is past the end: the page says so (see search_page).
    offset = min(_int(params.get("offset"), 0, 10**9) or 0, MAX_WINDOW)
    q = params.get("q", "").strip()
    too_long = len(q) > MAX_QUERY
    q_error = None
    if too_long:
        q_error = i18n.t(
            lang,
            "query_too_long",
            limit=format_decimal(MAX_QUERY, locale=lang),
            length=format_decimal(len(q), locale=lang),
        )
    elif "q" in params and not q:  # the search button pressed with nothing written
        q_error = i18n.t(lang, "empty_query")
    return Query(q, lang, explicit, filters, offset, errors, too_long=too_long, q_error=q_error)


def marked(snippet: str, marks: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The snippet cut into (text, is_query_word) pieces; the template escapes each piece."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for start, end in sorted(marks):
        if start < pos or end > len(snippet) or start >= end:
            continue
        if start > pos:
            out.append((snippet[pos:start], False))
        out.append((snippet[start:end], True))
        pos = end
    if pos < len(snippet):
        out.append((snippet[pos:], False))
    return out


def years(lang: str, start: int | None, end: int | None) -> str:
    if start and end:
        return str(start) if start == end else f"{start}–{end}"
    if start:
        return i18n.t(lang, "since", start=start)
    if end:
        return i18n.t(lang, "until", end=end)
    return ""


class Page:
    """Template context helpers bound to one request's language."""

    def __init__(self, request: Request, query: Query) -> None:
        self.request = request
        self.query = query
        self.lang = query.lang

    def t(self, key: str, n: int | None = None, **values: object) -> str:
        return i18n.t(self.lang, key, n, **values)

    def label(self, kind: str, code: str | None) -> str:
        return i18n.label(self.lang, kind, code)

    def url(self, path: str, params: list[tuple[str, str]] | dict[str, Any] | None = None) -> str:
        """A link that keeps an explicitly chosen language (so it also works with cookies blocked)."""
        pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
        pairs = [(k, str(v)) for k, v in pairs if v not in (None, "")]
        if self.query.explicit_lang:
            pairs.append(("lang", self.lang))
        return path + ("?" + urlencode(pairs) if pairs else "")

    def project_url(self, record_id: str, q: str = "") -> str:
        return self.url("/project/" + quote(record_id, safe=""), {"q": q} if q else None)

    def switch_url(self, lang: str) -> str:
        """This page in another language: a path on erfa, never a protocol-relative URL. A request
        for ``//evil.example/x`` must not link to ``//evil.example/x?lang=nb``, another site, so
        the path starts with exactly one slash (a backslash counts: browsers read it as one)."""
        pairs = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
        return "/" + self.request.url.path.lstrip("/\\") + "?" + urlencode(pairs)

    def years(self, start: int | None, end: int | None) -> str:
        return years(self.lang, start, end)

    def date(self, value: datetime | None) -> str:
        """A date as the interface language writes it ('6. des. 2026', '6 Dec 2026'): Babel's CLDR medium form."""
        return format_date(value, format="medium", locale=self.lang) if value else ""

    def context(self, **values: Any) -> dict[str, Any]:
        return {
            "p": self,
            "lang": self.lang,
            "langs": i18n.LANGS,
            "endonyms": i18n.ENDONYMS,
            "marked": marked,
            "max_query": MAX_QUERY,
            **values,
        }


def render(
    request: Request, page: Page, name: str, status: int = 200, remember: bool = True, **values: Any
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, page.context(**values), status_code=status)
    response.headers["Vary"] = "Accept-Language, Cookie"
    if remember:
        remember_language(request, page.query, response)
    return response


def remember_language(request: Request, query: Query, response: Response) -> None:
    """Keep a language the user chose (the switch or ?lang=) in a first-party cookie that holds
    only its code: SameSite=Lax, HttpOnly, Secure over HTTPS, a year; never set without a choice."""
    if query.explicit_lang and request.cookies.get(LANG_COOKIE) != query.lang:
        response.set_cookie(
            LANG_COOKIE,
            query.lang,
            max_age=LANG_COOKIE_AGE,
            path="/",
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
        )


def loading(request: Request, page: Page) -> HTMLResponse:
    response = render(request, page, "message.html", 503, title=page.t("loading_title"), message=page.t("loading"))
    response.headers["Retry-After"] = "5"
    return response


def busy(request: Request, page: Page, refused: Busy) -> HTMLResponse:
    """The encoder's queue had no turn for this need (issue 18): say so, and when to retry."""
    response = render(
        request,
        page,
        "message.html",
        503,
        title=page.t("busy_title"),
        message=page.t("busy", n=refused.retry_after),
    )
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


@dataclass(frozen=True)
class FacetOption:
    """One checkbox of the filter panel."""

    value: str
    label: str
    count: int
    checked: bool


# One checkbox may stand for several codes that a language names alike (Swedish and Danish call both a
# Norwegian fylkeskommune and a region "Region"): its value joins them with this, and parse splits them.
JOINED = "|"


def _codes(field: str, raw: str) -> list[str]:
    """The codes one submitted filter value stands for (organisation names are never joined)."""
    return raw.split(JOINED) if field in FACET_ORDER else [raw]


def _alike_joined(options: list[FacetOption]) -> list[FacetOption]:
    """Options that read the same in this language as one: two checkboxes both labelled "Region" would
    ask the reader to choose between words that are the same (issue 21)."""
    by_label: dict[str, list[FacetOption]] = {}
    for o in options:
        by_label.setdefault(o.label.casefold(), []).append(o)
    return [
        FacetOption(
            JOINED.join(o.value for o in same), same[0].label, sum(o.count for o in same), any(o.checked for o in same)
        )
        for same in by_label.values()
    ]


def facet_groups(page: Page, facets: dict[str, dict[str, int]], filters: Filters) -> list[dict[str, Any]]:
    """Checkbox groups from the facet counts. Over the full registries a group lists dozens of values
    (45 countries), most at 0 for a given need, which pushed the useful groups two screens down
    (issue 21). So each group lists first the values that have results, most first, and every chosen
    value even at 0 (a choice never hides); the rest (``more``) fold behind a disclosure, in label order."""
    groups = []
    for field in FACET_ORDER:
        counts = dict(facets.get(field, {}))
        chosen = set(getattr(filters, field))
        for value in chosen:
            counts.setdefault(value, 0)
        options = _alike_joined(
            [FacetOption(v, page.label(field, v) or v, n, v in chosen) for v, n in counts.items() if v]
        )
        options.sort(key=lambda o: (-o.count, o.label))
        shown = [o for o in options if o.count or o.checked]
        more = sorted((o for o in options if not (o.count or o.checked)), key=lambda o: o.label.casefold())
        if options:
            groups.append({"field": field, "legend": page.t("f_" + field), "options": shown, "more": more})
    return groups


def shown_facets(
    hits: list[Hit], facets: dict[str, dict[str, int]], over: str, matches: int | None, close_match: bool | None
) -> tuple[dict[str, dict[str, int]], str]:
    """The facet counts the page shows, and what they are over ("matches", "top" or "shown").

    The engine counts the ranked rows; a result shows its twin group's best record, which may
    name another country or status (facets.recount). So when every close match is on this page,
    they are counted as shown; when none is close, the results shown are counted, as the person
    sees them, rather than fifty they do not see (issue 21)."""
    if matches:
        close = [h.record for h in hits if h.close_match]
        return (recount(close, facets), over) if len(close) == matches else (facets, over)
    if close_match is False and hits:
        return recount([h.record for h in hits], facets), "shown"
    return facets, over


@dataclass(frozen=True)
class EnglishHint:
    """What the page offers when a Nordic need finds no close match among mostly English projects."""

    english_share: float  # of the counted results' languages
    wording: str | None  # the glossary's proposed English wording (index/search/english.py), when it knew enough


ENGLISH_MOSTLY = 0.5  # share of English among the counted results above which the hint is shown


def english_hint(need: str, facets: dict[str, dict[str, int]], close_match: bool | None) -> EnglishHint | None:
    """The hint of issue 21, or None: only when nothing is close, the need is not in English, and most of
    the projects the search counted (the engine's facets: its best results) are described in English.
    erfa has no machine translation into English, so it offers the need to rewrite, and a wording from
    its glossary when that knew most of the need's words, labelled as a suggestion (models.md)."""
    if close_match is not False or detect_language(need) == "en":
        return None
    languages = facets.get("language", {})
    counted = sum(languages.values())
    share = languages.get("en", 0) / counted if counted else 0.0
    if share <= ENGLISH_MOSTLY:
        return None
    wording = english_wording(need)
    return EnglishHint(share, wording.text if proposable(wording) else None)


def facets_note(page: Page, over: str, matches: int | None, shown: int, total: int) -> str:
    """The sentence under "Filters" that says what the counts are over."""
    if over == "matches":
        return page.t("facets_over_matches", n=matches)
    if over == "shown":
        return page.t("facets_over_shown", n=shown)
    return page.t("facets_over_top", n=min(FACET_DEPTH, total))


# -- pages ------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, refused: PageAdmittedDep) -> Response:
    """Search (projects, or organisations with experience when view=partners)."""
    query = parse(request)
    page = Page(request, query)
    if refused is not None:
        return busy(request, page, refused)
    view = "partners" if request.query_params.get("view") == "partners" else "projects"
    if not query.q or query.too_long:
        return render(
            request,
            page,
            "search.html",
            q=query.q,
            view=view,
            groups=[],
            hits=[],
            partners=None,
            total=0,
            close_match=None,
            errors=query.errors,
            filters=query.filters,
            hidden=filters_as_params(query.filters),
            searched=False,
        )
    idx = loaded_index(request)
    if idx is None:
        return loading(request, page)
    errors = list(query.errors)
    hits: list[Hit] = []
    partners = None
    total, close_match, facets, matches, facets_over = 0, None, {}, None, "top"
    english: EnglishHint | None = None
    try:
        if view == "partners":
            found = idx.partners(query.q, limit=PAGE_SIZE, filters=query.filters)
            partners, close_match = found.partners, found.close_match
            counted = idx.search(query.q, limit=1, filters=query.filters)
            facets, matches, facets_over = counted.facets, counted.matches, counted.facets_over
        else:
            result = idx.search(query.q, limit=PAGE_SIZE, offset=query.offset, filters=query.filters)
            total, close_match, facets = result.total, result.close_match, result.facets
            matches, facets_over = result.matches, result.facets_over
            # the engine ranks a little deeper than the window it pages (``total``): a result past it
            # is past the end, as the pager and the README say, not a page "1001–1010" (issue 21)
            hits = result.hits[: max(0, total - query.offset)]
            english = english_hint(query.q, result.facets, close_match)
            facets, facets_over = shown_facets(hits, facets, facets_over, matches, close_match)
    except FilterError as exc:
        errors.append(f"{page.t('bad_filter')} {exc}")
    base = [("q", query.q), ("view", view)] if view == "partners" else [("q", query.q)]
    keep = base + filters_as_params(query.filters)
    prev_url = page.url("/", [*keep, ("offset", str(max(0, query.offset - PAGE_SIZE)))]) if query.offset > 0 else None
    past_end = view == "projects" and not hits and query.offset > 0 and query.offset >= total and not errors
    if past_end:
        prev_url = None
    more = query.offset + PAGE_SIZE < total
    next_url = (
        page.url("/", [*keep, ("offset", str(query.offset + PAGE_SIZE))]) if more and view == "projects" else None
    )
    return render(
        request,
        page,
        "search.html",
        q=query.q,
        view=view,
        hits=hits,
        partners=partners,
        total=total,
        close_match=close_match,
        errors=errors,
        filters=query.filters,
        hidden=filters_as_params(query.filters),
        groups=facet_groups(page, facets, query.filters),
        offset=query.offset,
        prev_url=prev_url,
        next_url=next_url,
        projects_url=page.url("/", [("q", query.q), *filters_as_params(query.filters)]),
        partners_url=page.url("/", [("q", query.q), ("view", "partners"), *filters_as_params(query.filters)]),
        clear_url=page.url("/", base),
        filtered=query.filters.active(),
        searched=True,
        past_end=past_end,
        first_url=page.url("/", keep),
        matches=matches,
        facets_note=facets_note(page, facets_over, matches, len(hits), total),
        english=english,
        english_url=page.url("/", [("q", english.wording), *filters_as_params(query.filters)])
        if english and english.wording
        else None,
    )


@router.get("/project/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, project_id: str) -> Response:
    """One project's full record, whom to contact, and its similar projects."""
    query = parse(request)
    page = Page(request, query)
    idx = loaded_index(request)
    if idx is None:
        return loading(request, page)
    found = idx.project(project_id) if len(project_id) <= 200 and not has_control(project_id) else None
    if found is None:
        return render(request, page, "message.html", 404, title=page.t("not_found_title"), message=page.t("not_found"))
    record, twins = found  # the record with what only its copies in other registries give, and those copies
    try:
        similar = idx.similar(project_id, limit=SIMILAR)
    except KeyError:  # deleted between the two reads
        similar = []
    # the organisation's site and registry number, from this record or any other of the same body (issue 12)
    org_site, registry_id = idx.organisation_contact(record.id)
    return render(
        request,
        page,
        "project.html",
        r=record,
        similar=similar,
        q=query.q,
        org_site=org_site,
        registry_id=registry_id,
        twins=twins,
        back_url=page.url("/", {"q": query.q}) if query.q else None,
        partners_url=page.url("/", {"q": record.title, "view": "partners"}),
    )


@router.get("/submit", response_class=HTMLResponse)
def submit_page(request: Request) -> Response:
    """The form that proposes a project; it posts JSON to POST /submissions (pending until approved).

    With no admin token nobody can moderate, so the page says submissions are closed instead."""
    page = Page(request, parse(request))
    if not get_settings(request).admin_token:
        return render(request, page, "submit.html", closed=True)
    # Nordic countries first (erfa's users), then the rest by their name in the interface language.
    named = [(c, page.label("country", c)) for c in i18n.COUNTRIES]
    countries = named[: len(i18n.NORDIC)] + sorted(named[len(i18n.NORDIC) :], key=lambda c: c[1].casefold())
    keys = (
        "err_required",
        "err_year",
        "err_end_before_start",
        "err_link",
        "err_too_long",
        "err_invalid",
        "err_rate",
        "err_server",
        "sending",
        "send",
        "link_completed",
        "submit_closed",
        *(f"s_{f}" for f in SUBMIT_FIELDS),
    )
    return render(
        request,
        page,
        "submit.html",
        closed=False,
        countries=countries,
        strings={k: page.t(k) for k in keys},
        sectors=[(s, page.label("sector", s)) for s in vocab.SECTORS],
        statuses=[(s, page.label("status", s)) for s in vocab.STATUSES],
    )


@router.get("/submit/status/{token}", response_class=HTMLResponse)
def submission_status_page(request: Request, token: str) -> Response:
    """The submitter's private status page: pending, published (with a link) or rejected (with the reason)."""
    from erfa.service.api.schemas import status_of

    page = Page(request, parse(request))
    sub = None if has_control(token) else get_submissions(request).by_status_token(token)
    if sub is None:
        response = render(
            request, page, "message.html", 404, title=page.t("st_unknown_title"), message=page.t("st_unknown")
        )
    else:
        s = status_of(sub)
        response = render(
            request,
            page,
            "submission_status.html",
            s=s,
            received=format_date(sub.created_at, "long", locale=page.lang),
            decided=format_date(sub.decided_at, "long", locale=page.lang) if sub.decided_at else None,
        )
    response.headers["Cache-Control"] = "no-store"  # the token is in the path: nothing of this page may be kept
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@router.get("/embed", response_class=HTMLResponse)
def embed_page(request: Request, refused: PageAdmittedDep) -> Response:
    """The compact page portals show in an iframe; who may frame it is ERFA_FRAME_ANCESTORS."""
    query = parse(request)
    page = Page(request, query)
    stranger = refused_origin(request, frame_ancestors(get_settings(request)).split())
    if stranger is not None:  # the browser would show a broken frame: say why, and what to set
        return embed_refused(request, page, stranger)
    if refused is not None:
        return busy(request, page, refused)
    limit = _int(request.query_params.get("limit"), 1, EMBED_MAX) or EMBED_DEFAULT
    hits: list[Hit] = []
    errors = list(query.errors)
    close_match = None
    if query.q and not query.too_long:
        idx = loaded_index(request)
        if idx is None:
            return loading(request, page)
        try:
            result = idx.search(query.q, limit=limit, filters=query.filters)
            hits, close_match = result.hits, result.close_match
        except FilterError as exc:
            errors.append(f"{page.t('bad_filter')} {exc}")
    # The embed form keeps the portal's preset filters and size; only the need changes.
    hidden = filters_as_params(query.filters) + ([("limit", str(limit))] if limit != EMBED_DEFAULT else [])
    return render(
        request,
        page,
        "embed.html",
        remember=False,
        q=query.q,
        hits=hits,
        close_match=close_match,
        errors=errors,
        hidden=hidden,
        all_url=page.url("/", [("q", query.q), *filters_as_params(query.filters)]),
    )


def embed_refused(request: Request, page: Page, origin: str) -> HTMLResponse:
    """/embed framed by a site ERFA_FRAME_ANCESTORS does not list (service/pages/embedding.py): a page that
    may be framed anywhere, naming the origin to add, with a link that opens erfa itself in a new tab.
    403: the framing is refused; the page is what the web editor sees instead of a broken icon."""
    response = render(
        request,
        page,
        "embed_refused.html",
        403,
        remember=False,
        origin=origin,
        all_url=page.url("/", [("q", page.query.q)] if page.query.q else None),
    )
    response.headers["Content-Security-Policy"] = REFUSED_CSP
    response.headers["Vary"] += ", Referer, Sec-Fetch-Dest"
    return response


# -- errors -----------------------------------------------------------------------------
def wants_html(request: Request) -> bool:
    """A browser asking for a page: not a JSON API path, and HTML preferred over JSON in Accept."""
    first = request.url.path.lstrip("/").split("/", 1)[0]
    if first in API_PREFIXES:
        return False
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and "application/json" not in accept


async def not_found(request: Request, exc: StarletteHTTPException) -> Response:
    """Unknown paths get the translated 404 page in a browser; everything else keeps FastAPI's JSON error."""
    if exc.status_code != 404 or not wants_html(request):
        return await http_error(request, exc)
    page = Page(request, parse(request))
    response = render(
        request, page, "message.html", 404, title=page.t("page_not_found_title"), message=page.t("page_not_found")
    )
    response.headers["Vary"] += ", Accept"  # the same path answers JSON to API clients
    return response
