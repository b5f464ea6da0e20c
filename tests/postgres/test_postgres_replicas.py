"""Several machines on one PostgreSQL (issue 11), with real `erfa serve` and `erfa ingest`
processes: replicas see writes within a second, survive a database restart and a
failover to a promoted hot standby, and writers killed with SIGKILL lose nothing.

Servers bind 127.0.0.1 on free ports (service/testing.py); PostgreSQL is started by the
fixtures in tests/postgres/conftest.py and every test here is skipped with the reason where it cannot.
``ERFA_PG_KILLS`` sets how many writers the SIGKILL test kills (default 10).
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index.store.postgres import PgStore
from erfa.service.pgtesting import Cluster
from tests._ops import AUTH, check_consistent, erfa_cmd, erfa_env, prepare_home, start_server, wait_for
from tests.factories import CORPUS, bulk_records, rec, write_jsonl

pytestmark = [pytest.mark.postgres, pytest.mark.model]
KILLS = int(os.environ.get("ERFA_PG_KILLS", "10"))
SEED = int(os.environ.get("ERFA_CRASH_SEED", str(int(time.time()) % 100_000)))


def _seed(url: str, home: Path, encoder: Encoder) -> ProjectIndex:
    """The corpus written in this process (embedding here is faster than in a fresh one)."""
    idx = ProjectIndex(home, encoder=encoder, store=PgStore(url))
    idx.upsert(CORPUS)
    return idx


def _serve(tmp_path: Path, model_home: Path, url: str, name: str) -> object:
    home = prepare_home(tmp_path / name, model_home)
    return start_server(home, ERFA_DATABASE_URL=url)


def _found(base: str, project_id: str, q: str, **params: object) -> bool:
    r = httpx.get(f"{base}/search", params={"q": q, "limit": 10, **params}, timeout=10)
    return r.status_code == 200 and project_id in [x["id"] for x in r.json()["results"]]


def test_replicas_see_a_write_within_a_second(tmp_path: Path, model_home: Path, encoder: Encoder, pg_url: str) -> None:
    seeded = _seed(pg_url, tmp_path / "seed", encoder)
    a = _serve(tmp_path, model_home, pg_url, "a")
    b = _serve(tmp_path, model_home, pg_url, "b")
    try:
        lags = []
        for i in range(6):
            title = f"Automatisk sortering av {['post', 'avfall', 'søknader', 'klager', 'fakturaer', 'timelister'][i]}"
            w = httpx.post(
                f"{a.url}/projects",
                headers=AUTH,
                timeout=60,
                json={"source": "replica", "source_id": str(i), "title": title, "description": title + " i kommunen."},
            )
            written = time.monotonic()
            assert w.status_code == 200, w.text
            pid = w.json()["ids"][0]
            assert wait_for(lambda pid=pid, title=title: _found(b.url, pid, title), timeout=10, step=0.02)
            lags.append(time.monotonic() - written)
            # read-your-writes: naming the write's generation is answered at once, on either replica
            assert _found(a.url, pid, title, min_generation=w.json()["generation"])
        print(f"replica lag after a committed write: {', '.join(f'{x:.2f}' for x in lags)} s")
        assert max(lags) <= 1.5 and sorted(lags)[len(lags) // 2] <= 1.0, lags
    finally:
        a.stop()  # type: ignore[attr-defined]
        b.stop()  # type: ignore[attr-defined]
        seeded.close()


def test_a_replica_survives_a_database_restart(
    tmp_path: Path, model_home: Path, encoder: Encoder, own_cluster: Cluster
) -> None:
    url = own_cluster.create_database("erfa")
    seeded = _seed(url, tmp_path / "seed", encoder)
    server = _serve(tmp_path, model_home, url, "replica")
    base = server.url  # type: ignore[attr-defined]
    try:
        own_cluster.stop("immediate")  # as a crash: recovery on the next start
        time.sleep(1.1)
        assert wait_for(lambda: httpx.get(f"{base}/readyz").json()["status"] == "stale", timeout=5)
        assert _found(base, CORPUS[0].id, "chattbot bygglov")  # searches go on from the snapshot
        own_cluster.start()
        seeded.store.close()  # its connections died with the server
        seeded.upsert([rec("new", "Klarspråk i vedtaksbrev", "Vedtaksbrev skrives om til klarspråk automatisk.")])
        assert wait_for(lambda: _found(base, rec("new", "x").id, "klarspråk vedtaksbrev"), timeout=5, step=0.05)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    finally:
        server.stop()  # type: ignore[attr-defined]
        seeded.close()


def test_sigkill_of_writers_mid_ingest_loses_nothing(
    tmp_path: Path, model_home: Path, encoder: Encoder, pg_url: str
) -> None:
    """`erfa ingest` killed at random points, again and again, while another writer keeps
    committing: nothing committed is lost, the write lock never stays taken, and after a
    last full run every record is there once, with its vectors."""
    rng = random.Random(SEED)
    print(f"ERFA_CRASH_SEED={SEED}")
    home = prepare_home(tmp_path / "writer", model_home)
    big = write_jsonl(tmp_path / "big.jsonl", bulk_records(120, source="bulk"))
    env = erfa_env(ERFA_DATABASE_URL=pg_url)
    other = ProjectIndex(tmp_path / "other", encoder=encoder, store=PgStore(pg_url))
    stop = threading.Event()
    committed: list[str] = []
    errors: list[BaseException] = []

    def keep_writing() -> None:
        try:
            n = 0
            while not stop.is_set():
                r = rec(f"steady{n}", f"Prosjekt {n} om {['snø', 'skog', 'vann'][n % 3]}")
                other.upsert([r])
                committed.append(r.id)
                n += 1
                time.sleep(0.2)
        except BaseException as exc:
            errors.append(exc)

    steady = threading.Thread(target=keep_writing)
    steady.start()
    store = PgStore(pg_url)
    try:
        seen: set[str] = set()
        for kill in range(KILLS):
            proc = subprocess.Popen(
                erfa_cmd(home, "ingest", str(big)), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(2.0, 6.0))  # start-up is ~2 s; after it, embedding and commits
            proc.kill()
            proc.wait()
            now = {s.record.id for s in store.all()}
            assert seen <= now, f"kill {kill}: lost {sorted(seen - now)[:5]}"
            seen = now
        stop.set()
        steady.join()
        assert errors == []
        done = subprocess.run(erfa_cmd(home, "ingest", str(big)), env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        reader = ProjectIndex(tmp_path / "reader", encoder=encoder, store=PgStore(pg_url))
        stats = check_consistent(reader)
        assert stats["records"] == 120 + len(committed)
        assert set(committed) <= {s.record.id for s in store.all()}
        reader.close()
    finally:
        stop.set()
        steady.join()
        store.close()
        other.close()


def test_a_replica_follows_a_hot_standby_through_failover(
    tmp_path: Path, model_home: Path, encoder: Encoder, own_cluster: Cluster
) -> None:
    """A replica reads from a hot standby; the primary dies, the standby is promoted while
    the replica serves, and writes resume on the new primary through that replica."""
    url = own_cluster.create_database("erfa")
    primary_idx = _seed(url, tmp_path / "seed", encoder)
    standby = own_cluster.standby()
    standby_url = standby.url("erfa")
    assert wait_for(lambda: PgStore(standby_url).count() == len(CORPUS), timeout=10)
    server = _serve(tmp_path, model_home, standby_url, "replica")
    base = server.url  # type: ignore[attr-defined]
    try:
        primary_idx.upsert([rec("p", "Prediktivt vedlikehold av bruer", "Sensorer varsler om sprekker i bruer.")])
        assert wait_for(lambda: _found(base, rec("p", "x").id, "vedlikehold av bruer"), timeout=5, step=0.05)
        own_cluster.stop("immediate")
        primary_idx.close()
        assert _found(base, CORPUS[0].id, "chattbot bygglov")
        standby.promote()
        assert _found(base, CORPUS[0].id, "chattbot bygglov")
        w = httpx.post(
            f"{base}/projects",
            headers=AUTH,
            timeout=60,
            json={
                "source": "test",
                "source_id": "after",
                "title": "Tolketjeneste med maskinoversettelse",
                "description": "Samtaler tolkes automatisk.",
            },
        )
        assert w.status_code == 200, w.text
        assert _found(base, w.json()["ids"][0], "maskinoversettelse tolk", min_generation=w.json()["generation"])
        assert PgStore(standby_url).count() == len(CORPUS) + 2
    finally:
        server.stop()  # type: ignore[attr-defined]
