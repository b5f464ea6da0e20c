"""Search quality on the real registries (tests/relevance/real): the shipped ranking must hold
the figures models.md records for the test splits, beat plain dense search in every
language, and the close-match cut-off chosen on dev must carry over to test; the twin
groups labelled on the full corpus must be joined as well as models.md records.

Needs ../shared/data (the public datasets beside the checkout); skipped without it.
The full corpus (2,972 records, 2,741 distinct texts) is indexed first and the Nordic and
European corpora reuse its vectors: each text is embedded once, a few minutes on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index import evaluate as ev
from erfa.index.evaluate.corpora import available
from erfa.index.search import ranking

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
LABELS = ROOT / "tests" / "relevance" / "real"
MARGIN = 0.02  # the tolerance: a test split may not fall further below its recorded figure
LANGUAGE_MARGIN = 0.05
TWIN_MARGIN = 0.01  # the twin map is deterministic for given vectors: only rounding and thread order may move it

pytestmark = [
    pytest.mark.shared,
    pytest.mark.model,
    pytest.mark.skipif(not available(SHARED), reason="../shared/data is not beside this checkout"),
]


def _table(heading: str, header: str) -> str:
    """The markdown table that follows ``heading`` in models.md (as `erfa eval` prints it)."""
    text = (ROOT / "models.md").read_text(encoding="utf-8")
    start = text.find(heading)
    assert start >= 0, f"models.md records no {heading} table: paste it from `erfa eval --shared ../shared/data`"
    end = text.find("\n\n", text.index(header, start))
    return text[start : end if end >= 0 else len(text)]


def recorded(task: str) -> dict[str, float]:
    """The shipped (bold) nDCG@10 per group of ``task``'s table in models.md."""
    text = (ROOT / "models.md").read_text(encoding="utf-8")
    assert f"**{task}**" in text, (
        f"models.md records no **{task}** table: paste it from `erfa eval --shared ../shared/data`"
    )
    start = text.index(f"**{task}**")
    table = text[start : text.index("\n\n", text.index("| group |", start))]
    out = {}
    for row in table.splitlines():
        bold = re.search(r"\*\*([0-9.]+) /", row)
        if bold and row.startswith("| "):
            out[row.split("|")[1].strip()] = float(bold.group(1))
    return out


def recorded_twins(corpus: str) -> tuple[float, float]:
    """Twin precision and recall models.md records for ``corpus`` ("One project, one row" table)."""
    for row in _table("**One project, one row**", "| corpus |").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells[0] == corpus:
            return float(cells[3]), float(cells[4])
    raise AssertionError(f"models.md's One project, one row table has no {corpus} row")


@pytest.fixture(scope="module")
def judged(
    encoder: Encoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[ev.Task, ProjectIndex]]]:
    tasks = ev.real_tasks(SHARED, LABELS)
    indexes: dict[str, ProjectIndex] = {}
    vectors: ev.Vectors = {}
    # largest first: the full corpus holds every text of the other two, which then embed nothing
    for task in sorted(tasks, key=lambda t: -len(t.records)):
        if task.corpus not in indexes:
            indexes[task.corpus] = ev.index_task(task, encoder, tmp_path_factory.mktemp(task.corpus), vectors)
            vectors.update(ev.cached(indexes[task.corpus]))
    yield {t.name: (t, indexes[t.corpus]) for t in tasks}
    for idx in indexes.values():
        idx.close()


@pytest.mark.parametrize("name", ["Nordic (test)", "European (test)", "Full (test)"])
def test_shipped_ranking_holds_its_recorded_quality_and_beats_plain_dense(
    judged: dict[str, tuple[ev.Task, ProjectIndex]], name: str
) -> None:
    """The figure models.md records, within MARGIN; per language within LANGUAGE_MARGIN (9-19 needs
    each, so one need moves a group by several hundredths); and better than plain dense search."""
    task, idx = judged[name]
    res = ev.evaluate(task, idx, modes=("dense", "hybrid"))
    expected = recorded(name)
    got = res["hybrid"]["all"]["ndcg@10"]
    assert got >= expected["all"] - MARGIN, f"{name}: nDCG@10 {got:.3f}, models.md records {expected['all']}"
    assert got > res["dense"]["all"]["ndcg@10"] + 0.1, res
    for group, shipped in res["hybrid"].items():
        assert shipped["ndcg@10"] >= expected[group] - LANGUAGE_MARGIN, (name, group, shipped, expected[group])


