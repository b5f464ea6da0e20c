"""Evaluating erfa's search (`erfa eval`, models.md): this package's own module holds the
retrieval evaluation and its tasks; beside it partners.py (organisations to ask), marker.py
(the close-match marker), similar.py (similar projects) and corpora.py (the real registries
they read). Kept apart from search so that nothing served depends on it.

Retrieval evaluation: nDCG@10, recall@10 and MRR of four rankers, plus close-match rates.

Used by `erfa eval` for the tables in models.md and by the tests that hold the shipped
ranking to its recorded figures. The rankers:

- ``keyword``: plain BM25 over every query term;
- ``dense``: plain dense search, the model's own cosines over raw passage vectors (what
  erfa shipped before the language-neutral space; computed here from the embedding
  cache, since the search index only holds transformed vectors);
- ``neutral``: dense search in the language-neutral space (index/search/space.py), nothing else;
- ``hybrid``: the shipped ranking (index/search/searcher.py `Searcher.rank`).

The real-data tasks (tests/relevance/real) come in dev and test splits over three corpora;
every parameter in index/search/ranking.py is chosen on dev, test is only reported. The twin
groups labelled on the full corpus (full_twins.json) judge "one project, one row": how
many of them the index joins (twin_joins) and how often a top 10 still shows one project
twice (repeats_in_top).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from erfa.index.engine import ProjectIndex, passages_of
from erfa.index.evaluate.corpora import CORPORA
from erfa.index.model.encoder import Encoder
from erfa.index.search import ranking
from erfa.index.search.searcher import standout
from erfa.index.store.protocol import text_hash
from erfa.ingest import Record, read_file

MODES = ("keyword", "dense", "neutral", "hybrid")
K = 10
KEEP_ANSWERABLE = 0.9  # close match: at least this share of answerable needs must not be flagged


@dataclass
class Query:
    qid: str
    text: str
    language: str
    relevant: dict[str, int]  # record id -> grade (2 = does what the user needs, 1 = related)

    @property
    def answerable(self) -> bool:
        return any(g == 2 for g in self.relevant.values())


@dataclass
class Task:
    name: str
    records: list[Record]
    queries: list[Query]
    construction: str = ""
    corpus: str = ""  # tasks with the same corpus share one index
    twins: list[list[str]] = field(default_factory=list)  # labelled twin groups among the records (full_twins.json)


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
        return {
            "ndcg@10": sum(self.ndcg) / n,
            "recall@10": sum(self.recall) / n,
            "mrr": sum(self.mrr) / n,
            "n": len(self.ndcg),
        }


# -- tasks ----------------------------------------------------------------------------
def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def demo_task(corpus: Path, labels: Path) -> Task:
    records = read_file(corpus).records
    queries = [
        Query(q["qid"], q["query"], q["language"], {k: int(v) for k, v in q["relevant"].items()})
        for q in _jsonl(labels)
    ]
    return Task(
        "demo",
        records,
        queries,
        "erfa's demo corpus and its graded labels (tests/relevance); not used to choose anything",
        "demo",
    )


def twin_groups(labels: Path) -> list[list[str]]:
    """The twin groups labelled on the full corpus (none when the file is absent)."""
    path = labels / "full_twins.json"
    return json.loads(path.read_text(encoding="utf-8"))["groups"] if path.is_file() else []


def _within(groups: Sequence[Sequence[str]], ids: set[str]) -> list[list[str]]:
    """The groups as far as a corpus holds them: the full corpus's labels serve its subsets too."""
    return [kept for g in groups if len(kept := [i for i in g if i in ids]) > 1]


def real_tasks(shared: Path, labels: Path, splits: Sequence[str] = ("dev", "test")) -> list[Task]:
    """The Nordic, European and full tasks, one per split (tests/relevance/real/README.md)."""
    tasks = []
    groups = twin_groups(labels)
    for corpus, build in CORPORA.items():
        records = build(shared)
        needs = [n for f in sorted(labels.glob(f"{corpus}_*.jsonl")) for n in _jsonl(f)]
        if not needs:
            continue  # a corpus nobody has labelled yet would only cost an index
        twins = _within(groups, {r.id for r in records})
        for split in splits:
            queries = [
                Query(n["qid"], n["query"], n["language"], {k: int(v) for k, v in n["relevant"].items()})
                for n in needs
                if n["split"] == split
            ]
            tasks.append(
                Task(
                    f"{corpus.capitalize()} ({split})",
                    records,
                    queries,
                    f"{len(records)} records; {len(queries)} needs, "
                    f"{sum(not q.answerable for q in queries)} with no answer",
                    corpus,
                    twins,
                )
            )
    return tasks


