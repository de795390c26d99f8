"""Fair rollcall across units (调训公平): seat shares against shares of need, and concentration.

A unit's *need* for a class is how many of its eligible cadres are short on the class topics
(gap at least ``gap_threshold``); its *need share* is its part of all such cadres. A roster's
*seat share* per unit is its part of the places. A fairness bound ``k`` keeps every unit at or
below ``k`` times its need share (``floor(k * need_share * capacity)`` places, at least one for a
unit with any need), which the roster optimiser takes as unit quotas. Concentration over cadres
is the Gini coefficient of rollcall seats per cadre over a period (0: everyone called alike;
near 1: a few 培训专业户 take every seat).

Pure functions of DataFrames.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Gap (0–1 reserve points, class-weighted) from which a cadre counts as short on the topics.
GAP_THRESHOLD = 0.05


def need_shares(candidates: pd.DataFrame, gap_threshold: float = GAP_THRESHOLD) -> pd.Series:
    """Each unit's share of the eligible cadres short on the class topics.

    Parameters
    ----------
    candidates : DataFrame
        unit_id, gap (class-weighted, 0–1) and optionally eligible.
    gap_threshold : float
        Gap from which a cadre counts as in need.

    Returns
    -------
    Series
        unit_id -> share (sums to 1; empty when nobody is short).
    """
    c = candidates
    if "eligible" in c:
        c = c[c["eligible"].astype(bool)]
    short = c[c["gap"] >= gap_threshold]
    if short.empty:
        return pd.Series(dtype=float)
    counts = short.groupby("unit_id").size()
    return counts / counts.sum()


def fairness_quotas(
    candidates: pd.DataFrame, capacity: int, bound: float, gap_threshold: float = GAP_THRESHOLD
) -> dict[str, int]:
    """Unit quotas that keep every unit at or below ``bound`` times its need share.

    Units with no cadre in need get 0 places; a unit with any need may always send one.
    """
    if bound <= 0:
        raise ValueError(f"the fairness bound must be positive, got {bound}")
    shares = need_shares(candidates, gap_threshold)
    units = candidates["unit_id"].astype(str).unique()
    out = {str(u): 0 for u in units}
    for unit, share in shares.items():
        out[str(unit)] = max(1, math.floor(bound * share * capacity + 1e-9))
    return out


def seat_report(
    roster: pd.DataFrame,
    candidates: pd.DataFrame,
    units: pd.DataFrame | None = None,
    gap_threshold: float = GAP_THRESHOLD,
) -> pd.DataFrame:
    """Seats against need per unit (and district when ``units`` gives one).

    Returns
    -------
    DataFrame
        unit_id, (name, district), seats, seat_share, need, need_share, ratio (seat share / need
        share; NaN where the unit has no need), one row per unit with a seat or a need, largest
        ratio first.
    """
    shares = need_shares(candidates, gap_threshold)
    c = candidates[candidates["eligible"].astype(bool)] if "eligible" in candidates else candidates
    need = c[c["gap"] >= gap_threshold].groupby("unit_id").size()
    seats = roster.groupby("unit_id").size()
    idx = seats.index.union(need.index)
    out = pd.DataFrame(
        {
            "unit_id": idx,
            "seats": seats.reindex(idx).fillna(0).astype(int).to_numpy(),
            "need": need.reindex(idx).fillna(0).astype(int).to_numpy(),
        }
    )
    total = max(int(out["seats"].sum()), 1)
    out["seat_share"] = out["seats"] / total
    out["need_share"] = shares.reindex(idx).fillna(0.0).to_numpy()
    out["ratio"] = np.where(out["need_share"] > 0, out["seat_share"] / out["need_share"], np.nan)
    if units is not None:
        info = units.set_index("unit_id")[[c for c in ("name", "district") if c in units]]
        out = out.join(info, on="unit_id")
    return out.sort_values("ratio", ascending=False, na_position="first").reset_index(drop=True)


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = equal, towards 1 = concentrated)."""
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() <= 0:
        return 0.0
    n = len(x)
    ranks = np.arange(1, n + 1)
    return float((2.0 * np.sum(ranks * x) / (n * x.sum())) - (n + 1.0) / n)


