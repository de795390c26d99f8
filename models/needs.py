"""Needs analysis before a class (训前需求分析): what a cohort lacks, and what it already took.

Given the cohort's reserve and post targets per topic, :func:`cohort_needs` gives per topic the
mean and spread of the reserve, the share of the cohort below its post's target and the mean gap;
:func:`suggest_topic_weights` turns the gaps into topic weights for a class (the topics where most
of the cohort is short, in proportion to the gap they carry). :func:`taken_courses` lists what the
cohort already studied, so a class does not repeat it.

Pure functions of arrays and frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cohort_needs(reserve: np.ndarray, targets: np.ndarray, topic_ids, names=None) -> pd.DataFrame:
    """Per topic: the cohort's reserve against its posts' targets.

    Parameters
    ----------
    reserve, targets : ndarray of shape (n_cadres, n_topics)
        Reserve (0–1) and the target of each cadre's post per topic.
    topic_ids : sequence of str
        Column order.
    names : sequence of str, optional
        Topic names (Chinese).

    Returns
    -------
    DataFrame
        topic_id, (name), mean_reserve, sd_reserve, mean_target, share_short (cadres below
        target), mean_gap, largest first by mean gap.
    """
    reserve = np.asarray(reserve, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if reserve.shape != targets.shape:
        raise ValueError(f"reserve {reserve.shape} and targets {targets.shape} differ in shape")
    gap = np.maximum(0.0, targets - reserve)
    n = len(reserve)
    out = pd.DataFrame(
        {
            "topic_id": list(topic_ids),
            "mean_reserve": reserve.mean(axis=0) if n else np.nan,
            "sd_reserve": reserve.std(axis=0) if n else np.nan,
            "mean_target": targets.mean(axis=0) if n else np.nan,
            "share_short": (gap > 0).mean(axis=0) if n else np.nan,
            "mean_gap": gap.mean(axis=0) if n else np.nan,
        }
    )
    if names is not None:
        out.insert(1, "name", list(names))
    return out.sort_values("mean_gap", ascending=False, kind="stable").reset_index(drop=True)


def suggest_topic_weights(
    needs: pd.DataFrame, max_topics: int = 3, min_share_short: float = 0.5
) -> dict[str, float]:
    """Topic weights for a class: the topics most of the cohort is short on, by their gap.

    Topics where at least ``min_share_short`` of the cohort is below target are taken, largest
    mean gap first, at most ``max_topics``; with none, the topic of the largest mean gap. The
    weights are proportional to the mean gap and sum to one (rounded to 0.01).
    """
    pick = needs[needs["share_short"] >= min_share_short].head(max_topics)
    if pick.empty:
        pick = needs.head(1)
    gaps = pick["mean_gap"].clip(lower=1e-6).to_numpy(float)
    w = np.round(gaps / gaps.sum(), 2)
    w[0] = round(1.0 - w[1:].sum(), 2)
    return dict(zip(pick["topic_id"], w.tolist(), strict=True))


def taken_courses(
    enrollments: pd.DataFrame, cadre_ids, courses: pd.DataFrame | None = None, top: int = 20
) -> pd.DataFrame:
    """The courses the cohort already took most (any source), with the share who took each.

    Returns
    -------
    DataFrame
        course_id, (title), cadres, share, largest first, at most ``top`` rows.
    """
    who = pd.Index(cadre_ids, dtype=object)
    e = enrollments[enrollments["cadre_id"].isin(who)]
    counts = e.drop_duplicates(["cadre_id", "course_id"]).groupby("course_id").size()
    out = counts.sort_values(ascending=False).head(top).rename("cadres").reset_index()
    out["share"] = out["cadres"] / max(len(who), 1)
    if courses is not None and len(out):
        out = out.join(courses.set_index("course_id")[["title"]], on="course_id")
    return out
