"""/admin: the moderation pages (issue 12) — sign in, the queue, edit, approve, reject, history.

Moderating used to mean a bearer token and curl; these pages do the same for people who
use a browser, in Bokmål, Nynorsk, Swedish and English, with the keyboard alone and
without JavaScript (plain forms, one page per step, Post/Redirect/Get). They call the same
queue and workflow as the JSON API (``index/moderation/``), so approval stays all or nothing
and every edit and decision lands in the submission's history with who ("admin"), when and
what.

Security: the admin token is typed once into the sign-in form and exchanged for a session
(``service/pages/sessions.py``: signed, HttpOnly, SameSite=Strict, Secure over HTTPS, idle and
absolute expiry). Every form carries a CSRF token checked on every POST, and a POST whose
``Origin`` is another site is refused before that. A wrong token at the sign-in form counts
against the client's tries together with wrong bearer tokens on the API (``TokenGuard`` in
service/api/auth.py). Pages are never cached and never indexed. A full disk, also on the
first page that creates the session store, gets the 507 page, never a 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from babel.dates import format_datetime
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.datastructures import FormData

from erfa.index.moderation.submissions import (
    CONSENT,
    STATUSES,
    Decision,
    StaleSubmission,
    Submission,
    SubmissionError,
    to_record,
)
from erfa.index.moderation.workflow import Moderation
from erfa.ingest import RecordError, vocab
from erfa.service.api.auth import token_guard
from erfa.service.api.deps import get_settings, get_submissions, loaded_index
from erfa.service.api.errors import full_disk
from erfa.service.api.ids import has_control
from erfa.service.api.schemas import SubmissionEdit
from erfa.service.pages import i18n
from erfa.service.pages.sessions import PRE_SESSION_AGE, Session, Sessions
from erfa.service.pages.web import SUBMIT_FIELDS, Page, parse, render

log = logging.getLogger("erfa.service")


def _text(value: object) -> str | None:
    """A form field as text: a file sent where text belongs counts as missing."""
    return value if isinstance(value, str) else None


class _AdminRoute(APIRoute):
    """A moderation page whose write found the disk full (a decision, a session's first use) shows the
    507 page in the moderator's language instead of an error in JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                if full_disk(exc):
                    log.error(
                        "disk full: a moderation page could not be saved",
                        extra={"event": "disk_full", "path": request.url.path, "error": str(exc)[:200]},
                    )
                    return refused(request, page_of(request), 507, "adm_disk_full")
                raise

        return guarded


router = APIRouter(prefix="/admin", include_in_schema=False, route_class=_AdminRoute)

COOKIE, SECURE_COOKIE = "erfa_admin", "__Host-erfa_admin"  # __Host-: Secure, path /, this host only
PRE_COOKIE, SECURE_PRE_COOKIE = "erfa_admin_signin", "__Host-erfa_admin_signin"
QUEUE_PAGE = 50
HISTORY_PAGE = 100
MAX_OFFSET = 1_000_000  # deeper than any queue; a 20-digit offset is refused (422), never handed to the store
Offset = Annotated[int, Query(le=MAX_OFFSET)]  # a negative one is read as 0
# The edit form, in the order the public form shows the fields.
EDIT_FIELDS = SUBMIT_FIELDS
TEXTAREAS = frozenset({"description", "purpose"})

_sessions_lock = threading.Lock()


# -- plumbing ----------------------------------------------------------------------------
def sessions(request: Request) -> Sessions:
    """The app's session store, opened on first use (one per app, shared by its threads)."""
    st = request.app.state
    found: Sessions | None = getattr(st, "erfa_sessions", None)
    if found is None:
        with _sessions_lock:
            found = getattr(st, "erfa_sessions", None)
            if found is None:
                found = Sessions(get_settings(request).home)
                st.erfa_sessions = found
    return found


def secure(request: Request) -> bool:
    """HTTPS as the client sees it (uvicorn applies X-Forwarded-Proto only from ERFA_TRUSTED_PROXIES)."""
    return request.url.scheme == "https"


def cookie_name(request: Request, plain: str, hardened: str) -> str:
    return hardened if secure(request) else plain


def current(request: Request) -> Session | None:
    """The signed-in moderator's session, or None."""
    token = get_settings(request).admin_token
    if not token:
        return None
    return sessions(request).get(request.cookies.get(cookie_name(request, COOKIE, SECURE_COOKIE)), token)


async def form_data(request: Request) -> FormData:
    return await request.form(max_files=0, max_fields=100)


FormDep = Annotated[FormData, Depends(form_data)]


def private(response: Response) -> Response:
    """Moderation pages hold unpublished text: never cached, never indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def page_of(request: Request) -> Page:
    return Page(request, parse(request))


def show(request: Request, page: Page, name: str, status: int = 200, **values: Any) -> Response:
    return private(render(request, page, name, status, active="admin", **values))


def redirect(page: Page, path: str, **params: str) -> Response:
    return private(RedirectResponse(page.url(path, params), status_code=303))


def same_origin(request: Request) -> bool:
    """A POST from a page of this site, or one whose origin is not told: curl sends none, and a browser
    sends "null" from erfa's own pages because they set Referrer-Policy: no-referrer. Those are left
    to the CSRF token and the SameSite=Strict cookie; an Origin naming another site is refused here."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def when(page: Page, value: Any) -> str:
    """A time in the interface language (UTC, and it says so: moderators may sit anywhere)."""
    return format_datetime(value, "d. MMM y HH:mm", locale=page.lang) + " UTC" if value else ""


def refused(request: Request, page: Page, status: int, message_key: str) -> Response:
    return show(request, page, "message.html", status, title=page.t("adm_refused_title"), message=page.t(message_key))


def _checked_post(request: Request, form: FormData) -> tuple[Page, Session | Response]:
    """The page and the session of a signed-in POST, or the response that refuses it."""
    page = page_of(request)
    if not get_settings(request).admin_token:
        return page, refused(request, page, 403, "adm_disabled")
    if not same_origin(request):
        return page, refused(request, page, 403, "adm_csrf")
    session = current(request)
    if session is None:
        return page, redirect(page, "/admin", done="expired")
    if not Sessions.csrf_ok(session, _text(form.get("csrf"))):
        log.warning(
            "admin form refused: CSRF token missing or wrong", extra={"event": "csrf_refused", "path": request.url.path}
        )
        return page, refused(request, page, 403, "adm_csrf")
    return page, session


# -- sign in and out ---------------------------------------------------------------------
@router.get("")
def admin_home(request: Request, status: str = "pending", offset: Offset = 0) -> Response:
    """The queue for a signed-in moderator, else the sign-in form."""
    page = page_of(request)
    settings = get_settings(request)
    if not settings.admin_token:
        return show(request, page, "message.html", 403, title=page.t("adm_title"), message=page.t("adm_disabled"))
    session = current(request)
    if session is None:
        return sign_in_page(request, page)
    store = get_submissions(request)
    status = status if status in STATUSES else "pending"
    offset = max(0, offset)
    items = store.list(status, limit=QUEUE_PAGE, offset=offset)
    counts = store.counts()
    more = offset + QUEUE_PAGE < counts[status]
    return show(
        request,
        page,
        "admin.html",
        session=session,
        counts=counts,
        queue=status,
        items=items,
        when=lambda v: when(page, v),
        next_url=page.url("/admin", {"status": status, "offset": offset + QUEUE_PAGE}) if more else None,
        prev_url=page.url("/admin", {"status": status, "offset": max(0, offset - QUEUE_PAGE)}) if offset else None,
    )


def sign_in_page(request: Request, page: Page, status: int = 200, error: str | None = None) -> Response:
    store = sessions(request)
    pre = store.pre_session()
    done = request.query_params.get("done")
    response = show(
        request,
        page,
        "admin_signin.html",
        status,
        csrf=store.login_csrf(pre),
        error=error,
        done=done if done in ("signed_out", "expired") else None,
    )
    response.set_cookie(
        cookie_name(request, PRE_COOKIE, SECURE_PRE_COOKIE),
        pre,
        max_age=PRE_SESSION_AGE,
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-in")
def sign_in(request: Request, form: FormDep) -> Response:
    """Exchange the admin token for a session cookie (the token is never stored in the browser)."""
    page = page_of(request)
    settings = get_settings(request)
    if not settings.admin_token:
        return refused(request, page, 403, "adm_disabled")
    store = sessions(request)
    pre = request.cookies.get(cookie_name(request, PRE_COOKIE, SECURE_PRE_COOKIE))
    if not same_origin(request) or not store.login_csrf_ok(pre, _text(form.get("csrf"))):
        return sign_in_page(request, page, 403, error=page.t("adm_csrf"))
    given = str(form.get("token") or "").strip()
    guard = token_guard(request)  # one count with the API's bearer tokens
    verdict = guard.verdict(request.scope, given)
    if verdict == "blocked":
        response = sign_in_page(request, page, 429, error=page.t("adm_too_many"))
        response.headers["Retry-After"] = str(guard.retry_after(request.scope) or 1)
        return response
    if verdict != "ok":
        log.warning("admin sign-in refused", extra={"event": "auth_failed", "path": request.url.path})
        return sign_in_page(request, page, 401, error=page.t("adm_wrong_token"))
    cookie, _ = store.open(settings.admin_token)
    log.info("admin signed in", extra={"event": "sign_in"})
    response = redirect(page, "/admin")
    response.set_cookie(
        cookie_name(request, COOKIE, SECURE_COOKIE),
        cookie,
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )  # a browser-session cookie; the server ends it earlier
    response.delete_cookie(
        cookie_name(request, PRE_COOKIE, SECURE_PRE_COOKIE),
        path="/",
        secure=secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: FormDep) -> Response:
    page, checked = _checked_post(request, form)
    if isinstance(checked, Response):
        return checked
    sessions(request).close_session(request.cookies.get(cookie_name(request, COOKIE, SECURE_COOKIE)))
    log.info("admin signed out", extra={"event": "sign_out"})
    response = redirect(page, "/admin", done="signed_out")
    response.delete_cookie(
        cookie_name(request, COOKIE, SECURE_COOKIE), path="/", secure=secure(request), httponly=True, samesite="strict"
    )
    return response


# -- one submission ------------------------------------------------------------------------
def _form_values(sub: Submission) -> dict[str, Any]:
    return {f: "" if sub.data.get(f) is None else str(sub.data.get(f)) for f in EDIT_FIELDS} | {
        CONSENT: sub.contact_consent
    }


def submission_page(
    request: Request,
    page: Page,
    session: Session,
    sub: Submission,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    reject_error: str | None = None,
    notice: str | None = None,
) -> Response:
    """The submission as it will appear, the edit form, approve/reject, and its history."""
    try:
        preview = to_record(sub.id, sub.data) if sub.status == "pending" else None
    except RecordError:  # cannot happen for a stored submission; show the form anyway
        preview = None
    named = [(c, page.label("country", c)) for c in i18n.COUNTRIES]
    countries = named[: len(i18n.NORDIC)] + sorted(named[len(i18n.NORDIC) :], key=lambda c: c[1].casefold())
    return show(
        request,
        page,
        "admin_submission.html",
        status,
        session=session,
        sub=sub,
        preview=preview,
        values=values or _form_values(sub),
        errors=errors or {},
        reject_error=reject_error,
        fields=EDIT_FIELDS,
        textareas=TEXTAREAS,
        countries=countries,
        sectors=[(s, page.label("sector", s)) for s in vocab.SECTORS],
        statuses=[(s, page.label("status", s)) for s in vocab.STATUSES],
        history=[describe(page, d) for d in sub.history],
        when=lambda v: when(page, v),
        notice=notice or _notice(request.query_params.get("done")),
    )


# Submission fields that hold a code, shown in the history by its label.
CODED_FIELDS = frozenset({"sector", "status", "country", "owner_type", "language"})
NOTICES = frozenset({"saved", "approved", "rejected", "stale", "decided"})


def _notice(done: str | None) -> str | None:
    """A notice named in the redirect's ?done=, if it is one the page knows."""
    return done if done in NOTICES else None


def describe(page: Page, d: Decision) -> dict[str, Any]:
    """One history line for the page: who, when, what, and an edit's changes field by field."""
    changes = [
        {
            "field": page.t(f"s_{f}") if f != CONSENT else page.t("s_contact_consent"),
            "old": _shown(page, f, old),
            "new": _shown(page, f, new),
        }
        for f, (old, new) in (d.detail.get("changes") or {}).items()
    ]
    return {
        "at": d.at,
        "who": d.who,
        "action": page.t(f"adm_action_{d.action}"),
        "kind": d.action,
        "changes": changes,
        "reason": d.detail.get("reason"),
        "record_id": d.detail.get("record_id"),
        "submission_id": d.submission_id,
    }


def _shown(page: Page, field: str, value: Any) -> str:
    """A history value as a person reads it: a code (sector, status, country) by its label, never raw."""
    if value is None or value == "":
        return page.t("not_given")
    if value is True:
        return page.t("adm_yes")
    if field in CODED_FIELDS:
        return page.label(field, str(value))
    return str(value)


def _checked_submission(
    request: Request, form: FormData, submission_id: str
) -> tuple[Page, Session, Submission] | Response:
    """What every decision form starts with: a signed-in, CSRF-checked POST about a submission that exists."""
    page, session = _checked_post(request, form)
    if isinstance(session, Response):
        return session
    sub = _load(request, page, submission_id)
    if isinstance(sub, Response):
        return sub
    return page, session, sub


def _load(request: Request, page: Page, submission_id: str) -> Submission | Response:
    plain = len(submission_id) <= 100 and not has_control(submission_id)  # a NUL byte never reaches the store
    sub = get_submissions(request).get(submission_id) if plain else None
    if sub is None:
        return show(
            request, page, "message.html", 404, title=page.t("adm_no_such_title"), message=page.t("adm_no_such")
        )
    return sub


@router.get("/submissions/{submission_id}")
def submission(request: Request, submission_id: str) -> Response:
    page = page_of(request)
    if not get_settings(request).admin_token:
        return show(request, page, "message.html", 403, title=page.t("adm_title"), message=page.t("adm_disabled"))
    session = current(request)
    if session is None:
        return redirect(page, "/admin")
    sub = _load(request, page, submission_id)
    if isinstance(sub, Response):
        return sub
    return submission_page(request, page, session, sub)


def _revision(form: FormData) -> int | None:
    try:
        return int(str(form.get("revision")))
    except ValueError:
        return None


def _edit_errors(page: Page, exc: ValidationError | RecordError) -> dict[str, str]:
    """The edit form's messages in the interface language, by field (pydantic's English stays in the log)."""
    if isinstance(exc, RecordError):
        return {"title": page.t("err_invalid")}
    out: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][-1]) if err["loc"] else "title"
        kind = err.get("type", "")
        if name in out:
            continue
        if kind in ("missing", "string_too_short"):
            out[name] = page.t("err_required", field=page.t(f"s_{name}"))
        elif kind == "string_too_long":
            out[name] = page.t("err_too_long")
        elif name in ("link", "website"):
            out[name] = page.t("err_link")
        elif name == "end_year" and "before" in str(err.get("msg", "")):
            out[name] = page.t("err_end_before_start")
        elif name.endswith("_year"):
            out[name] = page.t("err_year")
        else:
            out[name] = page.t("err_invalid")
    return out


