"""The admin bearer token that guards every write.

Reads are public; changing the registry is for trusted people only. There are no
user accounts: one operator-chosen secret (``ERFA_ADMIN_TOKEN``) is enough for a
small moderation team and leaves nothing to leak but that one secret. With no token
configured, writes are refused outright rather than left open, so a forgotten
variable fails safe. The route dependency that applies this is ``deps.require_admin``;
the security middleware uses ``token_matches`` to exempt admin requests from rate limits.
"""

from __future__ import annotations

import hmac
import logging

log = logging.getLogger("erfa.service")

MIN_TOKEN_LENGTH = 16  # shorter secrets are guessable under the rate limit within days


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_token_strength(token: str | None) -> None:
    """Warn at start-up about a weak token; refusing to start would break demos."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        log.warning("ERFA_ADMIN_TOKEN is shorter than %d characters; use e.g. `openssl rand -hex 32`", MIN_TOKEN_LENGTH)
