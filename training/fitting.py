"""Build features from clean tables and fit every model as of a cut-off date (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.careers import posts_at
from ganxun.features.catalog import near_duplicate_groups, post_targets, segment_of
from ganxun.features.cohorts import ReserveMatrix
from ganxun.features.contracts import CATEGORIES, MODES, RANKS
from ganxun.features.exposure import (
    ONLINE_MODES,
    course_topic_matrix,
    decayed_topic_hours,
    interaction_matrix,
    item_topic_matrix,
    topic_answer_counts,
    topic_hours_at,
    total_score_answers,
    with_exposure_hours,
)
from ganxun.features.obligations import (
    appointment_training,
    forecast_rows,
    forecast_training_rows,
    kind_hours,
    mandatory_courses,
    mandatory_due,
)
from ganxun.features.ratings import rescale_ratings
from ganxun.features.split import latest_event
from ganxun.features.vocab import Vocabulary
from ganxun.models.choice_model import ChoiceFactors, ChoiceRetriever, fit_choice_factors
from ganxun.models.compliance import ComplianceForecaster, status
from ganxun.models.course_sources import (
    PAIR_FEATURES,
    ClassSchedule,
    CoursePairFeatures,
    GapRetriever,
    ScheduleRetriever,
    StageView,
    recent_shares,
)
from ganxun.models.diagnosis import LogisticDiagnosis
from ganxun.models.knowledge import ExposureReserve
from ganxun.models.layout import topic_year_hours, unit_reserve
from ganxun.models.matching import TeacherMatcher
from ganxun.models.popularity import PeerPopularity
from ganxun.models.quality import RatingQuality
from ganxun.models.ranker import LambdaRanker
from ganxun.models.ranking import expand_to_groups
from ganxun.models.recommender import TwoStageRecommender
from ganxun.models.retrieval import (
    ALSRetriever,
    EASERetriever,
    PopularityRetriever,
    SegmentPopularityRetriever,
)
from ganxun.models.rollcall import RollcallRanker
from ganxun.models.staff_matching import StaffMatcher
from ganxun.training.class_table import ClassTable, build_class_table
from ganxun.training.config import KnowledgeConfig, QualityConfig, RollcallConfig, TrainConfig
from ganxun.training.records import RecordsState, build_records


@dataclass
class Catalog:
    """Ids, attributes and static matrices shared by every model."""

    cadres: Vocabulary
    courses: Vocabulary
    topics: Vocabulary
    items: Vocabulary
    units: Vocabulary
    teachers: Vocabulary
    staff: Vocabulary
    cadre_info: pd.DataFrame  # rows in cadre vocabulary order: unit_id, rank, category, segment
    course_info: pd.DataFrame  # rows in course vocabulary order: title, mode, hours, level, ...
    topic_info: pd.DataFrame  # rows in topic vocabulary order: name_zh, name_en
    targets: np.ndarray  # (n_segments, n_topics) reserve each post needs
    course_topics: sp.csr_matrix  # (n_courses, n_topics), rows sum to one
    item_topics: sp.csr_matrix  # (n_items, n_topics) incidence
    course_groups: np.ndarray  # (n_courses,) near-duplicate group
    cadre_unit: np.ndarray  # (n_cadres,) unit index
    unit_info: pd.DataFrame  # rows in unit vocabulary order: unit_id, name, district, level


@dataclass
class QualityState:
    """Leniency-corrected, shrunk quality of courses, teachers and staff (expected 1–5 score)."""

    course: RatingQuality
    teacher: RatingQuality
    staff: RatingQuality
    #: mean raw course score per course (NaN when unrated): what a page shows as "评分"
    course_mean_score: np.ndarray | None = None


@dataclass
class LayoutState:
    """Unit × topic × year training layout and unit × topic reserve, for every unit."""

    hours: pd.DataFrame  # unit, topic, year, hours, cadres_trained, trained_share (indices)
    mean_reserve: np.ndarray  # (n_units, n_topics)
    mean_gap: np.ndarray  # (n_units, n_topics)
    unit_sizes: np.ndarray  # (n_units,)


@dataclass
class KnowledgeState:
    """The fitted reserve model and its per-cell inputs and outputs as of ``asof``.

    ``model`` is the multidimensional logistic diagnosis over exam answers, with a prior per cell
    from ``exposure`` (decayed training hours), so cadres without answers still get a profile.
    """

    model: LogisticDiagnosis
    exposure: ExposureReserve
    hours: np.ndarray
    correct: np.ndarray
    total: np.ndarray
    reserve: np.ndarray
    confidence: np.ndarray
    #: weights of online and compulsory hours in the exposure (see ``with_exposure_hours``)
    online_weight: float = 1.0
    mandatory_weight: float = 1.0


@dataclass
class RecommenderState:
    """The two-stage recommender, the peer-popularity baseline, and what each cadre took."""

    model: TwoStageRecommender
    peer: PeerPopularity
    seen: sp.csr_matrix  # (n_cadres, n_courses) any enrolment before ``asof``


#: Small tables the planners read at query time (classes and who teaches/attends them).
PLANNING_TABLES = (
    "classes",
    "class_topics",
    "class_sessions",
    "courses",
    "course_topics",
    "cadres",
    "teachers",
    "teacher_topics",
    "staff",
)


@dataclass
class PlanningState:
    """Teacher and staff matchers, the rollcall ranker, and the class tables they query."""

    teacher: TeacherMatcher
    staff: StaffMatcher
    rollcall: RollcallRanker
    tables: dict[str, pd.DataFrame]
    reserve: ReserveMatrix
    #: per-class evaluation (训后评价), see :mod:`ganxun.training.class_table`; None in bundles
    #: trained before it or by the Spark engine
    evaluation: ClassTable | None = None


@dataclass
class ComplianceState:
    """Hour rules as of ``asof``: each cadre's standing with its forecast, and what is due.

    ``standing`` holds one row per (cadre in service, rule covering their rank): the
    :func:`ganxun.features.obligations.compliance` columns, the forecast features, ``p_met``
    (probability of meeting the rule by the period end) and ``status``; ``appointment`` the open
    and overdue 任职培训; ``mandatory`` the compulsory courses each cadre still has to complete.
    """

    forecaster: ComplianceForecaster
    standing: pd.DataFrame
    appointment: pd.DataFrame
    mandatory: pd.DataFrame


@dataclass
class Fitted:
    """Everything a bundle holds: the catalogue and each fitted model, as of ``asof``."""

    asof: pd.Timestamp
    catalog: Catalog
    knowledge: KnowledgeState
    recommender: RecommenderState
    quality: QualityState
    layout: LayoutState
    planning: PlanningState | None = None
    lists: DefaultListArrays | None = None
    compliance: ComplianceState | None = None
    #: per-cadre rows and year-end reserves for the dossier (see :mod:`ganxun.training.records`)
    records: RecordsState | None = None


@dataclass
class DefaultListArrays:
    """Every cadre's default recommendation list (no filters), computed once at training time.

    ``ids`` (int32) and ``scores`` have shape (n_cadres, n); row ``i`` is what
    ``recommender.model.recommend`` returns for cadre ``i`` with ``N=n``, its history excluded
    with every re-issue of a taken course (padding ``-1`` / ``-inf``).
    """

    ids: np.ndarray
    scores: np.ndarray


#: Policy for the course ranker: a larger knowledge gap on a course's topics never lowers it.
GAP_MONOTONE = {"gap_match": 1, "gap_top_topic": 1, "gap_z": 1, "gap_rank": -1}


def build_catalog(tables: dict[str, pd.DataFrame], asof: pd.Timestamp | None = None) -> Catalog:
    """Vocabularies and static matrices from the clean tables (courses as given).

    ``cadre_info.in_service`` says who held a post at ``asof`` (default: the newest event);
    ``course_info.mandatory`` marks compulsory courses (never recommended: they are due).
    """
    cadres = tables["cadres"].reset_index(drop=True)
    courses = tables["courses"].reset_index(drop=True)
    topics_df = tables["topics"].reset_index(drop=True)
    topics = Vocabulary(topics_df["topic_id"])
    course_vocab = Vocabulary(courses["course_id"])
    items = Vocabulary(tables["items"]["item_id"])
    ctm = course_topic_matrix(tables["course_topics"], course_vocab, topics)
    main_topic = np.asarray(ctm.argmax(axis=1)).ravel()
    info = courses[["course_id", "title", "mode", "hours", "level", "published_on"]].copy()
    info["main_topic"] = topics.lookup(main_topic)
    info["mandatory"] = mandatory_courses(tables).reindex(courses["course_id"]).to_numpy(bool)
    cadre_info = cadres[["cadre_id", "unit_id", "rank", "category"]].copy()
    cadre_info["segment"] = segment_of(cadres["rank"], cadres["category"])
    when = latest_event(tables) + pd.Timedelta(days=1) if asof is None else asof
    cadre_info["in_service"] = posts_at(tables, when)["in_service"].to_numpy(bool)
    units = tables["units"].reset_index(drop=True)
    unit_vocab = Vocabulary(units["unit_id"])
    return Catalog(
        cadres=Vocabulary(cadres["cadre_id"]),
        courses=course_vocab,
        topics=topics,
        items=items,
        units=unit_vocab,
        teachers=Vocabulary(tables["teachers"]["teacher_id"]),
        staff=Vocabulary(tables["staff"]["staff_id"]),
        cadre_info=cadre_info.reset_index(drop=True),
        course_info=info.reset_index(drop=True),
        topic_info=topics_df[["topic_id", "name_zh", "name_en"]],
        targets=post_targets(tables["post_requirements"], topics),
        course_topics=ctm,
        item_topics=item_topic_matrix(tables["items"], items, topics),
        course_groups=near_duplicate_groups(courses),
        cadre_unit=unit_vocab.index(cadres["unit_id"]),
        unit_info=units[["unit_id", "name", "district", "level"]],
    )


def _rating_quality(
    raters: pd.Series,
    targets: pd.Series,
    scores: pd.Series,
    cadres: Vocabulary,
    vocab: Vocabulary,
) -> RatingQuality:
    ri, ti = cadres.index(raters), vocab.index(targets)
    ok = (ri >= 0) & (ti >= 0) & scores.notna().to_numpy()
    return RatingQuality().fit(
        ri[ok], ti[ok], scores.to_numpy(float, na_value=np.nan)[ok], len(cadres), len(vocab)
    )


def fit_quality(
    tables: dict[str, pd.DataFrame],
    cat: Catalog,
    asof: pd.Timestamp,
    qc: QualityConfig | None = None,
) -> QualityState:
    """Course, teacher and staff quality from ratings before ``asof``.

    With ``qc.rating_scale == "ridit"`` every score is first read against its rater's own scores
    (:func:`ganxun.features.ratings.rescale_ratings`: robust to inflated, capped ratings); the
    mean raw course score is kept for display.
    """
    qc = qc or QualityConfig()
    raw = tables["course_ratings"]
    raw = raw[raw["rated_on"] < asof]
    if qc.rating_scale == "ridit":
        tables = rescale_ratings(tables, qc.ridit_prior)
    cr = tables["course_ratings"]
    cr = cr[cr["rated_on"] < asof]
    sr = tables["staff_ratings"]
    sr = sr[sr["rated_on"] < asof]
    mean_score = raw.groupby("course_id")["course_score"].mean().astype(float)
    return QualityState(
        course_mean_score=mean_score.reindex(cat.courses.ids_).to_numpy(float),
        course=_rating_quality(
            cr["cadre_id"], cr["course_id"], cr["course_score"], cat.cadres, cat.courses
        ),
        teacher=_rating_quality(
            cr["cadre_id"], cr["teacher_id"], cr["teacher_score"], cat.cadres, cat.teachers
        ),
        staff=_rating_quality(sr["cadre_id"], sr["staff_id"], sr["score"], cat.cadres, cat.staff),
    )


def build_layout(
    tables: dict[str, pd.DataFrame], cat: Catalog, reserve: np.ndarray, asof: pd.Timestamp
) -> LayoutState:
    """Every unit's topic × year hours and coverage, and its mean reserve and gap per topic."""
    e = tables["enrollments"]
    e = e[e["enrolled_on"] < asof]
    ci, ki = cat.cadres.index(e["cadre_id"]), cat.courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0) & (cat.cadre_unit[np.maximum(ci, 0)] >= 0)
    sizes = np.bincount(cat.cadre_unit[cat.cadre_unit >= 0], minlength=len(cat.units))
    hours = topic_year_hours(
        ci[ok],
        ki[ok],
        e["enrolled_on"].dt.year.to_numpy()[ok],
        (e["hours"] * e["progress"]).to_numpy(float)[ok],
        cat.cadre_unit,
        cat.course_topics,
        sizes,
    )
    gap = np.maximum(
        0.0, cat.targets[np.maximum(cat.cadre_info["segment"].to_numpy(), 0)] - reserve
    )
    member = cat.cadre_unit >= 0
    mean_reserve, mean_gap = unit_reserve(
        cat.cadre_unit[member], reserve[member], gap[member], len(cat.units)
    )
    return LayoutState(hours, mean_reserve, mean_gap, sizes)


