"""Sectors without labelled neighbours (issue 21): the shipped prototypes, their model check,
and the vote's measured confidence threshold."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from erfa.index import Encoder, ProjectIndex
from erfa.index.bodies import prototypes, sectors
from erfa.ingest import Record

# Our own texts, Norwegian as a Norway-only install holds them; no sector given.
NORWAY_ONLY = [
    ("syk-1", "KI-støtte til radiologer", "Maskinlæring markerer mulige brudd på røntgenbilder av pasienter."),
    ("syk-2", "Prognoser for sengebelegg", "Sykehuset forutsier hvor mange pasienter som legges inn på akuttmottaket."),
    ("syk-3", "Tidlig varsling av sepsis", "Modellen varsler sykepleiere når pasientens målinger tyder på sepsis."),
    ("skole-1", "Leksehjelp for elever", "En chatbot hjelper elever i grunnskolen med matematikk og lekser."),
    ("vei-1", "Hull i veien", "Kameraer på bussene finner hull og sprekker i veidekket på kommunale veier."),
    ("vei-2", "Trafikkprognoser", "Maskinlæring forutsier kø og reisetid for bilister og kollektivtrafikk."),
    ("miljo-1", "Vannkvalitet i innsjøer", "Satellittbilder brukes til å overvåke algeoppblomstring og vannkvalitet."),
    ("politi-1", "Analyse av straffesaker", "Politiet bruker språkmodeller til å sortere avhør i straffesaker."),
]  # fmt: skip


@pytest.fixture
def fresh_load() -> Iterator[None]:
    prototypes.load.cache_clear()  # a notice is logged once per process: each test sees its own
    yield
    prototypes.load.cache_clear()


def test_prototypes_are_shipped_for_the_default_model(encoder: Encoder, fresh_load: None) -> None:
    protos = prototypes.load(encoder.model_id, encoder.dim)
    assert protos is not None, "index/bodies/sector_prototypes.npz is missing or was built by another model"
    assert protos.dim == encoder.dim and len(protos.names) >= 10
    assert np.allclose(np.linalg.norm(protos.vectors, axis=1), 1, atol=1e-5)
    about = prototypes.PROVENANCE.read_text(encoding="utf-8")
    assert protos.model_id in about and "records_per_sector" in about


def test_a_norway_only_corpus_gets_sectors_from_the_prototypes(
    make_index: Callable[..., ProjectIndex], fresh_load: None
) -> None:
    idx = make_index()
    idx.upsert([Record.build("kommune", i, title=t, description=d, language="nb") for i, t, d in NORWAY_ONLY])
    snap = idx._snapshot()
    assert snap.sector_votes is not None and snap.sector_votes.prototypes is not None
    assert not snap.sector_votes.labels, "no record has a sector of its own: nothing for neighbours to vote with"
    got = {r.source_id: r.sector for r in snap.records.values() if r.sector_inferred}
    # The threshold keeps the prototypes to clear cases (about a quarter of real records get
    # one, models.md): some of these get a sector, and every one given fits the text.
    assert len(got) >= 2, got
    wrong = {i: s for i, s in got.items() if not s or i.split("-")[0] != _EXPECTED.get(s)}
    assert not wrong, (wrong, got)
    # a record written later (snapshot.advance, not a rebuild) is placed the same way
    xray = "Maskinlæring finner mulige brudd på røntgenbilder av pasienter ved sykehuset."
    idx.upsert([Record.build("kommune", "syk-4", title="KI for radiologer", description=xray, language="nb")])
    later = next(r for r in idx._snapshot().records.values() if r.source_id == "syk-4")
    assert (later.sector, later.sector_inferred) == ("health", True), later


_EXPECTED = {
    "health": "syk",
    "education": "skole",
    "transport": "vei",
    "environment": "miljo",
    "police_justice": "politi",
}


def test_another_model_disables_the_prototypes_with_a_log_line(
    caplog: pytest.LogCaptureFixture, fresh_load: None
) -> None:
    records = [Record.build("kommune", i, title=t, description=d, language="nb") for i, t, d in NORWAY_ONLY]
    vectors = np.eye(len(records), 384, dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="erfa.index"):
        assert sectors.SectorVotes.of(records, vectors, "someone-elses-model@1", 384) is None
        assert sectors.SectorVotes.of(records, vectors, prototypes.read().model_id, 768) is None
    notices = [r.getMessage() for r in caplog.records if "sector prototypes not used" in r.getMessage()]
    assert len(notices) == 2 and "someone-elses-model@1" in notices[0] and "dim 768" in notices[1], notices
    assert all(r.sector is None for r in sectors.with_sectors(records, vectors, None))


def test_prototypes_learn_save_and_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    centres = np.eye(3, 16, dtype=np.float32)
    labels = ["health"] * 6 + ["transport"] * 6 + ["energy"] * 6 + ["finance"] * 2  # finance: too few for one
    vecs = np.concatenate([np.repeat(centres, 6, axis=0), np.ones((2, 16), np.float32) / 4])
    vecs += rng.normal(0, 0.01, vecs.shape).astype(np.float32)
    protos = prototypes.SectorPrototypes.learn(labels, vecs, "toy@1")
    assert protos.names == ("energy", "health", "transport")
    assert protos.infer(centres) == ["health", "transport", "energy"]
    tie = (centres[0] + centres[1]) / np.sqrt(2)  # as near one as the other: no sector
    assert protos.infer(tie[None, :]) == [None]
    protos.save(tmp_path / "p.npz", tmp_path / "p.json", {"built": "today"})
    back = prototypes.read(tmp_path / "p.npz")
    assert back.names == protos.names and back.model_id == "toy@1" and np.array_equal(back.vectors, protos.vectors)
    assert '"dim": 16' in (tmp_path / "p.json").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="at least two sectors"):
        prototypes.SectorPrototypes.learn(["health"] * 9, vecs[:9], "toy@1")


def test_a_split_vote_gives_no_sector() -> None:
    """Below MIN_SHARE of the vote the record shows no sector rather than a likely wrong one."""
    dim = 8
    a, b, c = np.eye(dim, dtype=np.float32)[:3]
    # the ten nearest to `split` are six health and four transport records: 60 % of the vote
    voters = np.stack([a] * 6 + [b] * 4 + [c] * 30)
    votes = sectors.SectorVotes(voters, ("health",) * 6 + ("transport",) * 4 + ("education",) * 30)
    clear = a.copy()
    split = (a + b) / np.sqrt(2)
    assert votes.infer(np.stack([clear, split])) == ["health", None]
    winners, shares = votes.shares(np.stack([split]))
    assert winners[0] == "health" and abs(shares[0] - 0.6) < 1e-6 < sectors.MIN_SHARE - shares[0]
