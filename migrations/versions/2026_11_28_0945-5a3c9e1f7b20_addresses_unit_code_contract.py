"""Invoices: parties' addresses, contract reference; lines: unit code; structures: address.

Revision ID: 5a3c9e1f7b20
Revises: 2f8d1b3c4e52
Create Date: 2026-11-28 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a3c9e1f7b20"
down_revision: str | None = "2f8d1b3c4e52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_COLUMNS = (
    ("supplier_address_line1", sa.String(length=200)),
    ("supplier_address_line2", sa.String(length=200)),
    ("supplier_postal_code", sa.String(length=16)),
    ("supplier_city", sa.String(length=100)),
    ("supplier_country_code", sa.String(length=2)),
    ("buyer_address_line1", sa.String(length=200)),
    ("buyer_address_line2", sa.String(length=200)),
    ("buyer_postal_code", sa.String(length=16)),
    ("buyer_city", sa.String(length=100)),
    ("buyer_country_code", sa.String(length=2)),
    ("contract_reference", sa.String(length=50)),
)
LINE_COLUMNS = (("unit_code", sa.String(length=3)),)
STRUCTURE_COLUMNS = (
    ("address_line1", sa.String(length=200)),
    ("address_line2", sa.String(length=200)),
    ("postal_code", sa.String(length=16)),
    ("city", sa.String(length=100)),
    ("country_code", sa.String(length=2)),
)
TABLES = (
    ("invoice", INVOICE_COLUMNS),
    ("invoice_line", LINE_COLUMNS),
    ("supplier_structure", STRUCTURE_COLUMNS),
)


def upgrade() -> None:
    # Nullable, no default: rows stored before have no address (the structure's or the
    # directory's applies) and their lines are counted in C62, which the code supplies.
    for table, columns in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in columns:
                batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for table, columns in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(columns):
                batch_op.drop_column(name)