def exposure_logit(exposure: ExposureReserve, hours: np.ndarray) -> np.ndarray:
    """The exposure prior of each cell on the logit scale (the diagnosis model's prior mean)."""
    p = np.clip(exposure.prior(hours), 0.02, 0.98)
    return np.log(p / (1 - p))


def knowledge_groups(cat: Catalog, groupings: list[str] | tuple[str, ...]) -> np.ndarray:
    """Group index of every cadre in each grouping (unit, category, rank), ``-1`` when unknown."""
    info = cat.cadre_info
    columns = []
    for name in groupings:
        if name == "unit":
            columns.append(np.asarray(cat.cadre_unit, dtype=np.int64))
        elif name == "category":
            columns.append(pd.Index(CATEGORIES).get_indexer(info["category"]))
        elif name == "rank":
            columns.append(pd.Index(RANKS).get_indexer(info["rank"]))
        else:
            raise ValueError(f"unknown grouping {name!r}: use unit, category or rank")
    return np.column_stack(columns) if columns else np.zeros((len(info), 0), dtype=np.int64)


def exposure_weight(knowledge: KnowledgeState, cat: Catalog, courses: np.ndarray) -> np.ndarray:
    """Weight of a completion's hours in the exposure, per course (online ones may count less)."""
    online = cat.course_info["mode"].isin(ONLINE_MODES).to_numpy()[np.asarray(courses)]
    return np.where(online, getattr(knowledge, "online_weight", 1.0), 1.0)


