"""The admin bearer token that guards every write.

Reads are public; changing the registry is for trusted people only. There are no
user accounts: one operator-chosen secret (``ERFA_ADMIN_TOKEN``) is enough for a
small moderation team and leaves nothing to leak but that one secret. With no token
configured, writes are refused outright rather than left open, so a forgotten
variable fails safe. The route dependency that applies this is ``deps.require_admin``;
the security middleware uses ``token_matches`` to exempt admin requests from rate limits.

Guessing is limited (``TokenGuard``): a wrong token counts against the client whichever way
it came (``Authorization: Bearer`` on any route, the /admin sign-in form), 10 per 15
minutes; past that even the right token is answered 429 until the window has refilled, so
neither a route nor the rate-limit exemption lets anyone guess faster.
"""

from __future__ import annotations

import hmac
import logging
import math

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import Scope

from erfa.service.api.ratelimit import RateLimiter
from erfa.service.settings import Settings

log = logging.getLogger("erfa.service")

MIN_TOKEN_LENGTH = 16  # shorter secrets are guessable under the rate limit within days


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_token_strength(token: str | None) -> None:
    """Warn at start-up about a weak token; refusing to start would break demos."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        log.warning("ERFA_ADMIN_TOKEN is shorter than %d characters; use e.g. `openssl rand -hex 32`", MIN_TOKEN_LENGTH)


# -- admin-token guesses ------------------------------------------------------------------
TOKEN_TRIES, TOKEN_WINDOW_S = 10, 900  # wrong admin tokens per client, refilled over 15 minutes


_VERDICTS = "erfa.token_verdicts"  # scope key: what this request's tokens were found to be


class TokenGuard:
    """Wrong admin tokens per client, one count for every way the token is checked.

    ``verdict`` is "ok", "wrong" (counted) or "blocked" (this client has used up its tries:
    not even compared, so a blocked client learns nothing, also not from the right token).
    Remembered per request, so the middleware's check and the route's count once. In the
    event loop and in route threads alike: a lost update between two threads can at worst
    forgive one guess.
    """

    def __init__(self, settings: Settings, limiter: RateLimiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter or RateLimiter()

    def verdict(self, scope: Scope, given: str) -> str:
        seen: dict[str, str] = scope.setdefault(_VERDICTS, {})
        if given not in seen:
            expected = self.settings.admin_token
            if self.retry_after(scope):
                seen[given] = "blocked"
            elif expected and token_matches(given, expected):
                seen[given] = "ok"
            else:
                self.limiter.take("admin-token", _client(scope), TOKEN_TRIES / TOKEN_WINDOW_S, TOKEN_TRIES)
                seen[given] = "wrong"
        return seen[given]

    def retry_after(self, scope: Scope) -> int:
        """Whole seconds until this client may try a token again (0: it may now)."""
        wait = self.limiter.wait("admin-token", _client(scope), TOKEN_TRIES / TOKEN_WINDOW_S, TOKEN_TRIES)
        return max(1, math.ceil(wait)) if wait else 0


def token_guard(request: Request) -> TokenGuard:
    guard: TokenGuard = request.app.state.erfa_token_guard
    return guard


def admin_token_ok(request: Request, given: str) -> bool:
    """For a route that takes the admin token: True if it is right, False if wrong (counted),
    429 with Retry-After while this client has used up its tries."""
    guard = token_guard(request)
    verdict = guard.verdict(request.scope, given)
    if verdict == "blocked":
        retry = guard.retry_after(request.scope) or 1
        raise HTTPException(
            429,
            headers={"Retry-After": str(retry)},
            detail=(
                f"too many wrong admin tokens from this client (at most {TOKEN_TRIES} per "
                f"{TOKEN_WINDOW_S // 60} minutes); retry in {retry} s"
            ),
        )
    return verdict == "ok"


def _client(scope: Scope) -> str:
    return str((scope.get("client") or ("unknown", 0))[0])
