"""Django's PostgreSQL backend with server-side parameter binding kept under PostgreSQL's
limit of 65,535 parameters per statement (see base.py)."""