def shift_exposure(knowledge: KnowledgeState, idx: int, old: np.ndarray, new: np.ndarray) -> None:
    """Move cadre ``idx``'s reserve for a change of their training hours from ``old`` to ``new``.

    A model fitted with the exposure covariate moves by its learned effect, in full; an older
    model moves by the change of its prior, less where answers pin the cell down.
    """
    delta = (
        exposure_logit(knowledge.exposure, new[None])[0]
        - exposure_logit(knowledge.exposure, old[None])[0]
    )
    model = knowledge.model
    coef = getattr(model, "covariate_coef_", ())
    if len(coef):
        # only the exposure covariate (the first) changes with hours
        full = np.zeros((len(delta), len(coef)))
        full[:, 0] = delta
        model.shift_covariates(idx, full)
    else:
        model.shift_prior(idx, delta)


def fit_knowledge(
    tables: dict[str, pd.DataFrame], cat: Catalog, asof: pd.Timestamp, kc: KnowledgeConfig
) -> KnowledgeState:
    """Knowledge reserve per cadre × topic from exam answers, training exposure and peers.

    The diagnosis model reads every answer through the exposure the cadre had when giving it:
    its covariate is the exposure prior (logit) of the decayed training hours before the answer's
    date, and the reserve uses the hours at ``asof``, so training after a cadre's last answer
    still moves the reserve. Cadres share a per-topic effect with their unit, category and rank.
    Exposure weighs online and compulsory hours by ``kc.online_weight`` / ``kc.mandatory_weight``
    (credited hours are not learning); exams kept only as totals enter as weighted answers to a
    pseudo-item per exam (:func:`ganxun.features.exposure.total_score_answers`); with
    ``kc.guessing`` the answers have a guessing floor.
    """
    e = tables["enrollments"]
    e = with_exposure_hours(
        e[e["enrolled_on"] < asof], tables["courses"], kc.online_weight, kc.mandatory_weight
    )
    hours = decayed_topic_hours(
        e, cat.course_topics, cat.cadres, cat.courses, asof, kc.half_life_days
    )
    correct, total = topic_answer_counts(
        tables["responses"], cat.item_topics, cat.cadres, cat.items, asof
    )
    exposure = ExposureReserve(prior_strength=kc.prior_strength, hours_scale=kc.hours_scale)
    exposure.fit(hours, correct, total)
    r = tables["responses"]
    r = r[r["answered_on"] < asof]
    ui, ii = cat.cadres.index(r["cadre_id"]), cat.items.index(r["item_id"])
    ok = (ui >= 0) & (ii >= 0)
    ui, ii = ui[ok], ii[ok]
    days, y, weight = r["answered_on"][ok], r["correct"].to_numpy(int)[ok], np.ones(ok.sum())
    exams = tables.get("exam_scores")
    if exams is not None and len(exams):
        totals, pseudo_q = total_score_answers(
            exams[exams["taken_on"] < asof],
            tables["class_topics"],
            cat.topics,
            kc.total_score_answers,
        )
        pu = cat.cadres.index(totals["cadre_id"])
        keep = pu >= 0
        ui = np.concatenate([ui, pu[keep]])
        ii = np.concatenate([ii, len(cat.items) + totals["item"].to_numpy(np.int64)[keep]])
        days = pd.concat([days, totals["answered_on"][keep]], ignore_index=True)
        y = np.concatenate([y, totals["correct"].to_numpy(int)[keep]])
        weight = np.concatenate([weight, totals["weight"].to_numpy(float)[keep]])
        item_topics = sp.vstack([cat.item_topics, pseudo_q]).tocsr()
    else:
        item_topics = cat.item_topics
    days = pd.Series(pd.to_datetime(days).to_numpy())
    age = (asof - days).dt.days.to_numpy(float)
    # the exposure prior when each answer was given, averaged over the item's topics
    then = exposure_logit(
        exposure,
        topic_hours_at(e, cat.course_topics, cat.cadres, cat.courses, ui, days, kc.half_life_days),
    )
    answered_topics = item_topics[ii]
    n_topics = np.maximum(np.asarray(answered_topics.sum(axis=1)).ravel(), 1.0)
    then = np.asarray(answered_topics.multiply(then).sum(axis=1)).ravel() / n_topics
    X, C = then[:, None], exposure_logit(exposure, hours)[:, :, None]
    if kc.engagement_covariate:
        # how many answers a cadre gave by the cut-off: cadres who skip self-tests are not a
        # random sample of the rest (their reserve must not default to their peers')
        engaged = np.log1p(total.sum(axis=1))
        X = np.column_stack([X, engaged[ui]])
        C = np.concatenate([C, np.repeat(engaged[:, None, None], C.shape[1], axis=1)], axis=2)
    covariates = (X, C)
    model = LogisticDiagnosis(
        l2_theta=kc.l2_theta,
        l2_item=kc.l2_item,
        l2_group=kc.l2_group,
        l2_disc_mean=kc.l2_disc_mean,
        guessing=kc.guessing,
        max_iter=kc.max_iter,
    )
    model.fit(
        ui,
        ii,
        y,
        item_topics,
        n_users=len(cat.cadres),
        sample_weight=weight * 0.5 ** (age / kc.response_half_life_days),
        user_groups=knowledge_groups(cat, kc.groups),
        covariates=covariates,
        covariate_init=[1.0] + [0.0] * (covariates[0].shape[1] - 1),
    )
    return KnowledgeState(
        model=model,
        exposure=exposure,
        hours=hours.astype(np.float32),
        correct=correct.astype(np.float32),
        total=total.astype(np.float32),
        reserve=model.mastery().astype(np.float32),
        confidence=model.confidence().astype(np.float32),
        online_weight=kc.online_weight,
        mandatory_weight=kc.mandatory_weight,
    )