def swefaq_task(path: Path) -> Task:
    """Question -> its answer among all answers of the split (SweFAQ test: 109 / 109)."""
    answers: dict[str, str] = {}
    queries = []
    for i, row in enumerate(_jsonl(path)):
        for a in row["candidate_answers"]:
            answers.setdefault(a, f"swefaq-a{len(answers)}")
        right = answers[row["candidate_answers"][row["label"]]]
        queries.append(Query(f"sq{i}", row["question"], "sv", {right: 1}))
    records = [Record.build("swefaq", rid.split("-", 1)[1], title=text, language="sv") for text, rid in answers.items()]
    return Task(
        "SweFAQ (test)",
        records,
        queries,
        "corpus = every candidate answer of the test split; relevant = the question's correct answer",
        "swefaq",
    )


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
        records.append(
            Record.build("norquad", rid.split("-", 1)[1], title=head, description=body or None, language="nb")
        )
    return Task(
        "NorQuAD (test)",
        records,
        queries,
        "corpus = every article (context) of the test split, first line as title, long ones split into passages; "
        "relevant = the article the question was written about",
        "norquad",
    )


# -- running --------------------------------------------------------------------------
Vectors = dict[str, np.ndarray]  # text hash -> the model's raw passage vector


def cached(index: ProjectIndex) -> Vectors:
    """Every passage vector of the index's records, from its embedding cache: the full
    corpus holds every text of the other two, so they need not embed anything again."""
    enc = index.encoder
    hashes = [text_hash(t) for stored in index.store.all() for t in passages_of(stored.record)]
    return index.store.cached_vectors(enc.model_id, hashes, enc.dim)


def _seeded(home: Path, encoder: Encoder, vectors: Vectors | None) -> ProjectIndex:
    idx = ProjectIndex(home, encoder=encoder)
    if vectors:
        idx.store.cache_vectors(encoder.model_id, list(vectors.items()))
    return idx


@contextmanager
def indexed(task: Task, encoder: Encoder, vectors: Vectors | None = None) -> Iterator[ProjectIndex]:
    """The task's records in a scratch index, removed afterwards; ``vectors`` seed its
    embedding cache (only texts not among them are embedded)."""
    with tempfile.TemporaryDirectory(prefix=f"erfa-eval-{task.corpus or 'task'}-") as home:
        idx = _seeded(Path(home), encoder, vectors)
        try:
            idx.upsert(task.records)
            yield idx
        finally:
            idx.close()


def index_task(task: Task, encoder: Encoder, home: Path, vectors: Vectors | None = None) -> ProjectIndex:
    """The task's records in an index at ``home`` (kept: the caller owns the folder);
    ``vectors`` seed its embedding cache as in `indexed`."""
    idx = _seeded(home, encoder, vectors)
    idx.upsert(task.records)
    return idx


class _PlainDense:
    """The model's own cosines over raw passage vectors: the "plain dense" baseline."""

    def __init__(self, index: ProjectIndex) -> None:
        enc = index.encoder
        rows: list[np.ndarray] = []
        owners: list[str] = []
        for stored in index.store.all():
            texts = passages_of(stored.record)
            cached = index.store.cached_vectors(enc.model_id, [text_hash(t) for t in texts], enc.dim)
            rows.extend(cached[text_hash(t)] for t in texts)
            owners.extend([stored.record.id] * len(texts))
        self.matrix = np.stack(rows) if rows else np.zeros((0, enc.dim), np.float32)
        self.owners = owners
        self.encoder = enc

    def rank(self, query: str, k: int = K) -> list[str]:
        scores = self.matrix @ self.encoder.encode_queries([query])[0]
        seen: dict[str, None] = {}
        for j in np.argsort(-scores):
            seen.setdefault(self.owners[j])
            if len(seen) >= k:
                break
        return list(seen)


