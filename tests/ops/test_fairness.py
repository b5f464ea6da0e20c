"""Issue 18, item 5: expensive needs must not starve everyone. Behaviour only, no timing
(the figures under attack are bench/fairness.py's): a need's encoding is capped at the
tokenizer, the gate in front of the encoder takes turns fairly between clients and refuses
with 503 + Retry-After when full or past its deadline, and a generation the store has
never reached is refused at once instead of being waited for."""

from __future__ import annotations

import asyncio
import functools
import random
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from tokenizers import Tokenizer

from erfa.index import Encoder, ProjectIndex
from erfa.index.model.encoder import QUERY_MAX_TOKENS
from erfa.service.admission import BASE_COST, SHORT_RUN, Admission, Busy, need_cost
from erfa.service.api.deps import (
    AppState,
    PageAdmittedDep,
)  # at module level: the route below names it in a string annotation
from erfa.service.settings import Settings
from tests.factories import CORPUS, rec

_TEXT = (
    "kommunen bygger en chatbot som svarer innbyggerne om byggesøknader reguleringsplaner og tar i bruk "
    "maskinlæring for å sortere post journalføre saker og varsle når veiene må brøytes"
)
WORDS = _TEXT.split()


# -- the token cap ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_encoder(encoder: Encoder) -> Encoder:
    return Encoder(str(encoder.path), backend="torch", self_check=False)


@functools.lru_cache(maxsize=2)
def _tokenizer(folder: str) -> Tokenizer:
    tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))  # ~1 s: 250k word pieces
    tok.no_truncation()
    tok.no_padding()
    return tok


def _first_words(encoder: Encoder, need: str, tokens: int) -> str:
    """The shortest run of whole words of ``need`` that the prompted tokenizer makes at least
    ``tokens`` tokens of: cut between words, so its tokens are the long need's first ones."""
    tok = _tokenizer(str(encoder.path))
    words = need.split(" ")
    lo, hi = 1, len(words)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(tok.encode(encoder.query_prompt + " ".join(words[:mid])).ids) >= tokens:
            hi = mid
        else:
            lo = mid + 1
    return " ".join(words[:lo])


def _needs() -> list[tuple[str, str]]:
    rng = random.Random(18)
    prose = " ".join(rng.choice(WORDS) for _ in range(2000))
    ethiopic = " ".join(chr(rng.randint(0x1200, 0x135A)) for _ in range(5001))  # a word piece per character
    return [("prose", prose[:10_000]), ("rare script", ethiopic[:10_000])]


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_a_long_need_encodes_as_its_first_tokens(
    backend: str, encoder: Encoder, request: pytest.FixtureRequest
) -> None:
    enc: Encoder = encoder if backend == "onnx" else request.getfixturevalue("torch_encoder")
    assert enc.backend == backend and enc.query_tokens == QUERY_MAX_TOKENS < enc.max_tokens
    for name, need in _needs():
        assert len(need) == 10_000
        head = _first_words(enc, need, enc.query_tokens)
        assert len(head) < 2_000, name  # far fewer characters than the need
        long_vec, head_vec = enc.encode_queries([need])[0], enc.encode_queries([head])[0]
        assert float(long_vec @ head_vec) > 0.99999, name
        # what follows the first tokens changes nothing, however long
        other = head + " " + "helt annet innhold om fiskeoppdrett og laksetrapper " * 100
        assert float(enc.encode_queries([other])[0] @ long_vec) > 0.99999, name
        # ...while what is within them does: the cap is not shorter than it says
        shorter = _first_words(enc, need, enc.query_tokens - 8)
        assert float(enc.encode_queries([shorter])[0] @ long_vec) < 0.99999, name
        # passages keep the model's own limit, before and after a capped query
        passages = enc.encode_passages([other, head])
        assert float(passages[0] @ passages[1]) < 0.99, name
    # a batch (need + its Bokmål reading) is capped alike
    batch = enc.encode_queries([_needs()[0][1], "kort behov"])
    assert float(batch[0] @ enc.encode_queries([_first_words(enc, _needs()[0][1], enc.query_tokens)])[0]) > 0.99999


