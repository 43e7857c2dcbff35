"""Fixtures for the storage test suite: the same tests run against SQLite and
PostgreSQL through one parametrised `db` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.store.sql import migrations
from modelyard.store.sql.db import Database


@pytest.fixture(scope="session")
def migrated_pg(pg_database: str) -> Iterator[Database]:
    """The session's throwaway PostgreSQL database (modelyard_test_<random>), migrated once."""
    database = Database(pg_database)
    migrations.upgrade(database)
    yield database
    database.close()


def _empty_pg(database: Database) -> None:
    # Migrating a database costs ~0.4 s on PostgreSQL, emptying it ~40 ms; with
    # identities restarted the tables are as good as new.
    with database.write() as tx:
        tables = [
            row[0]
            for row in tx.all(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            names = ", ".join(f'"{name}"' for name in tables)
            tx.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty metadata database with every migration applied, on each backend."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'store.db'}")
        migrations.upgrade(database)
        yield database
        database.close()
    else:
        database = request.getfixturevalue("migrated_pg")
        _empty_pg(database)
        yield database
