"""The admin bearer token that guards every write.

Reads are public; changing the registry is for trusted people only. There are no
user accounts: one operator-chosen secret (``ERFA_ADMIN_TOKEN``) is enough for a
small moderation team and leaves nothing to leak but that one secret. With no token
configured, writes are refused outright rather than left open, so a forgotten
variable fails safe.
"""
from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

log = logging.getLogger("erfa.service")

MIN_TOKEN_LENGTH = 16  # shorter secrets are guessable under the rate limit within days

# auto_error=False: we answer a missing header ourselves, with a message that says what to send.
bearer = HTTPBearer(auto_error=False, scheme_name="admin", description="`Authorization: Bearer $ERFA_ADMIN_TOKEN`")


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_admin(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Dependency for write endpoints: 403 when writes are disabled, 401 without a valid token."""
    expected: str | None = request.app.state.erfa_settings.admin_token
    if not expected:
        raise HTTPException(403, detail="writes are disabled on this server: the operator has not set ERFA_ADMIN_TOKEN")
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, detail="this endpoint needs the header 'Authorization: Bearer <admin token>'", headers=challenge)
    if not token_matches(credentials.credentials, expected):
        log.warning("admin token rejected", extra={"event": "auth_failed", "path": request.url.path})
        raise HTTPException(401, detail="the admin token is not valid", headers=challenge)


def check_token_strength(token: str | None) -> None:
    """Warn at start-up about a weak token; refusing to start would break demos."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        log.warning("ERFA_ADMIN_TOKEN is shorter than %d characters; use e.g. `openssl rand -hex 32`", MIN_TOKEN_LENGTH)


AdminDep = Depends(require_admin)
