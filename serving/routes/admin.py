"""Model lifecycle: reload the newest bundle (org keys only)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from ganxun.serving.deps import OrgDep, SettingsDep, StoreDep
from ganxun.serving.schemas import ErrorResponse
from ganxun.training.bundle import BundleError

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ReloadResponse(BaseModel):
    """The bundle now live, and the one it replaced."""

    model_version: str
    previous_version: str | None
    registered_version: str | None = None


@router.post(
    "/reload",
    response_model=ReloadResponse,
    responses={c: {"model": ErrorResponse} for c in (401, 403, 409)},
)
def reload(store: StoreDep, settings: SettingsDep, _: OrgDep) -> ReloadResponse:
    """Load the newest bundle, or the version a ``--model models:/…`` URI points at now.

    A bundle that fails validation is refused and the old one keeps serving.
    """
    previous = store.current.version if store.current else None
    try:
        current = store.load_configured(settings)
    except BundleError as err:
        raise HTTPException(status_code=409, detail=f"bundle refused: {err}") from err
    return ReloadResponse(
        model_version=current.version,
        previous_version=previous,
        registered_version=current.source.get("registered_version"),
    )
