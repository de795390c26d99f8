"""Designing a class in one call (一键设计): the course schedule that fits topics and hours.

The whole design is a documented sequence (each step the best answer given the previous ones,
every constraint reported): the topics come from the cohort's needs
(:mod:`ganxun.models.needs`), the roster from the rollcall optimiser, then :func:`choose_sessions`
picks catalogue courses for the topics, in proportion to their weights, within the class hours,
avoiding what the roster already took; the teachers come from the matcher's plan and the support
staff from the staff matcher. This module holds the session step and the design's small types.

Pure functions of arrays and frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Modes a class held on site can schedule (online courses belong to online classes).
ON_SITE_MODES: tuple[str, ...] = ("面授", "混合")


class InfeasibleDesign(ValueError):
    """The goal cannot be met; ``constraint`` names what stops it (the API answers 422)."""

    def __init__(self, constraint: str, message: str, topic: str | None = None):
        self.constraint = constraint
        self.topic = topic  # the topic that could not be scheduled, when one is to blame
        super().__init__(message)


@dataclass
class DesignGoal:
    """What the organisation department asks for.

    Attributes
    ----------
    capacity : int
        Places.
    start_on : Timestamp
        First day.
    days : int
        Length in days (sessions are spread over them).
    hours : float
        Teaching hours to fill.
    target_ranks, unit_ids : tuple of str
        Who may be called (empty: anyone).
    topics : dict of str to float, optional
        Fixed topic weights (default: from the needs analysis).
    unit_quotas : dict of str to int, optional
    max_recent_hours, fairness_bound : float, optional
    on_site : bool
        Held on site (面授/混合 courses) rather than online.
    """

    capacity: int
    start_on: pd.Timestamp
    days: int = 5
    hours: float = 32.0
    target_ranks: tuple[str, ...] = ()
    unit_ids: tuple[str, ...] = ()
    topics: dict[str, float] | None = None
    unit_quotas: dict[str, int] | None = None
    max_recent_hours: float | None = None
    fairness_bound: float | None = None
    on_site: bool = True
    exclude_course_ids: tuple[str, ...] = field(default_factory=tuple)
    exclude_teacher_ids: tuple[str, ...] = field(default_factory=tuple)
    exclude_cadre_ids: tuple[str, ...] = field(default_factory=tuple)
    exclude_staff_ids: tuple[str, ...] = field(default_factory=tuple)


def choose_sessions(
    topic_weights: dict[str, float],
    hours: float,
    courses: pd.DataFrame,
    course_topics: np.ndarray,
    topic_ids,
    taken_share: np.ndarray,
    quality: np.ndarray,
    allowed: np.ndarray,
    max_repeat_share: float = 0.3,
    fill: bool = True,
) -> pd.DataFrame:
    """Catalogue courses that cover the topics in proportion to their weights, within ``hours``.

    Each topic gets ``weight * hours``; its courses are taken best first by fit to the topic
    (its weight in the course), corrected quality and how few of the roster took them (a course
    more than ``max_repeat_share`` of the roster took is left out: no repeat training), until
    the topic's hours are filled (a course may overshoot by at most half its length).

    Parameters
    ----------
    topic_weights : dict of str to float
        Topic -> weight (sum to one).
    hours : float
        Class hours to fill.
    courses : DataFrame
        course_id, title, hours, level, mode (rows in ``course_topics`` order).
    course_topics : ndarray of shape (n_courses, n_topics)
        Course topic weights (rows sum to one), columns in ``topic_ids`` order.
    topic_ids : sequence of str
        Topic of each column of ``course_topics``.
    taken_share : ndarray of shape (n_courses,)
        Share of the roster who already took each course (or a re-issue).
    quality : ndarray of shape (n_courses,)
        Corrected quality (any scale, larger is better).
    allowed : ndarray of bool, shape (n_courses,)
        Courses the class may schedule (published, the right modes, not compulsory, not excluded).
    max_repeat_share : float
        Most of the roster who may already have taken a scheduled course.
    fill : bool
        Once every topic has its share, fill the hours still free with the best remaining
        courses on any of the topics (reason "补足课时").

    Returns
    -------
    DataFrame
        course_id, title, topic_id, hours, level, mode, fit, taken_share, reasons; topics in
        weight order, within a topic by level.

    Raises
    ------
    InfeasibleDesign
        ``"courses"`` when a topic has no course that may be scheduled, ``"hours"`` when the hours
        left hold none of its courses.
    """
    topic_ids = list(topic_ids)
    q = np.asarray(quality, dtype=float)
    qz = (q - np.nanmean(q)) / (np.nanstd(q) or 1.0)
    rows = []
    used = np.zeros(len(courses), bool)
    course_hours = courses["hours"].to_numpy(float)
    taken = np.asarray(taken_share, dtype=float)
    total = 0.0
    chosen: list[tuple[int, str, float, str | None]] = []
    ordered = sorted(topic_weights.items(), key=lambda kv: -kv[1])
    # each later topic keeps room for its shortest schedulable course
    shortest = []
    for topic, _ in ordered:
        fit = np.asarray(course_topics[:, topic_ids.index(topic)], dtype=float)
        ok = allowed & (fit >= 0.5) & (taken <= max_repeat_share)
        shortest.append(float(course_hours[ok].min()) if ok.any() else 0.0)
    for i, (topic, weight) in enumerate(ordered):
        keep = sum(shortest[i + 1 :])
        k = topic_ids.index(topic)
        fit = np.asarray(course_topics[:, k], dtype=float)
        ok = allowed & (fit >= 0.5) & (np.asarray(taken_share) <= max_repeat_share) & ~used
        if not ok.any():
            raise InfeasibleDesign(
                "courses",
                f"专题 {topic} 没有可安排的课程（已发布、面授或混合、学员未学过）"
                f" (no course on topic {topic} can be scheduled)",
                topic=topic,
            )
        score = fit + 0.3 * np.nan_to_num(qz) - 2.0 * np.asarray(taken_share)
        order = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]
        want, got = weight * hours, 0.0
        picked = []
        for j in order:
            h = float(course_hours[j])
            if total + h > hours - keep + 1e-9:  # the class's hours are a hard limit
                continue
            if got >= want or got + h > want + 0.5 * h + 1e-9 and picked:
                continue
            picked.append(j)
            got += h
            total += h
            if got >= want:
                break
        if not picked:
            raise InfeasibleDesign(
                "hours",
                f"课时（{hours:g} 学时）已排满，无法再安排专题 {topic} 的课程"
                f" (the {hours:g} class hours leave no room for a course on topic {topic})",
                topic=topic,
            )
        used[picked] = True
        chosen += [(j, topic, weight, None) for j in picked]
    # hours still free: the best remaining courses on any of the topics that still fit
    if fill and total < hours - 1e-9:
        fit_any = np.asarray(course_topics)[:, [topic_ids.index(t) for t in topic_weights]]
        best_topic = np.asarray(list(topic_weights))[fit_any.argmax(axis=1)]
        ok = allowed & (fit_any.max(axis=1) >= 0.5) & (taken <= max_repeat_share) & ~used
        score = fit_any.max(axis=1) + 0.3 * np.nan_to_num(qz) - 2.0 * taken
        for j in np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]:
            h = float(course_hours[j])
            if total + h <= hours + 1e-9:
                used[j] = True
                total += h
                t = str(best_topic[j])
                chosen.append((j, t, topic_weights[t], "补足课时"))
    for j, topic, weight, extra in chosen:
        k = topic_ids.index(topic)
        reasons = [f"覆盖专题权重 {weight:.0%}"] + ([extra] if extra else [])
        if np.isfinite(qz[j]) and qz[j] > 0.5:
            reasons.append("评价较高")
        reasons.append("学员均未学过" if taken[j] == 0 else f"学员中 {taken[j]:.0%} 已学过")
        rows.append(
            {
                "course_id": courses["course_id"].iloc[j],
                "title": courses["title"].iloc[j],
                "topic_id": topic,
                "hours": float(course_hours[j]),
                "level": int(courses["level"].iloc[j]),
                "mode": courses["mode"].iloc[j],
                "fit": float(course_topics[j, k]),
                "taken_share": float(taken[j]),
                "reasons": reasons,
            }
        )
    out = pd.DataFrame(rows)
    order = {t: i for i, (t, _) in enumerate(sorted(topic_weights.items(), key=lambda kv: -kv[1]))}
    out["_o"] = out["topic_id"].map(order)
    return out.sort_values(["_o", "level"], kind="stable").drop(columns="_o").reset_index(drop=True)


def session_dates(n: int, start_on: pd.Timestamp, days: int) -> list[pd.Timestamp]:
    """Spread ``n`` sessions over the class's ``days`` (two a day at most, in order)."""
    per_day = max(1, int(np.ceil(n / max(days, 1))))
    return [
        pd.Timestamp(start_on) + pd.Timedelta(days=min(i // per_day, days - 1)) for i in range(n)
    ]


#: Teaching hours one class day holds at most, and per day when a goal gives only its days.
MAX_HOURS_PER_DAY = 8.0
HOURS_PER_DAY = 6.0


def class_length(days: int | None, hours: float | None) -> tuple[int, float]:
    """Days and teaching hours of a class from either or both.

    Only days: ``HOURS_PER_DAY`` a day; only hours: as many days as ``HOURS_PER_DAY`` needs.

    Raises
    ------
    InfeasibleDesign
        ``"hours"`` when the hours do not fit ``MAX_HOURS_PER_DAY`` a day; ValueError when
        neither is given or one is not positive.
    """
    if days is None and hours is None:
        raise ValueError("a class needs its length: days, hours or both")
    if (days is not None and days < 1) or (hours is not None and hours <= 0):
        raise ValueError("days and hours must be positive")
    if days is None:
        days = int(np.ceil(float(hours) / HOURS_PER_DAY))
    if hours is None:
        hours = float(days) * HOURS_PER_DAY
    if hours > days * MAX_HOURS_PER_DAY + 1e-9:
        raise InfeasibleDesign(
            "hours",
            f"{hours:g} 学时无法在 {days} 天内完成（每天至多 {MAX_HOURS_PER_DAY:g} 学时）"
            f" ({hours:g} hours do not fit in {days} days of at most"
            f" {MAX_HOURS_PER_DAY:g} hours)",
        )
    return int(days), float(hours)


def teacher_availability(
    calendar: pd.DataFrame, slot_dates, teacher_ids, max_sessions: int
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Which teachers a new class may still book, given the sessions already planned.

    Parameters
    ----------
    calendar : DataFrame
        teacher_id, class_id, session_on: sessions of the classes already planned.
    slot_dates : array-like of dates
        Date of each session of the new class.
    teacher_ids : array-like of str
        Columns of the result.
    max_sessions : int
        Sessions a teacher may teach per calendar month.

    Returns
    -------
    free : ndarray of bool, shape (n_slots, n_teachers)
        Not teaching another class on the slot's date.
    caps : ndarray of int, shape (n_teachers,)
        Sessions still free in every month the class touches (``max_sessions`` minus the most
        already planned in one of those months, at least 0): the teacher's limit for this class.
    load : DataFrame
        teacher_id, month, planned: sessions already planned in the class's months (teachers
        with any).
    """
    dates = pd.to_datetime(pd.Series(np.asarray(slot_dates))).dt.normalize()
    teachers = pd.Index(np.asarray(teacher_ids, dtype=object))
    cal = calendar[calendar["teacher_id"].notna()]
    on = pd.to_datetime(cal["session_on"]).dt.normalize()
    busy = cal[on.isin(set(dates))].assign(day=on)
    free = np.ones((len(dates), len(teachers)), bool)
    if len(busy):
        col = teachers.get_indexer(busy["teacher_id"])
        for day, t in zip(busy["day"], col, strict=True):
            if t >= 0:
                free[(dates == day).to_numpy(), t] = False
    months = set(dates.dt.to_period("M"))
    month = on.dt.to_period("M")
    mine = cal[month.isin(months)].assign(month=month[month.isin(months)].astype(str))
    load = mine.groupby(["teacher_id", "month"]).size().rename("planned").reset_index()
    most = load.groupby("teacher_id")["planned"].max().reindex(teachers).fillna(0).to_numpy()
    caps = np.maximum(0, int(max_sessions) - most.astype(int))
    return free, caps, load


def staff_availability(
    calendar: pd.DataFrame, start_on, end_on, staff_ids, max_concurrent: int = 1
) -> np.ndarray:
    """Staff members free to run a class from ``start_on`` to ``end_on`` (both inclusive).

    ``calendar`` holds staff_id, start_on, end_on of the classes already planned; a member
    already running ``max_concurrent`` classes that overlap the new one is not free.
    """
    cal = calendar[calendar["staff_id"].notna()]
    overlap = (pd.to_datetime(cal["start_on"]) <= pd.Timestamp(end_on)) & (
        pd.to_datetime(cal["end_on"]) >= pd.Timestamp(start_on)
    )
    counts = cal[overlap].groupby("staff_id").size()
    running = counts.reindex(pd.Index(np.asarray(staff_ids, dtype=object))).fillna(0).to_numpy()
    return running < max_concurrent
