"""The bench's fixed query set: needs as a public-sector user would type them, in the
five languages erfa serves. Base needs are combined with short context phrases to get
many distinct strings, so "cold" queries are really new to the service (no cache hit)."""

from __future__ import annotations

BASE: dict[str, list[str]] = {
    "nb": [
        "chatbot som svarer på spørsmål om byggesøknader",
        "verktøy for å transkribere møter",
        "maskinlæring for å oppdage svindel med trygdeytelser",
        "automatisk sortering av innkommende post",
        "språkmodell som hjelper saksbehandlere å skrive vedtak",
        "prediksjon av sykefravær",
        "bildegjenkjenning av skader på veier",
        "anonymisering av personopplysninger i dokumenter",
    ],
    "nn": [
        "chatbot som svarar på spørsmål frå innbyggjarar",
        "maskinlæring for å føresjå kva elevar som treng hjelp",
        "automatisk omsetjing av nettsider til nynorsk",
        "tale til tekst i helsetenesta",
        "kunstig intelligens i barnevernet",
        "analyse av satellittbilete for skogforvaltning",
    ],
    "sv": [
        "chattbot som svarar på frågor om bygglov",
        "AI för att upptäcka felaktiga utbetalningar",
        "automatisk klassificering av ärenden i kommunen",
        "taligenkänning för att dokumentera möten",
        "prognoser för vårdplatser på sjukhus",
        "språkmodell för att sammanfatta remissvar",
        "bildanalys för att upptäcka cancer",
        "optimering av kollektivtrafikens linjer",
    ],
    "da": [
        "chatbot der besvarer borgernes spørgsmål",
        "talegenkendelse i ældreplejen",
        "automatisk journalisering af dokumenter",
        "maskinlæring til at forudsige genindlæggelser",
        "kunstig intelligens i sagsbehandling af byggetilladelser",
        "analyse af trafikdata med AI",
    ],
    "en": [
        "chatbot answering citizens' questions about permits",
        "machine learning to detect tax fraud",
        "speech to text for meeting minutes",
        "predicting hospital readmissions",
        "computer vision for road maintenance",
        "large language model to draft letters to citizens",
        "document classification for records management",
        "forecasting demand for social services",
    ],
}

CONTEXT: dict[str, list[str]] = {
    "nb": ["i kommunen", "for staten", "med åpne data", "i helseforetak"],
    "nn": ["i kommunen", "i fylket", "med opne data", "i helseføretak"],
    "sv": ["i kommunen", "för myndigheter", "med öppna data", "i regionen"],
    "da": ["i kommunen", "i regionen", "med åbne data", "for staten"],
    "en": ["in a municipality", "for a national agency", "with open data", "in healthcare"],
}


def cold_queries(n: int) -> list[str]:
    """n distinct needs, languages interleaved: the base needs first, then with contexts."""
    pools = [[q for q in BASE[lang]] + [f"{q} {c}" for c in CONTEXT[lang] for q in BASE[lang]] for lang in BASE]
    out: list[str] = []
    i = 0
    while len(out) < n and any(i < len(p) for p in pools):
        for p in pools:
            if i < len(p) and len(out) < n:
                out.append(p[i])
        i += 1
    return out


def repeat_queries() -> list[str]:
    """Ten popular needs (two per language) that a portal would show again and again."""
    return [q for lang in BASE for q in BASE[lang][:2]]
