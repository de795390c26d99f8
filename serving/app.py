"""The FastAPI application factory."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from serving import errors
from serving.routes import cadres, health
from serving.settings import Settings
from serving.store import ModelStore
from training.bundle import BundleError

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """Build the app. The bundle is loaded at start-up (``/ready`` says 503 until then)."""
    settings = settings or Settings()
    store = store or ModelStore()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if store.current is None:
            try:
                if settings.bundle is not None:
                    store.load(settings.bundle)
                else:
                    store.load_newest(settings.artifacts)
            except BundleError as err:
                log.error("no bundle loaded: %s", err)
        yield

    app = FastAPI(
        title="ganxun 干训",
        version="0.1.0",
        summary="Recommendation and matching for cadre education and training.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    errors.install(app)
    app.include_router(health.router)
    app.include_router(cadres.router)
    return app