def rollcall_concentration(enrollments: pd.DataFrame, cadre_ids, start, end) -> dict[str, float]:
    """How concentrated rollcall seats were among ``cadre_ids`` over [start, end).

    A seat is one rollcall class attended (distinct class per cadre). Returns the Gini over
    cadres (zeros included), the share of seats taken by the top 10% of cadres, and the share of
    cadres never called.
    """
    e = enrollments[
        (enrollments["source"] == "rollcall")
        & enrollments["class_id"].notna()
        & (enrollments["enrolled_on"] >= pd.Timestamp(start))
        & (enrollments["enrolled_on"] < pd.Timestamp(end))
    ]
    seats = e.drop_duplicates(["cadre_id", "class_id"]).groupby("cadre_id").size()
    per = seats.reindex(pd.Index(cadre_ids, dtype=object)).fillna(0).to_numpy(float)
    top = np.sort(per)[::-1][: max(1, len(per) // 10)]
    return {
        "gini": gini(per),
        "top10_share": float(top.sum() / per.sum()) if per.sum() else 0.0,
        "never_called": float((per == 0).mean()) if len(per) else 0.0,
    }


def allocation_report(
    seats: pd.Series, need: pd.Series, units: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Seats against need per unit, from counts.

    Parameters
    ----------
    seats : Series
        unit_id -> seats taken.
    need : Series
        unit_id -> need (any non-negative weight: cadres in need, expected seats, ...).
    units : DataFrame, optional
        unit_id, name, district.

    Returns
    -------
    DataFrame
        unit_id, (name, district), seats, seat_share, need, need_share, ratio (seat share / need
        share; NaN where the unit has no need), largest ratio first.
    """
    idx = seats.index.union(need.index)
    out = pd.DataFrame(
        {
            "unit_id": idx,
            "seats": seats.reindex(idx).fillna(0).to_numpy(float),
            "need": need.reindex(idx).fillna(0).to_numpy(float),
        }
    )
    out["seat_share"] = out["seats"] / max(out["seats"].sum(), 1e-12)
    out["need_share"] = out["need"] / max(out["need"].sum(), 1e-12)
    out["ratio"] = np.where(out["need_share"] > 0, out["seat_share"] / out["need_share"], np.nan)
    if units is not None:
        info = units.set_index("unit_id")[[c for c in ("name", "district") if c in units]]
        out = out.join(info, on="unit_id")
    return out.sort_values("ratio", ascending=False, na_position="first").reset_index(drop=True)


def by_district(report: pd.DataFrame) -> pd.DataFrame:
    """A unit report (:func:`seat_report`, :func:`allocation_report`) summed per district."""
    if "district" not in report:
        raise ValueError("the report needs a district column (pass units)")
    g = report.groupby("district", dropna=False)[["seats", "need"]].sum()
    g["seat_share"] = g["seats"] / max(g["seats"].sum(), 1e-12)
    g["need_share"] = g["need"] / max(g["need"].sum(), 1e-12)
    g["ratio"] = np.where(g["need_share"] > 0, g["seat_share"] / g["need_share"], np.nan)
    return g.reset_index().sort_values("ratio", ascending=False, na_position="first")


def period_need(
    gaps: np.ndarray,
    eligible: np.ndarray,
    units: np.ndarray,
    class_weights: np.ndarray,
    seats: np.ndarray,
    gap_threshold: float = GAP_THRESHOLD,
) -> pd.Series:
    """Each unit's need over a period's classes: the seats a need-proportional call would give.

    Parameters
    ----------
    gaps : ndarray of shape (n_cadres, n_topics)
        Gap to the post target per cadre and topic (0–1).
    eligible : ndarray of bool, shape (n_cadres, n_classes)
        Who each class may call (target ranks, in service).
    units : ndarray of shape (n_cadres,)
        Unit of each cadre.
    class_weights : ndarray of shape (n_classes, n_topics)
        Topic weights of each class (rows sum to one).
    seats : ndarray of shape (n_classes,)
        Places each class filled.
    gap_threshold : float
        Gap from which a cadre counts as in need.

    Returns
    -------
    Series
        unit_id -> expected seats (sums to the seats of classes with anyone in need).
    """
    w = np.asarray(class_weights, dtype=float)
    gap = np.asarray(gaps, dtype=float) @ np.where(w > 0, w, 0.0).T  # class-weighted gap
    short = (gap >= gap_threshold) & np.asarray(eligible, bool)
    frame = pd.DataFrame(short.astype(float), index=pd.Index(units, name="unit_id"))
    per_unit = frame.groupby(level=0).sum()
    totals = per_unit.sum(axis=0).replace(0.0, np.nan)
    expected = (per_unit / totals).fillna(0.0) * np.asarray(seats, dtype=float)[None, :]
    return expected.sum(axis=1)