def fit_compliance(
    tables: dict[str, pd.DataFrame], asof: pd.Timestamp, max_cadres: int = 20_000, seed: int = 0
) -> ComplianceState:
    """The hour-rule forecast learned from past periods, and every cadre's standing at ``asof``.

    The forecast learns from at most ``max_cadres`` cadres (a random sample at larger scales:
    its few coefficients need no more), the standing covers everyone.
    """
    ids = tables["cadres"]["cadre_id"]
    sample = ids.sample(max_cadres, random_state=seed) if len(ids) > max_cadres else None
    rows, met = forecast_training_rows(tables, asof, cadre_ids=sample)
    forecaster = ComplianceForecaster().fit(rows, met)
    hours = kind_hours(tables)
    standing = forecast_rows(tables, asof, hours=hours)
    standing["p_met"] = forecaster.predict_proba(standing)
    standing["status"] = status(
        standing["p_met"].to_numpy(), standing["due"].to_numpy(), standing["window_end"], asof
    )
    keep = [c for c in standing.columns if c not in ("unit_pace_ratio",)]
    return ComplianceState(
        forecaster=forecaster,
        standing=standing[keep].reset_index(drop=True),
        appointment=appointment_training(tables, asof, hours),
        mandatory=mandatory_due(tables, asof),
    )


