"""Scale-out: the per-zone live counts, the zones version a pipeline applied and the camera's
status (up / reconnecting / down) as last reported, kept in the database instead of one API
process's memory, so that every replica shows the same.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_reports",
        sa.Column("site", sa.String(128), primary_key=True),
        sa.Column("camera", sa.String(128), primary_key=True),
        sa.Column("zone_counts", sa.JSON(), nullable=True),
        sa.Column("zones_applied_version", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("status_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("camera_reports")
