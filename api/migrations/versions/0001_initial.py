"""Initial schema: users, sites, cameras, violations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("site", sa.String(128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("token_generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("utc_offset_min", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site", sa.String(128), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("camera_id", sa.String(128), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=True),
        sa.Column("zones_version", sa.Integer(), nullable=False),
        sa.Column("zones_updated_at", sa.DateTime(), nullable=True),
        sa.Column("zones_updated_by", sa.String(64), nullable=True),
        sa.Column("frame_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("site", "camera_id", name="uq_cameras_site_camera"),
    )
    op.create_index("ix_cameras_site", "cameras", ["site"])
    op.create_index("ix_cameras_camera_id", "cameras", ["camera_id"])
    op.create_table(
        "violations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(128), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("camera", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("zone", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("utc_offset_min", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("local_hour", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("track_ids", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.String(512), nullable=True),
        sa.Column("clip", sa.String(512), nullable=True),
        sa.Column("review_status", sa.String(32), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_violations_site_started", "violations", ["site", "started_at"])
    op.create_index("ix_violations_local_date", "violations", ["local_date", "site"])
    op.create_index("ix_violations_camera", "violations", ["camera"])
    op.create_index("ix_violations_rule", "violations", ["rule"])
    op.create_index("ix_violations_state", "violations", ["state"])
    op.create_index("ix_violations_started_at", "violations", ["started_at"])
    op.create_index("ix_violations_review_status", "violations", ["review_status"])
    op.create_index("ix_violations_updated_at", "violations", ["updated_at"])


def downgrade() -> None:
    op.drop_table("violations")
    op.drop_table("cameras")
    op.drop_table("sites")
    op.drop_table("users")