def fit_planning(
    tables: dict[str, pd.DataFrame],
    cat: Catalog,
    reserve: np.ndarray,
    asof: pd.Timestamp,
    seed: int = 0,
    rollcall: RollcallConfig | None = None,
) -> PlanningState:
    """Fit the teacher and staff matchers and the rollcall ranker as of ``asof``."""
    rc = rollcall or RollcallConfig()
    matrix = ReserveMatrix(reserve, cat.cadres, cat.topics)
    small = {name: tables[name] for name in PLANNING_TABLES}
    e = tables["enrollments"]
    small["enrollments"] = e[e["class_id"].notna() & (e["enrolled_on"] < asof)]
    return PlanningState(
        teacher=TeacherMatcher(random_state=seed).fit(tables, matrix, asof),
        staff=StaffMatcher(random_state=seed).fit(tables, matrix, asof),
        rollcall=RollcallRanker(**rc.model_dump()).fit(tables, matrix, asof),
        tables=small,
        reserve=matrix,
    )


def cadre_gaps(cat: Catalog, reserve: np.ndarray) -> np.ndarray:
    """Gap to the post target per cadre × topic (0–1)."""
    targets = cat.targets[np.maximum(cat.cadre_info["segment"].to_numpy(), 0)]
    return np.maximum(0.0, targets - reserve).astype(np.float32)


