"""Alembic's scripts for the tenant's database: `env.py` and one file per revision in
`versions/`. The code that runs them is tenant/store/migrate.py (`jukebox tenant migrate`).

A change to tenant/store/schema.py needs a revision here (tests/tenant/test_migrations.py
fails until the migrations at head match the schema). Write it by hand, or start from:

    .venv/bin/alembic -c tenant/migrations/alembic.ini revision -m "what changes"
"""
