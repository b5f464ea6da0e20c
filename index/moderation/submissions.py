"""Proposed projects waiting for a moderator: what a submission is, and the rules every queue keeps.

Anyone may propose a project, so a proposal must not reach search results until a
trusted person has looked at it. Proposals live in a queue of their own (the
`SubmissionQueue` of moderation/queue.py: ``submissions.sqlite`` beside the registry,
moderation/sqlite.py, or the shared PostgreSQL database, moderation/postgres.py): the
registry store stays the single source of truth for searchable records, and a pending
proposal can never leak into a FAISS rebuild by accident. Approving and rejecting, the
steps that touch the index too, are moderation/workflow.py's.

This module holds what both queues share and no SQL: the `Submission` and `Decision`
types, how a proposal is cleaned and checked (`new_submission`), how an edit is checked
and what it changes (`revise`), and the record an approved submission becomes
(`to_record`, whose id is derived from the submission id, so repeating an approval is a
no-op).

Moderation leaves a trail (issue 12): every submission, edit, approval and rejection
is a row in ``decisions`` (who, when, what changed), written in the same transaction
as the change itself, so the history can never disagree with the state. A moderator
may correct a pending submission before deciding; each edit bumps ``revision``, and a
decision taken on a page that showed an older revision is refused rather than
publishing text the moderator never saw.

The submitter follows their submission with a private status link. Only a SHA-256 of
its token is stored, so the database (or a backup) leaks no working links, and the
token is 192 random bits, so it cannot be guessed. A functional contact (a team
mailbox or a role) is stored as given but reaches the public record only when the
submitter ticked the consent box (``contact_consent``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from erfa.index.store.protocol import text_hash
from erfa.ingest.record import Record, RecordError, make_id, utcnow

SOURCE = "submission"  # the Record.source of every approved submission
STATUSES = ("pending", "approved", "rejected")
# Fields a member of the public may propose; everything else (language, tags,
# owner type) is derived or left to the moderator's later edits.
FIELDS = (
    "title",
    "description",
    "purpose",
    "organisation",
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
CONSENT = "contact_consent"  # the submitter agreed to publish `contact`; stored, never on the record
FORM_FIELDS = (*FIELDS, CONSENT)
ACTIONS = ("submitted", "edited", "approved", "rejected")


class SubmissionError(ValueError):
    """A state change that is not allowed (e.g. approving a rejected submission)."""


class StaleSubmission(SubmissionError):
    """The submission changed since the moderator loaded it; deciding now would publish unseen text."""


def token_hash(token: str) -> str:
    """What is stored of a status token: enough to find the submission, useless as a link."""
    return text_hash(token)


@dataclass(frozen=True)
class Decision:
    """One line of a submission's history: who did what, when (``detail``: the edit's changes, the reason)."""

    submission_id: str
    at: datetime
    who: str
    action: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "at": self.at.isoformat(),
            "who": self.who,
            "action": self.action,
            "detail": self.detail,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Decision:
        action = obj.get("action")
        if action not in ACTIONS:
            raise ValueError(f"history action {action!r} must be one of {', '.join(ACTIONS)}")
        detail = obj.get("detail") or {}
        if not isinstance(detail, dict):
            raise ValueError("history detail must be an object")
        return cls(
            str(obj.get("submission_id") or ""),
            datetime.fromisoformat(str(obj["at"])),
            str(obj.get("who") or "admin"),
            action,
            dict(detail),
        )


@dataclass(frozen=True)
class Submission:
    id: str
    status: str
    data: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None
    record_id: str | None = None
    status_hash: str | None = None  # SHA-256 of the private status token (None: made before status links)
    revision: int = 0  # bumped by every edit; a decision names the revision it saw
    history: tuple[Decision, ...] = ()  # filled by get() and all(), not by list()
    # The status token itself: only on the object add() returns, never stored or exported.
    status_token: str | None = field(default=None, compare=False, repr=False)

    @property
    def contact_consent(self) -> bool:
        return self.data.get(CONSENT) is True

    def to_json(self) -> dict[str, Any]:
        """The exchange form used by backups (the API picks its fields from it)."""
        return {
            "id": self.id,
            "status": self.status,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "record_id": self.record_id,
            "status_hash": self.status_hash,
            "revision": self.revision,
            "history": [d.to_json() for d in self.history],
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Submission:
        status = obj.get("status")
        if status not in STATUSES:
            raise ValueError(f"status {status!r} must be one of {', '.join(STATUSES)}")
        sid = obj.get("id")
        if not isinstance(sid, str) or not sid:
            raise ValueError("id is missing")
        data = obj.get("data")
        if not isinstance(data, dict):
            raise ValueError("data must be an object")
        decided = obj.get("decided_at")
        status_hash = obj.get("status_hash")
        if status_hash is not None and not (isinstance(status_hash, str) and len(status_hash) == 64):
            raise ValueError("status_hash must be a SHA-256 hex digest")
        history = obj.get("history") or []
        if not isinstance(history, list):
            raise ValueError("history must be a list")
        return cls(
            id=sid,
            status=status,
            data=dict(data),
            created_at=datetime.fromisoformat(str(obj["created_at"])),
            decided_at=datetime.fromisoformat(str(decided)) if decided else None,
            reason=obj.get("reason"),
            record_id=obj.get("record_id"),
            status_hash=status_hash,
            revision=int(obj.get("revision") or 0),
            history=tuple(Decision.from_json({**d, "submission_id": sid}) for d in history),
        )


@dataclass
class ImportCount:
    added: int = 0
    replaced: int = 0
    ids: list[str] = field(default_factory=list)


def record_id(submission_id: str) -> str:
    """The id of the record a submission becomes when approved (what ``to_record`` gives it)."""
    return make_id(SOURCE, submission_id)


def to_record(submission_id: str, data: Mapping[str, Any]) -> Record:
    """The Record an approved submission becomes.

    Goes through erfa's own-format adapter so a submission is normalised exactly like
    an ingested row ("Norge" -> NO, "I drift" -> implemented), and gets a stable id
    derived from the submission id, which makes approval idempotent.
    """
    from erfa.ingest import read_items

    row = {k: v for k, v in data.items() if k in FIELDS}
    if data.get(CONSENT) is not True:  # a contact nobody agreed to publish stays with the moderators
        row.pop("contact", None)
    read = read_items([{**row, "source": SOURCE, "source_id": submission_id}], file="submission")
    if read.rejected:
        raise RecordError(read.rejected[0].reason)
    if not read.records:  # the adapter skips only comment lines
        raise RecordError("the submission holds no project")
    return read.records[0]


def check(submission_id: str, data: Mapping[str, Any]) -> Record:
    """Raise RecordError unless ``data`` could be approved, its contact included (consent or not)."""
    return to_record(submission_id, {**data, CONSENT: True})


def clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a submission keeps: known ones with a value; consent only when given."""
    out = {k: data[k] for k in FIELDS if data.get(k) not in (None, "")}
    if data.get(CONSENT) is True and out.get("contact"):
        out[CONSENT] = True
    return out


