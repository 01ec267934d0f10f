"""Live intelligence: the watchlist and entity history read at scoring time.

Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = 200


def upgrade() -> None:
    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(ID), nullable=False),
        sa.Column("key", sa.String(ID), nullable=False),
        sa.Column("threat", sa.String(ID), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_agency", sa.String(ID), nullable=True),
        sa.Column("source_country", sa.String(2), nullable=True),
        sa.Column("handling_code", sa.String(2), nullable=False),
        sa.Column("handling_note", sa.Text(), nullable=True),
        sa.Column("source_reliability", sa.String(1), nullable=False),
        sa.Column("information_accuracy", sa.String(1), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces", sa.Integer(), nullable=True),
    )
    op.create_index("ix_watchlist_entries_lookup", "watchlist_entries", ["key", "entity_type"])
    op.create_table(
        "entity_history",
        sa.Column("key", sa.String(ID * 3), primary_key=True),
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("declarations", sa.Integer(), nullable=False),
        sa.Column("inspections", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "entity_threat_history",
        sa.Column("key", sa.String(ID * 3), primary_key=True),
        sa.Column("entity", sa.String(20), primary_key=True),
        sa.Column("threat", sa.String(ID), primary_key=True),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("entity_threat_history")
    op.drop_table("entity_history")
    op.drop_index("ix_watchlist_entries_lookup", table_name="watchlist_entries")
    op.drop_table("watchlist_entries")
