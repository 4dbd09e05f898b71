"""Migration tests: the schema as it was, data written through its historical models, then
forward to today's. Shared so that each such test states only its starting point and its
data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Moves the test database to `targets` and returns the historical apps there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def leaves() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def leaves_but(app: str, migration: str) -> list[tuple[str, str]]:
    """Every app at its leaf, `app` at `migration`."""
    return [(a, migration) if a == app else (a, name) for a, name in leaves()]


@contextmanager
def schema_at(targets: list[tuple[str, str]]) -> Iterator[Any]:
    """The historical apps at `targets`; whatever the test did, the next one finds today's
    schema."""
    apps = migrate(targets)
    try:
        yield apps
    finally:
        migrate(leaves())
