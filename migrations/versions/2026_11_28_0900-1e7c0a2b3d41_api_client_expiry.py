"""API clients: optional key expiry, and when a key was last rotated.

Revision ID: 1e7c0a2b3d41
Revises: bb695ef472a3
Create Date: 2026-11-28 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1e7c0a2b3d41"
down_revision: str | None = "bb695ef472a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot alter tables in place; PostgreSQL runs plain ALTER TABLEs.
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("expires_at")