def _reserve_before(
    knowledge: KnowledgeState,
    enrollments: pd.DataFrame,
    cat: Catalog,
    cutoff: pd.Timestamp,
    asof: pd.Timestamp,
    half_life_days: float,
) -> np.ndarray:
    """The reserve at ``asof`` without the training that started on or after ``cutoff``.

    The ranker learns which courses cadres chose after its label cut-off; the reserve fitted at
    ``asof`` already holds what those courses taught, so the gaps they covered look closed. The
    exposure they added is taken back out (by the model's learned exposure effect, or, for a
    model without one, by its prior where answers do not pin the cell down).
    """
    before = decayed_topic_hours(
        enrollments[enrollments["enrolled_on"] < cutoff],
        cat.course_topics,
        cat.cadres,
        cat.courses,
        asof,
        half_life_days,
    )
    delta = exposure_logit(knowledge.exposure, knowledge.hours) - exposure_logit(
        knowledge.exposure, before
    )
    coef = np.asarray(getattr(knowledge.model, "covariate_coef_", ()), dtype=float)
    shift = delta * coef[0] if len(coef) else delta * (1.0 - knowledge.confidence)
    r = np.clip(knowledge.reserve.astype(float), 1e-4, 1 - 1e-4)
    return 1.0 / (1.0 + np.exp(shift - np.log(r / (1.0 - r))))


def _class_schedule(tables: dict[str, pd.DataFrame], cat: Catalog) -> ClassSchedule:
    """Elective and online classes with their courses and publication dates.

    Each stage view reads the calendar as published by its own cut-off (see
    :meth:`ganxun.models.course_sources.ClassSchedule.shares`).
    """
    classes = tables.get("classes")
    sessions = tables.get("class_sessions")
    if classes is None or sessions is None:
        empty = np.zeros(0, "datetime64[D]")
        none = sp.csr_matrix((0, len(cat.courses)))
        return ClassSchedule(empty, empty, np.zeros((0, len(RANKS)), bool), none)
    return ClassSchedule.from_tables(classes, sessions, cat.courses.ids_, RANKS)


def _stage_view(
    enrollments: pd.DataFrame,
    cat: Catalog,
    gaps: np.ndarray,
    schedule: ClassSchedule,
    segments: np.ndarray,
    birth_year: np.ndarray,
    at: pd.Timestamp,
    rc,
) -> StageView:
    """Everything the pair features read as of the cut-off ``at``."""
    by_rank, any_rank = schedule.shares(at, rc.schedule_months)
    now, _ = schedule.shares(at, 1)
    e = enrollments
    window = e[
        (e["enrolled_on"] < at) & (e["enrolled_on"] >= at - pd.Timedelta(days=rc.recent_days))
    ]
    recent, recent_segment = recent_shares(
        interaction_matrix(window, cat.cadres, cat.courses), segments
    )
    return StageView(
        gaps=gaps,
        published_days=(at - cat.course_info["published_on"]).dt.days.to_numpy(float),
        cadre_age=at.year - birth_year,
        class_rank_share=by_rank,
        class_rank_now=now,
        class_any_share=any_rank,
        recent_share=recent,
        recent_segment_share=recent_segment,
    )


def _choice_factors(
    enrollments: pd.DataFrame,
    cat: Catalog,
    at: pd.Timestamp,
    schedule: ClassSchedule,
    ranks: np.ndarray,
    rc,
    seed: int,
) -> ChoiceFactors:
    """The choice model fitted on the courses cadres chose themselves before ``at``.

    Each choice's situation is its month and the cadre's rank: whether a class open to that rank
    (or to any rank) promoted the course then, so that those choices are not read as taste.
    """
    e = enrollments[(enrollments["enrolled_on"] < at) & (enrollments["source"] == "self")]
    ci, ki = cat.cadres.index(e["cadre_id"]), cat.courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    day = np.datetime64("1970-01-01", "D")
    enrolled = e["enrolled_on"].to_numpy("datetime64[D]")[ok]
    published = cat.course_info["published_on"].to_numpy("datetime64[D]")
    month = enrolled.astype("datetime64[M]")
    first = month.min() if len(month) else np.datetime64(at.date(), "M")
    month_idx = (month - first).astype(np.int64)
    n_months = int(month_idx.max()) + 1 if len(month_idx) else 1
    starts = pd.date_range(pd.Timestamp(first), periods=n_months, freq="MS")
    promoted = schedule.promoted_by_month(starts)  # (months, ranks + 1, courses)
    n_ranks = promoted.shape[1] - 1
    own = promoted[:, :n_ranks].reshape(n_months * n_ranks, -1)
    anyone = np.repeat(promoted[:, n_ranks], n_ranks, axis=0)
    return fit_choice_factors(
        ci[ok],
        ki[ok],
        (enrolled - day).astype(np.int64),
        (published - day).astype(np.int64),
        n_users=len(cat.cadres),
        factors=rc.choice_factors,
        epochs=rc.choice_epochs,
        random_state=seed,
        context_features=np.stack([own, anyone], axis=2),
        contexts=month_idx * n_ranks + ranks[ci[ok]],
    )


