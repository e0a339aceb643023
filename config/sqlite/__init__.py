"""Django's SQLite backend with the writers of a process queued in that process (base.py)."""
