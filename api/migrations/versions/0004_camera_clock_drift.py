"""Clock drift: the camera's own clock (RTSP sender reports) minus the box's, as last reported.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("camera_reports", sa.Column("clock_drift_s", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("camera_reports", "clock_drift_s")
