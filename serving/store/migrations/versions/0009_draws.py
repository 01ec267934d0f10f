"""Worklist draws as versions, outcomes naming their draw, and performance reports.

Every worklist draw of an office and day gets its version number (existing draws numbered in
the order they were made); an outcome keeps the id of the draw the officer acted on, so a
redraw never changes the selection probability an outcome is weighed with; the performance
monitor keeps its figures in a table of their own.

Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "worklist_runs",
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    runs = sa.table(
        "worklist_runs",
        sa.column("id", sa.Integer()),
        sa.column("office_id", sa.String()),
        sa.column("day", sa.Date()),
        sa.column("version", sa.Integer()),
    )
    earlier = runs.alias("earlier")
    # The nth draw of its office and day, in the order the draws were made (portable SQL).
    op.execute(
        runs.update().values(
            version=sa.select(sa.func.count())
            .select_from(earlier)
            .where(
                earlier.c.office_id == runs.c.office_id,
                earlier.c.day == runs.c.day,
                earlier.c.id <= runs.c.id,
            )
            .scalar_subquery()
        )
    )
    op.create_index(
        "uq_worklist_run_version", "worklist_runs", ["office_id", "day", "version"], unique=True
    )
    op.add_column("inspection_outcomes", sa.Column("draw_id", sa.Integer(), nullable=True))
    op.create_index("ix_inspection_outcomes_draw", "inspection_outcomes", ["draw_id"])
    op.create_table(
        "performance_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("performance_reports")
    op.drop_index("ix_inspection_outcomes_draw", table_name="inspection_outcomes")
    op.drop_column("inspection_outcomes", "draw_id")
    op.drop_index("uq_worklist_run_version", table_name="worklist_runs")
    op.drop_column("worklist_runs", "version")
