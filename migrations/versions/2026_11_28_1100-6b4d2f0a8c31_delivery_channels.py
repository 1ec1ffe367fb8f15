"""Delivery channels: invoice channel and Chorus's own number, deposited documents; structures:
VAT number and preferred delivery format.

Revision ID: 6b4d2f0a8c31
Revises: 5a3c9e1f7b20
Create Date: 2026-11-28 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6b4d2f0a8c31"
down_revision: str | None = "5a3c9e1f7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    (
        "invoice",
        (
            ("chorus_channel", sa.String(length=16)),
            ("chorus_invoice_number", sa.String(length=40)),
            ("failure_code", sa.String(length=32)),
        ),
    ),
    (
        "supplier_structure",
        (
            ("vat_number", sa.String(length=20)),
            ("delivery_format", sa.String(length=16)),
        ),
    ),
)


def upgrade() -> None:
    # Nullable: invoices stored before keep the channel they were validated for (SAISIE_API,
    # or DEPOT_PDF_API with a PDF), which the code reads from a NULL channel.
    for table, columns in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in columns:
                batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.create_table(
        "deposited_document",
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("syntax", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("flux_number", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_deposited_document_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_deposited_document")),
    )


def downgrade() -> None:
    op.drop_table("deposited_document")
    for table, columns in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(columns):
                batch_op.drop_column(name)
