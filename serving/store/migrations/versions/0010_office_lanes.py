"""Worklist picks naming their risk profile, and each office's capacity and lane thresholds.

A worklist pick selected by a risk profile is a ``rule`` pick that names its profile
(``worklist_selections.profile_id``: answered as reason ``profile:<id>``; the reason column
keeps the category an outcome records). ``office_lanes`` keeps every capacity a risk manager
set for an office, with the red and yellow thresholds refitted from the office's recent
scores, who set them and when: append-only, the newest row per office in force.

Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("worklist_selections", sa.Column("profile_id", sa.String(64), nullable=True))
    op.create_table(
        "office_lanes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("office_id", sa.String(200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("yellow_capacity", sa.Integer(), nullable=True),
        sa.Column("red_threshold", sa.Float(), nullable=True),
        sa.Column("yellow_threshold", sa.Float(), nullable=True),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("fit", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_office_lanes_office", "office_lanes", ["office_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_office_lanes_office", table_name="office_lanes")
    op.drop_table("office_lanes")
    op.drop_column("worklist_selections", "profile_id")
