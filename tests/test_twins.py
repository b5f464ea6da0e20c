"""One project, one result (issue 12 item 6): a project held by two sources is found at
build and after writes, shown once with both sources, and never offered as its own
similar project; different projects of one body stay apart. Real example: KartAi, in
Norway's overview and in PSTW (skipped without ../shared/data)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from erfa.index import ProjectIndex, twins
from erfa.ingest import Record

from tests._shared import shared_data_dir

Make = Callable[..., ProjectIndex]


def _unit(*xs: float) -> np.ndarray:
    v = np.array(xs, np.float32)
    return v / np.linalg.norm(v)


def _r(source: str, sid: str, title: str, language: str = "en") -> Record:
    return Record.build(source, sid, title=title, organisation="Fjordby kommune", country="NO", language=language)


def test_find_links_copies_titles_and_translations_but_not_siblings() -> None:
    records = {
        1: _r("a", "1", "Snow clearing forecast"), 2: _r("b", "1", "Snow clearing forecast"),  # a copy
        3: _r("a", "2", "Chatbot for permits"), 4: _r("b", "2", "Chatbot om byggesøknader", "nb"),  # a translation
        5: _r("a", "3", "Speech model small"), 6: _r("b", "3", "Speech model large"),  # siblings, same source family
        7: _r("a", "4", "Road damage detection"),
    }
    vecs = {1: _unit(1, 0, 0, 0), 2: _unit(1, 0.05, 0, 0), 3: _unit(0, 1, 0, 0), 4: _unit(0, 1, 1, 0),
            5: _unit(0, 0, 0, 1), 6: _unit(0.3, 0, 0.7, 1), 7: _unit(0.2, 0.2, 0.2, 1)}
    found = twins.find([list(records)], records, lambda r: [vecs[r]])
    assert found[1] == (2,) and found[2] == (1,)
    assert found[3] == (4,)  # cosine 0.71 across languages
    assert 5 not in found and 6 not in found and 7 not in found  # 0.6 in one language: two projects


def test_only_records_of_different_sources_and_mutual_best_matches_are_twins() -> None:
    records = {1: _r("a", "1", "X"), 2: _r("a", "2", "X"), 3: _r("b", "1", "X")}
    vecs = {1: _unit(1, 0), 2: _unit(1, 0.1), 3: _unit(1, 0.01)}
    found = twins.find([[1, 2, 3]], records, lambda r: [vecs[r]])
    assert found == {1: (3,), 3: (1,)}  # 2 is 3's second best: the same source holds its closer copy


def test_collapse_keeps_each_groups_best_ranked_member() -> None:
    assert twins.collapse([5, 2, 9, 1, 3], {2: (1,), 1: (2,), 9: (3,), 3: (9,)}) == [5, 2, 9]
    assert twins.update({1: (2,), 2: (1,), 3: (4,), 4: (3,)}, {4}, {}) == {1: (2,), 2: (1,)}


BODY = ("Fjordby kommune har laget en chatbot som svarer innbyggerne døgnet rundt på spørsmål om byggesøknader, "
        "reguleringsplaner og gebyrer, og som sender vanskelige saker videre til en saksbehandler.")


def _corpus() -> list[Record]:
    return [
        Record.build("digdir", "1", title="Chatbot for byggesøknader", description=BODY, organisation="Fjordby kommune",
                     country="NO", language="nb", status="implemented"),
        Record.build("pstw", "1", title="Chatbot for byggesøknader", description=BODY, organisation="Fjordby Municipality",
                     country="NO", language="nb", status="implemented"),
        Record.build("digdir", "2", title="Prognose for snøbrøyting", organisation="Fjordby kommune", country="NO",
                     description="Kommunen varsler brøyting ut fra værdata og trafikk, slik at mannskapene kommer i gang tidlig."),
        Record.build("digdir", "3", title="Chatbot for skatt", organisation="Nabovik kommune", country="NO",
                     description="Innbyggerne spør en chatbot om eiendomsskatt og gebyrer."),
    ]


def test_a_project_in_two_sources_is_one_result_with_both_and_never_its_own_similar(make_index: Make) -> None:
    idx = make_index()
    idx.upsert(_corpus())
    page = idx.search("chatbot for byggesøknader", limit=10)
    ids = [h.record.id for h in page.hits]
    assert len({"digdir-1", "pstw-1"} & set(ids)) == 1, ids
    first = page.hits[0]
    assert {first.record.id, *(t.id for t in first.twins)} == {"digdir-1", "pstw-1"}
    for rid in ("digdir-1", "pstw-1"):
        assert not {"digdir-1", "pstw-1"} & {h.record.id for h in idx.similar(rid)}
    partner = next(p for p in idx.partners("chatbot for byggesøknader").partners if "Fjordby" in p.organisation)
    assert partner.reason is not None and partner.reason.projects == len(partner.projects)
    assert sum(h.record.id in ("digdir-1", "pstw-1") for h in partner.projects) == 1  # the project counts once


def test_writes_find_and_forget_twins_as_a_rebuild_would(make_index: Make) -> None:
    idx = make_index()
    corpus = _corpus()
    idx.upsert([corpus[0], *corpus[2:]])
    idx.search("chatbot", limit=1)  # the snapshot exists, so the next writes advance it
    idx.upsert([corpus[1]])
    snap = idx._snapshot()
    a, b = snap.ids["digdir-1"], snap.ids["pstw-1"]
    assert snap.twins.get(a) == (b,) and snap.twins.get(b) == (a,)
    idx.delete(["pstw-1"])
    assert idx._snapshot().twins == {}
    idx.upsert([corpus[1].model_copy(update={"organisation": "Nabovik kommune"})])  # another body: not a twin
    assert idx._snapshot().twins == {}


@pytest.mark.shared
def test_kartai_in_the_norwegian_overview_and_pstw_is_one_result(make_index: Make) -> None:
    from erfa.ingest import read_file
    from erfa.index.corpora import DIGDIR, PSTW

    shared = shared_data_dir()
    if not (shared / DIGDIR).is_file() or not (shared / PSTW).is_file():
        pytest.skip("Norway's overview or the PSTW export is missing")
    digdir = [r for r in read_file(shared / DIGDIR).records if r.organisation == "Kristiansand kommune"]
    pstw = [r for r in read_file(shared / PSTW).records if r.country == "NO" and (r.organisation or "").startswith("Kristiansand")]
    kartai = [r for r in digdir + pstw if "kartai" in r.title.casefold()]
    assert {r.source for r in kartai} == {"digdir", "pstw"}, [r.id for r in kartai]
    others = [r for r in read_file(shared / DIGDIR).records if r.organisation in ("Stavanger kommune", "Bærum kommune")]
    idx = make_index()
    idx.upsert(digdir + pstw + others)
    snap = idx._snapshot()
    rows = [snap.ids[r.id] for r in kartai]
    assert snap.twins.get(rows[0]) == tuple(rows[1:])
    hits = idx.search(kartai[0].title, limit=5).hits
    assert sum(h.record.id in {r.id for r in kartai} for h in hits) == 1
    assert {t.id for t in hits[0].twins} | {hits[0].record.id} == {r.id for r in kartai}
    assert not {r.id for r in kartai} & {h.record.id for h in idx.similar(kartai[0].id)}
