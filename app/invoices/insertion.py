"""Writing a new invoice: its rows in one statement on PostgreSQL, in one transaction on SQLite.

This is the hot path of ingestion. The ORM's unit of work cost more CPU per invoice than the
database itself (bench/README.md), so the rows are plain dictionaries written with Core.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, Table, TextClause, bindparam, delete, insert, text
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event
from app.idempotency.models import IdempotencyRecord
from app.invoices.models import Invoice, InvoiceLine, InvoiceStatusChange
from app.outbox.models import OutboxItem

_INVOICE, _LINE, _HISTORY, _EVENT, _OUTBOX, _KEY = (
    cast(Table, model.__table__)
    for model in (Invoice, InvoiceLine, InvoiceStatusChange, Event, OutboxItem, IdempotencyRecord)
)


TABLES = {table.name: table for table in (_INVOICE, _LINE, _HISTORY, _EVENT, _OUTBOX, _KEY)}


class DuplicateNaturalKey(Exception):
    """The invoice's (supplier, number, type) is taken: nothing was written (SQLite)."""


@dataclass(frozen=True, slots=True)
class NewInvoiceRows:
    """Everything one accepted invoice writes, as column values."""

    invoice: dict[str, Any]
    lines: list[dict[str, Any]]
    history: dict[str, Any]
    event: dict[str, Any]
    outbox: list[dict[str, Any]]
    # The Idempotency-Key with the response it will replay (None without the header).
    idempotency: dict[str, Any] | None = None


async def insert_new_invoice(
    session: AsyncSession, rows: NewInvoiceRows, *, whole_unit_of_work: bool = False
) -> bool:
    """Write `rows` in the session's transaction; False when the Idempotency-Key is taken.

    On False nothing was written. A taken natural key (supplier, number, type) raises, and
    nothing was written either: on PostgreSQL the one statement fails as a whole
    (`IntegrityError`); on SQLite the invoice's row is inserted first and skipped on conflict
    (`DuplicateNaturalKey`), and a taken Idempotency-Key after it takes that row back, under
    the write lock the transaction took at BEGIN IMMEDIATE. Only a PostgreSQL statement inside
    a longer transaction (`needs_savepoint`) leaves that transaction aborted on failure.

    `whole_unit_of_work`: the caller writes nothing else in this transaction. On PostgreSQL the
    one statement is then its own transaction (`autocommits`), which saves the BEGIN and COMMIT
    round trips: a single statement is atomic, and durable when it returns.
    """
    if session.get_bind().dialect.name == "postgresql":
        alone = autocommits(session, rows, whole_unit_of_work=whole_unit_of_work)
        return await _insert_in_one_statement(session, rows, autocommit=alone)
    return await _insert_one_by_one(session, rows)


def needs_savepoint(
    session: AsyncSession, rows: NewInvoiceRows, *, whole_unit_of_work: bool
) -> bool:
    """Whether a failed `insert_new_invoice` would leave the session's transaction unusable:
    PostgreSQL aborts a transaction on an error, unless the statement was its own."""
    return session.get_bind().dialect.name == "postgresql" and not autocommits(
        session, rows, whole_unit_of_work=whole_unit_of_work
    )


def autocommits(session: AsyncSession, rows: NewInvoiceRows, *, whole_unit_of_work: bool) -> bool:
    """Whether `insert_new_invoice` writes `rows` as a transaction of its own (PostgreSQL)."""
    return (
        whole_unit_of_work
        and session.get_bind().dialect.name == "postgresql"
        and len(rows.lines) <= LINES_IN_STATEMENT
        and not session.in_transaction()
    )


# Lines go inside the one statement up to this many (10 parameters each, far below the 32,767
# a PostgreSQL statement takes); a longer invoice sends its lines as a second statement.
LINES_IN_STATEMENT = 200


def _tables(rows: NewInvoiceRows) -> list[tuple[Table, list[dict[str, Any]]]]:
    """Each table with the rows it gets, parents first."""
    return [
        (_INVOICE, [rows.invoice]),
        (_LINE, rows.lines),
        (_HISTORY, [rows.history]),
        (_EVENT, [rows.event]),
        (_OUTBOX, rows.outbox),
    ]


# (table name, column names, row count) per table, in order, and whether a key is remembered.
_Shape = tuple[tuple[tuple[str, tuple[str, ...], int], ...], bool]


