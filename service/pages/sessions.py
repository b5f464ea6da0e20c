"""Moderator sessions for the /admin pages: sign in once with the admin token, then a cookie.

Moderating with a bearer token and curl kept moderation to people who use curl (issue 12).
The pages ask for the same ``ERFA_ADMIN_TOKEN`` once and then hold a session:

* the cookie carries a random session id signed with HMAC-SHA256 under a secret kept in the
  data directory (``session.key``, 0600, created atomically so that every worker of
  ``erfa serve --workers N`` signs with the same key); a forged or altered cookie is
  refused before the database is asked;
* sessions live in ``sessions.sqlite`` beside the data (only a SHA-256 of the id is stored),
  so signing out ends a session in every worker at once, and a stolen copy of an old
  cookie is worthless after sign-out or expiry;
* a session ends after ``IDLE`` without use and ``MAX_AGE`` after sign-in, and whenever the
  operator changes the admin token (each session remembers an HMAC of the token it was
  opened with);
* the cookie is HttpOnly, SameSite=Strict, path /admin, and Secure (with the ``__Host-``
  prefix) whenever the request came over HTTPS, which behind a reverse proxy listed in
  ``ERFA_TRUSTED_PROXIES`` is what uvicorn's proxy headers make of X-Forwarded-Proto;
* every form carries a CSRF token: per session for signed-in forms, and for the sign-in form
  itself a token bound to a short-lived pre-session cookie (login CSRF). Tokens are compared
  with ``hmac.compare_digest``.

No new dependency: itsdangerous is not installed here, and ``hmac`` + ``secrets`` is all a
signed random id needs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from erfa.index.store.protocol import StoreError
from erfa.index.store.sqlite import SqliteFile

IDLE = timedelta(hours=8)  # a session unused this long is over
MAX_AGE = timedelta(hours=12)  # and every session is over this long after sign-in
TOUCH_EVERY = timedelta(minutes=1)  # how often a busy session's last use is written
PRE_SESSION_AGE = 3600  # seconds a sign-in form stays valid
KEY_FILE = "session.key"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    token_mac TEXT NOT NULL,
    created_at TEXT NOT NULL,
    seen_at TEXT NOT NULL
);
"""


def _now() -> datetime:
    return datetime.now(UTC)


def load_key(home: Path) -> bytes:
    """The signing secret of this data directory, created once (0600) if absent.

    Written to a private temporary file and then hard-linked into place: the link fails if
    another process won the race, and then both use the winner's key.
    """
    path = Path(home) / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{KEY_FILE}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if path.exists():  # short or damaged: replace it (sessions signed with it end)
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


@dataclass(frozen=True)
class Session:
    csrf: str
    created_at: datetime


class Sessions(SqliteFile):
    """Signed session cookies backed by a table, and the CSRF tokens of their forms."""

    def __init__(self, home: Path) -> None:
        super().__init__(Path(home) / "sessions.sqlite", _SCHEMA, synchronous="NORMAL")
        self._key = load_key(home)

    # -- signing ---------------------------------------------------------------------
    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def _sign(self, value: str) -> str:
        return f"{value}.{self._mac('cookie', value)}"

    def _unsign(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 200 or "." not in cookie:
            return None
        value, mac = cookie.rsplit(".", 1)
        return value if hmac.compare_digest(mac, self._mac("cookie", value)) else None

    @staticmethod
    def _hash(sid: str) -> str:
        return hashlib.sha256(sid.encode("utf-8")).hexdigest()

    # -- sessions --------------------------------------------------------------------
    def open(self, admin_token: str) -> tuple[str, Session]:
        """A new session; returns the cookie value and the session."""
        sid = secrets.token_urlsafe(32)
        now = _now()
        session = Session(csrf=secrets.token_urlsafe(32), created_at=now)
        with self._tx() as con:
            con.execute(
                "DELETE FROM admin_sessions WHERE seen_at < ? OR created_at < ?",
                ((now - IDLE).isoformat(), (now - MAX_AGE).isoformat()),
            )
            con.execute(
                "INSERT INTO admin_sessions VALUES (?, ?, ?, ?, ?)",
                (self._hash(sid), session.csrf, self._mac("token", admin_token), now.isoformat(), now.isoformat()),
            )
        return self._sign(sid), session

    def get(self, cookie: str | None, admin_token: str | None) -> Session | None:
        """The live session this cookie names, or None (unsigned, unknown, expired, or the token changed)."""
        sid = self._unsign(cookie)
        if sid is None or not admin_token:
            return None
        key = self._hash(sid)
        try:
            row = (
                self._con()
                .execute("SELECT csrf, token_mac, created_at, seen_at FROM admin_sessions WHERE id_hash=?", (key,))
                .fetchone()
            )
        except StoreError:  # a busy or damaged sessions file signs nobody in
            return None
        if row is None:
            return None
        csrf, token_mac, created, seen = row
        now = _now()
        created_at, seen_at = datetime.fromisoformat(created), datetime.fromisoformat(seen)
        if (
            now - seen_at > IDLE
            or now - created_at > MAX_AGE
            or not hmac.compare_digest(token_mac, self._mac("token", admin_token))
        ):
            self._end(key)
            return None
        if now - seen_at > TOUCH_EVERY:
            with self._tx() as con:
                con.execute("UPDATE admin_sessions SET seen_at=? WHERE id_hash=?", (now.isoformat(), key))
        return Session(csrf=csrf, created_at=created_at)

    def close_session(self, cookie: str | None) -> None:
        """Sign out: the session ends everywhere, whoever holds a copy of the cookie."""
        sid = self._unsign(cookie)
        if sid is not None:
            self._end(self._hash(sid))

    def _end(self, key: str) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM admin_sessions WHERE id_hash=?", (key,))

    # -- CSRF --------------------------------------------------------------------------
    @staticmethod
    def csrf_ok(session: Session | None, given: str | None) -> bool:
        if session is None or not given:
            return False
        return hmac.compare_digest(str(given), session.csrf)

    def pre_session(self) -> str:
        """The value of the short-lived cookie the sign-in form's CSRF token is bound to (signed, timed)."""
        return self._sign(f"{secrets.token_urlsafe(16)}~{int(_now().timestamp())}")

    def login_csrf(self, pre_cookie: str) -> str:
        """The sign-in form's CSRF token: an HMAC of its pre-session cookie."""
        return self._mac("login", pre_cookie)

    def login_csrf_ok(self, pre_cookie: str | None, given: str | None) -> bool:
        value = self._unsign(pre_cookie)
        if value is None or not given or "~" not in value:
            return False
        try:
            issued = int(value.rsplit("~", 1)[1])
        except ValueError:
            return False
        if _now().timestamp() - issued > PRE_SESSION_AGE:
            return False
        return hmac.compare_digest(str(given), self.login_csrf(str(pre_cookie)))
