"""Which store erfa runs on, chosen from the settings; and `erfa db`, its schema commands.

Unset ``ERFA_DATABASE_URL`` keeps the embedded default exactly as it was: SQLite and the
index files in ERFA_HOME, no server. Set to a PostgreSQL URL, the database holds the
records, the embedding cache and the submissions (issue 11), and ERFA_HOME keeps only
this machine's cache: the model folder and each replica's checkpoint of the search
structures, in ``replica/<store id>/``. The store id names the database's data (a
standby shares it, a fresh database has its own), so a checkpoint built from one store
is never caught up against another.

Everything PostgreSQL is imported only when it is chosen, so the embedded default needs
neither psycopg nor pgvector (`pip install 'erfa[postgres]'` brings them).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from erfa.index import ProjectIndex
from erfa.index.moderation.queue import SubmissionQueue
from erfa.index.moderation.sqlite import SqliteSubmissionQueue
from erfa.index.store.protocol import StoreUnavailable

if TYPE_CHECKING:
    from erfa.index.store.protocol import RecordStore
    from erfa.service.settings import Settings

log = logging.getLogger("erfa.service")

_MISSING = (
    "ERFA_DATABASE_URL is set, but the PostgreSQL driver is not installed: "
    "pip install 'erfa[postgres]' (psycopg and pgvector)"
)


def _postgres() -> None:
    try:
        import pgvector.psycopg  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        raise SystemExit(f"erfa: {_MISSING}") from None


def open_index(settings: Settings) -> ProjectIndex:
    """The ProjectIndex these settings describe, on SQLite or on PostgreSQL."""
    home, store = open_store(settings)
    return ProjectIndex(
        home,
        store=store,
        model=settings.model,
        query_prompt=settings.query_prompt,
        passage_prompt=settings.passage_prompt,
        close_match=settings.close_match,
        encoder_options=settings.encoder_options,
    )


def open_store(settings: Settings) -> tuple[Path, RecordStore | None]:
    """(the folder for the index's local files, the store); None = SQLite in that folder."""
    if not settings.database_url:
        return settings.home, None
    _postgres()
    from erfa.index.store.postgres import PgStore

    store = PgStore(settings.database_url)
    return replica_home(settings.home, store.store_id), store


def replica_home(home: Path, store_id: str) -> Path:
    """This machine's checkpoint folder for one PostgreSQL store. Its ``models`` is a link
    to ERFA_HOME's, so the model is built once per machine, not once per store."""
    folder = Path(home) / "replica" / store_id
    folder.mkdir(parents=True, exist_ok=True)
    models = Path(home) / "models"
    models.mkdir(parents=True, exist_ok=True)
    link = folder / "models"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(models.resolve(), target_is_directory=True)
    return folder


def open_submissions(settings: Settings) -> SubmissionQueue:
    """The moderation queue: beside the records, wherever they are."""
    if not settings.database_url:
        return SqliteSubmissionQueue.in_home(settings.home)
    _postgres()
    from erfa.index.moderation.postgres import PgSubmissionQueue

    return PgSubmissionQueue(settings.database_url)


# -- `erfa db` ----------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print(
            "erfa: `erfa db` works on PostgreSQL: set ERFA_DATABASE_URL=postgresql://... "
            "(the embedded SQLite store needs no migrations)",
            file=sys.stderr,
        )
        return 2
    _postgres()
    from erfa.index.store import schema as pgschema
    from erfa.index.store.postgres import connect, describe

    con = connect(settings.database_url, vectors=False)
    try:
        if args.action == "upgrade":
            applied = pgschema.upgrade(con)
            done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
            print(f"{describe(settings.database_url)}: schema at version {pgschema.version(con)} ({done})")
            return 0
        version = pgschema.version(con)
        role = "standby (read-only)" if pgschema.in_recovery(con) else "primary"
        print(f"{describe(settings.database_url)}: {role}, schema version {version} (this erfa: {pgschema.LATEST})")
        if version:
            for name, sql in (
                ("generation", "SELECT value FROM generation"),
                ("records", "SELECT count(*) FROM records"),
                ("pending submissions", "SELECT count(*) FROM submissions WHERE status = 'pending'"),
                ("store id", "SELECT store_id FROM store_identity"),
            ):
                row = con.execute(sql).fetchone()
                print(f"  {name}: {row[0] if row else 'missing'}")
        return 0 if version == pgschema.LATEST else 1
    finally:
        con.close()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = sub.add_parser(
        "db", help="PostgreSQL schema: `erfa db upgrade` applies pending migrations, `erfa db status` shows them"
    )
    s.add_argument("action", choices=("upgrade", "status"))
    s.set_defaults(func=cmd_db)


# -- replicas -------------------------------------------------------------------------------
POLL_SECONDS = 1.0  # how often a replica asks the database for its generation (the "at most once a second")


def follow(idx: ProjectIndex, *, every: float = POLL_SECONDS) -> threading.Thread:
    """Keep ``idx`` up to date with the database from a thread of its own.

    A replica that polled only when a request came would leave an idle replica stale and
    make the unlucky request pay the catch-up; this thread wakes when a writer's commit is
    announced (LISTEN/NOTIFY on the primary) and otherwise polls once per ``every`` (a hot
    standby hears no notifications), and
    catches up while requests keep reading the previous snapshot. A database that cannot
    be reached is logged by the store (``unreachable_since``, /readyz says stale), never fatal.
    """

    def run() -> None:
        while True:
            started = time.monotonic()
            try:
                idx.refresh(min_interval=0)
            except StoreUnavailable:
                pass  # the store has recorded since when; the next round tries again
            except Exception:  # a bug must not stop the replica from following for ever
                log.exception("catching up with the database failed")
            # PostgreSQL wakes on a writer's NOTIFY; SQLite sleeps until the next poll
            idx.store.wait_for_change(max(0.0, every - (time.monotonic() - started)))

    thread = threading.Thread(target=run, name="erfa-follow", daemon=True)
    thread.start()
    return thread
