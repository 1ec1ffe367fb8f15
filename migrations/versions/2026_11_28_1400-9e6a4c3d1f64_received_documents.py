"""Received documents: the ERP's own UBL, CII or Factur-X, deposited as received.

Revision ID: 9e6a4c3d1f64
Revises: 8d5f3b2c0e53
Create Date: 2026-11-28 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9e6a4c3d1f64"
down_revision: str | None = "8d5f3b2c0e53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a PDF uploaded with a JSON invoice (every row before this) is no such document.
    with op.batch_alter_table("invoice_document", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_syntax", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_document", schema=None) as batch_op:
        batch_op.drop_column("received_syntax")