def shown_ids(index: ProjectIndex, need: str, mode: str = "hybrid") -> list[str]:
    """The first page's record ids as graded: a result shows its twins (the same project in other
    sources) with it, and the labels grade each source's record on its own, so the ids it shows
    count, in the order shown."""
    hits = index.search(need, limit=K, mode=mode).hits
    return [i for h in hits for i in (h.record.id, *(t.id for t in h.twins))][:K]


def evaluate(task: Task, index: ProjectIndex, modes: Iterable[str] = MODES) -> dict[str, dict[str, dict[str, float]]]:
    """mode -> group ("all" and each query language) -> metric means, over needs with a relevant project."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    modes = tuple(modes)  # read twice: `in` below would use up a generator
    plain = _PlainDense(index) if "dense" in modes else None
    for mode in modes:
        groups: dict[str, Scores] = defaultdict(Scores)
        for q in task.queries:
            if not q.relevant:
                continue
            if mode == "dense":
                assert plain is not None  # built above whenever "dense" is asked for
                ranked = plain.rank(q.text)
            else:
                ranked = shown_ids(index, q.text, mode)
            groups["all"].add(ranked, q.relevant)
            groups[q.language].add(ranked, q.relevant)
        out[mode] = {g: s.means() for g, s in sorted(groups.items())}
    return out


# -- one project, one row ---------------------------------------------------------------
def _pairs(groups: Iterable[Iterable[str]]) -> set[frozenset[str]]:
    return {frozenset((a, b)) for g in groups for a in g for b in g if a < b}


def found_twins(index: ProjectIndex) -> list[list[str]]:
    """The index's own twin groups (index/bodies/twins.py), as record ids."""
    snap = index._snapshot()
    groups = {tuple(sorted((r, *others))) for r, others in snap.twins.items()}
    return [sorted(snap.records[r].id for r in g if r in snap.records) for g in sorted(groups)]


@dataclass
class TwinJoins:
    precision: float  # share of the pairs the index joins that are labelled twins
    recall: float  # share of the labelled twin pairs the index joins
    found: int  # pairs joined
    labelled: int  # pairs labelled (both records in the index)


def twin_joins(index: ProjectIndex, groups: Sequence[Sequence[str]]) -> TwinJoins:
    """Pairwise precision and recall of the index's twin map against labelled groups.
    Pairs, not groups: a group of three joined as two is partly right, and a pair
    wrongly joined costs precision whatever its group's size."""
    ids = set(index._snapshot().ids)
    gold = _pairs(_within(groups, ids))
    got = _pairs(found_twins(index))
    hit = len(gold & got)
    return TwinJoins(hit / len(got) if got else 1.0, hit / len(gold) if gold else 1.0, len(got), len(gold))


@dataclass
class Repeats:
    rows: int  # rows of the top k showing a project a row above already showed
    needs: int  # needs with at least one such row
    of: int  # needs searched


def repeats_in_top(task: Task, index: ProjectIndex, groups: Sequence[Sequence[str]], k: int = K) -> Repeats:
    """How often the shipped ranking's top ``k`` shows one project twice: a row repeats
    when its record, or a twin it shows with it, is in a labelled group an earlier row
    showed. What a user sees as the same case listed again, whatever the twin map says."""
    group_of = {i: n for n, g in enumerate(groups) for i in g}
    rows = needs = 0
    for q in task.queries:
        seen: set[int] = set()
        repeated = 0
        for h in index.search(q.text, limit=k).hits:
            shown = {group_of[i] for i in (h.record.id, *(t.id for t in h.twins)) if i in group_of}
            repeated += bool(shown & seen)
            seen |= shown
        rows += repeated
        needs += bool(repeated)
    return Repeats(rows, needs, len(task.queries))


