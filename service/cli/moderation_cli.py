"""`erfa submissions list|show|edit|approve|reject`: moderation from the command line.

The same queue and workflow as the /admin pages and the JSON API (index/moderation/), on the
data directory the command is pointed at, so an operator on the server can moderate without
a browser or a token: shell access to the data is already more than the token grants.
Decisions are recorded as made by "admin", like the pages' (there is one admin role).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.moderation.submissions import (
    FORM_FIELDS,
    STATUSES,
    StaleSubmission,
    Submission,
    SubmissionError,
)
from erfa.index.moderation.workflow import Moderation
from erfa.ingest import RecordError
from erfa.service.cli import common
from erfa.service.database import open_submissions

if TYPE_CHECKING:
    from erfa.service.settings import Settings

INT_FIELDS = frozenset({"start_year", "end_year"})
T = TypeVar("T")


def _store(settings: Settings) -> SubmissionQueue:
    """PostgreSQL when ERFA_DATABASE_URL says so, else the SQLite file beside the records."""
    return open_submissions(settings)


def _out(sub: Submission) -> dict[str, Any]:
    from erfa.service.api.schemas import SubmissionOut

    return SubmissionOut.of(sub).model_dump(mode="json")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    status = None if args.status == "all" else args.status
    subs = store.list(status, limit=args.limit, offset=args.offset)
    if args.json:
        print(
            json.dumps(
                {"total": store.count(status), "submissions": [_out(s) for s in subs]}, ensure_ascii=False, indent=2
            )
        )
        return 0
    counts = store.counts()
    print("  ".join(f"{st}: {n}" for st, n in counts.items()))
    for s in subs:
        org = s.data.get("organisation") or "?"
        print(f"{s.id}  {s.status:<8}  {s.created_at:%Y-%m-%d %H:%M}  {s.data.get('title')}  ({org})")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    sub = _store(settings).get(args.id)
    if sub is None:
        print(f"erfa: no submission with id {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_out(sub), ensure_ascii=False, indent=2))
        return 0
    print(f"{sub.id}  {sub.status}  (revision {sub.revision}, received {sub.created_at.isoformat()})")
    for name in FORM_FIELDS:
        if name in sub.data:
            print(f"  {name}: {sub.data[name]}")
    if sub.reason:
        print(f"  reason: {sub.reason}")
    if sub.record_id:
        print(f"  published as: {sub.record_id}")
    print("history:")
    for d in sub.history:
        detail = d.detail.get("reason") or ", ".join(
            f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in (d.detail.get("changes") or {}).items()
        )
        print(f"  {d.at.isoformat()}  {d.action:<9}  {d.who}{'  ' + detail if detail else ''}")
    return 0


def _assignments(pairs: list[str]) -> dict[str, Any]:
    """FIELD=VALUE arguments as changes; an empty VALUE clears the field."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or name not in FORM_FIELDS:
            raise RecordError(f"{pair!r}: write FIELD=VALUE with FIELD one of {', '.join(FORM_FIELDS)}")
        value = value.strip()
        if name == "contact_consent":
            changes[name] = value.lower() in {"1", "yes", "true", "ja"}
        elif name in INT_FIELDS and value:
            try:
                changes[name] = int(value)
            except ValueError:
                raise RecordError(f"{name} must be a year such as 2024, not {value!r}") from None
        else:
            changes[name] = value or None
    return changes


def cmd_edit(args: argparse.Namespace, settings: Settings) -> int:
    from erfa.service.api.schemas import SubmissionEdit

    store = _store(settings)
    try:
        changes = SubmissionEdit.model_validate(_assignments(args.changes)).changes()
        sub = store.edit(args.id, changes, who="admin", expected_revision=args.revision)
    except KeyError:
        print(f"erfa: no submission with id {args.id!r}", file=sys.stderr)
        return 1
    except (RecordError, SubmissionError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"erfa: {args.id}: nothing changed: {exc}", file=sys.stderr)
        return 1
    print(f"{sub.id}: saved (revision {sub.revision})")
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    done = _decide(
        args.id,
        lambda store: Moderation(store, common.index(settings)).approve(
            args.id, who="admin", expected_revision=args.revision
        ),
        settings,
    )
    if done is None:
        return 1
    sub, record = done
    print(f"{sub.id}: approved; searchable as {record.id}")
    return 0


def cmd_reject(args: argparse.Namespace, settings: Settings) -> int:
    reason = " ".join(args.reason.split())
    if not reason:
        print("erfa: --reason must say why (the submitter sees it)", file=sys.stderr)
        return 2
    sub = _decide(
        args.id,
        lambda store: Moderation(store, common.index(settings)).reject(
            args.id, reason, who="admin", expected_revision=args.revision
        ),
        settings,
    )
    if sub is None:
        return 1
    print(f"{sub.id}: rejected")
    return 0


def _decide(submission_id: str, decision: Callable[[SubmissionQueue], T], settings: Settings) -> T | None:
    """Run an approval or rejection; None (and a one-line reason on stderr) when it cannot be."""
    try:
        return decision(_store(settings))
    except KeyError:
        print(f"erfa: no submission with id {submission_id!r}", file=sys.stderr)
    except (StaleSubmission, SubmissionError) as exc:
        print(f"erfa: {exc}", file=sys.stderr)
    return None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `erfa submissions ...` to the command line (called by service/cli/__init__.py, the `erfa` command)."""
    p = sub.add_parser("submissions", help="moderate proposed projects: list, show, edit, approve, reject")
    actions = p.add_subparsers(dest="action", required=True)

    s = actions.add_parser("list", help="submissions by status, oldest first, with counts")
    s.add_argument("--status", choices=[*STATUSES, "all"], default="pending")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--json", action="store_true", help="what GET /submissions answers")
    s.set_defaults(func=cmd_list)

    s = actions.add_parser("show", help="one submission, its fields and its history")
    s.add_argument("id")
    s.add_argument("--json", action="store_true", help="what GET /submissions/{id} answers")
    s.set_defaults(func=cmd_show)

    s = actions.add_parser("edit", help="correct a pending submission: FIELD=VALUE ... (an empty VALUE clears it)")
    s.add_argument("id")
    s.add_argument("changes", nargs="+", metavar="FIELD=VALUE")
    s.add_argument("--revision", type=int, help="refuse if the submission changed since this revision")
    s.set_defaults(func=cmd_edit)

    s = actions.add_parser("approve", help="publish a pending submission (searchable at once)")
    s.add_argument("id")
    s.add_argument("--revision", type=int, help="refuse if the submission changed since this revision")
    s.set_defaults(func=cmd_approve)

    s = actions.add_parser("reject", help="decline a submission with a reason the submitter sees")
    s.add_argument("id")
    s.add_argument("--reason", required=True)
    s.add_argument("--revision", type=int, help="refuse if the submission changed since this revision")
    s.set_defaults(func=cmd_reject)
