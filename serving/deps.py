"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from serving.predictor import Predictor
from serving.settings import Settings
from serving.store import ModelStore


def get_store(request: Request) -> ModelStore:
    """The app's model store."""
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    """The SQL store's engine."""
    return request.app.state.engine


def get_predictor(store: Annotated[ModelStore, Depends(get_store)]) -> Predictor:
    """The live predictor; 503 until a bundle is loaded."""
    predictor = store.current
    if predictor is None:
        raise HTTPException(status_code=503, detail="no model bundle is loaded yet")
    return predictor


StoreDep = Annotated[ModelStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
