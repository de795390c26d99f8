"""The SQL store shared by serving and training (events, API keys, audit log).

SQLite in the artifacts folder by default, PostgreSQL (or any SQLAlchemy URL) by
``GANXUN_DATABASE_URL``. Events are idempotent by ``event_id`` and committed before they are
acknowledged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ganxun.features.events import EVENT_ADAPTER, Event

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("type", sa.String(16), nullable=False, index=True),
    sa.Column("cadre_id", sa.String(64), nullable=False, index=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(64), nullable=True),
    sa.Column("note", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("key_id", sa.String(16), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("ids", sa.JSON, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
)


def default_url(artifacts: str | Path) -> str:
    """The embedded SQLite store in the artifacts folder."""
    return f"sqlite:///{Path(artifacts).resolve() / 'ganxun.db'}"


def make_engine(url: str) -> Engine:
    """Engine for ``url`` with the tables created; SQLite gets WAL, full sync and a busy timeout.

    Full synchronous writes make an acknowledged event survive a killed process.
    """
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI objects
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    metadata.create_all(engine)
    return engine


def insert_ignore(engine: Engine, table: sa.Table) -> sa.Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the engine's dialect."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ValueError(f"unsupported database {engine.dialect.name}")
    return insert(table).on_conflict_do_nothing()


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def store_events(engine: Engine, batch: list[Event]) -> list[bool]:
    """Insert events in one transaction; True where stored, False where the id already existed."""
    now = datetime.now(UTC)
    # RETURNING tells whether the row went in: the driver's rowcount is not kept for INSERTs
    # (SQLAlchemy reports -1 with psycopg 3).
    stmt = insert_ignore(engine, events).returning(events.c.event_id)
    stored = [False] * len(batch)
    with engine.begin() as conn:
        # In event_id order, so concurrent batches sharing ids wait for each other instead of
        # deadlocking on PostgreSQL (a stable sort: the first of repeated ids is the stored one).
        for i in sorted(range(len(batch)), key=lambda i: batch[i].event_id):
            ev = batch[i]
            row = {
                "event_id": ev.event_id,
                "type": ev.type,
                "cadre_id": ev.cadre_id,
                "occurred_at": _utc(ev.occurred_at),
                "received_at": now,
                "payload": ev.model_dump(mode="json"),
            }
            stored[i] = conn.execute(stmt, row).first() is not None
    return stored


def count_events(engine: Engine) -> int:
    """How many events are stored."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def load_events(engine: Engine, since: datetime | None = None) -> list[Event]:
    """Stored events (optionally those that occurred at or after ``since``), oldest first."""
    q = sa.select(events.c.payload).order_by(events.c.occurred_at)
    if since is not None:
        q = q.where(events.c.occurred_at >= _utc(since))
    with engine.connect() as conn:
        return [EVENT_ADAPTER.validate_python(p) for (p,) in conn.execute(q)]


def received_events(engine: Engine, since: datetime) -> tuple[list[Event], datetime | None]:
    """Events the store received at or after ``since``, and the latest receipt time among them.

    What a replica polls for: the events other processes stored (``received_at`` is set by the
    process that stored them).
    """
    q = (
        sa.select(events.c.payload, events.c.received_at)
        .where(events.c.received_at >= _utc(since))
        .order_by(events.c.received_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    latest = max((_utc(r) for _, r in rows), default=None)
    return [EVENT_ADAPTER.validate_python(p) for p, _ in rows], latest
