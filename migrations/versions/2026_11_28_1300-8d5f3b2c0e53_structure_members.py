"""Structure members: API clients attached to a supplier structure (principal or member), their
attachment requests, and the structure's audit list.

Revision ID: 8d5f3b2c0e53
Revises: 7c5e3a1b9d42
Create Date: 2026-11-28 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8d5f3b2c0e53"
down_revision: str | None = "7c5e3a1b9d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "structure_membership",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("structure_siret", sa.String(length=14), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("key_issued", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_client.id"],
            name=op.f("fk_structure_membership_client_id_api_client"),
        ),
        sa.ForeignKeyConstraint(
            ["structure_siret"],
            ["supplier_structure.siret"],
            name=op.f("fk_structure_membership_structure_siret_supplier_structure"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_structure_membership")),
        sa.UniqueConstraint(
            "structure_siret",
            "client_id",
            name=op.f("uq_structure_membership_structure_siret_client_id"),
        ),
    )
    with op.batch_alter_table("structure_membership", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_structure_membership_client_id"), ["client_id"], unique=False
        )
        # At most one principal per structure, whatever races.
        batch_op.create_index(
            "uq_structure_membership_principal",
            ["structure_siret"],
            unique=True,
            postgresql_where=sa.text("role = 'principal'"),
            sqlite_where=sa.text("role = 'principal'"),
        )
    op.create_table(
        "structure_audit",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("structure_siret", sa.String(length=14), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor_client_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("subject_client_id", sa.String(length=32), nullable=True),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_structure_audit")),
    )
    with op.batch_alter_table("structure_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_structure_audit_structure_siret"), ["structure_siret"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("structure_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_structure_audit_structure_siret"))
    op.drop_table("structure_audit")
    with op.batch_alter_table("structure_membership", schema=None) as batch_op:
        batch_op.drop_index("uq_structure_membership_principal")
        batch_op.drop_index(batch_op.f("ix_structure_membership_client_id"))
    op.drop_table("structure_membership")
