"""/submissions: anyone proposes a project; a moderator (admin) approves or rejects it.

``POST /submissions`` only ever creates a *pending* item in its own store
(index/moderation/queue.py); nothing reaches search until a moderator approves it. With no
admin token configured nobody could ever moderate, so submissions are closed (503)
instead of filling a queue nobody can see. The receipt carries a private status link
(``/submit/status/{token}``) the submitter can follow; ``GET /submissions/status/{token}``
is its JSON form, never cached (the secret is in the path). ``status_url`` starts with
``ERFA_PUBLIC_URL`` when the operator has set it; without it the link is relative
(``/submit/status/...``), never built from the request's ``Host`` header, which the
client chooses. Moderators may correct a pending submission (``PATCH``) before they
decide; every change lands in the submission's history.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from erfa.index.moderation.submissions import SubmissionError
from erfa.index.moderation.workflow import Moderation
from erfa.ingest import RecordError
from erfa.service.api.deps import AdminDep, IndexDep, SettingsDep, SubmissionsDep
from erfa.service.api.errors import AUTH_RESPONSES, invalid, problem, unprocessable
from erfa.service.api.ids import PlainId
from erfa.service.api.schemas import (
    STATUS_PAGE,
    Approved,
    RejectIn,
    SubmissionCreated,
    SubmissionEdit,
    SubmissionIn,
    SubmissionList,
    SubmissionOut,
    SubmissionStatus,
    status_of,
)

log = logging.getLogger("erfa.service")

router = APIRouter(tags=["submissions"])


SubmissionId = Annotated[
    str, Path(min_length=1, max_length=100, description="As returned by POST /submissions"), PlainId
]
StatusToken = Annotated[str, Path(min_length=1, max_length=100), PlainId]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("No such submission")}


def not_found(submission_id: str) -> HTTPException:
    return HTTPException(404, detail=f"no submission with id {submission_id!r}")


@router.post(
    "/submissions",
    status_code=201,
    response_model=SubmissionCreated,
    responses={
        429: problem("Too many submissions from this client; see Retry-After"),
        503: problem("The moderation queue is full; try again later"),
    },
)
def submit(store: SubmissionsDep, settings: SettingsDep, body: SubmissionIn) -> SubmissionCreated:
    """Propose a project (public). It is listed only after a moderator approves it.

    Closed (503) while no admin token is configured: nobody could ever approve it."""
    if not settings.admin_token:
        raise HTTPException(
            503,
            detail="submissions are closed on this server: there is no moderator "
            "(the operator has not set ERFA_ADMIN_TOKEN)",
        )
    if store.count("pending") >= settings.max_pending:
        raise HTTPException(
            503, detail="the moderation queue is full; please try again later", headers={"Retry-After": "3600"}
        )
    try:
        sub = store.add(body.model_dump(exclude_none=True))
    except RecordError as exc:
        raise unprocessable(invalid(["body"], str(exc))) from None
    log.info("submission received", extra={"event": "submission", "submission": sub.id})
    token = sub.status_token or ""
    return SubmissionCreated(
        id=sub.id,
        message="Thank you. A moderator will review the project before it is listed.",
        status_url=(settings.public_url or "") + STATUS_PAGE + token,
        status_token=token,
        data=sub.data,
    )


@router.get(
    "/submissions/status/{token}", response_model=SubmissionStatus, responses={404: problem("No such status link")}
)
def submission_status(store: SubmissionsDep, token: StatusToken, response: Response) -> SubmissionStatus:
    """What became of a submission (public, for whoever holds its private status token)."""
    private = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}  # as on the HTML status page
    response.headers.update(private)
    sub = store.by_status_token(token)
    if sub is None:
        raise HTTPException(404, detail="no submission has this status link", headers=private)
    return status_of(sub)


@router.get("/submissions", response_model=SubmissionList, dependencies=[AdminDep], responses=AUTH_RESPONSES)
def list_submissions(
    store: SubmissionsDep,
    status: Annotated[Literal["pending", "approved", "rejected", "all"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> SubmissionList:
    """Submissions by status, oldest first (admin)."""
    st = None if status == "all" else status
    return SubmissionList(
        total=store.count(st), submissions=[SubmissionOut.of(s) for s in store.list(st, limit=limit, offset=offset)]
    )


@router.get(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    dependencies=[AdminDep],
    responses={**AUTH_RESPONSES, **NOT_FOUND},
)
def get_submission(store: SubmissionsDep, submission_id: SubmissionId) -> SubmissionOut:
    """One submission (admin)."""
    sub = store.get(submission_id)
    if sub is None:
        raise not_found(submission_id)
    return SubmissionOut.of(sub)


@router.patch(
    "/submissions/{submission_id}",
    response_model=SubmissionOut,
    dependencies=[AdminDep],
    responses={**AUTH_RESPONSES, **NOT_FOUND, 409: problem("Not pending, or edited since expected_revision")},
)
def edit_submission(store: SubmissionsDep, submission_id: SubmissionId, body: SubmissionEdit) -> SubmissionOut:
    """Correct a pending submission before deciding (admin); the change is kept in its history."""
    try:
        sub = store.edit(submission_id, body.changes(), who="admin", expected_revision=body.expected_revision)
    except KeyError:
        raise not_found(submission_id) from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except RecordError as exc:
        raise unprocessable(invalid(["body"], str(exc))) from None
    log.info("submission edited", extra={"event": "edit", "submission": sub.id})
    return SubmissionOut.of(sub)


@router.post(
    "/submissions/{submission_id}/approve",
    response_model=Approved,
    dependencies=[AdminDep],
    responses={
        **AUTH_RESPONSES,
        **NOT_FOUND,
        409: problem("The submission was rejected, or edited since expected_revision"),
    },
)
def approve(
    store: SubmissionsDep,
    idx: IndexDep,
    submission_id: SubmissionId,
    expected_revision: Annotated[int | None, Query(description="Refuse (409) if edited since this revision")] = None,
) -> Approved:
    """List a pending submission as a project with source `submission` (admin). Repeating it is harmless."""
    try:
        sub, record = Moderation(store, idx).approve(submission_id, who="admin", expected_revision=expected_revision)
    except KeyError:
        raise not_found(submission_id) from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    log.info("submission approved", extra={"event": "approve", "submission": sub.id, "id": record.id})
    return Approved(submission=SubmissionOut.of(sub), record=record)


@router.post(
    "/submissions/{submission_id}/reject",
    response_model=SubmissionOut,
    dependencies=[AdminDep],
    responses={**AUTH_RESPONSES, **NOT_FOUND, 409: problem("The submission was already approved")},
)
def reject(store: SubmissionsDep, idx: IndexDep, submission_id: SubmissionId, body: RejectIn) -> SubmissionOut:
    """Decline a submission with a reason (admin). It stays stored, so the decision can be explained,
    and is never searchable: a record left by an interrupted approval is removed with it."""
    try:
        sub = Moderation(store, idx).reject(
            submission_id, body.reason, who="admin", expected_revision=body.expected_revision
        )
    except KeyError:
        raise not_found(submission_id) from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    log.info("submission rejected", extra={"event": "reject", "submission": sub.id})
    return SubmissionOut.of(sub)
