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


UNKNOWN_WARNING = (
    "事件中的编号当前模型不认识（可能是输入错误，或是上次训练之后新增的），已保存，"
    "但不会更新在线画像，请核对；下次训练时若该编号已在数据中，将被吸收。 "
    "The live model does not know the id(s) in unknown_ids (a typo, or added since the last "
    "training): the event is stored but not applied to live profiles; check the id. The next "
    "training absorbs it if the id is in its data by then."
)


class EventResult(BaseModel):
    """What happened to one event, in request order."""

    index: int
    event_id: str | None
    status: str = Field(description="accepted / duplicate / rejected")
    reason: str | None = None
    unknown_ids: list[str] | None = Field(
        None,
        description="id fields of a stored event that the live model does not know "
        "(cadre_id, course_id, item_id, teacher_id); null when it knows them all",
        examples=[["cadre_id"]],
    )
    warning: str | None = Field(None, description="why unknown_ids matter (中文 and English)")


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
    """Store events (idempotent by event_id) before acknowledging; apply them to live profiles.

    Each event is validated on its own: a malformed one is ``rejected`` with the reason, the
    others are stored (``accepted``, or ``duplicate`` for an event_id already stored).

    **Ids the live model does not know.** An event naming a cadre, course, item or teacher that the
    served bundle does not know is still ``accepted`` and stored — it may be a cadre or course
    added since the last training, which the next training will know — but it is flagged: its
    result lists the unknown fields in ``unknown_ids`` (e.g. ``["cadre_id"]``) with a
    ``warning``, and it is not applied to live profiles. A typo'd id is therefore visible in the
    response at once; the sending system should check flagged events. At the next ``ganxun
    train`` an event whose ids are still unknown is set aside in ``problems.csv`` like any row
    with an unknown id.
    """
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
    current = store.current
    for (i, event), new in zip(valid, stored, strict=True):
        results[i].status = "accepted" if new else "duplicate"
        unknown = current.unknown_ids(event) if current is not None else []
        if unknown:
            results[i].unknown_ids = unknown
            results[i].warning = UNKNOWN_WARNING
        if new:
            store.apply(event)
    for r in results:
        request.app.state.metrics.events.labels(r.status).inc()
    return EventResponse(model_version=current.version if current else None, results=results)
