"""Per-cadre answers: knowledge profile and course recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving.deps import PredictorDep
from serving.schemas import (
    ErrorResponse,
    KnowledgeResponse,
    RecommendationRequest,
    RecommendationResponse,
    RecommendedCourse,
    TopicReserve,
)

router = APIRouter(prefix="/v1/cadres", tags=["cadres"])
CadreId = Annotated[str, Path(min_length=1, max_length=64, examples=["C000001"])]
ERRORS = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.get("/{cadre_id}/knowledge", response_model=KnowledgeResponse, responses=ERRORS)
def knowledge(cadre_id: CadreId, predictor: PredictorDep) -> KnowledgeResponse:
    """A cadre's knowledge reserve per topic, the post's requirement, the gap and confidence."""
    topics = [TopicReserve(**t) for t in predictor.knowledge(cadre_id)]
    return KnowledgeResponse(model_version=predictor.version, cadre_id=cadre_id, topics=topics)


@router.post("/{cadre_id}/recommendations", response_model=RecommendationResponse, responses=ERRORS)
def recommendations(
    cadre_id: CadreId, body: RecommendationRequest, predictor: PredictorDep
) -> RecommendationResponse:
    """Courses this cadre should study next, never one already taken, with reasons."""
    items = predictor.recommend(
        cadre_id,
        k=body.k,
        exclude_course_ids=body.exclude_course_ids,
        topics=body.topics,
        modes=body.modes,
    )
    return RecommendationResponse(
        model_version=predictor.version,
        cadre_id=cadre_id,
        items=[RecommendedCourse(**vars(i)) for i in items],
    )
