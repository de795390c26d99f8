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

    def __init__(self, constraint: str, message: str):
        self.constraint = constraint
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

    Returns
    -------
    DataFrame
        course_id, title, topic_id, hours, level, mode, fit, taken_share, reasons; topics in
        weight order, within a topic by level.

    Raises
    ------
    InfeasibleDesign
        ``"courses"`` when a topic has no course that may be scheduled.
    """
    topic_ids = list(topic_ids)
    q = np.asarray(quality, dtype=float)
    qz = (q - np.nanmean(q)) / (np.nanstd(q) or 1.0)
    rows = []
    used = np.zeros(len(courses), bool)
    for topic, weight in sorted(topic_weights.items(), key=lambda kv: -kv[1]):
        k = topic_ids.index(topic)
        fit = np.asarray(course_topics[:, k], dtype=float)
        ok = allowed & (fit >= 0.5) & (np.asarray(taken_share) <= max_repeat_share) & ~used
        if not ok.any():
            raise InfeasibleDesign(
                "courses",
                f"专题 {topic} 没有可安排的课程（已发布、面授或混合、学员未学过）"
                f" (no course on topic {topic} can be scheduled)",
            )
        score = fit + 0.3 * np.nan_to_num(qz) - 2.0 * np.asarray(taken_share)
        order = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]
        want, got = weight * hours, 0.0
        picked = []
        for j in order:
            h = float(courses["hours"].iloc[j])
            if got >= want or got + h > want + 0.5 * h + 1e-9 and picked:
                continue
            picked.append(j)
            got += h
            if got >= want:
                break
        used[picked] = True
        for j in picked:
            reasons = [f"覆盖专题权重 {weight:.0%}"]
            if np.isfinite(qz[j]) and qz[j] > 0.5:
                reasons.append("评价较高")
            reasons.append(
                "学员均未学过" if taken_share[j] == 0 else f"学员中 {taken_share[j]:.0%} 已学过"
            )
            rows.append(
                {
                    "course_id": courses["course_id"].iloc[j],
                    "title": courses["title"].iloc[j],
                    "topic_id": topic,
                    "hours": float(courses["hours"].iloc[j]),
                    "level": int(courses["level"].iloc[j]),
                    "mode": courses["mode"].iloc[j],
                    "fit": float(fit[j]),
                    "taken_share": float(taken_share[j]),
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
