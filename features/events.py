"""Events from the source systems (completions, exam answers, ratings): the event contract.

Each event is validated on its own, so one bad event is rejected with its reason while the good
ones in the same request are kept; stored events become rows of the raw tables at the next retrain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128, examples=["lms-81723"])
    cadre_id: Id
    occurred_at: datetime = Field(examples=["2026-11-27T10:00:00+08:00"])


class CompletionEvent(_Event):
    """A cadre finished (or progressed in) a course."""

    type: Literal["completion"]
    course_id: Id
    hours: float = Field(0.0, ge=0, le=500)
    progress: float = Field(1.0, ge=0, le=1)
    class_id: Id | None = None


class ResponseEvent(_Event):
    """A cadre answered an exam item."""

    type: Literal["response"]
    item_id: Id
    correct: Literal[0, 1]
    class_id: Id | None = None


class RatingEvent(_Event):
    """A cadre rated a course (and its teacher)."""

    type: Literal["rating"]
    course_id: Id
    course_score: int = Field(ge=1, le=5)
    teacher_id: Id | None = None
    teacher_score: int | None = Field(None, ge=1, le=5)
    class_id: Id | None = None


Event = Annotated[CompletionEvent | ResponseEvent | RatingEvent, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter = TypeAdapter(Event)


def parse_event(raw: object) -> tuple[Event | None, str | None]:
    """Validate one raw event; return (event, None) or (None, reason)."""
    try:
        return EVENT_ADAPTER.validate_python(raw), None
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"][1:] or first["loc"]) or "event"
        msg = first["msg"]
        if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            return None, "type must be one of completion/response/rating"
        return None, f"{loc}: {msg}"


def events_as_tables(batch: list[Event]) -> dict[str, pd.DataFrame]:
    """Stored events as rows of the raw tables (enrollments, responses, course_ratings)."""
    rows: dict[str, list[dict]] = {"enrollments": [], "responses": [], "course_ratings": []}
    for ev in batch:
        day = ev.occurred_at.date().isoformat()
        if isinstance(ev, CompletionEvent):
            rows["enrollments"].append(
                {
                    "cadre_id": ev.cadre_id,
                    "course_id": ev.course_id,
                    "class_id": ev.class_id,
                    "source": "self",
                    "enrolled_on": day,
                    "completed_on": day if ev.progress >= 1 else None,
                    "progress": ev.progress,
                    "hours": ev.hours,
                }
            )
        elif isinstance(ev, ResponseEvent):
            rows["responses"].append(
                {
                    "cadre_id": ev.cadre_id,
                    "item_id": ev.item_id,
                    "answered_on": day,
                    "correct": ev.correct,
                    "class_id": ev.class_id,
                }
            )
        else:
            rows["course_ratings"].append(
                {
                    "cadre_id": ev.cadre_id,
                    "course_id": ev.course_id,
                    "class_id": ev.class_id,
                    "teacher_id": ev.teacher_id,
                    "rated_on": day,
                    "course_score": ev.course_score,
                    "teacher_score": ev.teacher_score,
                }
            )
    return {name: pd.DataFrame(r) for name, r in rows.items() if r}