@router.post("/submissions/{submission_id}/edit")
def edit(request: Request, submission_id: str, form: FormDep) -> Response:
    """Save a moderator's corrections to a pending submission (kept in its history)."""
    checked = _checked_submission(request, form, submission_id)
    if isinstance(checked, Response):
        return checked
    page, session, sub = checked
    values: dict[str, Any] = {f: str(form.get(f) or "").strip() for f in EDIT_FIELDS}
    values[CONSENT] = form.get(CONSENT) == "yes"
    missing = {f: page.t("err_required", field=page.t(f"s_{f}")) for f in ("title", "organisation") if not values[f]}
    if missing:
        return submission_page(request, page, session, sub, status=422, values=values, errors=missing)
    try:
        body = SubmissionEdit.model_validate({**{f: values[f] or None for f in EDIT_FIELDS}, CONSENT: values[CONSENT]})
        get_submissions(request).edit(sub.id, body.changes(), who="admin", expected_revision=_revision(form))
    except (ValidationError, RecordError) as exc:
        return submission_page(request, page, session, sub, status=422, values=values, errors=_edit_errors(page, exc))
    except StaleSubmission:
        return submission_page(
            request, page, session, get_submissions(request).get(sub.id) or sub, status=409, notice="stale"
        )
    except SubmissionError:
        return submission_page(request, page, session, sub, status=409, notice="decided")
    log.info("submission edited", extra={"event": "edit", "submission": sub.id})
    return redirect(page, f"/admin/submissions/{quote(sub.id)}", done="saved")