async def _insert_in_one_statement(
    session: AsyncSession, rows: NewInvoiceRows, *, autocommit: bool
) -> bool:
    inline_lines = len(rows.lines) <= LINES_IN_STATEMENT
    tables = [
        (table, values)
        for table, values in _tables(rows)
        if values and (table is not _LINE or inline_lines)
    ]
    if rows.idempotency is not None:
        tables.append((_KEY, [rows.idempotency]))
    shape: _Shape = (
        tuple((table.name, tuple(values[0]), len(values)) for table, values in tables),
        rows.idempotency is not None,
    )
    parameters = {
        _parameter(table.name, index, column): value
        for table, values in tables
        for index, row in enumerate(values)
        for column, value in row.items()
    }
    # Only when the session has no connection yet: the option applies to a new one.
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else None
    connection = await session.connection(execution_options=options)
    result = await connection.execute(_one_statement(shape), parameters)
    if rows.idempotency is not None and result.first() is None:
        return False
    if not inline_lines:
        await session.execute(insert(_LINE), rows.lines)
    return True


def _parameter(table: str, index: int, column: str) -> str:
    return f"{table}_{index}_{column}"


@functools.lru_cache(maxsize=2 * (LINES_IN_STATEMENT + 1))
def _one_statement(shape: _Shape) -> TextClause:
    """The SQL for rows of this shape, written once from the tables' metadata.

    Written as text because SQLAlchemy does not cache the compilation of a multi-row INSERT
    (it cost 30 ms per invoice here); a text with typed parameters is compiled once.
    """
    tables, remembers = shape
    quote = PGDialect().identifier_preparer.quote  # type: ignore[no-untyped-call]
    parameters: list[BindParameter[Any]] = []

    def values_sql(name: str, columns: tuple[str, ...], count: int) -> str:
        table = TABLES[name]
        rows = []
        for index in range(count):
            names = [_parameter(name, index, column) for column in columns]
            parameters.extend(
                bindparam(parameter, type_=table.c[column].type)
                for parameter, column in zip(names, columns, strict=True)
            )
            rows.append("(" + ", ".join(f":{parameter}" for parameter in names) + ")")
        return "VALUES " + ", ".join(rows)

    def insert_sql(name: str, columns: tuple[str, ...], count: int, *, if_key: bool) -> str:
        listed = ", ".join(quote(column) for column in columns)
        values = values_sql(name, columns, count)
        if if_key:
            # Typed parameters (the dialect casts each one) keep the VALUES' column types.
            values = f"SELECT * FROM ({values}) AS given WHERE EXISTS (SELECT FROM new_key)"  # noqa: S608
        # Names come from the tables' metadata; every value is a bound parameter.
        return f"INSERT INTO {quote(name)} ({listed}) {values}"

    # Data-modifying CTEs all run, referenced or not, and foreign keys are checked at the end
    # of the statement: one round trip writes the invoice and everything hanging from it.
    ctes = []
    if remembers:
        # The key first, and every other row only if it was taken: a key another request
        # holds leaves nothing written, even when the statement is its own transaction.
        name, columns, count = tables[-1]
        key = insert_sql(name, columns, count, if_key=False)
        ctes.append(f"new_key AS ({key} ON CONFLICT DO NOTHING RETURNING {quote('key')})")
    ctes += [
        f"{quote('new_' + name)} AS ({insert_sql(name, columns, count, if_key=remembers)})"
        for name, columns, count in (tables[:-1] if remembers else tables)
    ]
    main = f"SELECT {quote('key')} FROM new_key" if remembers else "SELECT 1"  # noqa: S608
    return text("WITH " + ",\n".join(ctes) + "\n" + main).bindparams(*parameters)


# Prepared once: an invoice whose (supplier, number, type) is taken, or a key that is, writes
# nothing and says so by its row count, leaving SQLite's transaction usable (no savepoint).
_NEW_INVOICE = sqlite_insert(_INVOICE).on_conflict_do_nothing(
    index_elements=[_INVOICE.c.supplier_siret, _INVOICE.c.invoice_number, _INVOICE.c.type]
)
_NEW_KEY = sqlite_insert(_KEY).on_conflict_do_nothing()
_FORGET_INVOICE = delete(_INVOICE).where(_INVOICE.c.id == bindparam("invoice_id"))


async def _insert_one_by_one(session: AsyncSession, rows: NewInvoiceRows) -> bool:
    # The transaction holds SQLite's write lock from BEGIN IMMEDIATE: no other writer comes
    # between these statements, so the undo below leaves the database as it found it.
    if _row_count(await session.execute(_NEW_INVOICE, rows.invoice)) != 1:
        raise DuplicateNaturalKey
    if rows.idempotency is not None and (
        _row_count(await session.execute(_NEW_KEY, rows.idempotency)) != 1
    ):
        await session.execute(_FORGET_INVOICE, {"invoice_id": rows.invoice["id"]})
        return False
    for table, values in _tables(rows)[1:]:
        if values:
            await session.execute(insert(table), values)
    return True


def _row_count(result: object) -> int:
    return int(getattr(result, "rowcount", 0))
