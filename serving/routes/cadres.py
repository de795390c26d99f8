"""Per-cadre answers: knowledge profile and course recommendations."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from starlette.concurrency import run_in_threadpool

from ganxun.serving.auth import may_see_cadre
from ganxun.serving.deps import AuditDep, PredictorDep
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


def authorize_cadre(cadre_id: str, predictor: Predictor, audit: AuditDep, action: str) -> None:
    """404 for an unknown cadre, 403 (audited) for one outside the key's scope."""
    unit = predictor.unit_of(cadre_id)
    if unit is None:
        raise UnknownIdError("cadre", cadre_id)
    if not may_see_cadre(audit.who, cadre_id, unit):
        audit(action, {"cadre_ids": [cadre_id]}, 403)
        raise HTTPException(
            status_code=403, detail=f"cadre {cadre_id!r} is outside this key's scope"
        )


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
    same ``rank`` and ``category`` choose when the body gives both; 404 otherwise.
    """
    # async: a precomputed list is answered on the event loop (no thread-pool hop); a list that
    # must be computed, and nothing else, goes to the thread pool
    query = {
        "k": body.k,
        "exclude_course_ids": body.exclude_course_ids,
        "topics": body.topics,
        "modes": body.modes,
    }
    unit = predictor.unit_of(cadre_id)
    if unit is None and body.rank and body.category:  # a new cadre: peers' choices
        if not may_see_cadre(audit.who, cadre_id, None):  # org keys, or the cadre's own key
            await audit.record("recommendations", {"cadre_ids": [cadre_id]}, 403)
            raise HTTPException(
                status_code=403, detail=f"cadre {cadre_id!r} is outside this key's scope"
            )
        items = await run_in_threadpool(
            partial(predictor.recommend_new, body.rank, body.category, **query)
        )
        await audit.record("recommendations", {"cadre_ids": [cadre_id]})
        return RecommendationResponse(
            model_version=predictor.version,
            cadre_id=cadre_id,
            items=[RecommendedCourse(**vars(i)) for i in items],
        )
    if unit is None:
        raise UnknownIdError("cadre", cadre_id)
    if not may_see_cadre(audit.who, cadre_id, unit):
        await audit.record("recommendations", {"cadre_ids": [cadre_id]}, 403)
        raise HTTPException(
            status_code=403, detail=f"cadre {cadre_id!r} is outside this key's scope"
        )
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
    )


batch_router = APIRouter(prefix="/v1/recommendations", tags=["cadres"])


@batch_router.post("/batch", response_model=BatchRecommendationResponse, responses=ERRORS)
def batch_recommendations(
    body: BatchRecommendationRequest, predictor: PredictorDep, audit: AuditDep
) -> BatchRecommendationResponse:
    """Lists for up to 1,000 cadres; one unknown (404) or out-of-scope (403) id fails the batch."""
    for cadre_id in body.cadre_ids:
        authorize_cadre(cadre_id, predictor, audit, "recommendations")
    results = [
        RecommendationResponse(
            model_version=predictor.version,
            cadre_id=cadre_id,
            items=[RecommendedCourse(**vars(i)) for i in predictor.recommend(cadre_id, k=body.k)],
        )
        for cadre_id in body.cadre_ids
    ]
    audit("recommendations", {"cadre_ids": list(body.cadre_ids)})
    return BatchRecommendationResponse(model_version=predictor.version, results=results)
