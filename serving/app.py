"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pandas as pd
from fastapi import FastAPI

from ganxun.serving import errors, observability
from ganxun.serving.predictor import Predictor
from ganxun.serving.routes import (
    admin,
    cadres,
    classes,
    compliance,
    docs,
    dossier,
    events,
    health,
    posts,
    ui,
    units,
)
from ganxun.serving.routes import classlife as class_life_routes
from ganxun.serving.settings import Settings
from ganxun.serving.store import ModelStore
from ganxun.training.bundle import BundleError
from ganxun.training.database import default_url, load_events, make_engine, received_events

log = logging.getLogger(__name__)

#: How far back each poll re-reads the store: an event whose transaction committed late (its
#: ``received_at`` is set before the commit) is still read; applied ids are skipped.
SYNC_LOOKBACK = timedelta(seconds=60)


def sync_events(engine, store: ModelStore, since: datetime) -> datetime:
    """Apply to the live model the events stored since ``since`` (by any process); the next since.

    Replicas share one database: each polls it so that an event posted to one is in the others'
    answers within ``event_sync_seconds`` (see :class:`ganxun.serving.settings.Settings`). Events
    are applied once each (:class:`ganxun.serving.online.OnlineOverlay` skips ids it has seen).
    """
    found, latest = received_events(engine, since)
    for event in found:
        store.apply(event)
    return max(since, (latest or since) - SYNC_LOOKBACK)


def _sync_loop(engine, store: ModelStore, every: float, stop: threading.Event) -> None:
    since = datetime.now(UTC) - SYNC_LOOKBACK
    while not stop.wait(every):
        try:
            since = sync_events(engine, store, since)
        except Exception:  # a database blip must not end the loop; the next poll retries
            log.exception("event sync failed; retrying in %.1f s", every)


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """Build the app. The bundle is loaded at start-up (``/ready`` says 503 until then)."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url or default_url(settings.artifacts))

    def replay(predictor: Predictor) -> None:
        since = pd.Timestamp(predictor.fitted.asof).tz_localize("UTC").to_pydatetime()
        for event in load_events(engine, since=since):
            predictor.online.apply(event)

    metrics = observability.Metrics()

    def on_load(predictor: Predictor) -> None:
        replay(predictor)
        metrics.set_model(predictor.version)

    store = store or ModelStore(replay=on_load, precompute=settings.precompute_lists)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if store.current is None:
            try:
                store.load_configured(settings)
            except BundleError as err:
                log.error("no bundle loaded: %s", err)
        stop = threading.Event()
        if settings.event_sync_seconds > 0:
            threading.Thread(
                target=_sync_loop,
                args=(engine, store, settings.event_sync_seconds, stop),
                name="event-sync",
                daemon=True,
            ).start()
        yield
        stop.set()

    app = FastAPI(
        title="ganxun 干训",
        version="0.1.0",
        summary="Recommendation and matching for cadre education and training.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from routes.docs, with assets served locally
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.engine = engine
    app.state.metrics = metrics
    errors.install(app)
    app.include_router(health.router)
    app.include_router(cadres.router)
    app.include_router(cadres.batch_router)
    app.include_router(units.router)
    app.include_router(classes.router)
    app.include_router(dossier.router)
    app.include_router(compliance.router)
    app.include_router(posts.router)
    app.include_router(class_life_routes.router)
    app.include_router(class_life_routes.ui_router)
    app.include_router(events.router)
    app.include_router(admin.router)
    app.include_router(ui.router)
    app.include_router(ui.root_router)
    app.include_router(docs.router)

    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)  # plain ASGI

    observability.install(app, metrics)  # outermost: every answer gets a request id and a count

    return app
