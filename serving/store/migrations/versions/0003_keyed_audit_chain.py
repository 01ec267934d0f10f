"""Keyed consultation log: a hash scheme per record, and the store's own id.

Records written so far were hashed with plain SHA-256 and keep the marker ``sha256``; the
service now writes ``hmac-sha256`` (HMAC under the audit key, declaration links covered).
The column's default stays ``sha256``, so a record written by a program that does not know
the keyed scheme is marked unkeyed and refused by `shiprisk audit verify` after keyed ones.

The store gets a random id (table ``store_identity``, one row), bound into the signature of
every checkpoint, so that two stores sharing a checkpoint file do not take each other's lines
for breaks.

Downgrading drops the marker and the id: keyed records then no longer verify with the old code.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(
            sa.Column("hash_scheme", sa.String(20), nullable=False, server_default="sha256")
        )
    identity = op.create_table(
        "store_identity",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("store_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
    )
    created = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":  # keeps no zone: stored as naive UTC
        created = created.replace(tzinfo=None)
    op.bulk_insert(
        identity, [{"slot": 1, "store_id": secrets.token_hex(16), "created_at": created}]
    )


def downgrade() -> None:
    op.drop_table("store_identity")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("hash_scheme")
