"""Approve and reject: the two moderation steps that change the queue and the index together.

Both are all or nothing across the queue and the index (issue 14: with the disk full, a
failed approve had left the project searchable while the submission stayed pending). Each
decision is recorded inside a write transaction of the queue (`SubmissionQueue.deciding`)
that commits only after the index has changed; if the index write fails the transaction
rolls back, and if the commit fails the index change is undone. The one gap no code can
close, a crash between the index write and the commit, leaves a pending submission whose
record is indexed; `Moderation.withdraw_undecided` removes such records and runs at every
start, so a submission that is not approved is never searchable for long. The record id
is derived from the submission id, so repeating an approval is a no-op.

The queue classes only store; this is the one place that drives the engine for them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.moderation.submissions import Submission, SubmissionError, check_revision, record_id, to_record
from erfa.ingest.record import Record

if TYPE_CHECKING:
    from erfa.index.engine import ProjectIndex

log = logging.getLogger("erfa.submissions")


class Moderation:
    """Decisions on ``queue``'s submissions, carried into ``index`` (None: the index is still
    loading, which a rejection can do without and an approval cannot)."""

    def __init__(self, queue: SubmissionQueue, index: ProjectIndex | None) -> None:
        self.queue = queue
        self.index = index

    def approve(
        self, submission_id: str, *, who: str = "admin", expected_revision: int | None = None
    ) -> tuple[Submission, Record]:
        """Make a pending submission searchable, all or nothing (see the module docstring).

        Raises whatever the index or the disk raised, after undoing the index change: the
        submission is then still pending (or approved, if it already was) and not searchable.
        The record is built from the submission as read under the queue's write lock, so an edit
        saved a moment earlier is what gets published, never an older text.
        """
        index = self.index
        if index is None:
            raise RuntimeError("approving a submission needs the loaded index")
        sub = self._require(submission_id)
        if sub.status == "rejected":
            raise SubmissionError(f"submission {submission_id!r} was rejected; it cannot be approved")
        if sub.status == "approved" and sub.record_id and index.get(sub.record_id) is not None:
            return sub, index.get(sub.record_id) or to_record(sub.id, sub.data)
        try:
            with self.queue.deciding(submission_id) as deciding:
                current = deciding.submission
                if current.status == "rejected":
                    raise SubmissionError(f"submission {submission_id!r} was rejected; it cannot be approved")
                check_revision(current, expected_revision)
                record = to_record(current.id, current.data)
                deciding.record("approved", who=who, reason=None, record_id=record.id, detail={"record_id": record.id})
                if refused := index.upsert([record]).refused:  # rolls the decision back with the reason
                    raise SubmissionError(f"submission {submission_id!r} cannot be approved: {refused[record.id]}")
        except BaseException:
            if sub.status != "approved":
                _unlist(index, [record_id(sub.id)])
            raise
        return self._require(sub.id), index.get(record.id) or record

    def reject(
        self, submission_id: str, reason: str, *, who: str = "admin", expected_revision: int | None = None
    ) -> Submission:
        """Decline a submission and make sure it is not searchable, all or nothing.

        With an index, a record left over from an interrupted approval is removed in the same
        step; if that removal fails, the submission stays as it was. The reason is shown to
        the submitter on their status page.
        """
        sub = self._require(submission_id)
        if sub.status == "approved":
            raise SubmissionError(
                f"submission {submission_id!r} is already approved as {sub.record_id!r}; delete that project instead"
            )
        leftover = record_id(sub.id)
        with self.queue.deciding(submission_id) as deciding:
            current = deciding.submission
            if current.status == "approved":
                raise SubmissionError(f"submission {submission_id!r} is already approved as {current.record_id!r}")
            check_revision(current, expected_revision)
            deciding.record("rejected", who=who, reason=reason, record_id=None, detail={"reason": reason})
            if self.index is not None and self.index.get(leftover) is not None:
                self.index.delete([leftover])
        return self._require(sub.id)

    def withdraw_undecided(self) -> list[str]:
        """Remove from the index every record whose submission is pending or rejected.

        Run at start-up: it closes the gap a crash between an approval's index write and its
        commit would leave. Returns the ids it removed.
        """
        index = self.index
        if index is None:
            return []
        listed = [rid for sid in self.queue.undecided() if index.get(rid := record_id(sid)) is not None]
        if listed:
            index.delete(listed)
            log.warning(
                "withdrew records of submissions that are not approved",
                extra={"event": "withdraw_undecided", "ids": ",".join(listed)},
            )
        return listed

    def _require(self, submission_id: str) -> Submission:
        sub = self.queue.get(submission_id)
        if sub is None:
            raise KeyError(submission_id)
        return sub


def _unlist(index: ProjectIndex, ids: list[str]) -> None:
    """Best effort after a failed approval: a record that got in goes out again.

    If even that fails (the disk is still full), the start-up sweep removes it later;
    the failure is logged, and the original error is what the caller sees.
    """
    try:
        listed = [i for i in ids if index.get(i) is not None]
        if listed:
            index.delete(listed)
    except Exception:
        log.exception(
            "could not withdraw a record after a failed approval; it is removed at the next start",
            extra={"event": "withdraw_failed", "ids": ",".join(ids)},
        )