# -- close match ----------------------------------------------------------------------
def standouts(task: Task, index: ProjectIndex) -> list[tuple[float, bool]]:
    """(the best match's standout, the need has a grade-2 project) per need: what the
    close-match cut-off is chosen from (LanguageSpace.standout)."""
    snap = index._snapshot()
    out = []
    for q in task.queries:
        ranked = index.searcher.rank(snap, q.text, K, None)
        best = max(ranked.sims.values(), default=0.0)
        value = standout(snap, ranked.query, best) if ranked.query is not None else 0.0
        out.append((value, q.answerable))
    return out


@dataclass
class Calibration:
    threshold: float
    flagged_without: float  # share of no-answer needs flagged (want >= 0.8)
    unflagged_with: float  # share of answerable needs not flagged (want >= 0.9)
    n_without: int
    n_with: int


def calibrate(points: Sequence[tuple[float, bool]], keep: float = KEEP_ANSWERABLE) -> float:
    """The highest cut-off that still leaves ``keep`` of the answerable needs unflagged:
    highest, because every step up flags more of the no-answer needs."""
    with_rel = sorted(s for s, r in points if r)
    if not with_rel:
        return 0.0
    cut = with_rel[math.floor((1 - keep) * len(with_rel))]
    return math.floor(cut * 1000) / 1000


def rates(points: Sequence[tuple[float, bool]], threshold: float) -> Calibration:
    with_rel = [s for s, r in points if r]
    without = [s for s, r in points if not r]
    return Calibration(
        threshold,
        sum(s < threshold for s in without) / (len(without) or 1),
        sum(s >= threshold for s in with_rel) / (len(with_rel) or 1),
        len(without),
        len(with_rel),
    )


