"""What a moderation queue is: the `SubmissionQueue` protocol that the SQLite queue
(moderation/sqlite.py) and the PostgreSQL queue (moderation/postgres.py) implement, each
with its own SQL over the one schema of moderation/schema.py.

A queue only stores: it never touches the index. Approving and rejecting, which must
change the queue and the index all or nothing, are `Moderation`'s (moderation/workflow.py),
built on `deciding`: the submission read under the queue's write lock, the decision
recorded on it, and the whole committed only when the caller's block (the index write)
succeeded.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from erfa.index.moderation.submissions import Decision, ImportCount, Submission


class OpenDecision(Protocol):
    """A submission read under the queue's write lock (``submission``), and the decision to record
    on it. Committed when the ``deciding`` block ends, rolled back if the block raises."""

    submission: Submission

    def record(
        self, status: str, *, who: str, reason: str | None, record_id: str | None, detail: Mapping[str, Any]
    ) -> None:
        """Set the submission's status (with its reason and record) and add the history line."""
        ...


class SubmissionQueue(Protocol):
    """Pending, approved and rejected submissions and their history (thread-safe)."""

    # -- reads ---------------------------------------------------------------------
    def get(self, submission_id: str) -> Submission | None:
        """The submission with its history, or None (also for an id no submission can have)."""
        ...

    def by_status_token(self, token: str) -> Submission | None:
        """The submission a private status link points to, or None (also for any malformed token)."""
        ...

    def list(self, status: str | None = "pending", *, limit: int = 100, offset: int = 0) -> builtins.list[Submission]:
        """Submissions of one status (None: all), oldest first, without their history."""
        ...

    def count(self, status: str | None = "pending") -> int: ...

    def counts(self) -> dict[str, int]:
        """Submissions per status (every status present, 0 when none), for the moderation queue."""
        ...

    def all(self) -> Iterator[Submission]:
        """Every submission with its history, oldest first (for backups)."""
        ...

    def history(self, submission_id: str) -> builtins.list[Decision]:
        """What happened to one submission, oldest first."""
        ...

    def decisions(self, *, limit: int = 100, offset: int = 0) -> builtins.list[Decision]:
        """The moderation log across all submissions, newest first."""
        ...

    def undecided(self) -> builtins.list[str]:
        """The ids of the submissions that are pending or rejected: none of them may be searchable."""
        ...

    # -- writes --------------------------------------------------------------------
    def add(self, data: Mapping[str, Any]) -> Submission:
        """Store a proposal as pending (`new_submission`'s rules; RecordError if it could never be
        approved). The result carries ``status_token``: shown to the submitter once, stored as a hash."""
        ...

    def edit(
        self,
        submission_id: str,
        changes: Mapping[str, Any],
        *,
        who: str = "admin",
        expected_revision: int | None = None,
    ) -> Submission:
        """Correct a pending submission before it is decided (`revise`'s rules), kept in its history.
        Nothing changed means nothing is written. KeyError for an unknown id."""
        ...

    def deciding(self, submission_id: str) -> AbstractContextManager[OpenDecision]:
        """A write transaction on one submission (KeyError for an unknown id): see `OpenDecision`."""
        ...

    def restore(self, submissions: builtins.list[Submission]) -> ImportCount:
        """Put back submissions from a backup exactly as they were (same ids, states, status links and history)."""
        ...

    def close(self) -> None: ...