def test_the_cap_is_the_encoders_choice(encoder: Encoder) -> None:
    small = Encoder(str(encoder.path), query_tokens=16, self_check=False, query_cache=0)
    need = _needs()[0][1][:1000]
    head = _first_words(small, need, 16)
    assert small.query_tokens == 16
    assert float(small.encode_queries([need])[0] @ small.encode_queries([head])[0]) > 0.99999
    assert Encoder(str(encoder.path), query_tokens=10_000, self_check=False).query_tokens == encoder.max_tokens


# -- the gate, with fake work ----------------------------------------------------------------
def _run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=20))  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


LONG = need_cost("x" * 1000)
SHORT = need_cost("chattbot som svarar på frågor om bygglov")


class Worker:
    """Requests through a gate that do nothing but note when they got in, until released."""

    def __init__(self, gate: Admission) -> None:
        self.gate = gate
        self.order: list[str] = []
        self.refused: list[str] = []
        self.release: dict[str, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, client: str, cost: float = SHORT) -> None:
        self.release[name] = asyncio.Event()

        async def request() -> None:
            try:
                async with self.gate.admit(client, cost):
                    self.order.append(name)
                    await self.release[name].wait()
            except Busy:
                self.refused.append(name)

        self.tasks.append(asyncio.ensure_future(request()))

    async def finish(self, name: str) -> None:
        self.release[name].set()
        await _settle()

    async def drain(self) -> list[str]:
        """Release whatever is in the works, oldest first, until every request is through."""
        for _ in range(1000):
            running = [n for n in self.order if not self.release[n].is_set()]
            if not running:
                break
            await self.finish(running[0])
        assert self.gate.busy == 0 and self.gate.waiting == 0
        return self.order


def one_at_a_time(queue: int = 100, deadline: float = 30, **kw: Any) -> Admission:
    """One turn, none held back for short needs: the order is all there is to see."""
    return Admission(slots=1, queue=queue, deadline=deadline, short_extra=0, **kw)


def test_a_busy_client_delays_another_clients_request_by_at_most_one_slot() -> None:
    async def scenario() -> list[str]:
        w = Worker(one_at_a_time())
        w.start("a0", "10.0.0.1")
        await _settle()
        for i in range(1, 11):
            w.start(f"a{i}", "10.0.0.1")
        await _settle()
        w.start("b", "10.0.0.2")
        await _settle()
        assert w.order == ["a0"] and w.gate.waiting == 11
        return await w.drain()

    order = _run(scenario())
    assert order.index("b") <= 2, order  # after the one in the works and at most one more of a's
    assert [n for n in order if n != "b"] == [f"a{i}" for i in range(11)]  # a's own requests keep their order


def test_clients_take_turns() -> None:
    async def scenario() -> list[str]:
        w = Worker(one_at_a_time())
        w.start("hold", "10.0.0.9")
        await _settle()
        for i in range(3):
            for client in "abc":
                w.start(f"{client}{i}", f"10.0.1.{ord(client)}")
        await _settle()
        return await w.drain()

    assert [n[0] for n in _run(scenario())[1:]] == list("abc" * 3)


def test_a_short_need_is_not_stuck_behind_long_ones() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        w = Worker(one_at_a_time())
        w.start("hold", "10.0.0.9", LONG)
        await _settle()
        for i in range(6):
            w.start(f"long{i}", f"10.0.2.{i}", LONG)
        w.start("short", "10.0.3.1", SHORT)
        await _settle()
        ahead = await w.drain()
        # with a turn held back for short needs (the default), it does not wait for the long one in the works
        kept = Worker(Admission(slots=1, queue=100, deadline=30))
        kept.start("hold", "10.0.0.9", LONG)
        await _settle()
        for i in range(6):
            kept.start(f"long{i}", f"10.0.2.{i}", LONG)
        kept.start("short", "10.0.3.1", SHORT)
        await _settle()
        at_once = list(kept.order)
        await kept.drain()
        return ahead, at_once

    ahead, at_once = _run(scenario())
    assert ahead[1] == "short" and at_once == ["hold", "short"]
    assert LONG == need_cost("x" * 100_000) == BASE_COST + QUERY_MAX_TOKENS  # bounded like the encoder
    assert need_cost("ሀ" * 60) > need_cost("a" * 60)  # a rare script costs more per character


