"""Request and response models (the OpenAPI page at /docs is the API reference)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from features.contracts import MODES


class ErrorBody(BaseModel):
    """What went wrong, in words a caller can act on."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["unknown cadre 'C999999'"])


class ErrorResponse(BaseModel):
    """Every 4xx answer has this shape."""

    error: ErrorBody


class Health(BaseModel):
    """Liveness or readiness."""

    status: str = Field(examples=["ok"])
    model_version: str | None = None


class ModelInfo(BaseModel):
    """The live bundle."""

    model_version: str
    trained_at: str
    asof: str
    data_fingerprint: str
    schema_version: str
    metrics: dict[str, float | int | None]


class TopicReserve(BaseModel):
    """One topic of a cadre's knowledge profile (the radar chart's spoke)."""

    topic_id: str = Field(examples=["TP03"])
    name: str = Field(examples=["法治素养"])
    reserve: float = Field(ge=0, le=100, description="knowledge reserve 0–100", examples=[62.5])
    required: float = Field(ge=0, le=100, description="what the post needs, 0–100", examples=[80.0])
    gap: float = Field(ge=0, le=100, description="max(0, required − reserve)", examples=[17.5])
    confidence: float = Field(ge=0, le=1, description="share resting on the cadre's own answers")


class KnowledgeResponse(BaseModel):
    """A cadre's knowledge reserve by topic."""

    model_version: str
    cadre_id: str
    topics: list[TopicReserve]


class RecommendationRequest(BaseModel):
    """What to recommend: list length and optional filters."""

    k: int = Field(10, ge=1, le=100, description="how many courses")
    exclude_course_ids: list[str] = Field(default_factory=list, max_length=1000)
    topics: list[str] | None = Field(None, description="only courses on these topic ids")
    modes: list[Literal[MODES]] | None = Field(None, description="only courses in these modes")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"k": 5, "exclude_course_ids": [], "modes": ["网络"]}]},
    )


class RecommendedCourse(BaseModel):
    """One course with the reasons it is recommended."""

    course_id: str
    title: str
    score: float
    reasons: list[str] = Field(examples=[["补短板：法治素养", "同岗位干部常选"]])


class RecommendationResponse(BaseModel):
    """Ranked courses for one cadre."""

    model_version: str
    cadre_id: str
    items: list[RecommendedCourse]


class LayoutTopic(BaseModel):
    """A unit's mean reserve and gap on one topic (0–100; null for a unit without cadres)."""

    topic_id: str
    name: str
    mean_reserve: float | None
    mean_gap: float | None


class LayoutCell(BaseModel):
    """Training on one topic in one year: hours and the share of the unit's cadres trained."""

    topic_id: str
    year: int
    hours: float
    trained_share: float = Field(ge=0, le=1)


class SuggestedCourse(BaseModel):
    """A well-rated course on a weak topic."""

    course_id: str
    title: str
    quality: float = Field(description="leniency-corrected expected rating, 1–5")


class WeakTopic(BaseModel):
    """One of the unit's weakest topics, with a suggested class theme and courses."""

    topic_id: str
    name: str
    mean_gap: float
    suggested_theme: str = Field(examples=["法治素养专题培训班（面向正科干部）"])
    suggested_courses: list[SuggestedCourse]


class LayoutResponse(BaseModel):
    """A unit's training layout by topic and year (图4 培训布局)."""

    model_version: str
    unit_id: str
    name: str
    cadres: int
    topics: list[LayoutTopic]
    cells: list[LayoutCell]
    weakest: list[WeakTopic]
