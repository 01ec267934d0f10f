"""Fixed lodging facts: one row per declaration id, so a re-scoring cannot move a declaration.

Filled from the first scoring of every declaration already in the store. A declaration whose
later scorings named another office or lodging time (possible before this revision) keeps
its first facts; every remit check reads the office from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = 200


def upgrade() -> None:
    lodgings = op.create_table(
        "declaration_lodgings",
        sa.Column("declaration_id", sa.String(ID), primary_key=True),
        sa.Column("office_id", sa.String(ID), nullable=False),
        sa.Column("lodged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declarant_id", sa.String(ID), nullable=True),
        sa.Column("importer_id", sa.String(ID), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    scored = sa.table(
        "scored_declarations",
        sa.column("id", sa.Integer()),
        sa.column("declaration_id", sa.String(ID)),
        sa.column("office_id", sa.String(ID)),
        sa.column("lodged_at", sa.DateTime(timezone=True)),
        sa.column("declaration", sa.JSON()),
        sa.column("scored_at", sa.DateTime(timezone=True)),
    )
    first = sa.select(sa.func.min(scored.c.id)).group_by(scored.c.declaration_id)
    # One INSERT ... SELECT: the JSON look-ups are json_extract on SQLite, ->> on PostgreSQL.
    op.execute(
        lodgings.insert().from_select(
            [
                "declaration_id",
                "office_id",
                "lodged_at",
                "declarant_id",
                "importer_id",
                "recorded_at",
            ],
            sa.select(
                scored.c.declaration_id,
                scored.c.office_id,
                scored.c.lodged_at,
                scored.c.declaration["declarant_id"].as_string(),
                scored.c.declaration["importer_id"].as_string(),
                scored.c.scored_at,
            ).where(scored.c.id.in_(first)),
        )
    )


def downgrade() -> None:
    op.drop_table("declaration_lodgings")
