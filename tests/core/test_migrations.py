"""The shipped migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from cityops.db import Base, make_engine
from cityops.migrate import upgrade


def test_upgrade_from_empty_matches_the_models(backend, db_url, tmp_path):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        # A schema of its own, so the fixtures' create_all tables do not hide a missing migration.
        schema = f"mig_{tmp_path.name[-20:].lower().replace('-', '_')}"
        admin = make_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = db_url.rsplit("%3D", 1)[0] + f"%3D{schema}"
    upgrade(url)
    upgrade(url)  # idempotent: already at head
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], diff
    finally:
        engine.dispose()
