"""Waivers and officers' additions: one table of the decisions taken against the selection.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspection_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("declaration_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("office_id", sa.String(200), nullable=False),
        sa.Column("code", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("lane", sa.String(20), nullable=True),
        sa.Column("profile_id", sa.String(64), nullable=True),
        sa.Column("profile_ids", sa.JSON(), nullable=False),
        sa.Column("draw_id", sa.Integer(), nullable=True),
        sa.Column("pick_reason", sa.String(80), nullable=True),
        sa.Column("selection_probability", sa.Float(), nullable=True),
        sa.Column("score_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("person", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("declaration_id", "action", name="uq_inspection_override"),
    )
    op.create_index("ix_inspection_overrides_recorded_at", "inspection_overrides", ["recorded_at"])
    op.create_index(
        "ix_inspection_overrides_office", "inspection_overrides", ["office_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inspection_overrides_office", table_name="inspection_overrides")
    op.drop_index("ix_inspection_overrides_recorded_at", table_name="inspection_overrides")
    op.drop_table("inspection_overrides")
