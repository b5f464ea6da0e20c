"""txtai, the closest open-source peer, given the same model folder, texts and queries in its
own process; and erfa's in-process search on the same queries, so the two compare like for like.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.measure import stats, timed
from erfa.index.engine import ProjectIndex
from erfa.index.model.encoder import Encoder
from erfa.ingest import Record

TXTAI_SCRIPT = """
import json, sys, time, os
texts = json.load(open(sys.argv[1])); queries = json.load(open(sys.argv[2])); model = sys.argv[3]
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
t0 = time.perf_counter()
from txtai import Embeddings
emb = Embeddings({"path": model, "method": "sentence-transformers", "content": True, "backend": "faiss",
                  "instructions": {"query": "query: ", "data": "passage: "}, "batch": 16, "encodebatch": 16})
load_s = time.perf_counter() - t0
t = time.perf_counter()
emb.index([(str(i), t, None) for i, t in enumerate(texts)])
index_s = time.perf_counter() - t
emb.search(queries[0], 10)
lat = []
for q in queries:
    t = time.perf_counter(); emb.search(q, 10); lat.append((time.perf_counter() - t) * 1000)
rep = []
for _ in range(3):
    for q in queries[:10]:
        t = time.perf_counter(); emb.search(q, 10); rep.append((time.perf_counter() - t) * 1000)
print(json.dumps({"load_s": load_s, "index_s": index_s, "lat": lat, "rep": rep, "peak_rss_mib": status("VmHWM:")}))
"""


def bench_txtai(model_dir: Path, records: Sequence[Record], queries: list[str], work: Path) -> dict[str, object]:
    """txtai given the same model folder, the same texts and the same queries, in its own process."""
    try:
        import txtai  # noqa: F401
    except ImportError:
        return {"skipped": "txtai is not installed (make bench installs it: pip install -e '.[bench]')"}
    work.mkdir(parents=True, exist_ok=True)
    (work / "texts.json").write_text(json.dumps([r.embedding_text() for r in records]))
    (work / "queries.json").write_text(json.dumps(queries))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run(
        [sys.executable, "-c", TXTAI_SCRIPT, str(work / "texts.json"), str(work / "queries.json"), str(model_dir)],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
    )
    if out.returncode != 0:
        return {"error": out.stderr[-1500:]}
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "records": len(records),
        "load_s": raw["load_s"],
        "index_s": raw["index_s"],
        "docs_per_s": len(records) / raw["index_s"],
        "search_cold": stats(raw["lat"]),
        "search_repeat": stats(raw["rep"]),
        "peak_rss_mib": raw["peak_rss_mib"],
    }


def erfa_inprocess(home: Path, enc: Encoder, queries: list[str]) -> dict[str, object]:
    """erfa's search without HTTP (like txtai's in-process search), same queries."""
    enc.clear_query_cache()
    idx = ProjectIndex(home, encoder=enc)
    idx.load()
    idx.search("oppvarming")
    lat = [timed(lambda q=q: idx.search(q, limit=10)) for q in queries]
    idx.close()
    return {"search_cold": stats(lat)}
