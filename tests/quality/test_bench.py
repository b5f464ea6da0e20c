"""The bench (bench/run.py and the modules it runs): a quick smoke on a tiny corpus in every
run, and the whole quick-mode run behind the opt-in `slow` mark (`pytest -m slow`).

Only shapes and sanity are asserted (figures exist, are positive, agreement and filter
correctness hold, recall never falls as more lists are probed): timing targets are judged in
bench/RESULTS.md, never in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from bench import corpus, encoding, measure, million, peer, serving
from bench.queries import cold_queries, repeat_queries
from erfa.index import Encoder

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.model


def test_stats_give_the_median_and_spread_of_a_sample() -> None:
    s = measure.stats([float(x) for x in range(1, 101)])
    assert s["n"] == 100 and s["p50"] == pytest.approx(50.5) and (s["min"], s["max"]) == (1.0, 100.0)
    assert s["p95"] == pytest.approx(95.05) and s["iqr"] == pytest.approx(49.5)
    assert measure.stats([]) == {"n": 0} and measure.fmt(measure.stats([])) == "n/a"
    assert measure.fmt(measure.stats([2.0, 4.0])).startswith("p50 3.0 ms (p95 3.9")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> dict[str, object]:
    """A tiny bench corpus: no shared data, so the demo corpus stands in (as on a bare checkout);
    24 of its records ingested, then a data directory of 200 projects built from them."""
    work = tmp_path_factory.mktemp("bench")
    real, counts = corpus.real_corpus(work / "no-shared-data", quick=True)
    real = real[:24]
    ingest = encoding.bench_ingest(real, encoder, work / "real")
    vec_of = corpus.cached_vectors(work / "real", encoder.model_id, real, encoder.dim)
    built = corpus.build_home(work / "home-200", encoder, real, 200, vec_of)
    return {"work": work, "counts": counts, "real": real, "ingest": ingest, "vec_of": vec_of, "built": built}


def test_the_corpus_falls_back_to_the_demo_and_ingest_is_measured(tiny: dict[str, object]) -> None:
    assert list(tiny["counts"]) == ["demo corpus (shared data absent)"]
    ing = tiny["ingest"]
    assert ing["records"] == 24 and ing["embedded"] == ing["passages"] >= 24
    assert ing["docs_per_s"] > 0 and 0 < ing["embedding_share"] <= 1
    assert len(tiny["vec_of"]) == ing["passages"], "every passage's vector is in the embedding cache"


def test_a_size_is_built_from_cached_vectors_without_embedding(tiny: dict[str, object], encoder: Encoder) -> None:
    built = tiny["built"]
    assert built["projects"] == 200 and len(set(built["ids"])) == 200
    assert built["embedded"] == 0, "the copies' vectors come from the cache, never from the model"
    assert built["index"] == "flat" and built["vectors"] >= 200
    # the copies stay near their originals (cosine ~0.95), so search over them is realistic
    rng = np.random.default_rng(1)
    real, vec_of = tiny["real"], tiny["vec_of"]
    _, items = corpus.project_set(real, 60, vec_of, rng)
    originals = np.stack(list(vec_of.values()))
    best = [float((originals @ v).max()) for _, v in items]
    assert min(best) > 0.85 and max(best) < 0.999


def test_index_only_figures_on_an_ivf_index(tiny: dict[str, object], encoder: Encoder) -> None:
    base = np.stack(list(tiny["vec_of"].values()))
    queries = encoder._encode(cold_queries(12), encoder.query_prompt, 32)
    m = million.bench_million(base, queries, 40_000, tiny["work"])
    assert m["index"].startswith("ivf") and m["build_s"] > 0
    recalls = [x["recall@10"] for _, x in sorted(m["nprobe"].items())]
    assert all(b >= a for a, b in pairwise(recalls)), recalls  # more lists never find less
    assert recalls[-1] >= 0.99, recalls  # probing every list is exact search (up to ties)
    for x in m["filtered"].values():
        assert x["pages_full"] == 1.0 and x["ids_allowed"] == 1.0
    assert "error" not in m["mapped"] and m["mapped"]["mapped_search_ms"]["n"] == len(queries)


def test_the_service_is_measured_over_http_and_in_process(tiny: dict[str, object], encoder: Encoder) -> None:
    home = tiny["work"] / "home-200"
    res = serving.bench_service(home, Path(encoder.path), tiny["built"]["ids"], quick=True)
    assert res["cold_start_s"]["n"] == 1 and res["cold_start_s"]["p50"] > 0
    assert res["search_cold"]["n"] == 30 and res["similar"]["n"] == 30
    assert res["search_repeat"]["n"] == 3 * len(repeat_queries())
    assert res["memory"]["peak_rss_mib"] > 0 and res["memory"]["processes"] >= 1
    inproc = peer.erfa_inprocess(home, encoder, cold_queries(5))
    assert inproc["search_cold"]["n"] == 5 and inproc["search_cold"]["p50"] > 0


@pytest.mark.slow
def test_quick_bench_writes_results(tmp_path: Path, model_home: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = {**os.environ, "ERFA_TEST_MODEL_HOME": str(model_home)}
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--no-txtai",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
            "--model-home",
            str(model_home),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    for heading in (
        "## Machine",
        "## Summary against the targets",
        "## 1. Query encoding",
        "## 2. Ingest throughput",
        "## 3. The HTTP service",
        "vectors (index only, no encoding)",
        "## 5. txtai",
        "## Misses",
    ):
        assert heading in text, heading
    r = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    enc = r["encoding"]
    assert enc["onnx"]["query_ms"]["p50"] > 0 and enc["torch"]["query_ms"]["p50"] > 0
    assert enc["agreement"]["cosine_min"] >= 0.999, "the fast backend must give the torch path's vectors"
    assert r["ingest"]["onnx"]["docs_per_s"] > 0 and 0 < r["ingest"]["onnx"]["embedding_share"] <= 1
    svc = r["service"]["1k"]
    assert svc["projects"] == 1000
    assert svc["search_cold"]["n"] == 30 and svc["search_cold"]["p50"] > 0
    assert svc["similar"]["p50"] > 0 and svc["cold_start_s"]["p50"] > 0 and svc["memory"]["peak_rss_mib"] > 0
    assert r["torch"]["search_cold"]["p50"] > 0
    mil = r["million"]
    assert mil["index"].startswith("ivf")
    recalls = [x["recall@10"] for _, x in sorted(mil["nprobe"].items(), key=lambda kv: int(kv[0]))]
    assert all(b >= a - 0.02 for a, b in pairwise(recalls)), recalls  # probing more lists never finds less
    assert recalls[-1] >= 0.95, recalls  # and the widest probe finds (nearly) what exact search finds
    for x in mil["filtered"].values():  # filters are correct whatever the speed
        assert x["pages_full"] == 1.0 and x["ids_allowed"] == 1.0
    assert mil["mapped"].get("load_s", 0) >= 0 and "error" not in mil["mapped"]


def test_every_bench_script_imports() -> None:
    """Each bench script runs by hand (`python bench/x.py`), months apart: one that still imports a name
    another module no longer has would only fail then (search_cost.py did, after run.py was split)."""
    import importlib

    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))  # the scripts import their siblings both as bench.x and as x
    try:
        for path in sorted(bench.glob("*.py")):
            if path.stem != "__init__":
                importlib.import_module(f"bench.{path.stem}")
    finally:
        sys.path.remove(str(bench))
