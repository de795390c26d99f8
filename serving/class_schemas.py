"""Request and response models of a class's life: needs, design, evaluation and equity."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganxun.features.contracts import RANKS
from ganxun.serving.equity_schemas import EquityReport
from ganxun.serving.schemas import Candidate, ConstraintUse

Id = Annotated[str, Field(min_length=1, max_length=64)]


# --- needs ----------------------------------------------------------------------------------------


class NeedsRequest(BaseModel):
    """A cohort: a draft roster of cadre ids, or the cadres of some units and/or ranks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"unit_ids": ["U0001", "U0002"], "ranks": ["正科", "副处"]},
                {"cadre_ids": ["C000001", "C000002", "C000003"]},
            ]
        },
    )

    cadre_ids: list[Id] | None = Field(None, max_length=5000, description="a draft roster")
    unit_ids: list[Id] = Field(default_factory=list, max_length=500)
    ranks: list[Literal[RANKS]] = Field(default_factory=list)
    max_topics: int = Field(3, ge=1, le=6, description="most topics to suggest")

    @model_validator(mode="after")
    def _one_kind(self) -> NeedsRequest:
        if self.cadre_ids is None and not self.unit_ids and not self.ranks:
            raise ValueError("give cadre_ids, or unit_ids and/or ranks")
        if self.cadre_ids is not None and (self.unit_ids or self.ranks):
            raise ValueError("give cadre_ids or unit_ids/ranks, not both")
        if self.cadre_ids is not None and not self.cadre_ids:
            raise ValueError("cadre_ids is empty")
        return self


class CohortInfo(BaseModel):
    """Who the cohort is."""

    source: Literal["members", "target_ranks", "cadres", "units_ranks"] = Field(
        description="members: the class's enrolled cadres; target_ranks: a class not yet "
        "called, its target ranks; cadres: a draft roster; units_ranks: units and ranks"
    )
    size: int
    units: int
    ranks: dict[str, int] = Field(examples=[{"正科": 12, "副处": 8}])


class TopicNeed(BaseModel):
    """The cohort's reserve on one topic against its posts' targets (0–100)."""

    topic_id: str
    name: str
    mean_reserve: float
    sd_reserve: float
    mean_target: float
    share_short: float = Field(ge=0, le=1, description="share of the cohort below its target")
    mean_gap: float


class WeakTopic(BaseModel):
    """A topic most of the cohort is short on, with the distribution of its reserve."""

    topic_id: str
    name: str
    share_short: float
    mean_gap: float
    mean_target: float
    edges: list[float] = Field(description="histogram bin edges of the reserve, 0–100")
    counts: list[int] = Field(description="cadres per bin")


class TakenCourse(BaseModel):
    """A course the cohort already took (so a class does not repeat it)."""

    course_id: str
    title: str
    share: float = Field(ge=0, le=1, description="share of the cohort who took it or a re-issue")


class SuggestedTopic(BaseModel):
    """A topic for the class, its weight and why."""

    topic_id: str
    name: str
    weight: float
    reasons: list[str] = Field(examples=[["68% 的干部未达岗位要求", "平均缺口 12.3 分"]])


class NeedsResponse(BaseModel):
    """A cohort's needs analysis (训前需求分析)."""

    model_version: str
    class_id: str | None = None
    cohort: CohortInfo
    topics: list[TopicNeed]
    weak_topics: list[WeakTopic]
    taken_courses: list[TakenCourse]
    suggested_topics: list[SuggestedTopic]


# --- design ---------------------------------------------------------------------------------------

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class DesignRequest(BaseModel):
    """What the class is for: who, how many, when, how long, and the limits to respect."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "target_ranks": ["正科", "副处"],
                    "capacity": 40,
                    "month": "2026-11",
                    "days": 5,
                    "max_recent_hours": 120,
                    "fairness_bound": 1.5,
                },
                {
                    "unit_ids": ["U0001", "U0002", "U0003"],
                    "capacity": 20,
                    "start_on": "2026-11-09",
                    "hours": 24,
                    "topics": {"TP03": 0.6, "TP10": 0.4},
                    "exclude_course_ids": ["K00012"],
                },
            ]
        },
    )

    unit_ids: list[Id] = Field(default_factory=list, max_length=500, description="empty: any")
    target_ranks: list[Literal[RANKS]] = Field(default_factory=list, description="empty: any")
    capacity: int = Field(ge=1, le=2000)
    start_on: date | None = Field(None, description="first day (or give month)")
    month: str | None = Field(None, description="YYYY-MM: the class starts on its first Monday")
    days: int | None = Field(None, ge=1, le=90, description="length in days")
    hours: float | None = Field(None, gt=0, le=500, description="teaching hours")
    topics: dict[str, float] | None = Field(None, description="fixed topics: topic id -> weight")
    max_topics: int = Field(3, ge=1, le=6)
    unit_quotas: dict[str, Annotated[int, Field(ge=0)]] | None = None
    max_recent_hours: float | None = Field(None, ge=0)
    fairness_bound: float | None = Field(
        None, gt=0, le=100, description="no unit above this many times its share of need"
    )
    max_sessions_per_month: int = Field(4, ge=1, le=100, description="per teacher")
    exclude_course_ids: list[Id] = Field(default_factory=list, max_length=2000)
    exclude_teacher_ids: list[Id] = Field(default_factory=list, max_length=2000)
    exclude_staff_ids: list[Id] = Field(default_factory=list, max_length=2000)
    exclude_cadre_ids: list[Id] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _when_and_how_long(self) -> DesignRequest:
        if (self.start_on is None) == (self.month is None):
            raise ValueError("give start_on or month (one of them)")
        if self.month is not None and not _MONTH.match(self.month):
            raise ValueError("month must look like 2026-11")
        first = self.start_on or date(int(self.month[:4]), int(self.month[5:]), 1)
        if not date(1950, 1, 1) <= first <= date(2200, 12, 31):
            raise ValueError("the class must start between 1950 and 2200")
        if self.days is None and self.hours is None:
            raise ValueError("give days, hours or both")
        if self.topics is not None and any(w < 0 for w in self.topics.values()):
            raise ValueError("topic weights must be non-negative")
        return self


class DesignStep(BaseModel):
    """One step of the design sequence and what it decided."""

    step: Literal[
        "pool_needs", "topics", "roster", "refine_topics", "sessions", "teachers", "staff"
    ]
    title: str
    summary: str


class DesignTopic(BaseModel):
    """A topic of the class: its weight after the roster's needs, before them, and why."""

    topic_id: str
    name: str
    weight: float
    pool_weight: float = Field(description="weight from the eligible pool's needs")
    reasons: list[str]