def test_long_needs_still_get_their_turns_among_short_ones() -> None:
    for gate in (one_at_a_time(), Admission(slots=1, queue=100, deadline=30)):

        async def scenario(gate: Admission = gate) -> list[str]:
            w = Worker(gate)
            w.start("hold", "10.0.0.9")
            await _settle()
            w.start("long", "10.0.4.1", LONG)
            for i in range(8):
                w.start(f"short{i}", f"10.0.5.{i}")
            await _settle()
            return await w.drain()

        order = _run(scenario())
        assert order.index("long") <= SHORT_RUN, order  # not after every short one


def test_a_full_queue_refuses_and_a_busy_client_cannot_crowd_out_another() -> None:
    async def scenario() -> Worker:
        w = Worker(one_at_a_time(queue=2))
        for name in ("a0", "a1", "a2"):
            w.start(name, "10.0.0.1")
            await _settle()
        w.start("a3", "10.0.0.1")  # the queue is full and a3 would be served last: refused
        await _settle()
        assert w.refused == ["a3"]
        w.start("b", "10.0.0.2")  # b would be served before a2: a2 makes room for it
        await _settle()
        assert w.refused == ["a3", "a2"] and w.gate.waiting == 2
        await w.drain()
        return w

    assert _run(scenario()).order == ["a0", "b", "a1"]


def test_a_wait_past_the_deadline_is_refused_with_a_time_to_come_back() -> None:
    async def scenario() -> tuple[Busy, Busy]:
        gate = one_at_a_time(queue=10, deadline=0.05)
        held = await gate.enter("10.0.0.1", SHORT)
        with pytest.raises(Busy) as waited:
            await gate.enter("10.0.0.2", SHORT)  # nobody gives the slot back in time
        assert gate.waiting == 0
        gate.leave(held)
        # Retry-After is what the queue ahead would take, from how long turns have taken
        now = [0.0]
        timed = one_at_a_time(queue=3, clock=lambda: now[0])
        first = await timed.enter("10.0.0.1", 10)
        now[0] += 1.0  # 0.1 s per unit of cost
        timed.leave(first)
        w = Worker(timed)
        w.start("hold", "10.0.0.1", 10)
        await _settle()
        for i in range(3):
            w.start(f"q{i}", "10.0.0.1", 10)  # 3 s of work queued by one client
        await _settle()
        with pytest.raises(Busy) as full:
            await timed.enter("10.0.0.1", 10)
        for t in w.tasks:
            t.cancel()
        await asyncio.gather(*w.tasks, return_exceptions=True)
        assert timed.busy == 0 and timed.waiting == 0  # cancelled requests leave no slot behind
        return waited.value, full.value

    waited, full = _run(scenario())
    assert waited.retry_after >= 1 and "too long" in waited.reason
    assert full.retry_after == 3 and "full" in full.reason


