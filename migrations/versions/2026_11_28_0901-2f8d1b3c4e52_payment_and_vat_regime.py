"""Invoices: payment means and VAT regime; structures: default VAT regime.

Revision ID: 2f8d1b3c4e52
Revises: 1e7c0a2b3d41
Create Date: 2026-11-28 09:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2f8d1b3c4e52"
down_revision: str | None = "1e7c0a2b3d41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_COLUMNS = (
    ("validator_siret", sa.String(length=14)),
    ("vat_regime", sa.String(length=32)),
    ("vat_exemption_reason", sa.String(length=255)),
    ("payment_means", sa.String(length=16)),
    ("payment_iban", sa.String(length=34)),
    ("payment_bic", sa.String(length=11)),
    ("payment_terms", sa.Text()),
)
STRUCTURE_COLUMNS = (
    ("vat_regime", sa.String(length=32)),
    ("vat_exemption_reason", sa.String(length=255)),
)


def upgrade() -> None:
    # Nullable: invoices stored before are read as TVA_SUR_DEBIT and, unless credit notes,
    # VIREMENT (the values every one of them was sent with).
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        for name, type_ in INVOICE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("supplier_structure", schema=None) as batch_op:
        for name, type_ in STRUCTURE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("supplier_structure", schema=None) as batch_op:
        for name, _ in reversed(STRUCTURE_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        for name, _ in reversed(INVOICE_COLUMNS):
            batch_op.drop_column(name)
