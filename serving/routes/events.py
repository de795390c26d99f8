"""Event ingestion: completions, exam answers and ratings from the source systems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, Field

from ganxun.features.events import parse_event
from ganxun.serving.auth import Principal, may_see_cadre
from ganxun.serving.deps import EngineDep, PrincipalDep, StoreDep
from ganxun.serving.schemas import ErrorResponse
from ganxun.serving.store import ModelStore
from ganxun.training.database import store_events

router = APIRouter(prefix="/v1", tags=["events"])

EXAMPLE = {
    "events": [
        {
            "event_id": "lms-81723",
            "type": "completion",
            "cadre_id": "C000012",
            "course_id": "K00450",
            "occurred_at": "2026-11-27T10:00:00+08:00",
            "hours": 2.0,
            "progress": 1.0,
        },
        {
            "event_id": "exam-5531-7",
            "type": "response",
            "cadre_id": "C000012",
            "item_id": "Q01203",
            "occurred_at": "2026-11-27T10:20:00+08:00",
            "correct": 1,
        },
        {
            "event_id": "eval-77",
            "type": "rating",
            "cadre_id": "C000012",
            "course_id": "K00450",
            "teacher_id": "T0031",
            "occurred_at": "2026-11-27T11:00:00+08:00",
            "course_score": 5,
            "teacher_score": 4,
        },
    ]
}


class EventBatch(BaseModel):
    """Up to 1,000 events of any type; each is validated on its own."""

    events: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class EventResult(BaseModel):
    """What happened to one event, in request order."""

    index: int
    event_id: str | None
    status: str = Field(description="accepted / duplicate / rejected")
    reason: str | None = None


class EventResponse(BaseModel):
    """One result per event."""

    model_version: str | None
    results: list[EventResult]


def _may_send(who: Principal, cadre_id: str, store: ModelStore) -> bool:
    """Org and institution keys send events for any cadre; unit and cadre keys for their own."""
    if who.role in ("org", "institution"):
        return True
    current = store.current
    unit = current.unit_of(cadre_id) if current is not None else None
    return may_see_cadre(who, cadre_id, unit)


@router.post(
    "/events",
    response_model=EventResponse,
    responses={c: {"model": ErrorResponse} for c in (401, 403, 413, 422)},
)
def post_events(
    batch: Annotated[EventBatch, Body(openapi_examples={"three kinds": {"value": EXAMPLE}})],
    engine: EngineDep,
    store: StoreDep,
    who: PrincipalDep,
    request: Request,
) -> EventResponse:
    """Store events (idempotent by event_id) before acknowledging; apply them to live profiles."""
    results: list[EventResult] = []
    valid = []
    for i, raw in enumerate(batch.events):
        event, reason = parse_event(raw)
        event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
        if event is not None and not _may_send(who, event.cadre_id, store):
            raise HTTPException(
                status_code=403,
                detail=f"event {i} is about cadre {event.cadre_id!r}, outside this key's scope",
            )
        if event is None:
            results.append(
                EventResult(index=i, event_id=event_id, status="rejected", reason=reason)
            )
        else:
            valid.append((i, event))
            results.append(EventResult(index=i, event_id=event.event_id, status="pending"))
    stored = store_events(engine, [e for _, e in valid])
    for (i, event), new in zip(valid, stored, strict=True):
        results[i].status = "accepted" if new else "duplicate"
        if new:
            store.apply(event)
    for r in results:
        request.app.state.metrics.events.labels(r.status).inc()
    current = store.current
    return EventResponse(model_version=current.version if current else None, results=results)