# -- over HTTP ---------------------------------------------------------------------------
@pytest.fixture
def blocked(
    app_for: Callable[..., TestClient], make_index: Callable[..., ProjectIndex], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, threading.Event, threading.Event]]:
    """A client whose app has one slot and no queue, and a search that holds the slot until told."""
    idx = make_index()
    idx.upsert(CORPUS)
    entered, go_on = threading.Event(), threading.Event()
    real = idx.search

    def slow(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert go_on.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(idx, "search", slow)
    with app_for(index=idx, search_slots=1, search_queue=0) as client:
        yield client, entered, go_on
        go_on.set()


LONG_NEED = " ".join(["kommunen bruker maskinlæring til å sortere innkommende post og byggesøknader"] * 6)


def test_every_route_that_encodes_a_need_answers_503_with_retry_after_when_full(
    blocked: tuple[TestClient, threading.Event, threading.Event],
) -> None:
    client, entered, go_on = blocked
    first: list[int] = []
    holder = threading.Thread(target=lambda: first.append(client.get("/search", params={"q": LONG_NEED}).status_code))
    holder.start()
    assert entered.wait(30)
    try:
        for path in ("/search", "/partners", "/feed.atom", "/export.json", "/export.csv"):
            r = client.get(path, params={"q": "taligenkänning " + LONG_NEED})
            assert r.status_code == 503, (path, r.text)
            assert int(r.headers["retry-after"]) >= 1
            assert r.json()["detail"].startswith("erfa is busy")
        # a short need still has the turn held back for short ones
        assert client.get("/partners", params={"q": "taligenkänning"}).status_code == 200
        # what encodes nothing is not queued: probes, a project, its neighbours
        assert client.get("/healthz").status_code == 200
        assert client.get(f"/projects/{CORPUS[0].id}").status_code == 200
        assert client.get(f"/projects/{CORPUS[0].id}/similar").status_code == 200
        # refused before queueing: a bad request is told so, not that erfa is busy
        assert client.get("/search", params={"q": " "}).status_code == 422
    finally:
        go_on.set()
        holder.join(30)
    assert first == [200]
    assert client.get("/search", params={"q": LONG_NEED}).status_code == 200  # the slot came back


def test_the_pages_turn_is_taken_only_for_a_need_the_page_searches(tmp_path: Path) -> None:
    """PageAdmittedDep, for the HTML pages that read q themselves (service/pages/web.py)."""
    app = FastAPI()
    app.state.erfa = AppState(settings=Settings(home=tmp_path, search_slots=1, search_queue=0), submissions=None)  # type: ignore[arg-type]
    entered, go_on = threading.Event(), threading.Event()

    @app.get("/page")
    def page(refused: PageAdmittedDep, q: str = "") -> Response:
        if refused is not None:  # the page says so itself, in the reader's language (service/pages/web.py `busy`)
            return Response(refused.reason, status_code=503, headers={"Retry-After": str(refused.retry_after)})
        if q.startswith("hold"):
            entered.set()
            assert go_on.wait(30)
        return Response(q)

    with TestClient(app) as client:
        holder = threading.Thread(target=lambda: client.get("/page", params={"q": "hold " + LONG_NEED}))
        holder.start()
        try:
            assert entered.wait(30)
            assert client.get("/page", params={"q": LONG_NEED}).status_code == 503
            assert client.get("/page").status_code == 200  # the empty form searches nothing
            assert client.get("/page", params={"q": "x" * 1001}).status_code == 200  # refused by the page itself
        finally:
            go_on.set()
            holder.join(30)
        assert client.get("/page", params={"q": LONG_NEED}).status_code == 200


def test_a_generation_the_store_never_reached_is_refused_at_once(
    app_for: Callable[..., TestClient], make_index: Callable[..., ProjectIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    client = app_for(index=idx)
    catch_ups: list[float] = []
    real = idx.refresh

    def refresh(min_interval: float = 1.0) -> None:
        if min_interval == 0:
            catch_ups.append(min_interval)
        real(min_interval)

    monkeypatch.setattr(idx, "refresh", refresh)
    for path in ("/search", "/partners"):
        r = client.get(path, params={"q": "chatbot", "min_generation": 10**15})
        assert r.status_code == 409, r.text
        assert "has not been written" in r.json()["detail"]
        assert f"the store is at generation {idx.store.generation()} " in r.json()["detail"]
    assert catch_ups == []  # no waiting for a generation that is not coming
    # one the store has reached (another process wrote it) is still waited for, and read
    other = make_index(idx.home)
    other.upsert([rec("new", "Maskinoversettelse av vedtaksbrev", "Vedtaksbrev oversettes automatisk til klarspråk.")])
    gen = idx.store.generation()
    assert idx.generation < gen
    r = client.get("/search", params={"q": "maskinoversettelse vedtaksbrev", "min_generation": gen})
    assert r.status_code == 200 and r.json()["results"][0]["id"] == rec("new", "x").id


def test_the_search_pages_take_a_turn_and_say_busy_in_the_readers_language(app_for: Any) -> None:
    """/?q= and /embed?q= encode a need like /search does: they queue at the same gate, and a
    refusal is a page in the reader's language with Retry-After, not a JSON body."""
    from erfa.service.admission import Busy

    client = app_for()

    async def refuse(*args: object, **kwargs: object) -> None:
        raise Busy("the queue is full", 7)

    gate = client.app.state.erfa  # type: ignore[attr-defined]
    client.get("/search", params={"q": "chatbot"})  # the gate exists once a need was searched
    gate.admission.enter = refuse
    for path in ("/", "/embed"):
        r = client.get(path, params={"q": "chatbot for byggesaker", "lang": "sv"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "7", (path, r.status_code)
        assert "text/html" in r.headers["content-type"] and "Försök igen om 7 sekunder" in r.text
    assert client.get("/", params={"lang": "sv"}).status_code == 200  # the empty form takes no turn
