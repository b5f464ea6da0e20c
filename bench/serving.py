"""The HTTP service under measurement: `erfa serve` on loopback, timed from launch to ready,
then /search (new and repeated queries) and /similar over one kept-alive connection, and its
memory; plus an in-process breakdown of where start-up and a search spend their time.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from bench.measure import stats, timed
from bench.queries import cold_queries, repeat_queries
from erfa.index.engine import ProjectIndex
from erfa.index.model.encoder import Encoder
from erfa.service import testing as harness
from erfa.service.testing import Server


def start_server(home: Path, model_dir: Path, *, backend: str = "onnx", workers: int = 1) -> Server:
    """`erfa serve` on loopback (erfa.service.testing), timed from launch to ready in ``ready_s``.

    With several workers /readyz must answer from all of them: six 200s in a row.
    """
    env = {
        **os.environ,
        "ERFA_MODEL": str(model_dir),
        "ERFA_DEMO": "0",
        "ERFA_BACKEND": backend,
        "ERFA_RATE_LIMIT": "0",
        "ERFA_LOG_LEVEL": "warning",
        "ERFA_WORKERS": str(workers),
    }
    env.pop("ERFA_THREADS", None)
    return harness.start_server(home, env=env, timeout=300, in_a_row=1 if workers == 1 else 6)


def memory(server: Server, workers: int) -> dict[str, float]:
    """Peak RSS (VmHWM) of the serving process(es), and current RSS/PSS, in MiB."""
    out = {"peak_rss_mib": 0.0, "rss_mib": 0.0, "pss_mib": 0.0, "processes": 0}
    pids = server.pids()
    if workers > 1:
        pids = pids[1:] or pids  # the supervisor only forks; the workers serve
    for pid in pids:
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{pid}/status").read_text()
            kv = {line.split(":")[0]: line.split(":")[1] for line in status.splitlines() if ":" in line}
            out["peak_rss_mib"] = max(out["peak_rss_mib"], int(kv["VmHWM"].split()[0]) / 1024)
            out["rss_mib"] += int(kv["VmRSS"].split()[0]) / 1024
            roll = Path(f"/proc/{pid}/smaps_rollup").read_text()
            for line in roll.splitlines():
                if line.startswith("Pss:"):
                    out["pss_mib"] += int(line.split()[1]) / 1024
            out["processes"] += 1
    return out


_conns: dict[int, http.client.HTTPConnection] = {}


def get(port: int, path: str, *, fresh: bool = False) -> tuple[int, bytes]:
    """One GET on loopback over a kept-alive connection (as a portal's backend would)."""
    conn = None if fresh else _conns.get(port)
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        if not fresh:
            _conns[port] = conn
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _conns.pop(port, None)
        raise
    if fresh:
        conn.close()
    return resp.status, body


def timed_get(port: int, path: str) -> float:
    t = time.perf_counter()
    status, body = get(port, path)
    ms = (time.perf_counter() - t) * 1000
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}: {body[:300]!r}")
    return ms


def search_path(q: str, limit: int = 10) -> str:
    return f"/search?q={urllib.parse.quote(q)}&limit={limit}"


def bench_service(
    home: Path,
    model_dir: Path,
    ids: Sequence[str],
    quick: bool,
    *,
    backend: str = "onnx",
    starts: int = 1,
    workers: int = 1,
) -> dict[str, object]:
    """Cold start(s), then /search (new and repeated queries) and /similar over HTTP."""
    n_cold = 30 if quick else 150
    n_rep = 3 if quick else 10
    res: dict[str, object] = {"backend": backend, "workers": workers}
    ready = []
    server = start_server(home, model_dir, backend=backend, workers=workers)
    try:
        ready.append(server.ready_s)
        for _ in range(starts - 1):
            server.stop()
            server = start_server(home, model_dir, backend=backend, workers=workers)
            ready.append(server.ready_s)
        res["cold_start_s"] = stats(ready)
        port = server.port
        get(port, search_path("oppvarming"))  # first request: lazy imports on the request path
        res["search_cold"] = stats([timed_get(port, search_path(q)) for q in cold_queries(n_cold)])
        rep = repeat_queries()
        for q in rep:  # first sight of each: now they are in the query cache
            timed_get(port, search_path(q))
        res["search_repeat"] = stats([timed_get(port, search_path(q)) for _ in range(n_rep) for q in rep])
        rng = random.Random(7)
        pick = [ids[rng.randrange(len(ids))] for _ in range(30 if quick else 200)]
        res["similar"] = stats(
            [timed_get(port, f"/projects/{urllib.parse.quote(i, safe='')}/similar?limit=10") for i in pick]
        )
        res["memory"] = memory(server, workers)
    finally:
        server.stop()
    return res


def breakdown(home: Path, model_dir: Path, quick: bool) -> dict[str, object]:
    """Where the time goes, in-process: start-up parts, and encoder vs the rest of a search."""
    t0 = time.perf_counter()
    import erfa.service.app  # noqa: F401  (what `erfa serve` imports)

    t1 = time.perf_counter()
    enc = Encoder(str(model_dir), backend="onnx")
    t2 = time.perf_counter()
    idx = ProjectIndex(home, encoder=enc)
    idx.load()
    t3 = time.perf_counter()
    res: dict[str, object] = {"import_s": t1 - t0, "model_s": t2 - t1, "index_open_s": t3 - t2}
    qs = cold_queries(60 if not quick else 20)
    idx.search("oppvarming")
    enc_ms, total_ms = [], []
    for q in qs:
        enc_ms.append(timed(lambda q=q: enc._encode([q + " ."], enc.query_prompt, 32)))
        enc.clear_query_cache()
        total_ms.append(timed(lambda q=q: idx.search(q, limit=10)))
    res["search_encode_ms"] = stats(enc_ms)
    res["search_total_ms"] = stats(total_ms)
    snap = idx._snapshot()
    rows = [s.rowid for s in list(idx.store.all())[:60]]
    found = idx.store.by_rowids(rows)
    faiss_ms, sim_ms = [], []
    for rid, pid in [(r, found[r].record.id) for r in rows if r in found]:
        v = snap.vectors.vector(rid * 64)
        if v is None:
            continue
        faiss_ms.append(timed(lambda v=v: snap.vectors.search(v, 22)))
        sim_ms.append(timed(lambda pid=pid: idx.similar(pid, limit=10)))
    res["similar_faiss_ms"] = stats(faiss_ms)
    res["similar_total_ms"] = stats(sim_ms)
    idx.close()
    return res
