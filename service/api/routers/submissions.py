"""/submissions: anyone proposes a project; a moderator (admin) approves or rejects it.

``POST /submissions`` only ever creates a *pending* item in its own store
(index/moderation/submissions.py); nothing reaches search until a moderator approves it. With no
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
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from erfa.index.moderation.submissions import CONSENT, Decision, Submission, SubmissionError
from erfa.ingest import Record, RecordError, vocab
from erfa.ingest.record import web_link
from erfa.service.api.deps import AdminDep, IndexDep, SettingsDep, SubmissionsDep
from erfa.service.api.errors import AUTH_RESPONSES, invalid, problem, unprocessable
from erfa.service.api.security import PlainId

log = logging.getLogger("erfa.service")

router = APIRouter(tags=["submissions"])


def _blank(value: object) -> object:
    """Web forms send '' for a field left empty; that means 'not given', not an error."""
    return None if isinstance(value, str) and not value.strip() else value


Opt = BeforeValidator(_blank)
_Year = Annotated[int, Field(ge=1950, le=2100)]
# An http(s) address; one typed without a scheme ("fjordvik.kommune.no/ki") is completed to
# https:// rather than refused (issue 12), and the completed form is what the receipt shows.
_Link = Annotated[str, Field(max_length=2000), AfterValidator(web_link)]
STATUS_PAGE = "/submit/status/"  # + the token: the submitter's private status page (service/pages/web.py)


# Strings of at most n characters, as type aliases mypy can read (constraints sit inside the Optional so None passes).
_Text60 = Annotated[str, Field(max_length=60)]
_Text100 = Annotated[str, Field(max_length=100)]
_Text200 = Annotated[str, Field(max_length=200)]
_Text5000 = Annotated[str, Field(max_length=5000)]


# Fields whose words are normalised to erfa's fixed vocabulary, and the values it has.
_VOCABULARY: dict[str, tuple[Callable[[object], str | None], tuple[str, ...]]] = {
    "status": (vocab.normalise_status, vocab.STATUSES),
    "sector": (vocab.normalise_sector, vocab.SECTORS),
}


class SubmissionIn(BaseModel):
    """A project proposed by anyone; a moderator decides whether it is listed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[_Text5000 | None, Opt] = None
    purpose: Annotated[_Text5000 | None, Opt] = None
    organisation: Annotated[str, Field(min_length=1, max_length=300)]
    country: Annotated[_Text60 | None, Opt, Field(description="ISO code (NO, SE, DK, FI, IS) or a country name")] = None
    municipality: Annotated[_Text200 | None, Opt] = None
    sector: Annotated[_Text100 | None, Opt, Field(description=", ".join(vocab.SECTORS))] = None
    status: Annotated[_Text100 | None, Opt, Field(description=", ".join(vocab.STATUSES))] = None
    start_year: Annotated[_Year | None, Opt] = None
    end_year: Annotated[_Year | None, Opt] = None
    link: Annotated[
        _Link | None, Opt, Field(description="An http(s) URL about the project; https:// is added when missing")
    ] = None
    website: Annotated[
        _Link | None, Opt, Field(description="The organisation's own web site; https:// is added when missing")
    ] = None
    contact: Annotated[
        _Text200 | None,
        Opt,
        Field(
            description=(
                "A functional contact (a team mailbox or a role, not a person), published only with contact_consent"
            )
        ),
    ] = None
    contact_consent: Annotated[bool, Field(description="True: the contact may be published with the project")] = False

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is not None and vocab.country_code(v) is None:
            raise ValueError(
                "country is not one erfa knows: use an ISO code such as NO, SE, DK, FI, IS or a country name"
            )
        return v

    @field_validator("status", "sector")
    @classmethod
    def _in_vocabulary(cls, v: str | None, info: ValidationInfo) -> str | None:
        normalise, allowed = _VOCABULARY[str(info.field_name)]
        if v is not None and normalise(v) is None:
            raise ValueError(f"{info.field_name} must be one of {', '.join(allowed)}")
        return v

    @field_validator("end_year")
    @classmethod
    def _after_start(cls, v: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start_year")
        if v is not None and start is not None and v < start:
            raise ValueError(f"end_year must not be before start_year ({start})")
        return v


class SubmissionCreated(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    message: str
    status_url: str = Field(
        description="The submitter's private status page (keep it: it is shown only once); "
        "relative to this server unless the operator set ERFA_PUBLIC_URL"
    )
    status_token: str = Field(description="The secret in status_url, for GET /submissions/status/{token}")
    data: dict[str, Any] = Field(description="What was stored, after completion (e.g. https:// added to a link)")


class DecisionOut(BaseModel):
    at: str
    who: str
    action: Literal["submitted", "edited", "approved", "rejected"]
    detail: dict[str, Any]

    @classmethod
    def of(cls, d: Decision) -> DecisionOut:
        return cls(at=d.at.isoformat(), who=d.who, action=d.action, detail=d.detail)  # type: ignore[arg-type]


class SubmissionOut(BaseModel):
    id: str
    status: Literal["pending", "approved", "rejected"]
    data: dict[str, Any]
    created_at: str
    decided_at: str | None = None
    reason: str | None = None
    record_id: str | None = None
    revision: int = Field(
        0, description="Bumped by each edit; pass it back as expected_revision to decide on what you saw"
    )
    history: list[DecisionOut] = Field(
        default_factory=list, description="Submitted, edited, approved, rejected: who, when, what"
    )

    @classmethod
    def of(cls, s: Submission) -> SubmissionOut:
        j = s.to_json()
        return cls(
            **{
                k: j[k] for k in ("id", "status", "data", "created_at", "decided_at", "reason", "record_id", "revision")
            },
            history=[DecisionOut.of(d) for d in s.history],
        )


class SubmissionStatus(BaseModel):
    """What the submitter may see through their status link: never the moderators' notes or edits."""

    status: Literal["pending", "approved", "rejected"]
    title: str
    created_at: str
    decided_at: str | None = None
    reason: str | None = Field(None, description="Why it was rejected")
    project_id: str | None = Field(None, description="The published project, when approved")


class SubmissionList(BaseModel):
    total: int
    submissions: list[SubmissionOut]


class Approved(BaseModel):
    submission: SubmissionOut
    record: Record


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why, for the record (and the submitter)")]
    expected_revision: int | None = Field(
        None, description="Refuse (409) if the submission was edited since this revision"
    )


class SubmissionEdit(SubmissionIn):
    """A moderator's correction: only the fields sent change; null or "" clears an optional one."""

    title: Annotated[str | None, Field(min_length=1, max_length=300)] = None  # type: ignore[assignment]
    organisation: Annotated[str | None, Field(min_length=1, max_length=300)] = None  # type: ignore[assignment]
    contact_consent: bool | None = None  # type: ignore[assignment]
    expected_revision: int | None = Field(
        None, description="Refuse (409) if the submission was edited since this revision"
    )

    def changes(self) -> dict[str, Any]:
        """The fields the request named, ready for SubmissionStore.edit."""
        sent = self.model_dump(include=self.model_fields_set - {"expected_revision"})
        for required in ("title", "organisation"):
            if required in sent and sent[required] is None:
                raise unprocessable(invalid(["body", required], f"{required} cannot be cleared"))
        if CONSENT in sent:
            sent[CONSENT] = bool(sent[CONSENT])
        return sent


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


def status_of(sub: Submission) -> SubmissionStatus:
    # validated, not constructed: the store keeps the status as text, the model narrows it to the three it can be
    return SubmissionStatus.model_validate(
        {
            "status": sub.status,
            "title": str(sub.data.get("title", "")),
            "created_at": sub.created_at.isoformat(),
            "decided_at": sub.decided_at.isoformat() if sub.decided_at else None,
            "reason": sub.reason if sub.status == "rejected" else None,
            "project_id": sub.record_id if sub.status == "approved" else None,
        }
    )


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
        sub, record = store.approve(submission_id, idx, who="admin", expected_revision=expected_revision)
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
        sub = store.reject(submission_id, body.reason, idx, who="admin", expected_revision=body.expected_revision)
    except KeyError:
        raise not_found(submission_id) from None
    except SubmissionError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    log.info("submission rejected", extra={"event": "reject", "submission": sub.id})
    return SubmissionOut.of(sub)
