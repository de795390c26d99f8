"""Serving settings: one pydantic object built in ``create_app`` (env prefix ``GANXUN_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the bundles are and how to serve them."""

    model_config = SettingsConfigDict(env_prefix="GANXUN_")

    artifacts: Path = Path("artifacts")
    bundle: Path | None = None  # serve this bundle folder instead of the newest one
    model: str | None = None  # serve a registered version: models:/ganxun@production or /VERSION
    database_url: str | None = None  # GANXUN_DATABASE_URL; default: SQLite in the artifacts
    max_body_bytes: int = 1_000_000
    # compute every cadre's default recommendation list in the background after a bundle loads
    # (GANXUN_PRECOMPUTE_LISTS=false: always compute per request)
    precompute_lists: bool = True
    # replicas: every this many seconds, apply the events other processes stored in the shared
    # database (GANXUN_EVENT_SYNC_SECONDS; 0: never — one process, or a store nobody else writes)
    event_sync_seconds: float = 2.0
