"""How good "similar projects" is, measured on the real-data labels (issue 19, item 5).

Two projects graded 2 for the same need do the same thing, so each is a relevant
"similar project" of the other, whatever language they are written in. For every
project graded 2 for some need of a split, its similar projects are scored by nDCG@10
against the other grade-2 projects of every need it is grade 2 for (grade 1 of those
needs counts as related), per language of the project asked about: what a Norwegian
reader sees under "similar projects" on a Norwegian project's page.
"""

from __future__ import annotations

from collections import defaultdict

from erfa.index.engine import ProjectIndex
from erfa.index.evaluate import Scores, Task


def judgements(task: Task) -> dict[str, dict[str, int]]:
    """Record id -> the records similar to it, graded: 2 = does the same (grade 2 for a
    need it is grade 2 for), 1 = related (grade 1 there)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for q in task.queries:
        same = [r for r, g in q.relevant.items() if g == 2]
        for r in same:
            for other, grade in q.relevant.items():
                if other != r:
                    out[r][other] = max(out[r].get(other, 0), grade)
    return {r: rel for r, rel in out.items() if any(g == 2 for g in rel.values())}


def evaluate(task: Task, index: ProjectIndex) -> dict[str, dict[str, float]]:
    """Group ("all" and each record language) -> nDCG@10, recall@10, MRR of `similar`.

    A result shows its twins with it (the same project in another registry), so they
    count as shown, as in the search tables; the project's own twins are never relevant."""
    snap = index._snapshot()
    groups: dict[str, Scores] = defaultdict(Scores)
    for rid, relevant in sorted(judgements(task).items()):
        rowid = snap.ids.get(rid)
        if rowid is None:
            continue
        own = {snap.records[t].id for t in snap.twins.get(rowid, ()) if t in snap.records}
        relevant = {r: g for r, g in relevant.items() if r not in own}
        if not any(g == 2 for g in relevant.values()):
            continue
        shown = [i for h in index.similar(rid, limit=10) for i in (h.record.id, *(t.id for t in h.twins))]
        ranked = list(dict.fromkeys(shown))[:10]
        groups["all"].add(ranked, relevant)
        groups[snap.records[rowid].language or "?"].add(ranked, relevant)
    return {g: s.means() for g, s in groups.items()}
