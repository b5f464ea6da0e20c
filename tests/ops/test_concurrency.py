"""Searches keep answering correctly while an ingest, an update and a prune run in the server.

Readers must see the old index until the new one is swapped in: no error, no missing
or duplicated hit, no hit pointing at a record that is not there.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from erfa.index.engine import passages_of
from erfa.service.api import create_app
from erfa.service.settings import Settings
from tests._ops import AUTH, TOKEN, check_consistent
from tests.factories import CORPUS, Make

QUERIES = {
    "chattbot som svarar på frågor om bygglov": "test-1",
    "speech recognition for doctors' notes": "test-2",
    "skogsskador från satellit": "test-4",
}
FILLER = [
    "Fiskekvoter og havbruk i kystsonen",
    "Timeplanlegging for videregående skoler",
    "Anbefaling av bøker på biblioteket",
    "Prognoser for skatteinngang i fylket",
]


def _filler(n: int, version: int) -> bytes:
    rows = [
        {
            "source": "fill",
            "source_id": str(i),
            "title": f"{FILLER[i % 4]} {i}",
            "description": f"{FILLER[i % 4]}: delprosjekt {i}, versjon {version}, med maskinlæring.",
            "organisation": f"Etat {i % 7}",
            "country": "NO",
        }
        for i in range(n)
    ]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def test_parallel_searches_during_ingest_update_and_prune(make_index: Make, tmp_path: Path) -> None:
    idx = make_index()
    idx.upsert(CORPUS)
    app = create_app(Settings(home=idx.home, demo=False, admin_token=TOKEN, rate_limit=0), index=idx, wait=True)
    errors: list[str] = []
    answered = [0]
    writing = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    with TestClient(app, raise_server_exceptions=False) as client:

        def searcher(worker: int) -> None:
            n = 0
            while not done.is_set():
                q, want = list(QUERIES.items())[(worker + n) % len(QUERIES)]
                n += 1
                r = client.get("/search", params={"q": q, "limit": 10})
                if r.status_code != 200:
                    errors.append(f"{q}: {r.status_code} {r.text[:200]}")
                    continue
                ids = [h["id"] for h in r.json()["results"]]
                if not ids or ids[0] != want:
                    errors.append(f"{q}: top {ids[:1]} != {want}")
                if len(ids) != len(set(ids)):
                    errors.append(f"{q}: duplicate hits {ids}")
                if n % 5 == 0:  # a hit must point at a record that exists (or was just deleted by the prune)
                    for i in ids[:3]:
                        code = client.get(f"/projects/{i}").status_code
                        if code != 200 and not (i.startswith("fill-") and code == 404):
                            errors.append(f"hit {i} -> {code}")
                with lock:
                    answered[0] += 1

        def writer() -> None:
            try:
                writing.set()
                steps = [
                    lambda: client.post("/ingest", files={"file": ("f.jsonl", _filler(48, 1))}, headers=AUTH),  # add
                    lambda: client.post(
                        "/ingest", files={"file": ("f.jsonl", _filler(48, 2))}, headers=AUTH
                    ),  # re-embed all
                    lambda: client.post(
                        "/ingest", files={"file": ("f.jsonl", _filler(24, 2))}, data={"prune": "true"}, headers=AUTH
                    ),
                    lambda: client.delete("/projects/fill-0", headers=AUTH),
                ]
                for step in steps:
                    r = step()
                    if r.status_code != 200:
                        errors.append(f"write failed: {r.status_code} {r.text[:300]}")
            finally:
                done.set()

        readers = [threading.Thread(target=searcher, args=(w,)) for w in range(3)]
        for t in readers:
            t.start()
        started = time.monotonic()
        w = threading.Thread(target=writer)
        w.start()
        w.join(timeout=300)
        done.set()
        for t in readers:
            t.join(timeout=60)
        seconds = time.monotonic() - started

        assert not errors, errors[:10]
        assert answered[0] >= 20, f"only {answered[0]} searches answered in {seconds:.0f} s"
        assert client.get("/readyz").json()["projects"] == 4 + 23
    # left: the corpus and fill-1..23 at version 2 (fill-24.. pruned, fill-0 deleted), one vector per passage,
    # and a cold start from the saved files agrees with the index that served the writes
    left = list(idx.records())
    assert {r.id for r in left} == {r.id for r in CORPUS} | {f"fill-{i}" for i in range(1, 24)}
    assert all("versjon 2" in (r.description or "") for r in left if r.source == "fill")
    expected = {"records": 27, "vectors": sum(len(passages_of(r)) for r in left)}
    assert check_consistent(idx) == expected
    assert check_consistent(make_index(idx.home)) == expected
