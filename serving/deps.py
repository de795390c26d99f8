"""Typed dependencies shared by the routes.

Dependencies that neither block nor compute are ``async def``: FastAPI runs a plain ``def``
dependency in its thread pool, a hop that costs more than these functions themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from ganxun.serving.auth import Principal, cached_key, verify_key, write_audit, write_audit_async
from ganxun.serving.errors import ApiError
from ganxun.serving.predictor import Predictor
from ganxun.serving.settings import Settings
from ganxun.serving.store import ModelStore


async def get_store(request: Request) -> ModelStore:
    """The app's model store."""
    return request.app.state.store


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    """The SQL store's engine."""
    return request.app.state.engine


async def get_principal(
    request: Request, x_api_key: Annotated[str | None, Header(description="API key")] = None
) -> Principal:
    """The caller behind ``X-API-Key``; 401 when it is missing, unknown or revoked.

    A key verified in the last few seconds is taken from memory; otherwise the store is asked
    (in the thread pool: it is I/O).
    """
    if not x_api_key:
        raise ApiError(401, "missing X-API-Key header", "missing_api_key")
    engine = request.app.state.engine
    who = cached_key(engine, x_api_key)
    if who is None:
        who = await run_in_threadpool(verify_key, engine, x_api_key)
    if who is None:
        raise ApiError(401, "unknown or revoked API key", "invalid_api_key")
    request.state.principal = who
    return who


async def require_org(who: Annotated[Principal, Depends(get_principal)]) -> Principal:
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

    async def record(self, action: str, ids: dict, status: int = 200) -> None:
        """The same from ``async`` code (awaits the commit without blocking the event loop)."""
        await write_audit_async(self.engine, self.who, action, ids, status, self.request_id)


async def get_auditor(
    request: Request, x_api_key: Annotated[str | None, Header(description="API key")] = None
) -> Auditor:
    """The request's :class:`Auditor` for the caller behind ``X-API-Key``.

    401 as in :func:`get_principal`, which is called directly rather than as a sub-dependency:
    one level less for FastAPI to solve on every audited request.
    """
    return Auditor(request, await get_principal(request, x_api_key))


async def get_predictor(request: Request) -> Predictor:
    """The live predictor; 503 until a bundle is loaded."""
    predictor = request.app.state.store.current
    if predictor is None:
        raise HTTPException(status_code=503, detail="no model bundle is loaded yet")
    return predictor


StoreDep = Annotated[ModelStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AuditDep = Annotated[Auditor, Depends(get_auditor)]
OrgDep = Annotated[Principal, Depends(require_org)]
PredictorDep = Annotated[Predictor, Depends(get_predictor)]
