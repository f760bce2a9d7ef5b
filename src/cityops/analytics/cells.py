"""Adding counts to a roll-up table: insert each cell or add to it, in one shared order.

Both roll-up tables (``case_stats`` and ``case_cohorts``) are written the same way: one
``INSERT … ON CONFLICT (key) DO UPDATE SET m = m + excluded.m`` per cell, rows in key order so
two concurrent writers lock cells in the same order and cannot deadlock. Above ``_COPY_ABOVE``
cells a PostgreSQL write copies them into a temporary table and adds them in one statement
ordered by the database (text by code point, as Python orders it in the other path).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops import pgcopy

#: Above this many cells PostgreSQL takes the COPY path (an executemany of a simulated week's
#: ~80,000 upserts took seconds).
_COPY_ABOVE = 500


def _dialect(db: Session | Connection) -> str:
    return db.dialect.name if isinstance(db, Connection) else db.get_bind().dialect.name


@cache
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], measures: tuple[str, ...]) -> Any:
    """The statement adding counts to cells, built once (building it costs more than running
    it for one report)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={m: table.c[m] + stmt.excluded[m] for m in measures}
    )


def key_order(table: Table, keys: Sequence[str]) -> str:
    """PostgreSQL's ORDER BY for cells in Python's order of their key tuples."""
    return ", ".join(f'{k} COLLATE "C"' if isinstance(table.c[k].type, String) else k for k in keys)


def add(
    db: Session | Connection,
    table: Table,
    keys: tuple[str, ...],
    measures: tuple[str, ...],
    cells: list[tuple[Any, ...]],
) -> None:
    """Add ``cells`` (key values then measure values, in ``keys + measures`` order)."""
    if not cells:
        return
    dialect = _dialect(db)
    if dialect == "postgresql" and len(cells) > _COPY_ABOVE:
        _add_copy(db, table, keys, measures, cells)
        return
    names = (*keys, *measures)
    rows = [dict(zip(names, c, strict=True)) for c in sorted(cells)]
    db.execute(_upsert(dialect, table, keys, measures), rows)


def _add_copy(
    db: Session | Connection,
    table: Table,
    keys: tuple[str, ...],
    measures: tuple[str, ...],
    cells: list[tuple[Any, ...]],
) -> None:
    names = ", ".join((*keys, *measures))
    added = ", ".join(f"{m} = {table.name}.{m} + excluded.{m}" for m in measures)
    staged = f"cityops_bulk_{table.name}"
    with pgcopy.cursor(db) as cursor:
        pgcopy.stage(
            cursor, staged,
            f"ON COMMIT DELETE ROWS AS SELECT {names} FROM {table.name} WITH NO DATA",
            (*keys, *measures), cells,
        )  # fmt: skip
        cursor.execute(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staged} "
            f"ORDER BY {key_order(table, keys)} ON CONFLICT ({', '.join(keys)}) "
            f"DO UPDATE SET {added}"
        )
