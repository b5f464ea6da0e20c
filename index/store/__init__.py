"""Where the records live: the `RecordStore` protocol (protocol.py), SQLite's `Store` and the
per-thread SQLite file rules every SQLite file of erfa's uses (sqlite.py), and PostgreSQL's
store (postgres.py) with its schema (schema.py). Kept apart from search so that what is
stored, and how it is stored, can be read without the search structures built from it."""