@router.post("/submissions/{submission_id}/approve")
def approve(request: Request, submission_id: str, form: FormDep) -> Response:
    """Publish: the record goes into search in the same step as the decision, or neither happens."""
    checked = _checked_submission(request, form, submission_id)
    if isinstance(checked, Response):
        return checked
    page, session, sub = checked
    idx = loaded_index(request)
    if idx is None:
        return refused(request, page, 503, "loading")
    return _decide(
        request,
        page,
        session,
        sub,
        "approved",
        lambda moderation: moderation.approve(sub.id, who="admin", expected_revision=_revision(form)),
    )


@router.post("/submissions/{submission_id}/reject")
def reject(request: Request, submission_id: str, form: FormDep) -> Response:
    """Decline with a reason, which the submitter sees on their status page."""
    checked = _checked_submission(request, form, submission_id)
    if isinstance(checked, Response):
        return checked
    page, session, sub = checked
    reason = " ".join(str(form.get("reason") or "").split())
    if not reason or len(reason) > 2000:
        key = "adm_reason_missing" if not reason else "err_too_long"
        return submission_page(request, page, session, sub, status=422, reject_error=page.t(key))
    return _decide(
        request,
        page,
        session,
        sub,
        "rejected",
        lambda moderation: moderation.reject(sub.id, reason, who="admin", expected_revision=_revision(form)),
    )


