"""Admission to encoding a need: a bounded, fair queue in front of the model (issue 18).

Why: every route that searches a need (/search, /partners, /feed.atom, /export.*) spends
most of its time in the encoder, which runs one need at a time on a 2-core machine. The
rate limiter bounds how often each client asks, not what it asks for: eight clients within
their limits sending 1,000-character needs kept the encoder busy enough to push an ordinary
search from 64 ms to over a second. The token cap (index/model/encoder.py) bounds what one need
costs; this gate bounds how many are in the works at once and decides whose goes next.

* ``slots`` requests hold the encoder at a time; the rest wait here, in the event loop, so a
  waiting request holds no worker thread (probes and cheap routes keep theirs).
* At most ``queue`` wait. When the queue is full, the request that would be served last is
  refused, which is the newcomer unless a busier client's request is further back: one
  client filling the queue cannot lock the others out.
* A request that has waited ``deadline`` seconds without a turn is refused then: 503 with
  ``Retry-After`` (the time the queue ahead would take, from how long turns have lately
  taken) rather than an answer nobody waits for. Refusing earlier on a forecast was tried
  and dropped: while an ingest holds the encoder, turns briefly take ten times as long, and
  the forecast turned away a portal's ordinary burst that would have been served in time.
* Short needs go first. A need of at most ``short`` (an ordinary one: every need in the
  relevance sets is) goes ahead of every long one waiting, and one turn beyond ``slots``
  is held back for short needs alone, so it does not even wait for the long one in the
  works (it shares the cores with it). Long needs still get every ``SHORT_RUN + 1``-th
  turn while short ones wait, so neither kind can starve the other. Per-client fairness
  alone would not be enough: thirty-two clients sending long needs leave an ordinary user
  a thirty-third of the encoder, each search behind several long ones.
* Within each kind, start-time fair queuing over clients: each client has a virtual clock
  that a request advances by its cost (``need_cost``), and the waiting request whose
  client is furthest behind goes first. Equal costs make it plain round-robin, and a
  client that has been quiet starts level with the busiest and goes ahead of their queued
  requests. One clock per client for both kinds: a client's long needs also put its short
  ones behind those of clients that asked for less.

Per worker process, like the rate limits. Thread-safe (one lock), though in the service
every call comes from the event loop.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.types import Scope

from erfa.index.model.encoder import QUERY_MAX_TOKENS

# The work of a search besides encoding (language detection, translation, ranking, the
# response) in word pieces' worth: ~10 ms, about what 32 more tokens cost the model.
BASE_COST = 32
BYTES_PER_TOKEN = 4  # a Latin-script need is ~5 characters per word piece; a rare script ~1 (3 bytes)
SHORT_TOKENS = 32  # word pieces: a need of at most this many (~120 characters of prose) is short
SHORT_RUN = 3  # short needs let in one after another while long ones wait; then a long one
SHORT_EXTRA = 1  # turns beyond ``slots`` that only short needs may take
MAX_RETRY_AFTER = 30  # seconds: beyond that a client should rather be told to come back later
_EWMA = 0.2  # weight of the newest turn in the estimate of seconds per unit of cost
_FORGET_AT = 4096  # clients' clocks kept before those that have fallen behind are dropped


def need_cost(need: str, cap: int = QUERY_MAX_TOKENS) -> int:
    """What searching this need will cost, in word pieces, judged before anything is encoded.

    UTF-8 bytes over four is close for Latin-script prose and generous for scripts the
    vocabulary splits into single characters (three bytes each, one word piece each); the
    encoder reads at most ``cap`` tokens whatever the length, so the estimate stops there."""
    return BASE_COST + min(cap, len(need.encode("utf-8", "replace")) // BYTES_PER_TOKEN + 1)


def client_of(scope: Scope) -> str:
    """The client as the rate limiter keys it (service/api/ratelimit.py, applied in security.py): the socket's
    peer, which uvicorn has already replaced by the forwarded address when a trusted proxy sent it."""
    client = scope.get("client") or ("unknown", 0)
    return str(client[0])


class Busy(Exception):
    """Refused: the queue is full, or the wait passed the deadline."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _Waiter:
    client: str
    cost: float
    short: bool
    start: float  # the client's virtual clock when this request arrived
    seq: int
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    granted: bool = False
    refused: Busy | None = None

    @property
    def key(self) -> tuple[bool, float, float, int]:
        """Service order: short needs, then the furthest-behind client, the cheaper need, arrival."""
        return (not self.short, self.start, self.cost, self.seq)


@dataclass
class Pass:
    """A held slot: give it back with ``Admission.leave`` (``admit`` does)."""

    waiter: _Waiter
    since: float
    done: bool = field(default=False)


