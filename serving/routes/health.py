"""Liveness, readiness and the live model."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ganxun.serving.deps import PredictorDep, PrincipalDep, StoreDep
from ganxun.serving.examples import examples_for
from ganxun.serving.schemas import (
    DefaultListsStatus,
    ExamplesResponse,
    Health,
    ModelInfo,
    Readiness,
)

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(store: StoreDep) -> Health:
    """Liveness: the process answers."""
    current = store.current
    return Health(status="ok", model_version=current.version if current else None)


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(store: StoreDep) -> Readiness | JSONResponse:
    """Readiness: 200 once a bundle is loaded, 503 before; with the default lists' progress.

    ``default_lists`` says how many cadres' default recommendation lists are ready (a bundle
    trained with its lists has them all at load; otherwise the service fills them in the
    background when ``precompute`` is on). Clients that need the lists wait for
    ``default_lists.complete``.
    """
    current = store.current
    if current is None:
        return JSONResponse(status_code=503, content=Readiness(status="loading").model_dump())
    lists = current.lists
    total = len(lists.ready) if lists.n else 0
    done = int(lists.ready.sum()) if lists.n else 0
    return Readiness(
        status="ready",
        model_version=current.version,
        default_lists=DefaultListsStatus(
            complete=done == total, done=done, total=total, precompute=store.precompute
        ),
    )


@router.get("/v1/model", response_model=ModelInfo)
def model_info(predictor: PredictorDep, _: PrincipalDep) -> ModelInfo:
    """The bundle being served: version, training time, data fingerprint and metrics."""
    m = predictor.manifest
    return ModelInfo(
        model_version=m["version"],
        trained_at=m.get("trained_at", ""),
        asof=m.get("asof", ""),
        data_fingerprint=m.get("data_fingerprint", ""),
        schema_version=str(m.get("schema_version", "")),
        metrics=m.get("metrics", {}),
        model_uri=predictor.source.get("model_uri"),
        registered_version=predictor.source.get("registered_version"),
    )


@router.get("/v1/examples", response_model=ExamplesResponse, tags=["examples"])
def examples(predictor: PredictorDep, who: PrincipalDep) -> ExamplesResponse:
    """Ids worth trying that this key may open (nothing outside its scope).

    Cadres with exam answers and a clear gap, their units, and rollcall classes (org keys). The
    pages show them as links; ``ganxun demo`` prints the first ones.
    """
    return ExamplesResponse(model_version=predictor.version, **examples_for(predictor, who))
