"""The bench runs end to end in its quick mode and writes a sane results file.

Only shapes and sanity are asserted (figures exist, are positive, agreement and filter
correctness hold): timing targets are judged in bench/RESULTS.md, never in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.model


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
    assert all(b >= a - 0.02 for a, b in zip(recalls, recalls[1:])), recalls  # probing more lists never finds less
    assert recalls[-1] >= 0.95, recalls  # and the widest probe finds (nearly) what exact search finds
    for x in mil["filtered"].values():  # filters are correct whatever the speed
        assert x["pages_full"] == 1.0 and x["ids_allowed"] == 1.0
    assert mil["mapped"].get("load_s", 0) >= 0 and "error" not in mil["mapped"]