def fit_recommender(
    tables: dict[str, pd.DataFrame],
    cat: Catalog,
    knowledge: KnowledgeState,
    quality: QualityState,
    asof: pd.Timestamp,
    config: TrainConfig,
) -> RecommenderState:
    """Two-stage course recommender: EASE/gap/peer/class-schedule retrieval + LambdaRank.

    The ranker learns what the offline evaluation asks: the courses cadres chose themselves in
    the last ``label_months`` before ``asof`` (new to them), from candidates and features as of
    the start of that window (retrievers fitted on the history before it, gaps without the
    window's training, the class calendar as published by then and recent popularity as of then;
    ``schedule_months`` is how far ahead that published calendar is read). ALS is fitted once
    on everything as a reference (the "ALS alone" baseline), not used by the ranker.
    """
    rc = config.recommender
    e_all = tables["enrollments"]
    e_all = e_all[e_all["enrolled_on"] < asof]
    seen = interaction_matrix(e_all, cat.cadres, cat.courses)
    # compulsory enrolments say nothing of taste: the retrievers and labels never see them
    e = e_all[e_all["source"] != "mandatory"]
    choices = interaction_matrix(e, cat.cadres, cat.courses)
    mandatory = cat.course_info["mandatory"].to_numpy(bool)
    segments = np.maximum(cat.cadre_info["segment"].to_numpy(), 0)
    ranks = segments // len(CATEGORIES)
    peer = PeerPopularity(global_weight=rc.global_weight).fit(choices, segments)
    info = cat.course_info

    # ranker labels: self-chosen courses of the last label_months, not taken before them
    cutoff = asof - pd.DateOffset(months=rc.label_months)
    history = interaction_matrix(e, cat.cadres, cat.courses, asof=cutoff)
    chosen = interaction_matrix(
        e[(e["enrolled_on"] >= cutoff) & (e["source"] == "self")], cat.cadres, cat.courses
    )
    chosen = sp.csr_matrix(chosen - chosen.multiply(history > 0))
    chosen.eliminate_zeros()
    if chosen.nnz:
        label_split = (history, chosen)
        label_allowed = (info["published_on"] < cutoff).to_numpy() & ~mandatory
    else:  # no self-chosen course in the window (a short history): random held-out labels
        cutoff, label_split, label_allowed = asof, "random", None

    gaps = cadre_gaps(cat, knowledge.reserve)
    fit_gaps = cadre_gaps(
        cat,
        _reserve_before(
            knowledge,
            with_exposure_hours(
                e_all, tables["courses"], knowledge.online_weight, knowledge.mandatory_weight
            ),
            cat,
            cutoff,
            asof,
            config.knowledge.half_life_days,
        ),
    )
    schedule = _class_schedule(tables, cat)
    cadres = tables["cadres"]
    born = pd.to_numeric(cadres["birth_year"], errors="coerce").to_numpy(float)
    ci = cat.cadres.index(cadres["cadre_id"])
    birth_year = np.full(len(cat.cadres), np.nan)
    birth_year[ci[ci >= 0]] = born[ci >= 0]
    views = {
        stage: _stage_view(e, cat, g, schedule, segments, birth_year, at, rc)
        for stage, g, at in (("fit", fit_gaps, cutoff), ("recommend", gaps, asof))
    }
    features = CoursePairFeatures(
        views=views,
        course_topics=cat.course_topics,
        quality=quality.course.quality_,
        quality_confidence=quality.course.confidence(),
        segments=segments,
        ranks=ranks,
        modes=pd.Index(MODES).get_indexer(info["mode"]).clip(min=0),
        hours=info["hours"].to_numpy(float),
        levels=info["level"].to_numpy(float),
    )
    retrievers = [
        ("ease", EASERetriever(l2=rc.ease_l2)),
        ("gap", GapRetriever(gaps, cat.course_topics, fit_gaps=fit_gaps)),
        ("peer", SegmentPopularityRetriever(segments, rc.global_weight)),
        ("popularity", PopularityRetriever()),
        (
            "classes",
            ScheduleRetriever(
                {s: v.class_rank_share for s, v in views.items()},
                {s: v.class_any_share for s, v in views.items()},
                ranks,
            ),
        ),
    ]
    if rc.choice_factors:
        factors = {
            stage: _choice_factors(e, cat, at, schedule, ranks, rc, config.seed)
            for stage, at in (("fit", cutoff), ("recommend", asof))
        }
        retrievers.append(("taste", ChoiceRetriever(factors)))
    als = ALSRetriever(
        factors=rc.als_factors, regularization=0.1, alpha=5.0, random_state=config.seed
    )
    if rc.als_in_ranker:
        retrievers.append(("als", als))
    ranker = LambdaRanker(
        n_estimators=rc.ranker_estimators,
        learning_rate=rc.ranker_learning_rate,
        num_leaves=rc.ranker_leaves,
        min_child_samples=rc.ranker_min_child,
        objective=rc.ranker_objective,
        monotone=GAP_MONOTONE,
        n_jobs=1,  # OpenMP threads spin on a busy machine; one thread is faster and steadier
        random_state=config.seed,
    )
    model = TwoStageRecommender(
        retrievers=retrievers,
        ranker=ranker,
        reference_retrievers=[] if rc.als_in_ranker else [("als", als)],
        n_candidates=rc.n_candidates,
        feature_groups=("retrieval", "popularity", "activity", "extra"),
        extra_features=features,
        extra_feature_names=PAIR_FEATURES,
        max_train_users=rc.max_train_users,
        n_rankers=rc.n_rankers,
        negative_fraction=rc.negative_fraction,
        random_state=config.seed,
    ).fit(choices, label_split=label_split, label_allowed=label_allowed)
    return RecommenderState(model=model, peer=peer, seen=seen)


