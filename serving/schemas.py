"""Request and response models (the OpenAPI page at /docs is the API reference)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganxun.features.contracts import CATEGORIES, MODES, RANKS
from ganxun.serving.equity_schemas import EquityReport


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


class DefaultListsStatus(BaseModel):
    """How many cadres' default recommendation lists are ready (answered without a model call)."""

    complete: bool = Field(description="every list is ready (also when the lists are off)")
    done: int = Field(ge=0, description="cadres whose list is ready")
    total: int = Field(ge=0, description="cadres with a list (0 when the lists are off)")
    precompute: bool = Field(
        description="the service computes missing lists in the background "
        "(GANXUN_PRECOMPUTE_LISTS); when false, lists the bundle lacks are never filled"
    )


class Readiness(BaseModel):
    """Readiness as a structured status: wait on these fields, never on a log line."""

    status: Literal["ready", "loading"] = Field(examples=["ready"])
    model_version: str | None = None
    default_lists: DefaultListsStatus | None = None


class ModelInfo(BaseModel):
    """The live bundle."""

    model_version: str
    trained_at: str
    asof: str
    data_fingerprint: str
    schema_version: str
    metrics: dict[str, float | int | None]
    model_uri: str | None = Field(None, description="the models:/ URI served, if any")
    registered_version: str | None = Field(None, description="MLflow model version served")


class ExampleCadre(BaseModel):
    """A cadre worth opening: exam answers on several topics and a clear gap."""

    cadre_id: str
    unit_id: str
    unit_name: str | None
    rank: str
    topics_answered: int = Field(description="topics with at least one exam answer")
    largest_gap: float = Field(description="the largest gap to the post, 0–100")
    largest_gap_topic: str


class ExampleUnit(BaseModel):
    """A unit worth opening."""

    unit_id: str
    name: str | None


class ExampleClass(BaseModel):
    """A rollcall class worth opening on the roster page."""

    class_id: str
    name: str
    capacity: int


class ExamplesResponse(BaseModel):
    """Ids from the live bundle that this key may open (the pages show them as links)."""

    model_version: str
    cadres: list[ExampleCadre]
    units: list[ExampleUnit]
    classes: list[ExampleClass]


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
    rank: Literal[RANKS] | None = Field(
        None, description="for a cadre the model does not know yet: their rank (with category)"
    )
    category: Literal[CATEGORIES] | None = Field(
        None, description="for a cadre the model does not know yet: their post category"
    )

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


class MandatoryCourse(BaseModel):
    """A compulsory course (必修) still due this year: shown apart, never among the items."""

    course_id: str
    title: str
    hours: float
    published_on: date | None = None


class RecommendationResponse(BaseModel):
    """Ranked courses for one cadre, and the compulsory package still due (apart)."""

    model_version: str
    cadre_id: str
    items: list[RecommendedCourse]
    mandatory: list[MandatoryCourse] = Field(
        default_factory=list,
        description="compulsory courses of this year's package not yet completed (必修)",
    )


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


class RankedPerson(BaseModel):
    """A teacher or staff member with the predicted rating from this class's cohort."""

    id: str
    predicted_rating: float = Field(description="expected rating 1–5 from this cohort")
    reasons: list[str] = Field(examples=[["擅长：法治素养", "同类学员评分 4.6", "近3年授课 12 次"]])


class TeacherSlot(BaseModel):
    """One topic slot (session) of the class and the teachers who fit it best."""

    course_id: str
    topic_id: str
    session_on: date
    teachers: list[RankedPerson]


class ClassTeachersResponse(BaseModel):
    """Ranked teachers for every topic slot of a class."""

    model_version: str
    class_id: str
    slots: list[TeacherSlot]


class ClassStaffResponse(BaseModel):
    """Ranked support staff (班主任/教辅) for a class."""

    model_version: str
    class_id: str
    staff: list[RankedPerson]