class DesignSession(BaseModel):
    """One session: the course, its date and the teacher, each with its reasons."""

    course_id: str
    title: str
    topic_id: str
    topic_name: str
    hours: float
    level: int
    mode: str
    session_on: date
    taken_share: float = Field(description="share of the roster who already took it")
    reasons: list[str] = Field(examples=[["覆盖专题权重 60%", "评价较高", "学员均未学过"]])
    teacher_id: str | None
    predicted_rating: float | None = Field(description="teacher's expected rating, 1–5")
    teacher_reasons: list[str]
    unfilled_reason: str | None = None


class DesignStaff(BaseModel):
    """The support staff member (班主任/教辅) and why."""

    staff_id: str
    predicted_rating: float
    reasons: list[str]
    alternatives: list[str]


class DesignConstraint(ConstraintUse):
    """A constraint of the design: its limit and use (``units`` for the fairness bound)."""

    units: list[dict[str, Any]] | None = None


class DesignResponse(BaseModel):
    """A complete draft class: topics, sessions with teachers, staff, roster, constraints."""

    model_version: str
    start_on: date
    end_on: date
    days: int
    hours: float
    complete: bool = Field(description="every session has a teacher and the class has staff")
    steps: list[DesignStep]
    topics: list[DesignTopic]
    sessions: list[DesignSession]
    staff: DesignStaff | None
    roster: list[Candidate]
    constraints: list[DesignConstraint]
    equity: EquityReport


# --- evaluation -----------------------------------------------------------------------------------


class ClassEffect(BaseModel):
    """The class's mean member gain (share correct, difficulty-adjusted) and value added."""

    gain: float | None
    gain_se: float | None
    measured: int = Field(description="members with a pre- and a post-exam")
    expected_gain: float | None = Field(description="what classes of similar cohorts gained")
    value_added: float | None
    percentile: float | None = Field(description="share of classes with less value added")
    classes_compared: int
    total_scores_only: bool = Field(
        description="exams kept only as totals: raw score shares, not difficulty-adjusted"
    )


class TopicGain(BaseModel):
    """Gain on one topic beside the other classes that taught it."""

    topic_id: str
    name: str
    weight: float
    gain: float | None
    gain_se: float | None
    measured: int
    peer_mean: float | None
    peer_classes: int
    percentile: float | None


class PersonRating(BaseModel):
    """A teacher's or staff member's ratings in this class, less the raters' leniency."""

    role: Literal["teacher", "staff"]
    person_id: str
    ratings: int
    raw_mean: float | None
    corrected_mean: float | None
    overall_quality: float | None = Field(description="their corrected quality over all classes")


class Attendance(BaseModel):
    """Attendance and completion."""

    capacity: int | None
    members: int
    sessions_completed_share: float | None
    members_completed_all: int
    mean_progress: float | None
    hours_attended: float | None


class StillShort(BaseModel):
    """A member still below the post's target on the class topics (at the model's cut-off)."""

    cadre_id: str
    unit_id: str
    unit_name: str | None = None
    rank: str
    gap: float = Field(description="class-weighted gap, 0–100")
    topic_id: str
    topic_name: str
    topic_gap: float


class EvaluationResponse(BaseModel):
    """Post-training evaluation of one class (训后评价总结)."""

    model_version: str
    class_id: str
    name: str
    institution_id: str
    kind: str
    start_on: date
    end_on: date
    effect: ClassEffect | None
    topics: list[TopicGain]
    member_gains: list[float]
    ratings: list[PersonRating]
    attendance: Attendance
    still_short: list[StillShort]


class PeriodEquityResponse(EquityReport):
    """Rollcall seats of a period against each unit's need, and how concentrated seats are."""

    model_version: str
    start: date
    end: date
    classes: int
    seats: int
    concentration: dict[str, Any] = Field(
        examples=[{"since": "2023-01-01", "gini": 0.62, "top10_share": 0.41, "never_called": 0.5}]
    )
    data_until: date