class Admission:
    """The gate: ``async with gate.admit(client, cost): <encode and rank>`` or ``Busy``."""

    def __init__(
        self,
        slots: int,
        queue: int,
        deadline: float,
        *,
        short: float = BASE_COST + SHORT_TOKENS,
        short_extra: int = SHORT_EXTRA,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = max(1, slots)
        self.queue = max(0, queue)
        self.deadline = max(0.0, deadline)
        self.short = short
        self.short_extra = max(0, short_extra)
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = 0
        self._waiting: list[_Waiter] = []  # between calls, none of them could start now
        self._clocks: dict[str, float] = {}  # per client: where its last request's cost took its clock
        # per kind (short?): start of the latest request let through, where a quiet client starts
        self._virtual: dict[bool, float] = {True: 0.0, False: 0.0}
        self._shorts_in_a_row = 0
        self._seq = 0
        self._seconds_per_cost: float | None = None  # how long a slot is held per unit of cost, lately
        self.admitted = 0
        self.refused = 0

    # -- the public face ---------------------------------------------------------------------
    @asynccontextmanager
    async def admit(self, client: str, cost: float) -> AsyncIterator[None]:
        ticket = await self.enter(client, cost)
        try:
            yield
        finally:
            self.leave(ticket)

    async def enter(self, client: str, cost: float) -> Pass:
        """A slot, at once or after a fair wait; ``Busy`` when there is no room or no time."""
        cost = max(1.0, float(cost))
        short = cost <= self.short
        with self._lock:
            start = max(self._virtual[short], self._clocks.get(client, 0.0))
            self._seq += 1
            waiter = _Waiter(client, cost, short, start, self._seq)
            if self._may_start(waiter):  # those waiting cannot start now: it takes no one's turn
                self._clocks[client] = start + cost
                self._take(waiter)
                return Pass(waiter, self._clock())
            self._make_room(waiter)  # raises Busy for the newcomer
            self._clocks[client] = start + cost
            loop = asyncio.get_running_loop()
            waiter.loop, waiter.future = loop, loop.create_future()
            self._waiting.append(waiter)
            self._dispatch()  # a long need pushed out may have been what held short ones back
        try:
            await asyncio.wait_for(waiter.future, timeout=self.deadline)
        except TimeoutError:
            with self._lock:
                if waiter.refused is not None:
                    raise waiter.refused from None
                if not waiter.granted:  # a slot may have been handed over just as time ran out
                    self._drop(waiter)
                    raise self._busy_error("waited too long for the encoder") from None
        except asyncio.CancelledError:  # the client went away while waiting
            with self._lock:
                if waiter.granted:
                    self._busy -= 1
                    self._dispatch()
                else:
                    self._drop(waiter)
            raise
        return Pass(waiter, self._clock())

    def leave(self, ticket: Pass) -> None:
        """Give the slot back (once) and let the next waiting requests in."""
        with self._lock:
            if ticket.done:
                return
            ticket.done = True
            held = max(0.0, self._clock() - ticket.since)
            sample = held / ticket.waiter.cost
            prev = self._seconds_per_cost
            self._seconds_per_cost = sample if prev is None else (1 - _EWMA) * prev + _EWMA * sample
            self._busy -= 1
            self._dispatch()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def busy(self) -> int:
        return self._busy

    # -- inside (all with self._lock held) ----------------------------------------------------
    def _has_room(self, waiter: _Waiter) -> bool:
        """A long need takes one of ``slots``; a short one may also take a turn held back for it."""
        return self._busy < self.slots + (self.short_extra if waiter.short else 0)

    def _long_due(self) -> bool:
        """SHORT_RUN short needs went in a row and a long one waits: it goes next."""
        return self._shorts_in_a_row >= SHORT_RUN and any(not w.short for w in self._waiting)

    def _may_start(self, waiter: _Waiter) -> bool:
        return self._has_room(waiter) and not (waiter.short and self._long_due())

    def _dispatch(self) -> None:
        """Let waiting requests in, in service order, while there is room for them."""
        while self._waiting:
            ready = [w for w in self._waiting if self._has_room(w)]
            if self._long_due():
                ready = [w for w in ready if not w.short]  # short ones wait until the long one is in
            if not ready:
                return
            nxt = min(ready, key=lambda w: w.key)
            self._waiting.remove(nxt)
            self._take(nxt)
            _wake(nxt, None)

    def _take(self, waiter: _Waiter) -> None:
        """Let ``waiter`` through: a slot taken, its kind's virtual clock moved to its start."""
        self._busy += 1
        self.admitted += 1
        waiter.granted = True
        self._shorts_in_a_row = self._shorts_in_a_row + 1 if waiter.short else 0
        self._virtual[waiter.short] = max(self._virtual[waiter.short], waiter.start)
        if len(self._clocks) > _FORGET_AT:  # a client level with both virtual clocks needs no entry
            level = min(self._virtual.values())
            self._clocks = {c: v for c, v in self._clocks.items() if v > level}

    def _make_room(self, newcomer: _Waiter) -> None:
        """Refuse the newcomer, or push out a request that would be served after it."""
        if len(self._waiting) < self.queue:
            return
        last = max(self._waiting, key=lambda w: w.key) if self._waiting else None
        if last is None or last.key <= newcomer.key:
            raise self._busy_error("the queue for the encoder is full")
        self._waiting.remove(last)
        last.refused = self._busy_error("the queue for the encoder is full")
        _wake(last, last.refused)

    def _drop(self, waiter: _Waiter) -> None:
        if waiter in self._waiting:
            self._waiting.remove(waiter)
            self._dispatch()  # it may have been the long need that short ones were waiting for

    def _busy_error(self, reason: str) -> Busy:
        self.refused += 1
        backlog = sum(w.cost for w in self._waiting) * (self._seconds_per_cost or 0.0) / self.slots
        retry = min(MAX_RETRY_AFTER, max(1, math.ceil(backlog)))
        return Busy(reason, retry)


def _wake(waiter: _Waiter, error: Busy | None) -> None:
    """Resolve a waiter's future from whichever thread or loop let it in (or pushed it out)."""
    fut, loop = waiter.future, waiter.loop
    if fut is None or loop is None:
        return

    def resolve() -> None:
        if not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)

    if loop.is_closed():
        return
    loop.call_soon_threadsafe(resolve)