class RankRequest(BaseModel):
    """How many to rank."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, ge=1, le=50)


class TeacherPlanRequest(BaseModel):
    """Several classes to staff with teachers at once."""

    model_config = ConfigDict(extra="forbid")

    class_ids: list[str] = Field(min_length=1, max_length=200)
    max_sessions_per_month: int = Field(4, ge=1, le=100)


class PlannedSlot(BaseModel):
    """One slot of the plan: the teacher chosen, or why none could be."""

    class_id: str
    course_id: str
    topic_id: str
    session_on: date
    teacher_id: str | None
    predicted_rating: float | None
    reasons: list[str]
    unfilled_reason: str | None


class TeacherPlanResponse(BaseModel):
    """An assignment of teachers to every slot, within load and date limits."""

    model_version: str
    slots: list[PlannedSlot]
    unfilled: int
    mean_predicted_rating: float | None


class RollcallRequest(BaseModel):
    """An existing class (``class_id``) or an inline class (``topics`` + ``capacity``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"class_id": "B00040", "unit_quotas": {"U0003": 2}, "max_recent_hours": 120},
                {
                    "topics": {"TP03": 0.7, "TP10": 0.3},
                    "target_ranks": ["正科", "副处"],
                    "capacity": 40,
                    "unit_quotas": {"U0001": 3},
                    "max_recent_hours": 100,
                    "fairness_bound": 1.5,
                },
            ]
        },
    )

    class_id: str | None = None
    topics: dict[str, float] | None = Field(None, description="topic id -> weight")
    target_ranks: list[Literal[RANKS]] | None = None
    capacity: int | None = Field(None, ge=1, le=10_000)
    unit_quotas: dict[str, Annotated[int, Field(ge=0)]] | None = None
    max_recent_hours: float | None = Field(None, ge=0)
    fairness_bound: float | None = Field(
        None, gt=0, le=100, description="no unit above this many times its share of need"
    )
    exclude_cadre_ids: list[str] = Field(default_factory=list, max_length=10_000)
    k: int = Field(100, ge=1, le=5000, description="how many ranked candidates to return")

    @model_validator(mode="after")
    def _one_kind(self) -> RollcallRequest:
        if self.class_id is None and not self.topics:
            raise ValueError("give class_id, or topics and capacity for an inline class")
        if self.topics and any(w < 0 for w in self.topics.values()):
            raise ValueError("topic weights must be non-negative")
        return self


class Candidate(BaseModel):
    """A cadre who could be called, with predicted benefit and plain-word reasons."""

    cadre_id: str
    unit_id: str
    unit_name: str | None = None
    rank: str
    score: float = Field(description="predicted benefit of training this cadre in this class")
    gap: float = Field(description="gap on the class topics, 0–100")
    recent_hours: float
    eligible: bool
    reasons: list[str] = Field(
        examples=[["缺口：法治素养 32 分", "近一年未参训", "本单位名额 2/3"]]
    )


class ConstraintUse(BaseModel):
    """One constraint of the roster: its limit and how much the roster uses."""

    constraint: str
    limit: Any
    used: Any
    unit_id: str | None = Field(None, description="for unit_quota: the unit")
    unit_name: str | None = None
    shortfall: int | None = Field(None, description="for capacity: places left empty")


class RollcallResponse(BaseModel):
    """Ranked candidates, the suggested roster and the constraint report."""

    model_version: str
    class_id: str | None
    roster: list[Candidate]
    candidates: list[Candidate]
    constraints: list[ConstraintUse]
    equity: EquityReport | None = Field(None, description="seats against need per unit/district")


class BatchRecommendationRequest(BaseModel):
    """Several cadres at once (the management system's nightly or page-load batch)."""

    model_config = ConfigDict(extra="forbid")

    cadre_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=1000
    )
    k: int = Field(10, ge=1, le=100)


class BatchRecommendationResponse(BaseModel):
    """One ranked list per requested cadre, in request order."""

    model_version: str
    results: list[RecommendationResponse]
