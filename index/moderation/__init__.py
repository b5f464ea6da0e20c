"""Submissions people send through the form and the moderation of them before they become
records: the SQLite submission store (submissions.py) and its PostgreSQL twin (postgres.py)."""
