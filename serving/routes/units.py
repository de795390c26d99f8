"""Per-unit answers: the training layout by topic and year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from ganxun.serving.auth import may_see_unit
from ganxun.serving.deps import AuditDep, PredictorDep
from ganxun.serving.schemas import ErrorResponse, LayoutResponse

router = APIRouter(prefix="/v1/units", tags=["units"])
UnitId = Annotated[str, Path(min_length=1, max_length=64, examples=["U0001"])]


@router.get(
    "/{unit_id}/layout",
    response_model=LayoutResponse,
    responses={c: {"model": ErrorResponse} for c in (401, 403, 404)},
)
def layout(unit_id: UnitId, predictor: PredictorDep, audit: AuditDep) -> LayoutResponse:
    """Topic × year hours and coverage, mean reserve and gap, weakest topics with themes."""
    if not may_see_unit(audit.who, unit_id):
        raise HTTPException(status_code=403, detail=f"unit {unit_id!r} is outside this key's scope")
    body = predictor.layout(unit_id)
    return LayoutResponse(model_version=predictor.version, **body)
