"""TellerWatch API: violation ingest, review, daily summaries, live stream, zones and metrics.

Run it with ``tellerwatch serve`` (or ``uvicorn --factory api.app:create_app_from_env``).

Many branches on PostgreSQL: each branch box runs its pipeline with ``sinks.api.url`` pointing
at one central API; the central API runs as a single process (the live stream and the login
limiter are in-process) with ``TELLERWATCH_DATABASE_URL=postgresql://user:pass@db-host/tellerwatch``,
``TELLERWATCH_SECRET_KEY`` (32+ random characters), ``TELLERWATCH_INGEST_KEYS`` (one key per
branch, comma-separated, so a branch can be cut off alone) and ``TELLERWATCH_EVIDENCE_DIR`` on
storage large enough for the clips. The schema is migrated on start-up. Branch heads are created
with ``tellerwatch users add NAME --role branch_head --site BRANCH --password-stdin``.
"""

__version__ = "0.1.0"
