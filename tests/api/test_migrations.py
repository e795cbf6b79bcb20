"""The Alembic migrations produce exactly the ORM's schema, on both databases, and re-running them
is harmless (every API start runs them)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI

from api.db import alembic_config, upgrade
from api.models import Base


def test_schema_matches_models_and_upgrade_is_idempotent(api_app: FastAPI) -> None:
    engine = api_app.state.db.engine
    upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
        assert head is not None and ctx.get_current_revision() == head
        assert compare_metadata(ctx, Base.metadata) == []
