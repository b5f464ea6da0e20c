"""Embed, store and search project records.

`ProjectIndex` is the public face: the service layer talks to it and never to FAISS
or SQLite directly.
"""

from erfa.index.engine import MAX_WINDOW, Hit, Partner, PartnersPage, ProjectIndex, SearchPage, UpsertSummary
from erfa.index.model.encoder import DEFAULT_MODEL, Encoder, ModelError
from erfa.index.search.facets import FACET_FIELDS, LIST_FILTERS, FilterError, Filters

__all__ = [
    "DEFAULT_MODEL",
    "FACET_FIELDS",
    "LIST_FILTERS",
    "MAX_WINDOW",
    "Encoder",
    "FilterError",
    "Filters",
    "Hit",
    "ModelError",
    "Partner",
    "PartnersPage",
    "ProjectIndex",
    "SearchPage",
    "UpsertSummary",
]
