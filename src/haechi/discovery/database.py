"""Database source: every table SQLAlchemy can reflect, all rows or a sample.

Columns whose type can hold text or long integers are read (strings, JSON, big
integers and types SQLAlchemy cannot map to Python); dates, booleans, floats and
binary columns are not. Rows are streamed (``yield_per``) and turned into record
chunks: one value per line, prefixed by its column name so a column called
``account_no`` is context for the recognizers. A finding's location is the table,
the column and the row's primary key (``id=42``; ``row=7`` without one).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from haechi.discovery.chunks import RecordChunk, record_chunk
from haechi.discovery.findings import Location
from haechi.errors import InvalidInput

__all__ = ["DatabaseStats", "database_chunks", "safe_url"]

_READ_TYPES = (str, int, dict, list, object)


@dataclass(slots=True)
class DatabaseStats:
    """What a database scan covered."""

    tables: int = 0
    rows: int = 0


def safe_url(url: str) -> str:
    """Return ``url`` with any password hidden, for reports."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise InvalidInput("not a database URL", field="db_url") from None


def _readable(column: object) -> bool:
    try:
        python_type = column.type.python_type  # type: ignore[attr-defined]
    except NotImplementedError:
        return True
    return python_type in _READ_TYPES


def _text(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value) if abs(value) >= 100_000 else None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return None


def database_chunks(
    url: str,
    *,
    sample: int | None = None,
    tables: Collection[str] | None = None,
    schema: str | None = None,
    batch: int = 1000,
    stats: DatabaseStats | None = None,
) -> Iterator[RecordChunk]:
    """Yield record chunks for every readable column of every reflected table.

    ``sample`` limits each table to its first rows (by primary key); ``tables``
    limits the scan to those table names. ``stats`` (if given) is filled in.
    """
    from sqlalchemy import MetaData, create_engine, select
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if sample is not None and sample < 1:
        raise InvalidInput("sample must be a positive number of rows", field="sample")
    shown = safe_url(url)
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as error:
        raise InvalidInput(
            f"cannot use database URL {shown}: {type(error).__name__}", field="db_url"
        ) from None
    counters = stats if stats is not None else DatabaseStats()
    try:
        metadata = MetaData(schema=schema)
        only = list(tables) if tables is not None else None
        metadata.reflect(bind=engine, only=only, views=False)
        for table in metadata.sorted_tables:
            key_columns = list(table.primary_key.columns)
            columns = [c for c in table.columns if _readable(c) and c not in key_columns]
            columns += [c for c in key_columns if _readable(c)]
            if not columns:
                continue
            counters.tables += 1
            statement = select(*key_columns, *columns)
            if key_columns:
                statement = statement.order_by(*key_columns)
            if sample is not None:
                statement = statement.limit(sample)
            table_name = table.fullname
            width = len(key_columns)
            names = [column.name for column in columns]
            ordinal = 0
            with engine.connect() as connection:
                result = connection.execution_options(stream_results=True, yield_per=batch).execute(
                    statement
                )
                for partition in result.partitions():
                    items: list[tuple[str, str, Location]] = []
                    for row in partition:
                        ordinal += 1
                        if width:
                            row_key = ",".join(
                                f"{column.name}={row[i]}" for i, column in enumerate(key_columns)
                            )
                        else:
                            row_key = f"row={ordinal}"
                        for name, value in zip(names, row[width:], strict=True):
                            text = _text(value)
                            if text is not None:
                                location = Location(
                                    shown, table=table_name, field=name, row_key=row_key
                                )
                                items.append((name, text, location))
                    counters.rows += len(partition)
                    if items:
                        yield record_chunk(items)
    except SQLAlchemyError as error:
        raise InvalidInput(
            f"cannot scan database {shown}: {type(error).__name__}", field="db_url"
        ) from None
    finally:
        engine.dispose()
