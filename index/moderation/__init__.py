"""Submissions people send through the form and the moderation of them before they become
records: what a submission is and the rules every queue keeps (submissions.py), the queue
protocol (queue.py) with its SQLite (sqlite.py) and PostgreSQL (postgres.py) implementations
over one schema (schema.py), and approve/reject across queue and index (workflow.py)."""
