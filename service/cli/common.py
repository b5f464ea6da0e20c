"""What every `erfa` command shares: opening the index the settings name. In its own module
so that the moderation commands and the rest use one seam (tests replace `index` here to
share one loaded model) without the two command modules importing each other."""

from __future__ import annotations

from erfa.index import ProjectIndex
from erfa.service.database import open_index
from erfa.service.settings import Settings


def index(settings: Settings) -> ProjectIndex:
    return open_index(settings)  # SQLite in ERFA_HOME, or PostgreSQL with ERFA_DATABASE_URL
