"""Access and accountability: API keys and the hash-chained consultation log."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = 200


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("offices", sa.JSON(), nullable=True),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "audit_records",
        sa.Column("sequence", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("declaration_ids", sa.JSON(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_records_recorded_at", "audit_records", ["recorded_at"])
    op.create_index("ix_audit_records_key", "audit_records", ["key_id", "sequence"])
    op.create_table(
        "audit_declarations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "sequence",
            sa.Integer(),
            sa.ForeignKey("audit_records.sequence", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("declaration_id", sa.String(ID), nullable=False),
    )
    op.create_index(
        "ix_audit_declarations_declaration", "audit_declarations", ["declaration_id", "sequence"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_declarations_declaration", table_name="audit_declarations")
    op.drop_table("audit_declarations")
    op.drop_index("ix_audit_records_key", table_name="audit_records")
    op.drop_index("ix_audit_records_recorded_at", table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_table("api_keys")
