"""Request and response models of the organisation department's views of a cadre (issue 14).

Training dossier (培训电子档案), hour compliance (学时达标) with 任职培训, and the selection
reference (选拔任用参考). Dates are ISO dates; reserves, requirements and fits are on the 0–100
scale of the knowledge profile.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ganxun.features.contracts import CATEGORIES, RANKS

#: Ledger statuses (学时达标), as :func:`ganxun.models.compliance.status` words them.
STATUSES = ("已达标", "进度正常", "有风险", "已逾期")
#: 任职培训 statuses: done, still open before its deadline, past its deadline.
APPOINTMENT_STATUSES = ("已完成", "待完成", "已逾期")


class MandatoryDue(BaseModel):
    """A compulsory course (必修) of this year's package the cadre has not completed yet."""

    course_id: str = Field(examples=["K0123"])
    title: str = Field(examples=["学习贯彻党的二十大精神"])
    hours: float = Field(examples=[4.0])
    published_on: date | None = None


class OpenClass(BaseModel):
    """A class already published that would count toward a rule before its period ends."""

    class_id: str = Field(examples=["B00412"])
    name: str = Field(examples=["2026年第3期处级干部法治素养专题培训班"])
    kind: str = Field(description="rollcall / elective / online", examples=["rollcall"])
    start_on: date
    end_on: date
    hours: float = Field(description="hours of the class's sessions", examples=[40.0])


class RuleStanding(BaseModel):
    """A cadre's standing on one hour rule in its current period, with the forecast."""

    rule_id: str = Field(examples=["R-county-5y"])
    rule_name: str = Field(examples=["县处级五年脱产培训 550 学时"])
    kind: str = Field(description="hour kind counted: 脱产 / 集中 / 网络", examples=["脱产"])
    window_start: date
    window_end: date = Field(description="first day after the period")
    required: float = Field(description="hours required (pro-rated for time in the ranks)")
    hours: float = Field(description="hours counted so far in the period")
    due: float = Field(description="hours still missing (0 when met)")
    p_met: float | None = Field(
        None, ge=0, le=1, description="forecast probability of meeting the rule by the period end"
    )
    status: Literal[STATUSES] = Field(examples=["有风险"])
    open_classes: list[OpenClass] = Field(
        default_factory=list,
        description="published classes the cadre's rank may attend, counting toward this rule's "
        "kind, starting before the period ends (soonest first)",
    )


class AppointmentDue(BaseModel):
    """任职培训: a promotion whose hour rule was not met, to be made up by a deadline."""

    rule_id: str
    rule_name: str
    kind: str
    promoted_on: date
    to_rank: str = Field(examples=["副处"])
    missing: float = Field(description="hours short at promotion")
    done: float = Field(description="hours of the rule's kind since the promotion")
    remaining: float
    due_on: date = Field(description="deadline (promotion + the rule's months, usually 12)")
    status: Literal[APPOINTMENT_STATUSES] = Field(examples=["待完成"])


class CadreComplianceResponse(BaseModel):
    """One cadre's hour rules, 任职培训 and compulsory courses due (学时达标)."""

    model_version: str
    cadre_id: str
    unit_id: str
    unit_name: str | None
    rank: str
    in_service: bool
    asof: date = Field(description="the bundle's cut-off: standings count hours before it")
    rules: list[RuleStanding]
    appointment: list[AppointmentDue]
    mandatory: list[MandatoryDue]


class LedgerRow(BaseModel):
    """One line of a unit's ledger (台账): a cadre on one rule, or one 任职培训 due."""

    cadre_id: str
    rank: str
    category: str
    obligation: str = Field(examples=["县处级五年脱产培训 550 学时", "任职培训（副处）"])
    rule_id: str
    kind: str
    required: float
    hours: float
    due: float
    deadline: date
    p_met: float | None = Field(None, description="forecast (null for 任职培训 and met rules)")
    status: str = Field(examples=["有风险"])


class UnitLedgerResponse(BaseModel):
    """A unit's compliance ledger: who is on track, at risk or overdue, and 任职培训 due."""

    model_version: str
    unit_id: str
    unit_name: str | None
    asof: date
    cadres: int = Field(description="cadres of the unit in service")
    counts: dict[str, int] = Field(
        description="ledger lines per status", examples=[{"进度正常": 12, "有风险": 3}]
    )
    rows: list[LedgerRow] = Field(
        description="worst first: 已逾期, 有风险, 待完成, 进度正常, 已达标"
    )


