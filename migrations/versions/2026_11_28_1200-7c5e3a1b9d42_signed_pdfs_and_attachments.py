"""Signed PDFs (signer and time on invoice_document) and supporting documents
(invoice_attachment).

Revision ID: 7c5e3a1b9d42
Revises: 6b4d2f0a8c31
Create Date: 2026-11-28 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c5e3a1b9d42"
down_revision: str | None = "6b4d2f0a8c31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PDFs stored before signatures were looked at went as unsigned (DEPOT_PDF_API): false.
    with op.batch_alter_table("invoice_document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("signed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("signer", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "invoice_attachment",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=50), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_invoice_attachment_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_attachment")),
        sa.UniqueConstraint(
            "invoice_id", "position", name=op.f("uq_invoice_attachment_invoice_id_position")
        ),
    )
    with op.batch_alter_table("invoice_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_attachment_invoice_id"), ["invoice_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("invoice_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_attachment_invoice_id"))
    op.drop_table("invoice_attachment")
    with op.batch_alter_table("invoice_document", schema=None) as batch_op:
        batch_op.drop_column("signed_at")
        batch_op.drop_column("signer")
        batch_op.drop_column("signed")
