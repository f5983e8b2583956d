"""Prepared statements for the hot path: Core statements compiled once per dialect.

``use()`` runs on every read of personal data, so its few statements are written in
SQLAlchemy Core like every other, compiled once for the database's dialect, and
executed on the DBAPI cursor of a pooled connection. Bind and result values go through
the columns' own type processors, so values are stored exactly as Core would store
them. This removes per-call statement caching and execution-context costs, which
measured several times the database's own work (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, ReturnsRows

__all__ = ["PreparedStatement", "raw_transaction"]

Processor = Callable[[Any], Any] | None


class PreparedStatement:
    """One Core statement compiled for one dialect, run on a raw DBAPI cursor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._names: Sequence[str] | None = (
            list(compiled.positiontup or []) if compiled.positional else None
        )
        # Values the statement carries itself (literals, SQLite's OFFSET 0 after a LIMIT).
        self._defaults: dict[str, Any] = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required and bind.effective_value is not None
        }
        self._binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in ((key, compiled.binds[key]) for key in compiled.binds)
        }
        columns: list[Any] = []
        if isinstance(statement, ReturnsRows):  # SELECT, or DML with RETURNING
            columns = list(statement.exported_columns)
        processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self._results = [(i, p) for i, p in enumerate(processors) if p is not None]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """Values converted by each column's bind processor, in the dialect's style."""
        given = {**self._defaults, **values}
        converted = {
            name: (processor(given[name]) if processor else given[name])
            for name, processor in self._binds.items()
            if name in given
        }
        if self._names is None:
            return converted
        return [converted[name] for name in self._names]

    def execute(self, cursor: Any, values: Mapping[str, Any]) -> None:
        """Run the statement on ``cursor``."""
        cursor.execute(self.sql, self.parameters(values))

    def fetch(
        self, cursor: Any, values: Mapping[str, Any], *, convert: bool = True
    ) -> list[tuple[Any, ...]]:
        """Run a SELECT (or INSERT … RETURNING) and return its rows.

        With ``convert=False`` rows come as the driver gives them; :meth:`convert`
        then applies the result processors to just the rows that need them.
        """
        self.execute(cursor, values)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        if not convert or not self._results:
            return rows
        return [self.convert(row) for row in rows]

    def convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """Apply the columns' result processors to one raw row."""
        if not self._results:
            return row
        values = list(row)
        for index, processor in self._results:
            values[index] = processor(values[index])
        return tuple(values)


@contextmanager
def raw_transaction(engine: Engine) -> Iterator[Any]:
    """A DBAPI cursor inside one transaction on a pooled connection.

    SQLite connections run in autocommit mode (see ``database.py``), so the
    transaction is opened with BEGIN IMMEDIATE, as Core transactions are; psycopg
    opens one implicitly on the first statement.
    """
    dbapi = engine.raw_connection()
    try:
        cursor = dbapi.cursor()
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            if sqlite:
                cursor.execute("ROLLBACK")
            else:
                dbapi.rollback()
            raise
        else:
            if sqlite:
                cursor.execute("COMMIT")
            else:
                dbapi.commit()
        finally:
            cursor.close()
    finally:
        dbapi.close()