# -- reporting ------------------------------------------------------------------------
def markdown(task: Task, results: dict[str, dict[str, dict[str, float]]], shipped: str = "hybrid") -> str:
    groups = list(next(iter(results.values())))
    lines = [
        f"**{task.name}** — {task.construction}",
        "",
        "| group | n | " + " | ".join(f"{m} nDCG@10 / R@10 / MRR" for m in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for g in groups:
        n = int(next(iter(results.values()))[g]["n"])
        cells = []
        for m, r in results.items():
            cell = f"{r[g]['ndcg@10']:.3f} / {r[g]['recall@10']:.3f} / {r[g]['mrr']:.3f}"
            cells.append(f"**{cell}**" if m == shipped else cell)
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class Report:
    text: str
    ndcg: dict[str, float]  # task name -> shipped nDCG@10 ("all")
    calibration: dict[str, Calibration]  # task name -> close-match rates at the shipped cut-off
    suggested_threshold: float | None  # calibrated on the dev splits


def twin_markdown(rows: Sequence[tuple[str, TwinJoins, dict[str, Repeats]]]) -> str:
    """The "one project, one row" table (models.md; tests/test_real_quality.py reads it back)."""
    lines = [
        "**One project, one row** — twin groups labelled by reading (tests/relevance/real/full_twins.json); "
        "pairwise precision and recall of the index's twin map; rows of the shipped top 10 that show a project "
        "a row above already showed",
        "",
        "| corpus | labelled pairs | joined pairs | twin precision | twin recall "
        "| repeats in top 10 (dev) | repeats in top 10 (test) |",
        "|---|---|---|---|---|---|---|",
    ]
    for corpus, joins, reps in rows:
        cells = [
            f"{r.rows} row{'s' * (r.rows != 1)}, {r.needs} of {r.of} needs" if (r := reps.get(s)) else "–"
            for s in ("dev", "test")
        ]
        lines.append(
            f"| {corpus} | {joins.labelled} | {joins.found} | {joins.precision:.3f} | {joins.recall:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def _marker_row(task: Task, index: ProjectIndex) -> str:
    """The close-match marks of ``index`` (its fitted marker, else the standout rule) on ``task``."""
    from erfa.index.evaluate import marker as evaluate_marker

    data = evaluate_marker.rows(task, index)
    fitted = index.close_match_marker()
    r = evaluate_marker.rates(data, None, fitted.probabilities(data.x) if fitted else None, len(task.queries))
    return (
        f"{r.precision:.2f} / {r.recall:.2f} | {r.auc:.3f} | {r.need_accuracy:.0%} ({r.answerable_flagged:.0%} / "
        f"{r.unanswered_unflagged:.0%})"
    )


def report(
    tasks: Sequence[Task], encoder: Encoder, threshold: float | None = None, vectors: Vectors | None = None
) -> Report:
    """Every task's table, then twins and the close-match rates; tasks sharing a corpus share
    one index, and the largest corpus is indexed first so the others reuse its vectors
    (``vectors``, e.g. `cached` from a kept index, spare even that one embedding)."""
    from erfa.index.evaluate import similar as evaluate_similar  # it reads this module's Task and Scores

    tables, ndcg, points = {}, {}, {}
    by_corpus: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        by_corpus[task.corpus or task.name].append(task)
    vectors = dict(vectors or {})
    twin_rows: dict[str, tuple[str, TwinJoins, dict[str, Repeats]]] = {}
    marks: dict[str, str] = {}  # task -> its row of the close-match marker table
    similar: dict[str, float] = {}  # task -> nDCG@10 of similar projects
    for corpus, group in sorted(by_corpus.items(), key=lambda c: -len(c[1][0].records)):
        with indexed(group[0], encoder, vectors) as idx:
            vectors.update(cached(idx))
            for task in group:
                res = evaluate(task, idx)
                ndcg[task.name] = res["hybrid"]["all"]["ndcg@10"]
                tables[task.name] = markdown(task, res)
                if any(not q.answerable for q in task.queries):
                    points[task.name] = standouts(task, idx)
                if task.twins or corpus in ("nordic", "european"):  # the real-data splits: marks and similar projects
                    marks[task.name] = _marker_row(task, idx)
                    similar[task.name] = evaluate_similar.evaluate(task, idx).get("all", {}).get("ndcg@10", 0.0)
            if group[0].twins:
                reps = {t.name.rsplit("(", 1)[-1].rstrip(")"): repeats_in_top(t, idx, t.twins) for t in group}
                twin_rows[corpus] = (corpus.capitalize(), twin_joins(idx, group[0].twins), reps)
    parts = [tables[t.name] for t in tasks]
    if twin_rows:
        parts.append(twin_markdown([twin_rows[c] for c in by_corpus if c in twin_rows]))
    if marks:
        parts.append(
            "\n".join(
                [
                    "**Close matches** — the first page's marks (precision / recall), ROC AUC of the marker's "
                    "probability, and the need-level flag right (with an answer on the first page flagged / "
                    'without one not flagged); models.md, "Close matches"',
                    "",
                    "| task | marker precision / recall | ROC AUC | need flag right |",
                    "|---|---|---|---|",
                    *(f"| {name} | {row} |" for name, row in marks.items()),
                ]
            )
        )
        parts.append(
            "\n".join(
                [
                    "**Similar projects** — nDCG@10 of /similar against the projects graded 2 for the same "
                    "need (index/evaluate/similar.py)",
                    "",
                    "| task | nDCG@10 |",
                    "|---|---|",
                    *(f"| {name} | {v:.3f} |" for name, v in similar.items()),
                ]
            )
        )
    dev = [p for name, pts in points.items() if "(dev)" in name for p in pts]
    suggested = calibrate(dev) if dev else None
    if threshold is None:
        threshold = ranking.CLOSE_MATCH.get(encoder.model_id, suggested or 0.0)
    cals = {t.name: rates(points[t.name], threshold) for t in tasks if t.name in points}
    if cals:
        lines = [
            "",
            f"Close match at standout >= **{threshold}** (calibrated on the dev splits: the highest cut-off "
            f"leaving {KEEP_ANSWERABLE:.0%} of their answerable needs unflagged"
            + (f"; this run suggests {suggested}" if suggested is not None else "")
            + "):",
            "",
            "| task | answerable needs not flagged | no-answer needs flagged |",
            "|---|---|---|",
        ]
        for name, c in cals.items():
            lines.append(
                f"| {name} | {c.unflagged_with:.0%} of {c.n_with} | {c.flagged_without:.0%} of {c.n_without} |"
            )
        parts.append("\n".join(lines))
    return Report("\n\n".join(parts) + "\n", ndcg, cals, suggested)
