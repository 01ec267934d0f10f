"""People: sign-in sessions kept server-side, keys with an owner and an expiry, and the
person (issuer, subject, display name) in every consultation-log record.

New columns are nullable, so records and keys made before stay as they were: a record
without a person hashes as before (`serving.audit.chain`), a key without an owner or an
expiry works as before.

Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("offices", sa.JSON(), nullable=True),
        sa.Column("key_id", sa.String(12), nullable=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_web_sessions_person", "web_sessions", ["name"])
    op.create_index("ix_web_sessions_subject", "web_sessions", ["issuer", "subject"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("issuer", sa.String(500), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(255), nullable=True))
        batch.add_column(sa.Column("person", sa.String(200), nullable=True))
    op.create_index("ix_audit_records_person", "audit_records", ["person", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_audit_records_person", table_name="audit_records")
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("person")
        batch.drop_column("subject")
        batch.drop_column("issuer")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("owner")
    op.drop_index("ix_web_sessions_subject", table_name="web_sessions")
    op.drop_index("ix_web_sessions_person", table_name="web_sessions")
    op.drop_table("web_sessions")