def test_close_match_cut_off_chosen_on_dev_carries_over_to_test(
    judged: dict[str, tuple[ev.Task, ProjectIndex]],
) -> None:
    """Answerable test needs keep their results marked as close matches; no-answer needs are
    flagged more often than answerable ones (the statistic separates the two at all)."""
    points = {name: ev.standouts(*judged[name]) for name in judged}
    dev = [p for name, pts in points.items() if "(dev)" in name for p in pts]
    threshold = ev.calibrate(dev)
    assert abs(threshold - ranking.CLOSE_MATCH[judged["Nordic (dev)"][1].encoder.model_id]) < 0.03, threshold
    test = [p for name, pts in points.items() if "(test)" in name for p in pts]
    rates = ev.rates(test, threshold)
    assert rates.unflagged_with >= 0.85, rates
    assert rates.flagged_without > 1 - rates.unflagged_with, rates


def test_inferred_sectors_hold_their_measured_precision(judged: dict[str, tuple[ev.Task, ProjectIndex]]) -> None:
    """Each source's sectors hidden in turn and inferred from the other sources only (leave one
    source out, index/evaluate/sectors.py, on the full corpus): at the shipped thresholds the
    neighbours and the prototypes are right for 80 % of the records they give a sector, as
    models.md records, and still give one to a useful share."""
    from erfa.index.bodies import prototypes, sectors
    from erfa.index.bodies.prototypes_build import of_index
    from erfa.index.evaluate import sectors as es

    idx = judged["Full (test)"][1]
    corpus = of_index(idx)
    for guesses, threshold in (
        (es.neighbours(corpus), sectors.MIN_SHARE),
        (es.prototype_guesses(corpus), prototypes.MIN_MARGIN),
    ):
        shown = [g for g in guesses if g.confidence >= threshold]
        assert len(shown) >= 0.15 * len(guesses), (threshold, len(shown), len(guesses))
        assert sum(g.right for g in shown) / len(shown) >= 0.8 - MARGIN, threshold
    snap = idx._snapshot()
    unlabelled = [r for r in snap.records.values() if r.sector_inferred or not r.sector]
    # 94 of 1,460 on the full corpus when measured (models.md): the threshold keeps to clear votes
    assert unlabelled and sum(r.sector_inferred for r in unlabelled) >= 0.04 * len(unlabelled)


def test_labelled_twins_are_joined_as_well_as_recorded(judged: dict[str, tuple[ev.Task, ProjectIndex]]) -> None:
    """One project, one row: pairwise precision and recall of the full index's twin map against the
    groups labelled by reading (full_twins.json) hold the figures models.md records. A better twin
    finder records higher ones; a wrong join costs precision, a missed copy recall."""
    task, idx = judged["Full (test)"]
    assert len(task.twins) >= 700, "full_twins.json holds the labelled groups"
    joins = ev.twin_joins(idx, task.twins)
    precision, recall = recorded_twins("Full")
    assert joins.precision >= precision - TWIN_MARGIN, (joins, precision)
    assert joins.recall >= recall - TWIN_MARGIN, (joins, recall)


def recorded_row(heading: str, task: str) -> list[str]:
    """The cells of ``task``'s row in the models.md table under ``heading``."""
    text = (ROOT / "models.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    row = next(line for line in section.splitlines() if line.startswith(f"| {task} |"))
    return [c.strip() for c in row.strip("|").split("|")]


@pytest.mark.parametrize("name", ["Nordic (test)", "European (test)", "Full (test)"])
def test_close_match_marks_hold_their_recorded_precision(
    judged: dict[str, tuple[ev.Task, ProjectIndex]], name: str
) -> None:
    """The shipped marker (index/search/marker.json) on a test split: the first page's marks are as often
    right, the need-level flag as often right, and the probability ranks as well as models.md says."""
    from erfa.index.evaluate import marker as em

    task, idx = judged[name]
    data = em.rows(task, idx)
    got = em.rates(data, None, idx.close_match_marker().probabilities(data.x), len(task.queries))  # type: ignore[union-attr]
    cells = recorded_row("## Close matches (issue 19)", name)
    precision = float(cells[1].split("/")[0])
    auc = float(cells[2])
    need_right = float(cells[3].split("%")[0]) / 100
    assert got.precision >= precision - MARGIN, (name, got)
    assert got.auc >= auc - MARGIN, (name, got)
    assert got.need_accuracy >= need_right - 0.05, (name, got)  # 39-80 needs: one need is 1-3 points


@pytest.mark.parametrize("name", ["Nordic (test)", "European (test)", "Full (test)"])
def test_similar_projects_hold_their_recorded_quality(
    judged: dict[str, tuple[ev.Task, ProjectIndex]], name: str
) -> None:
    from erfa.index.evaluate import similar as es

    task, idx = judged[name]
    got = es.evaluate(task, idx)["all"]["ndcg@10"]
    recorded_ndcg = float(recorded_row("## Similar projects (issue 19)", name)[2].strip("*"))
    assert got >= recorded_ndcg - MARGIN, (name, got, recorded_ndcg)
