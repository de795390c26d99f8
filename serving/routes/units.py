"""Per-unit answers: the training layout by topic and year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from ganxun.serving.deps import AuditDep, PredictorDep
from ganxun.serving.errors import not_in_scope
from ganxun.serving.predictor import UnknownIdError
from ganxun.serving.schemas import ErrorResponse, LayoutResponse

router = APIRouter(prefix="/v1/units", tags=["units"])
UnitId = Annotated[str, Path(min_length=1, max_length=64, examples=["U0001"])]


@router.get(
    "/{unit_id}/layout",
    response_model=LayoutResponse,
    responses={c: {"model": ErrorResponse} for c in (401, 403, 404)},
)
def layout(unit_id: UnitId, predictor: PredictorDep, audit: AuditDep) -> LayoutResponse:
    """Topic × year hours and coverage, mean reserve and gap, weakest topics with themes.

    Org and institution keys see every unit; a unit key gets the same 404 for another unit as
    for an unknown one; cadre keys see no layout (403).
    """
    who = audit.who
    if who.role == "cadre":
        raise HTTPException(status_code=403, detail="cadre keys cannot read unit layouts")
    if who.role == "unit" and who.scope != unit_id:
        raise not_in_scope("unit", unit_id)
    try:
        body = predictor.layout(unit_id)
    except UnknownIdError:
        if who.role == "unit":  # its own unit, unknown to the bundle: the same answer
            raise not_in_scope("unit", unit_id) from None
        raise
    return LayoutResponse(model_version=predictor.version, **body)
