"""Load: concurrent clients of mixed search, partners, similar and project requests against a
real `erfa serve` on 127.0.0.1, while an ingest runs over HTTP at the same time.

Bounded: ``ERFA_LOAD_SECONDS`` (default 60) and ``ERFA_LOAD_CLIENTS`` (default 20). Zero
errors allowed; the figures (requests, throughput, p50/p95/p99) are printed for the
closing note. Rate limiting is off for this test: all clients share one address.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from erfa.index import Encoder, ProjectIndex
from tests._ops import AUTH, check_consistent, prepare_home, running_server
from tests.factories import bulk_records, write_jsonl

SECONDS = float(os.environ.get("ERFA_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("ERFA_LOAD_CLIENTS", "20"))
NEEDS = [
    "chattbot som svarar på frågor om bygglov",
    "transkribering av møter i kommunestyret",
    "automatisk journalføring av innkommende post",
    "speech recognition for doctors' notes",
    "prognose for sykehusbelegg",
    "maskinoversettelse til klarspråk",
    "skogsskader från satellit",
    "AI til at finde snyd med sociale ydelser",
    "kunstig intelligens i skolen",
    "trafikkflyt og kollektivtransport",
    "tolkning av röntgenbilder",
    "chatbot for skatt",
]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _client(
    n: int,
    url: str,
    ids: list[str],
    kinds: list[str],
    until: float,
    latencies: dict[str, list[float]],
    errors: list[str],
) -> None:
    rng = random.Random(n)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while time.monotonic() < until:
            kind = rng.choice(kinds)
            if kind == "search":
                params: dict[str, object] = {"q": rng.choice(NEEDS), "limit": rng.choice([5, 10, 20])}
                if rng.random() < 0.3:
                    params["country"] = rng.choice(["NO", "SE", "DK", "NO,SE"])
                if rng.random() < 0.2:
                    params["offset"] = rng.choice([10, 20])
                req = http.get("/search", params=params)
            elif kind == "partners":
                req = http.get("/partners", params={"q": rng.choice(NEEDS), "limit": 5})
            elif kind == "similar":
                req = http.get(f"/projects/{rng.choice(ids)}/similar", params={"limit": 5})
            else:
                req = http.get(f"/projects/{rng.choice(ids)}")
            started = time.perf_counter()
            try:
                r = await req
                if r.status_code != 200:
                    errors.append(f"{kind}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{kind}: {type(exc).__name__} {exc}")
            latencies.setdefault(kind, []).append(time.perf_counter() - started)


async def _ingest(url: str, files: list[bytes], until: float, results: list[str], errors: list[str]) -> None:
    """Ingest rounds (add, then re-embed every record, ...) until the load ends."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        n = 0
        while time.monotonic() < until:
            r = await http.post("/ingest", files={"file": ("load.jsonl", files[n % len(files)])}, headers=AUTH)
            if r.status_code != 200:
                errors.append(f"ingest: {r.status_code} {r.text[:300]}")
                return
            body = r.json()
            results.append(f"{body['added']} added/{body['updated']} updated")
            n += 1
            await asyncio.sleep(1.0)


def test_load_mixed_reads_during_an_ingest(
    tmp_path: Path, model_home: Path, demo_index: ProjectIndex, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    home = prepare_home(tmp_path / "home", model_home, seed_from=demo_index.home)
    ids = sorted(s.record.id for s in demo_index.store.all())
    rows = bulk_records(40, source="load")
    versions = [
        write_jsonl(
            tmp_path / f"v{v}.jsonl", [{**r, "description": f"{r['description']} Versjon {v}."} for r in rows]
        ).read_bytes()
        for v in range(3)
    ]

    # The gate's 5 s wait is for a quiet machine; this test asks whether reads stay correct during an ingest,
    # so a slow shared CI machine must not turn queueing into 503s (test_fairness covers the gate itself).
    with running_server(home, ERFA_RATE_LIMIT="0", ERFA_SEARCH_WAIT="120") as server:
        paths = httpx.get(server.url + "/openapi.json", timeout=30).json()["paths"]
        kinds = ["search"] * 5 + ["similar"] * 2 + ["project"] + (["partners"] * 2 if "/partners" in paths else [])
        latencies: dict[str, list[float]] = {}
        errors: list[str] = []
        ingests: list[str] = []
        started = time.monotonic()
        until = started + SECONDS

        async def main() -> None:
            await asyncio.gather(
                _ingest(server.url, versions, until, ingests, errors),
                *[_client(n, server.url, ids, kinds, until, latencies, errors) for n in range(CLIENTS)],
            )

        # its own thread: Playwright's sync API (browser tests) may leave a loop running in this one
        runner = threading.Thread(target=asyncio.run, args=(main(),), name="load")
        runner.start()
        runner.join(timeout=SECONDS + 600)
        assert not runner.is_alive(), "the load run did not stop"
        elapsed = time.monotonic() - started
        projects = httpx.get(server.url + "/readyz", timeout=30).json()["projects"]
        metrics = httpx.get(server.url + "/metrics", timeout=30).text

    every = [x for v in latencies.values() for x in v]
    per_kind = ", ".join(f"{k} {len(v)} (p99 {_pct(v, 99) * 1000:.0f} ms)" for k, v in sorted(latencies.items()))
    with capsys.disabled():
        print(
            f"\nload: {len(every)} requests from {CLIENTS} concurrent clients in {elapsed:.0f} s "
            f"({len(every) / elapsed:.1f}/s), errors {len(errors)}, "
            f"p50 {statistics.median(every) * 1000:.0f} ms, p95 {_pct(every, 95) * 1000:.0f} ms, "
            f"p99 {_pct(every, 99) * 1000:.0f} ms; {per_kind}; {len(ingests)} ingests of 40 records ran meanwhile "
            f"({ingests[0] if ingests else '-'}, then {ingests[-1] if ingests else '-'})"
        )
    assert not errors, Counter(e.split(":")[0] for e in errors).most_common() + errors[:5]
    assert ingests, "no ingest completed during the load"
    assert len(every) >= CLIENTS * 3
    assert projects == len(ids) + 40
    assert 'erfa_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/search"}' in metrics

    idx = ProjectIndex(home, encoder=encoder).load()
    try:
        assert check_consistent(idx)["records"] == len(ids) + 40
    finally:
        idx.close()
