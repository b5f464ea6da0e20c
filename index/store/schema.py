"""PostgreSQL schema: versioned migrations that erfa applies itself (`erfa db upgrade`).

Several processes open one database (API replicas, ingest jobs), possibly running
different erfa versions during a rolling upgrade, so the schema carries its version in
``schema_migrations`` and each migration is applied once, in its own transaction, under
an advisory lock: two processes upgrading at once apply it once. A database written by
a newer erfa is refused rather than guessed at, and a hot standby (read-only) is only
checked, never migrated: its primary's migrations reach it by replication.

The tables mirror the SQLite store (index/store/sqlite.py) so that both stores keep one
meaning: ``records`` (rowid never reused: it is the FAISS slot base), ``embeddings``
(the vector cache shared by every writer, pgvector's ``vector``), ``tombstones``,
a one-row ``generation`` counter bumped in the transaction of every write, and
``submissions`` and ``decisions`` (the moderation queue, written once for both databases in
index/moderation/schema.py).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from erfa.index.moderation import schema as moderation_schema

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("erfa.index")

# pg_advisory_lock keys: writers (plan -> apply -> bump), migrations, moderation.
WRITE_LOCK = 0x65726661_0001  # "erfa", 1
MIGRATE_LOCK = 0x65726661_0002
SUBMISSIONS_LOCK = 0x65726661_0003  # one submission write at a time (SQLite's BEGIN IMMEDIATE)

# (version, what it does, SQL). Never edit a released migration: add the next one.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "records, embedding cache, tombstones, generation, submissions and their decisions",
        """
CREATE TABLE records (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the FAISS slot base; never reused
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    data TEXT NOT NULL,  -- the Record as JSON, byte for byte what SQLite keeps (jsonb refuses \\u0000)
    content_hash TEXT NOT NULL,
    gen BIGINT NOT NULL  -- the generation that last wrote the row
);
CREATE INDEX records_source ON records (source);
CREATE INDEX records_gen ON records (gen);
CREATE TABLE embeddings (
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector vector NOT NULL,  -- any dimension: each model keeps its own
    PRIMARY KEY (model_id, text_hash)
);
CREATE TABLE tombstones (
    rowid BIGINT PRIMARY KEY,  -- a deleted record's rowid
    gen BIGINT NOT NULL
);
CREATE INDEX tombstones_gen ON tombstones (gen);
CREATE TABLE generation (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    value BIGINT NOT NULL
);
INSERT INTO generation VALUES (TRUE, 0);
CREATE TABLE store_identity (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    store_id TEXT NOT NULL  -- names this store's data (a standby shares it; a fresh database does not)
);
"""
        + moderation_schema.ddl("postgres").lstrip("\n"),
    ),
)
LATEST = MIGRATIONS[-1][0]


class SchemaError(RuntimeError):
    """The database cannot serve erfa as it is; the message says what the operator must do."""


def in_recovery(con: psycopg.Connection) -> bool:
    """Is this server a hot standby (read-only, replaying its primary's WAL)?"""
    row = con.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def require_vector(con: psycopg.Connection) -> None:
    """pgvector must be installed in this database: create it when we may, else say how."""
    if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    available = con.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if not available:
        raise SchemaError(
            "PostgreSQL has no pgvector extension: install it on the server (Debian: "
            "apt install postgresql-NN-pgvector), then run `erfa db upgrade`"
        )
    if in_recovery(con):
        raise SchemaError(
            "the pgvector extension is not enabled in this database, and this server is a read-only "
            "standby: run `erfa db upgrade` against the primary"
        )
    import psycopg

    try:
        with con.transaction():
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.errors.InsufficientPrivilege:
        raise SchemaError(
            "the pgvector extension is installed on the server but not enabled in this database, and "
            "erfa's user may not enable it: as a superuser run `CREATE EXTENSION vector;` "
            "in erfa's database"
        ) from None


def version(con: psycopg.Connection) -> int:
    """The schema version applied (0: an empty database)."""
    found = con.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if found is None or not found[0]:  # SELECT of a function answers one row: NULL when the table is missing
        return 0
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0) if row else 0


def upgrade(con: psycopg.Connection) -> list[int]:
    """Apply every pending migration (on an autocommit connection); returns the versions applied."""
    require_vector(con)
    if in_recovery(con):
        raise SchemaError("this server is a read-only standby: run `erfa db upgrade` against the primary")
    applied: list[int] = []
    con.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        current = version(con)
        _refuse_newer(current)
        for number, description, sql in MIGRATIONS:
            if number <= current:
                continue
            with con.transaction():
                con.execute(sql.encode())  # bytes: several statements, no parameters
                if number == 1:
                    con.execute("INSERT INTO store_identity VALUES (TRUE, %s)", (uuid.uuid4().hex,))
                con.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)", (number, description)
                )
            log.info("database schema migrated to version %d (%s)", number, description)
            applied.append(number)
    finally:
        con.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
    return applied


def ensure(con: psycopg.Connection, *, migrate: bool = True) -> None:
    """Make sure the schema is the one this erfa speaks: migrate it when behind (unless
    ``migrate`` is False or the server is a standby), refuse one that is ahead."""
    require_vector(con)
    current = version(con)
    _refuse_newer(current)
    if current == LATEST:
        return
    if not migrate or in_recovery(con):
        raise SchemaError(
            f"the database schema is at version {current}, this erfa needs {LATEST}: "
            "run `erfa db upgrade` against the primary"
        )
    upgrade(con)


def _refuse_newer(current: int) -> None:
    if current > LATEST:
        raise SchemaError(
            f"the database schema is at version {current}, newer than this erfa knows ({LATEST}): "
            "upgrade erfa on this machine"
        )
