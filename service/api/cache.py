"""Finished answers to /search, /partners and /similar, kept for the index generation they were made at.

Why: the widget on an intranet page asks for the same saved need on every page view, and a
portal's start page asks for the same few; each costs the encoder and the ranking again, though
nothing has changed. A generation is the store's count of writes (`ProjectIndex.generation`), so
an answer keyed by (route, normalised query, generation) can never be stale: a write (POST
/projects, ingest, delete, an approved submission, another replica's write caught up with) moves
the index to a new generation, and the next request misses and is answered fresh. Each replica
and each worker keeps its own cache for the generation it serves.

The answer is kept as its JSON bytes, so a hit skips the model, the ranking and pydantic's
serialisation alike: a repeated request costs a dictionary look-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from erfa.service.api.deps import HIT_FLAG, IndexDep, state

# Query parameters that say which answer a client wants read-your-writes for, not which answer:
# `min_generation` is settled before the look-up (the generation is part of the key).
_NOT_IN_KEY = frozenset({"min_generation"})
Key = tuple[str, tuple[tuple[str, str], ...], int]


class ResponseCache:
    """A bounded LRU of JSON bodies, thread-safe (sync routes run in a thread pool)."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = -1  # the newest generation an answer was kept for
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(path: str, params: list[tuple[str, str]], generation: int) -> Key:
        """(path, the query's parameters sorted, generation): the order a client lists its
        filters in does not matter; every value, exactly as sent, is in the key."""
        items = tuple(sorted((k, v) for k, v in params if k not in _NOT_IN_KEY))
        return path, items, generation

    def get(self, key: Key) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Key, body: bytes) -> None:
        if not self.size:
            return
        with self._lock:
            if key[2] > self._generation:  # a replica's generation only grows: older answers are never asked for again
                self._items.clear()
                self._generation = key[2]
            elif key[2] < self._generation:  # made on a snapshot a write has since replaced: already superseded
                return
            self._items[key] = body
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Cached:
    """One request's place in the cache: ``body`` on a hit; `keep` stores a miss's answer."""

    cache: ResponseCache
    key: Key
    body: bytes | None

    def response(self) -> Response | None:
        return None if self.body is None else _json(self.body)

    async def answer(self, make: Callable[[], BaseModel]) -> Response:
        """The kept answer, or ``make``'s in the thread pool (it encodes and ranks). The routes
        are async so that a hit never takes a hop through the pool: a hop cost about a third
        of a cached answer (issue 22)."""
        hit = self.response()
        return hit if hit is not None else await run_in_threadpool(self.keep, make)

    def keep(self, make: Callable[[], BaseModel]) -> Response:
        """The answer ``make`` builds, serialised once, kept, and sent as those same bytes."""
        body = make().model_dump_json(by_alias=True).encode("utf-8")
        self.cache.put(self.key, body)
        return _json(body)


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


def cache_of(request: Request) -> ResponseCache:
    st = state(request)
    cache = st.responses
    if cache is None:  # made on first use, from the event loop only: no race
        cache = ResponseCache(st.settings.response_cache)
        st.responses = cache
    return cache


async def cached(request: Request, idx: IndexDep) -> Cached:
    """The cache entry for this request at the generation the index serves (after any
    read-your-writes wait: a route declares it after its index). Declared before the admission
    turn, so a hit takes no turn at the encoder (deps.admitted reads the flag)."""
    cache = cache_of(request)
    key = cache.key(request.url.path, request.query_params.multi_items(), idx.generation)
    body = cache.get(key) if cache.size else None
    setattr(request.state, HIT_FLAG, body is not None)
    return Cached(cache, key, body)


CachedDep = Annotated[Cached, Depends(cached)]
