"""Operational store: scored declarations, worklists, inspection outcomes, drift reports."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = 200


def upgrade() -> None:
    op.create_table(
        "scored_declarations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("declaration_id", sa.String(ID), nullable=False),
        sa.Column("office_id", sa.String(ID), nullable=False),
        sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lodged_day", sa.Date(), nullable=False),
        sa.Column("declaration", sa.JSON(), nullable=False),
        sa.Column("risk", sa.JSON(), nullable=False),
        sa.Column("overall", sa.Float(), nullable=False),
        sa.Column("lane", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_scored_declarations_declaration", "scored_declarations", ["declaration_id", "id"]
    )
    op.create_index(
        "ix_scored_declarations_office_day", "scored_declarations", ["office_id", "lodged_day"]
    )
    op.create_index("ix_scored_declarations_scored_at", "scored_declarations", ["scored_at"])

    op.create_table(
        "worklist_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("office_id", sa.String(ID), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("exploration_share", sa.Float(), nullable=False),
        sa.Column("pool_size", sa.Integer(), nullable=False),
        sa.Column("pool_digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("office_id", "day", "capacity", "pool_digest", name="uq_worklist_run"),
    )
    op.create_table(
        "worklist_selections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("worklist_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("office_id", sa.String(ID), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("declaration_id", sa.String(ID), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("selection_probability", sa.Float(), nullable=False),
        sa.Column("expected_harm", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "declaration_id", name="uq_worklist_selection"),
    )
    op.create_index("ix_worklist_selections_declaration", "worklist_selections", ["declaration_id"])

    op.create_table(
        "inspection_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("declaration_id", sa.String(ID), nullable=False),
        sa.Column("inspected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inspection_type", sa.String(20), nullable=False),
        sa.Column("selection_reason", sa.String(20), nullable=True),
        sa.Column("selection_probability", sa.Float(), nullable=True),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("weapons_found", sa.Boolean(), nullable=False),
        sa.Column("migrants_found", sa.Float(), nullable=True),
        sa.Column("revenue_irregularity", sa.Boolean(), nullable=False),
        sa.Column("additional_duty_eur", sa.Float(), nullable=True),
        sa.Column("concealment", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("declaration_id", "inspected_at", name="uq_outcome_inspection"),
    )

    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drift_reports")
    op.drop_table("inspection_outcomes")
    op.drop_index("ix_worklist_selections_declaration", "worklist_selections")
    op.drop_table("worklist_selections")
    op.drop_table("worklist_runs")
    op.drop_index("ix_scored_declarations_scored_at", "scored_declarations")
    op.drop_index("ix_scored_declarations_office_day", "scored_declarations")
    op.drop_index("ix_scored_declarations_declaration", "scored_declarations")
    op.drop_table("scored_declarations")
