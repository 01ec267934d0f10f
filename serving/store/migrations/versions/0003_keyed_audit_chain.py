"""Keyed consultation log: a hash scheme per record.

Records written so far were hashed with plain SHA-256 and keep the marker ``sha256``; the
service now writes ``hmac-sha256`` (HMAC under the audit key, declaration links covered).
The column's default stays ``sha256``, so a record written by a program that does not know
the keyed scheme is marked unkeyed and refused by `shiprisk audit verify` after keyed ones.

Downgrading drops the marker: keyed records then no longer verify with the old code.
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("hash_scheme")