class SummaryGroup(BaseModel):
    """Compliance of one district or one unit level."""

    group: str = Field(examples=["锦江区", "区县"])
    cadres: int
    rule_lines: int
    met: int
    on_track: int
    at_risk: int
    overdue: int
    at_risk_share: float = Field(description="(at risk + overdue) / rule lines")
    appointment_open: int
    appointment_overdue: int


class ComplianceSummaryResponse(BaseModel):
    """The city's compliance by district and by unit level (org keys only)."""

    model_version: str
    asof: date
    total: SummaryGroup
    by_district: list[SummaryGroup]
    by_level: list[SummaryGroup]


# --- dossier --------------------------------------------------------------------------------------


class DossierPost(BaseModel):
    """A post held (任职经历)."""

    unit_id: str
    unit_name: str | None
    rank: str
    category: str
    from_on: date | None
    to_on: date | None = Field(None, description="empty while the post is held")


class DossierCourse(BaseModel):
    """One course studied (an enrolment)."""

    course_id: str
    title: str
    mode: str = Field(examples=["面授"])
    source: Literal["调训", "自选", "必修", "其他"]
    class_id: str | None
    enrolled_on: date
    completed_on: date | None
    completed: bool
    progress: float = Field(ge=0, le=1)
    hours: float = Field(description="credited hours (学时)")
    hour_kinds: list[str] = Field(description="what the hours count toward: 脱产 / 集中 / 网络")


class DossierClass(BaseModel):
    """A class the cadre attended, and how its participants rated it."""

    class_id: str
    name: str
    kind: str
    start_on: date
    end_on: date
    hours: float = Field(description="this cadre's hours in the class")
    courses: int
    completed: int = Field(description="courses of the class the cadre completed")
    rating: float | None = Field(None, description="mean course score (1–5) the class received")
    n_ratings: int
    staff_rating: float | None = Field(None, description="mean score of its 班主任 (1–5)")


class DossierExam(BaseModel):
    """A class exam with a pre and a post measure (训前/训后)."""

    class_id: str
    class_name: str
    end_on: date
    pre: float = Field(description="share correct before, 0–100")
    post: float = Field(description="share correct after, 0–100")
    gain: float = Field(description="post − pre, points")
    answers: int = Field(description="answers (or answer-equivalents) behind pre and post")


class YearReserve(BaseModel):
    """One topic's reserve at a year end (a spoke of that year's radar)."""

    topic_id: str
    name: str
    reserve: float = Field(ge=0, le=100)


class DossierYear(BaseModel):
    """One calendar year of the dossier."""

    year: int
    hours: float = Field(description="credited hours of the year's enrolments")
    hours_by_kind: dict[str, float] = Field(examples=[{"脱产": 40.0, "集中": 56.0, "网络": 22.5}])
    hours_by_source: dict[str, float] = Field(examples=[{"调训": 40.0, "自选": 12.0, "必修": 8.0}])
    classes: list[DossierClass]
    courses: list[DossierCourse]
    exams: list[DossierExam]
    reserve_at: date | None = Field(None, description="the date of ``reserve`` (year end)")
    reserve: list[YearReserve] = Field(
        default_factory=list, description="knowledge reserve at the year end (empty before hire)"
    )


class TopicRequired(BaseModel):
    """What the cadre's post needs on one topic (the radar's dashed line)."""

    topic_id: str
    name: str
    required: float


class DossierResponse(BaseModel):
    """A cadre's training dossier (培训电子档案): posts, training by year, exams, radar history."""

    model_version: str
    cadre_id: str
    unit_id: str
    unit_name: str | None
    rank: str
    category: str
    in_service: bool
    asof: date
    posts: list[DossierPost]
    total_hours: float
    years: list[DossierYear] = Field(description="oldest first")
    required: list[TopicRequired]
    reserve_note: str = Field(description="how the year-end reserves are computed")
    rules: list[RuleStanding]
    appointment: list[AppointmentDue]
    mandatory: list[MandatoryDue]


