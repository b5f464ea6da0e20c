"""Retrieval evaluation: nDCG@10, recall@10 and MRR for keyword, dense and hybrid ranking.

Used by `erfa eval` / `python bench/eval.py` for the tables in models.md, and by the
tests that hold hybrid ranking to being at least as good as either half. Tasks are
built from labelled queries over a corpus of Records, indexed in a scratch directory.
"""
from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from erfa.index.encoder import Encoder
from erfa.index.engine import ProjectIndex
from erfa.ingest import Record, read_file

MODES = ("keyword", "dense", "hybrid")
K = 10


@dataclass
class Query:
    qid: str
    text: str
    language: str
    relevant: dict[str, int]  # record id -> grade (2 = same need, 1 = related)


@dataclass
class Task:
    name: str
    records: list[Record]
    queries: list[Query]
    construction: str = ""


@dataclass
class Scores:
    ndcg: list[float] = field(default_factory=list)
    recall: list[float] = field(default_factory=list)
    mrr: list[float] = field(default_factory=list)

    def add(self, ranked: Sequence[str], relevant: dict[str, int]) -> None:
        gains = [2 ** relevant.get(r, 0) - 1 for r in ranked[:K]]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sorted((2**g - 1 for g in relevant.values()), reverse=True)[:K]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        self.ndcg.append(dcg / idcg if idcg else 0.0)
        rel = {r for r, g in relevant.items() if g > 0}
        self.recall.append(len(rel & set(ranked[:K])) / len(rel))
        first = next((i for i, r in enumerate(ranked) if r in rel), None)
        self.mrr.append(1 / (first + 1) if first is not None else 0.0)

    def means(self) -> dict[str, float]:
        n = len(self.ndcg) or 1
        return {"ndcg@10": sum(self.ndcg) / n, "recall@10": sum(self.recall) / n, "mrr": sum(self.mrr) / n, "n": len(self.ndcg)}


# -- tasks ----------------------------------------------------------------------------
def demo_task(corpus: Path, labels: Path) -> Task:
    records = read_file(corpus).records
    queries = [
        Query(q["qid"], q["query"], q["language"], {k: int(v) for k, v in q["relevant"].items()})
        for q in (json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip())
    ]
    return Task("demo", records, queries, "erfa's demo corpus and its graded labels (tests/relevance)")


def swefaq_task(path: Path) -> Task:
    """Question -> its answer among all answers of the split (SweFAQ test: 109 / 109)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers: dict[str, str] = {}
    queries = []
    for i, row in enumerate(rows):
        for a in row["candidate_answers"]:
            answers.setdefault(a, f"swefaq-a{len(answers)}")
        right = answers[row["candidate_answers"][row["label"]]]
        queries.append(Query(f"sq{i}", row["question"], "sv", {right: 1}))
    records = [Record.build("swefaq", rid.split("-", 1)[1], title=text, language="sv") for text, rid in answers.items()]
    return Task("SweFAQ (test)", records, queries,
                "corpus = every candidate answer of the test split; relevant = the question's correct answer")


def norquad_task(path: Path) -> Task:
    """Question -> the article it was asked about (NorQuAD test: 472 questions, 199 articles)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    contexts: dict[str, str] = {}
    queries = []
    for article in data:
        for para in article["paragraphs"]:
            ctx = para["context"]
            contexts.setdefault(ctx, f"norquad-c{len(contexts)}")
            for qa in para["qas"]:
                queries.append(Query(f"nq{qa['id']}", qa["question"], "nb", {contexts[ctx]: 1}))
    records = []
    for ctx, rid in contexts.items():
        head, _, body = ctx.partition("\n")
        records.append(Record.build("norquad", rid.split("-", 1)[1], title=head, description=body or None, language="nb"))
    return Task("NorQuAD (test)", records, queries,
                "corpus = every article (context) of the test split, first line as title, long ones split into passages; "
                "relevant = the article the question was written about")


# -- running --------------------------------------------------------------------------
def index_task(task: Task, encoder: Encoder, home: Path | None = None) -> ProjectIndex:
    idx = ProjectIndex(home or Path(tempfile.mkdtemp(prefix=f"erfa-eval-{task.name.split()[0].lower()}-")), encoder=encoder)
    idx.upsert(task.records)
    return idx


