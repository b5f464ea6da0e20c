"""Whom-to-ask evaluation: do the organisations `/partners` names own projects that do
what the need asks?

Derived from the project labels of the real-data set (tests/relevance/real): an
organisation is relevant for a need when it owns a grade-2 project ("does what the user
needs"), under the index's own organisation merging. Reported per need language:

- nDCG@5 of the partners list, binary gains (the first screen of the partners view);
- top-3 hit: the share of needs with at least one relevant organisation among the first three;
- empty: the share of answerable needs for which no organisation was named at all;
- thin: the share for which fewer than two were named.

Needs without a grade-2 project are left out, as in the project tables (models.md).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from erfa.index.engine import ProjectIndex
from erfa.index.evaluate import Task

K = 5
TOP = 3


@dataclass
class PartnerScores:
    ndcg: list[float] = field(default_factory=list)
    top: list[float] = field(default_factory=list)
    empty: list[float] = field(default_factory=list)
    thin: list[float] = field(default_factory=list)

    def add(self, ranked: Sequence[str | None], relevant: set[str]) -> None:
        """One need's named partners in order; None holds the place of a partner with no owner key."""
        dcg = sum(1 / math.log2(i + 2) for i, k in enumerate(ranked[:K]) if k in relevant)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
        self.ndcg.append(dcg / idcg if idcg else 0.0)
        self.top.append(float(any(k in relevant for k in ranked[:TOP])))
        self.empty.append(float(not ranked))
        self.thin.append(float(len(ranked) < 2))

    def means(self) -> dict[str, float]:
        n = len(self.ndcg) or 1
        return {
            "ndcg@5": sum(self.ndcg) / n,
            "top3": sum(self.top) / n,
            "empty": sum(self.empty) / n,
            "thin": sum(self.thin) / n,
            "n": len(self.ndcg),
        }


def owner(index: ProjectIndex, record_id: str) -> str | None:
    """The merged organisation key (with its country) of a record's owner, as partners group them."""
    snap = index._snapshot()
    rowid = snap.ids.get(record_id)
    if rowid is None:
        return None
    rec = snap.records[rowid]
    if not rec.organisation:
        return None
    return f"{rec.country or ''}|{snap.meta.org_key_of(rowid)}"


def evaluate_partners(task: Task, index: ProjectIndex, limit: int = 10) -> dict[str, dict[str, float]]:
    """group ("all" and each need language) -> metric means over the needs with a grade-2 project."""
    groups: dict[str, PartnerScores] = defaultdict(PartnerScores)
    for q in task.queries:
        relevant = {o for r, g in q.relevant.items() if g == 2 and (o := owner(index, r))}
        if not relevant:
            continue
        page = index.partners(q.text, limit=limit)
        ranked = [
            f"{p.country or ''}|{p.key}" if getattr(p, "key", "") else owner(index, p.projects[0].record.id)
            for p in page.partners
        ]
        groups["all"].add(ranked, relevant)
        groups[q.language].add(ranked, relevant)
    return {g: s.means() for g, s in sorted(groups.items())}


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """One table: rows = task and group, columns = nDCG@5 / top-3 hit / empty."""
    lines = [
        "| task | group | n | nDCG@5 | ≥1 relevant in top 3 | none named | fewer than 2 named |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, groups in results.items():
        for g, m in groups.items():
            lines.append(
                f"| {task} | {g} | {int(m['n'])} | {m['ndcg@5']:.3f} | {m['top3']:.0%} "
                f"| {m['empty']:.0%} | {m['thin']:.0%} |"
            )
    return "\n".join(lines)
