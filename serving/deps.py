"""Typed dependencies shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine

from serving.auth import Principal, verify_key, write_audit
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


def get_principal(
    request: Request, x_api_key: Annotated[str | None, Header(description="API key")] = None
) -> Principal:
    """The caller behind ``X-API-Key``; 401 when it is missing, unknown or revoked."""
    if not x_api_key:
        raise HTTPException(status_code=401, detail="missing X-API-Key header")
    who = verify_key(request.app.state.engine, x_api_key)
    if who is None:
        raise HTTPException(status_code=401, detail="unknown or revoked API key")
    request.state.principal = who
    return who


def require_org(who: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """Only org keys pass (403 otherwise)."""
    if who.role != "org":
        raise HTTPException(status_code=403, detail="this action needs an org key")
    return who


class Auditor:
    """Writes audit entries for the current request's caller."""

    def __init__(self, request: Request, who: Annotated[Principal, Depends(get_principal)]):
        self.engine = request.app.state.engine
        self.who = who
        self.request_id = getattr(request.state, "request_id", None)

    def __call__(self, action: str, ids: dict, status: int = 200) -> None:
        """Record that ``action`` touched ``ids`` with outcome ``status``."""
        write_audit(self.engine, self.who, action, ids, status, self.request_id)


def get_predictor(store: Annotated[ModelStore, Depends(get_store)]) -> Predictor:
    """The live predictor; 503 until a bundle is loaded."""
    predictor = store.current
    if predictor is None:
        raise HTTPException(status_code=503, detail="no model bundle is loaded yet")
    return predictor


StoreDep = Annotated[ModelStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AuditDep = Annotated[Auditor, Depends()]
OrgDep = Annotated[Principal, Depends(require_org)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
