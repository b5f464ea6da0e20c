"""One adapter per source format: numbered raw rows in, numbered Records (or the
reason a row could not become one) out. Adapters know column names and vocabularies,
never files or encodings; `erfa.ingest.reader` wires them to the row sources."""
