"""Training layout of a unit (图4 培训布局): topic × year hours and coverage, reserve and gaps.

Analytics, no fit: pure functions over arrays and frames, evaluated for every unit at training
time so the service only looks them up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def topic_year_hours(
    cadre_idx: np.ndarray,
    course_idx: np.ndarray,
    years: np.ndarray,
    hours: np.ndarray,
    cadre_unit: np.ndarray,
    course_topics: sp.csr_matrix,
    unit_sizes: np.ndarray,
) -> pd.DataFrame:
    """Hours and share of cadres trained per unit × topic × year.

    Parameters
    ----------
    cadre_idx, course_idx, years, hours : ndarray of shape (n_enrollments,)
        One row per enrolment: who, which course, calendar year, hours earned (× progress).
    cadre_unit : ndarray of shape (n_cadres,)
        Unit index of each cadre.
    course_topics : csr_matrix of shape (n_courses, n_topics)
        Topic weights per course (rows sum to one).
    unit_sizes : ndarray of shape (n_units,)
        Number of cadres per unit (the denominator of the trained share).

    Returns
    -------
    DataFrame
        Columns unit, topic, year (indices / calendar year), hours, cadres_trained, trained_share.
    """
    ct = sp.coo_matrix(course_topics[course_idx])
    frame = pd.DataFrame(
        {
            "unit": cadre_unit[cadre_idx[ct.row]],
            "cadre": cadre_idx[ct.row],
            "topic": ct.col,
            "year": years[ct.row],
            "hours": hours[ct.row] * ct.data,
        }
    )
    grouped = frame.groupby(["unit", "topic", "year"])
    out = grouped.agg(hours=("hours", "sum"), cadres_trained=("cadre", "nunique")).reset_index()
    out["trained_share"] = out["cadres_trained"] / np.maximum(unit_sizes[out["unit"]], 1)
    return out


def unit_reserve(
    cadre_unit: np.ndarray, reserve: np.ndarray, gap: np.ndarray, n_units: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean reserve and mean gap per unit × topic (NaN for a unit with no cadres)."""
    counts = np.bincount(cadre_unit, minlength=n_units).astype(float)
    member = sp.csr_matrix(
        (np.ones(len(cadre_unit)), (cadre_unit, np.arange(len(cadre_unit)))),
        shape=(n_units, len(cadre_unit)),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_reserve = (member @ reserve) / counts[:, None]
        mean_gap = (member @ gap) / counts[:, None]
    return mean_reserve, mean_gap


def weakest_topics(mean_gap: np.ndarray, n: int = 3) -> np.ndarray:
    """Indices of the ``n`` topics with the largest mean gap per unit (descending)."""
    return np.argsort(-np.nan_to_num(mean_gap, nan=-np.inf), axis=1, kind="stable")[:, :n]