def list_length(fitted: Fitted, max_k: int = 100) -> int:
    """How many courses a default list holds: the recommender's candidate count, at most ``max_k``.

    A list of ``k <= n`` items comes from the same candidates whatever ``k`` is, so the first
    ``k`` items of a default list are what a live call with ``N=k`` returns.
    """
    n_candidates = getattr(fitted.recommender.model, "n_candidates", None)
    return min(max_k, int(n_candidates)) if n_candidates else 0


def default_list_rows(fitted: Fitted, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Default lists (ids, scores) of the cadres at ``rows`` (see :class:`DefaultListArrays`)."""
    rec, cat = fitted.recommender, fitted.catalog
    seen = sp.csr_matrix(rec.seen[rows])
    exclude = expand_to_groups(seen, cat.course_groups)
    return rec.model.recommend(
        rows, user_items=seen, N=n, exclude=exclude, allowed=recommendable(cat)
    )


def recommendable(cat: Catalog) -> np.ndarray | None:
    """Courses a recommendation may hold: not compulsory (the package is shown on its own)."""
    mandatory = cat.course_info.get("mandatory")
    return None if mandatory is None else ~mandatory.to_numpy(bool)


def default_lists(fitted: Fitted, chunk: int = 256) -> DefaultListArrays:
    """Every cadre's default list, in batches of ``chunk`` cadres (empty for cadres who left)."""
    n_cadres, n = len(fitted.catalog.cadres.ids_), list_length(fitted)
    ids = np.full((n_cadres, n), -1, np.int32)
    scores = np.full((n_cadres, n), -np.inf)
    serving = fitted.catalog.cadre_info.get("in_service")
    todo = np.arange(n_cadres) if serving is None else np.flatnonzero(serving.to_numpy(bool))
    for start in range(0, len(todo) if n else 0, chunk):
        rows = todo[start : start + chunk]
        got_ids, got = default_list_rows(fitted, rows, n)
        ids[rows, : got_ids.shape[1]] = got_ids
        scores[rows, : got.shape[1]] = got
    return DefaultListArrays(ids, scores)


def fit_all(
    tables: dict[str, pd.DataFrame],
    asof: pd.Timestamp,
    config: TrainConfig,
    planning: bool = True,
) -> Fitted:
    """Fit every model on the events before ``asof``.

    ``tables`` should already hold only what was known at ``asof`` (see
    :func:`ganxun.features.split.before`); the cut-off is applied again to the events for safety.
    ``planning=False`` skips the matchers and the rollcall ranker (evaluated by their own
    benchmark, not by the training run's time split) and the per-cadre records of the dossier.
    """
    cat = build_catalog(tables, asof)
    knowledge = fit_knowledge(tables, cat, asof, config.knowledge)
    quality = fit_quality(tables, cat, asof, config.quality)
    fitted = Fitted(
        asof=asof,
        compliance=fit_compliance(tables, asof, seed=config.seed),
        catalog=cat,
        knowledge=knowledge,
        recommender=fit_recommender(tables, cat, knowledge, quality, asof, config),
        quality=quality,
        layout=build_layout(tables, cat, knowledge.reserve, asof),
        planning=fit_planning(
            rescale_ratings(tables, config.quality.ridit_prior)
            if config.quality.rating_scale == "ridit"
            else tables,
            cat,
            knowledge.reserve,
            asof,
            config.seed,
            config.rollcall,
        )
        if planning
        else None,
        records=build_records(tables, cat, knowledge, asof, config.knowledge) if planning else None,
    )
    if fitted.planning is not None:
        fitted.planning.evaluation = build_class_table(tables, cat, knowledge)
    return fitted