def new_submission(data: Mapping[str, Any]) -> Submission:
    """A pending submission of ``data`` (cleaned, and checked to be approvable: a moderator should
    never face an unapprovable item), with a fresh unguessable id and the secret of its status
    link in ``status_token``; raises RecordError when it could never become a record."""
    kept = clean(data)
    sid = "s" + secrets.token_hex(8)  # unguessable, so ids reveal nothing about volume or order
    check(sid, kept)
    token = secrets.token_urlsafe(24)
    return Submission(sid, "pending", kept, utcnow(), status_hash=token_hash(token), status_token=token)


def check_changes(changes: Mapping[str, Any]) -> None:
    """Raise RecordError when an edit names a field a submission does not have."""
    unknown = sorted(set(changes) - set(FORM_FIELDS))
    if unknown:
        raise RecordError(f"unknown field {unknown[0]!r}; a submission has {', '.join(FORM_FIELDS)}")


def check_revision(sub: Submission, expected: int | None) -> None:
    """Refuse a change decided on a page that showed an older revision of ``sub``."""
    if expected is not None and sub.revision != expected:
        raise StaleSubmission(
            f"submission {sub.id!r} was changed since it was loaded "
            f"(revision {sub.revision}, not {expected}); reload it and decide again"
        )


def revise(
    sub: Submission, changes: Mapping[str, Any], expected_revision: int | None
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A moderator's edit of ``sub`` as read under the queue's write lock: (the new data, each
    changed field's [old, new]). ``changes`` maps fields to new values (None or "" clears one);
    the result must still be approvable (RecordError otherwise). An empty diff: nothing to write."""
    check_changes(changes)
    if sub.status != "pending":
        raise SubmissionError(f"submission {sub.id!r} is {sub.status}; only a pending one can be edited")
    check_revision(sub, expected_revision)
    merged = {**sub.data, **changes}
    if CONSENT in changes and changes[CONSENT] is not True:
        merged.pop(CONSENT, None)
    new = clean(merged)
    check(sub.id, new)
    diff = {k: [sub.data.get(k), new.get(k)] for k in FORM_FIELDS if sub.data.get(k) != new.get(k)}
    return new, diff


def submission_of(row: Sequence[Any]) -> Submission:
    """A submission from a row of ``COLUMNS`` (moderation/schema.py), as either database returns it."""
    sid, status, data, created, decided, reason, record_id, status_hash, revision = row
    return Submission(
        sid,
        status,
        json.loads(data),
        datetime.fromisoformat(created),
        datetime.fromisoformat(decided) if decided else None,
        reason,
        record_id,
        status_hash,
        int(revision or 0),
    )


def decision_of(row: Sequence[Any]) -> Decision:
    """A history line from a row of (submission_id, at, who, action, detail), as either database returns it."""
    sid, at, who, action, detail = row
    return Decision(sid, datetime.fromisoformat(at), who, action, json.loads(detail or "{}"))


def submission_row(s: Submission) -> tuple[Any, ...]:
    """A submission as the values of ``COLUMNS`` (moderation/schema.py), in order: what `submission_of` reads."""
    return (
        s.id,
        s.status,
        json.dumps(s.data, ensure_ascii=False),
        s.created_at.isoformat(),
        s.decided_at.isoformat() if s.decided_at else None,
        s.reason,
        s.record_id,
        s.status_hash,
        s.revision,
    )