def evaluate(task: Task, index: ProjectIndex, modes: Iterable[str] = MODES) -> dict[str, dict[str, dict[str, float]]]:
    """mode -> group ("all" and each query language) -> metric means."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for mode in modes:
        groups: dict[str, Scores] = defaultdict(Scores)
        for q in task.queries:
            if not q.relevant:
                continue
            ranked = [h.record.id for h in index.search(q.text, limit=K, mode=mode).hits]
            groups["all"].add(ranked, q.relevant)
            groups[q.language].add(ranked, q.relevant)
        out[mode] = {g: s.means() for g, s in sorted(groups.items())}
    return out


@dataclass
class Calibration:
    threshold: float
    flagged_without_relevant: float  # share of no-answer queries flagged (want high)
    unflagged_with_relevant: float  # share of answerable queries not flagged (want >= 0.9)
    n_without: int
    n_with: int


def top_scores(task: Task, index: ProjectIndex) -> list[tuple[float, bool]]:
    """(best hybrid score, has a grade-2 project) per query: the evidence the cut-off is chosen from."""
    out = []
    for q in task.queries:
        hits = index.search(q.text, limit=1).hits
        out.append((hits[0].score if hits else 0.0, any(g == 2 for g in q.relevant.values())))
    return out


def calibrate(points: Sequence[tuple[float, bool]], keep: float = 0.9) -> Calibration:
    """The highest cut-off that still leaves ``keep`` of the answerable queries unflagged.

    Highest, because every step up flags more of the no-answer queries; the bound on
    answerable queries is the product requirement (at least 90 % must not be flagged).
    """
    with_rel = sorted(s for s, r in points if r)
    without = [s for s, r in points if not r]
    # the largest t with share(with_rel >= t) >= keep: the (1-keep) quantile from below
    cut = with_rel[int(math.floor((1 - keep) * len(with_rel)))] if with_rel else 0.0
    threshold = round(math.floor(cut * 1000) / 1000, 3)
    return Calibration(
        threshold,
        sum(s < threshold for s in without) / (len(without) or 1),
        sum(s >= threshold for s in with_rel) / (len(with_rel) or 1),
        len(without), len(with_rel),
    )


def markdown(task: Task, results: dict[str, dict[str, dict[str, float]]]) -> str:
    groups = list(next(iter(results.values())))
    lines = [f"**{task.name}** — {task.construction}", "",
             "| group | n | " + " | ".join(f"{m} nDCG@10 / R@10 / MRR" for m in results) + " |",
             "|---|---|" + "---|" * len(results)]
    for g in groups:
        n = int(next(iter(results.values()))[g]["n"])
        cells = [f"{r[g]['ndcg@10']:.3f} / {r[g]['recall@10']:.3f} / {r[g]['mrr']:.3f}" for r in results.values()]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def two_fold(points: Sequence[tuple[float, bool]], keep: float = 0.9) -> tuple[float, float]:
    """Calibrate on every other query, judge on the rest, both ways round: how the
    cut-off does on queries it was not chosen on. Returns (flagged without, unflagged with)."""
    flagged = unflagged = 0.0
    for fold in (0, 1):
        train = [p for i, p in enumerate(points) if i % 2 == fold]
        test = [p for i, p in enumerate(points) if i % 2 != fold]
        t = calibrate(train, keep).threshold
        without = [s for s, r in test if not r]
        with_rel = [s for s, r in test if r]
        flagged += sum(s < t for s in without) / (len(without) or 1) / 2
        unflagged += sum(s >= t for s in with_rel) / (len(with_rel) or 1) / 2
    return flagged, unflagged


def report(tasks: Sequence[Task], encoder: Encoder) -> str:
    """The markdown models.md carries: every task's table, then the close-match calibration."""
    parts = []
    for task in tasks:
        idx = index_task(task, encoder)
        parts.append(markdown(task, evaluate(task, idx)))
        if any(not q.relevant for q in task.queries):
            pts = top_scores(task, idx)
            cal = calibrate(pts)
            f2, u2 = two_fold(pts)
            parts.append(
                f"Close-match cut-off on {task.name} (hybrid top score): **{cal.threshold}** flags "
                f"{cal.flagged_without_relevant:.0%} of the {cal.n_without} queries with no relevant project and leaves "
                f"{cal.unflagged_with_relevant:.0%} of the {cal.n_with} others unflagged; two-fold (calibrated on half, "
                f"judged on the other half): {f2:.0%} flagged / {u2:.0%} unflagged."
            )
        idx.close()
    return "\n\n".join(parts) + "\n"