def _decide(
    request: Request,
    page: Page,
    session: Session,
    sub: Submission,
    done: str,
    decision: Callable[[Moderation], object],
) -> Response:
    """Carry out an approval or rejection; what a moderator sees when it cannot be: the
    submission changed since they loaded it (409, shown afresh), someone decided it
    already (409), or the disk is full (507, from _AdminRoute)."""
    store = get_submissions(request)
    try:
        decision(Moderation(store, loaded_index(request)))
    except StaleSubmission:
        return submission_page(request, page, session, store.get(sub.id) or sub, status=409, notice="stale")
    except SubmissionError:
        return submission_page(request, page, session, sub, status=409, notice="decided")
    log.info(f"submission {done}", extra={"event": done, "submission": sub.id})
    return redirect(page, f"/admin/submissions/{quote(sub.id)}", done=done)


# -- the log -----------------------------------------------------------------------------
@router.get("/history")
def history(request: Request, offset: Offset = 0) -> Response:
    """Every decision, newest first: what the moderators did, and when."""
    page = page_of(request)
    if not get_settings(request).admin_token:
        return show(request, page, "message.html", 403, title=page.t("adm_title"), message=page.t("adm_disabled"))
    session = current(request)
    if session is None:
        return redirect(page, "/admin")
    store = get_submissions(request)
    offset = max(0, offset)
    found = store.decisions(limit=HISTORY_PAGE + 1, offset=offset)
    titles: dict[str, str] = {}
    for d in found:
        if d.submission_id not in titles:
            s = store.get(d.submission_id)
            titles[d.submission_id] = str(s.data.get("title", d.submission_id)) if s else d.submission_id
    return show(
        request,
        page,
        "admin_history.html",
        session=session,
        titles=titles,
        lines=[describe(page, d) for d in found[:HISTORY_PAGE]],
        when=lambda v: when(page, v),
        next_url=page.url("/admin/history", {"offset": offset + HISTORY_PAGE}) if len(found) > HISTORY_PAGE else None,
        prev_url=page.url("/admin/history", {"offset": max(0, offset - HISTORY_PAGE)}) if offset else None,
    )