# --- selection ------------------------------------------------------------------------------------


class PostSpec(BaseModel):
    """The post to fill: its rank and category, optionally its unit and topic targets."""

    model_config = ConfigDict(extra="forbid")

    rank: Literal[RANKS] = Field(examples=["副处"])
    category: Literal[CATEGORIES] = Field(examples=["政法"])
    unit_id: str | None = Field(None, max_length=64, examples=["U0003"])
    topics: dict[str, float] | None = Field(
        None,
        description="topic id → required reserve 0–100; default: the post_requirements row of "
        "rank × category",
        examples=[{"TP03": 80, "TP07": 70}],
    )

    @model_validator(mode="after")
    def _targets(self) -> PostSpec:
        if self.topics is not None:
            if not self.topics or len(self.topics) > 100:
                raise ValueError("topics needs 1–100 topic ids")
            if any(not (0 <= v <= 100) for v in self.topics.values()):
                raise ValueError("topic targets are on the 0–100 scale")
            if max(self.topics.values()) <= 0:
                raise ValueError("at least one topic target must be above 0")
        return self


class PostFitRequest(BaseModel):
    """A post and its candidates: a list of cadres, or the eligible cadres of units and ranks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"post": {"rank": "副处", "category": "政法"}, "unit_ids": ["U0003"], "k": 20},
                {
                    "post": {"rank": "正科", "category": "综合管理", "topics": {"TP03": 80}},
                    "cadre_ids": ["C000012", "C000045", "C000107"],
                },
            ]
        },
    )

    post: PostSpec
    cadre_ids: list[str] | None = Field(
        None, min_length=1, max_length=2000, description="the candidates (else units and ranks)"
    )
    unit_ids: list[str] | None = Field(
        None, min_length=1, max_length=500, description="eligible cadres of these units"
    )
    ranks: list[Literal[RANKS]] | None = Field(
        None,
        min_length=1,
        description="eligible ranks (default: the post's rank and the rank below)",
    )
    k: int = Field(50, ge=1, le=2000, description="how many ranked candidates to return")


class TopicShortfall(BaseModel):
    """One required topic of a candidate: reserve, shortfall and the evidence behind it."""

    topic_id: str
    name: str
    required: float
    reserve: float
    shortfall: float = Field(description="max(0, required − reserve), points")
    confidence: float = Field(ge=0, le=1, description="share resting on the cadre's own answers")
    answers: int = Field(description="exam answers on the topic")


class TrainingSummary(BaseModel):
    """The candidate's training record in brief."""

    hours_total: float
    hours_last_year: float
    classes: int
    last_trained_on: date | None


class FitCandidate(BaseModel):
    """A candidate against the post: expected fit with an interval, shortfalls and evidence."""

    position: int = Field(description="1 = best expected fit")
    cadre_id: str
    unit_id: str
    unit_name: str | None
    rank: str
    category: str
    fit: float = Field(description="share of the requirement the estimated reserve meets, 0–100")
    score: float = Field(
        description="ranking score: the fit with softened shortfalls (orders candidates who "
        "meet every target by their margin above it)"
    )
    fit_low: float = Field(description="10th percentile of the fit given the evidence")
    fit_high: float = Field(description="90th percentile of the fit given the evidence")
    thin_evidence: bool = Field(description="证据不足: little exam evidence on the post's topics")
    evidence_level: Literal["证据充分", "证据一般", "证据不足"]
    evidence: str = Field(description="what the estimate rests on, in words")
    shortfalls: list[TopicShortfall] = Field(description="required topics, largest shortfall first")
    record: TrainingSummary
    obligations: list[str] = Field(description="hour rules and 任职培训 in words")


class PostFitResponse(BaseModel):
    """Candidates ranked against a post (选拔任用参考: a reference, never a decision)."""

    model_version: str
    post: PostSpec
    requirement_source: Literal["post_requirements", "request"]
    required: list[TopicRequired]
    n_candidates: int
    thin_evidence: int = Field(description="candidates marked 证据不足")
    candidates: list[FitCandidate]
    notice: str = Field(description="what this answer is and is not")
    method: str = Field(description="how the fit and its interval are computed")
