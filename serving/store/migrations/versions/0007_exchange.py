"""Messages exchanged with partner agencies and the entities received with them.

Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = 200


def upgrade() -> None:
    op.create_table(
        "exchange_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("partner", sa.String(ID), nullable=False),
        sa.Column("message_id", sa.String(ID), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("schema_version", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("handling_code", sa.String(2), nullable=False),
        sa.Column("handling_note", sa.Text(), nullable=True),
        sa.Column("no_dissemination", sa.Boolean(), nullable=False),
        sa.Column("source_reliability", sa.String(1), nullable=False),
        sa.Column("information_accuracy", sa.Integer(), nullable=False),
        sa.Column("tlp", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(30), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("watchlist_entries", sa.Integer(), nullable=False),
        sa.Column("withheld", sa.Integer(), nullable=False),
        sa.Column("declaration_ids", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.UniqueConstraint("direction", "partner", "message_id", name="uq_exchange_message"),
    )
    op.create_index("ix_exchange_messages_recorded_at", "exchange_messages", ["recorded_at"])
    op.create_table(
        "exchange_entities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "message_pk",
            sa.Integer(),
            sa.ForeignKey("exchange_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(ID), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("entity_type", sa.String(20), nullable=True),
        sa.Column("entity_id", sa.String(ID), nullable=True),
        sa.Column("threat", sa.String(ID), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_agency", sa.String(ID), nullable=False),
        sa.Column("source_country", sa.String(2), nullable=False),
        sa.Column("handling_code", sa.String(2), nullable=False),
        sa.Column("handling_note", sa.Text(), nullable=True),
        sa.Column("source_reliability", sa.String(1), nullable=False),
        sa.Column("information_accuracy", sa.String(1), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("watchlist_entry_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_exchange_entities_key", "exchange_entities", ["kind", "key"])
    op.create_index("ix_exchange_entities_message", "exchange_entities", ["message_pk"])


def downgrade() -> None:
    op.drop_index("ix_exchange_entities_message", table_name="exchange_entities")
    op.drop_index("ix_exchange_entities_key", table_name="exchange_entities")
    op.drop_table("exchange_entities")
    op.drop_index("ix_exchange_messages_recorded_at", table_name="exchange_messages")
    op.drop_table("exchange_messages")
