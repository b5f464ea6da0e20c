"""Searching a snapshot of the store: the derived structures (snapshot.py: vectors, keywords,
language space, facets), the searcher and its ranking, partners (organisations to ask),
the close-match marker (marker.py + marker.json), snippets, text handling and translation
of needs. Everything a query touches between the encoder and the page is here."""
