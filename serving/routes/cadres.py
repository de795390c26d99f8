"""Per-cadre answers: knowledge profile and course recommendations."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from ganxun.serving.auth import may_see_cadre
from ganxun.serving.compliance_views import mandatory_for
from ganxun.serving.deps import AuditDep, Auditor, PredictorDep
from ganxun.serving.errors import ApiError, not_in_scope
from ganxun.serving.predictor import Predictor, UnknownIdError
from ganxun.serving.schemas import (
    BatchRecommendationRequest,
    BatchRecommendationResponse,
    ErrorResponse,
    KnowledgeResponse,
    RecommendationRequest,
    RecommendationResponse,
    RecommendedCourse,
    TopicReserve,
)

router = APIRouter(prefix="/v1/cadres", tags=["cadres"])
CadreId = Annotated[str, Path(min_length=1, max_length=64, examples=["C000001"])]
ERRORS = {code: {"model": ErrorResponse} for code in (401, 403, 404, 422)}


def check_role(audit: Auditor) -> None:
    """403 for institution keys, whatever the id: they never read cadre profiles."""
    if audit.who.role == "institution":
        raise HTTPException(status_code=403, detail="institution keys cannot read cadre profiles")


def refusal(cadre_id: str, audit: Auditor) -> Exception:
    """What a refused read raises: 404 "unknown cadre" for org keys, else :func:`not_in_scope`.

    A scoped key gets that one answer whether the cadre is unknown or outside its scope; only the
    audit row keeps the difference (403 outside the scope, 404 unknown).
    """
    if audit.who.role == "org":
        return UnknownIdError("cadre", cadre_id)
    return not_in_scope("cadre", cadre_id)


def refuse_left(cadre_id: str, predictor: Predictor) -> None:
    """409 ``cadre_left`` for a cadre who has left: no recommendations (after authorization)."""
    if not predictor.in_service(cadre_id):
        raise ApiError(
            409,
            f"干部 {cadre_id} 已离任，不再推荐课程（cadre {cadre_id!r} has left）",
            "cadre_left",
        )


def authorize_cadre(cadre_id: str, predictor: Predictor, audit: Auditor, action: str) -> None:
    """Let the read through, or raise :func:`refusal` (audited for scoped keys)."""
    check_role(audit)
    unit = predictor.unit_of(cadre_id)
    if unit is not None and may_see_cadre(audit.who, cadre_id, unit):
        return
    if audit.who.role != "org":
        audit(action, {"cadre_ids": [cadre_id]}, 404 if unit is None else 403)
    raise refusal(cadre_id, audit)


@router.get("/{cadre_id}/knowledge", response_model=KnowledgeResponse, responses=ERRORS)
def knowledge(cadre_id: CadreId, predictor: PredictorDep, audit: AuditDep) -> KnowledgeResponse:
    """A cadre's knowledge reserve per topic, the post's requirement, the gap and confidence."""
    authorize_cadre(cadre_id, predictor, audit, "knowledge")
    audit("knowledge", {"cadre_ids": [cadre_id]})
    topics = [TopicReserve(**t) for t in predictor.knowledge(cadre_id)]
    return KnowledgeResponse(model_version=predictor.version, cadre_id=cadre_id, topics=topics)


@router.post("/{cadre_id}/recommendations", response_model=RecommendationResponse, responses=ERRORS)
async def recommendations(
    cadre_id: CadreId, body: RecommendationRequest, predictor: PredictorDep, audit: AuditDep
) -> RecommendationResponse:
    """Courses this cadre should study next, never one already taken, with reasons.

    A cadre the model does not know yet (joined after the last training) gets what peers of the
    same ``rank`` and ``category`` choose when the body gives both; 404 otherwise. A unit or
    cadre key gets the same 404 for a cadre outside its scope as for an unknown one. A cadre who
    has left gets 409 ``cadre_left``. Compulsory courses still due come apart, in ``mandatory``.
    """
    # async: a precomputed list is answered on the event loop (no thread-pool hop); a list that
    # must be computed, and nothing else, goes to the thread pool
    query = {
        "k": body.k,
        "exclude_course_ids": body.exclude_course_ids,
        "topics": body.topics,
        "modes": body.modes,
    }
    check_role(audit)
    unit = predictor.unit_of(cadre_id)
    new_cadre = unit is None and body.rank and body.category
    # a new cadre (org keys, or the cadre's own key) gets peers' choices
    if not may_see_cadre(audit.who, cadre_id, unit) or (unit is None and not new_cadre):
        if audit.who.role != "org":
            await audit.record(
                "recommendations", {"cadre_ids": [cadre_id]}, 404 if unit is None else 403
            )
        raise refusal(cadre_id, audit)
    if new_cadre:
        items = await run_in_threadpool(
            partial(predictor.recommend_new, body.rank, body.category, **query)
        )
        await audit.record("recommendations", {"cadre_ids": [cadre_id]})
        return RecommendationResponse(
            model_version=predictor.version,
            cadre_id=cadre_id,
            items=[RecommendedCourse(**vars(i)) for i in items],
        )
    refuse_left(cadre_id, predictor)
    items = predictor.precomputed(cadre_id, **query)
    if items is None:
        items = await run_in_threadpool(
            partial(predictor.recommend, cadre_id, **query, precomputed=False)
        )
    await audit.record("recommendations", {"cadre_ids": [cadre_id]})
    return RecommendationResponse(
        model_version=predictor.version,
        cadre_id=cadre_id,
        items=[RecommendedCourse(**vars(i)) for i in items],
        mandatory=mandatory_for(predictor, cadre_id),
    )


batch_router = APIRouter(prefix="/v1/recommendations", tags=["cadres"])


@batch_router.post("/batch", response_model=BatchRecommendationResponse, responses=ERRORS)
def batch_recommendations(
    body: BatchRecommendationRequest, predictor: PredictorDep, audit: AuditDep
) -> BatchRecommendationResponse:
    """Lists for up to 1,000 cadres; one unknown or out-of-scope id fails the batch (404).

    A cadre who has left (离任) fails it too (409 ``cadre_left``).
    """
    for cadre_id in body.cadre_ids:
        authorize_cadre(cadre_id, predictor, audit, "recommendations")
    for cadre_id in body.cadre_ids:
        refuse_left(cadre_id, predictor)
    results = [
        RecommendationResponse(
            model_version=predictor.version,
            cadre_id=cadre_id,
            items=[RecommendedCourse(**vars(i)) for i in predictor.recommend(cadre_id, k=body.k)],
            mandatory=mandatory_for(predictor, cadre_id),
        )
        for cadre_id in body.cadre_ids
    ]
    audit("recommendations", {"cadre_ids": list(body.cadre_ids)})
    return BatchRecommendationResponse(model_version=predictor.version, results=results)
