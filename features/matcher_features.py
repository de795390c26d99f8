"""Feature rows of the teacher and staff matchers: profiles, pair features, rating history.

A (teacher, topic, cohort) or (staff, cohort) pair is described by the target's profile, its past
ratings (computed out-of-fold for the training rows) and the fit to the cohort. Used by
:mod:`ganxun.models.matching`. Pure functions of the validated raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.cohorts import (
    CATEGORY_SHARE_COLUMNS,
    COHORT_COLUMNS,
    RESERVE_PREFIX,
    ReserveMatrix,
    class_cohorts,
    class_topic_weights,
)
from ganxun.features.contracts import CATEGORIES, TEACHER_TITLES
from ganxun.features.ratings import (
    RatingEffects,
    group_folds,
    rating_effects,
    staff_rating_events,
    teacher_rating_events,
)
from ganxun.features.vocab import Vocabulary

# --- teacher and staff feature rows --------------------------------------------------------------

#: Features of a (teacher, topic, cohort) row, in model order.
TEACHER_FEATURES: tuple[str, ...] = (
    "prior_rating",
    "hist_base",
    "hist_n",
    "topic_offset",
    "topic_n",
    "cohort_fit",
    "fit_n",
    "declared",
    "declared_weight",
    "n_declared",
    "title_level",
    *COHORT_COLUMNS,
    "topic_reserve",
)
#: Features of a (staff, class cohort) row, in model order.
STAFF_FEATURES: tuple[str, ...] = (
    "prior_rating",
    "hist_base",
    "hist_n",
    "cohort_fit",
    "fit_n",
    "years",
    "background_is_topic",
    "background_topic_weight",
    "background_category_share",
    *COHORT_COLUMNS,
    "class_reserve",
)


def teacher_profiles(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    """Static teacher attributes and declared expertise.

    Returns
    -------
    profiles : DataFrame
        Indexed by teacher_id: title_level (0 = 讲师 .. 3 = 特聘专家), n_declared.
    declared : Series
        Declared weight, indexed by (teacher_id, topic_id).
    """
    t = tables["teachers"].set_index("teacher_id")
    tt = tables["teacher_topics"]
    prof = pd.DataFrame(index=t.index)
    title = pd.Index(TEACHER_TITLES).get_indexer(pd.Index(t["title"].to_numpy()))
    prof["title_level"] = np.where(title >= 0, title, np.nan).astype(float)
    prof["n_declared"] = tt.groupby("teacher_id").size().reindex(t.index).fillna(0).astype(float)
    declared = tt.groupby(["teacher_id", "topic_id"])["weight"].max()
    return prof, declared


def teacher_pair_features(
    teacher_ids,
    topic_ids,
    cohorts: pd.DataFrame,
    effects: RatingEffects,
    profiles: pd.DataFrame,
    declared: pd.Series,
) -> pd.DataFrame:
    """Feature rows (:data:`TEACHER_FEATURES`) of (teacher, topic, cohort) triples.

    Parameters
    ----------
    teacher_ids, topic_ids : array-like of str
        One pair per row.
    cohorts : DataFrame
        One cohort profile per row (:data:`COHORT_COLUMNS`, optional ``reserve_<topic>``).
    effects : RatingEffects
        Rating history of the teachers (leniency-corrected).
    profiles, declared : DataFrame, Series
        From :func:`teacher_profiles`.
    """
    teacher_ids = np.asarray(teacher_ids, dtype=object)
    topic_ids = np.asarray(topic_ids, dtype=object)
    cohorts = cohorts.reset_index(drop=True)
    if len(cohorts) != len(teacher_ids):
        raise ValueError("need one cohort row per (teacher, topic) pair")
    levels = cohorts["rank_mean"].to_numpy(float)
    X = effects.features(teacher_ids, topic_ids, levels)
    w = declared.reindex(pd.MultiIndex.from_arrays([teacher_ids, topic_ids])).to_numpy(float)
    X["declared"] = (~np.isnan(w)).astype(float)
    X["declared_weight"] = np.nan_to_num(w)
    prof = profiles.reindex(pd.Index(teacher_ids))
    X["n_declared"] = prof["n_declared"].to_numpy(float)
    X["title_level"] = prof["title_level"].to_numpy(float)
    for c in COHORT_COLUMNS:
        X[c] = cohorts[c].to_numpy(float) if c in cohorts else np.nan
    X["topic_reserve"] = _pick_reserve(cohorts, topic_ids)
    return X[list(TEACHER_FEATURES)]


def _pick_reserve(cohorts: pd.DataFrame, topic_ids: np.ndarray) -> np.ndarray:
    out = np.full(len(cohorts), np.nan)
    for k in pd.unique(topic_ids):
        col = RESERVE_PREFIX + str(k)
        if col in cohorts:
            sel = topic_ids == k
            out[sel] = cohorts[col].to_numpy(float)[sel]
    return out


def staff_profiles(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Static staff attributes: years, background (a topic_id or a post category)."""
    s = tables["staff"].set_index("staff_id")
    prof = pd.DataFrame(index=s.index)
    prof["years"] = s["years"].astype(float)
    prof["background"] = s["background"].astype(str)
    return prof


def staff_pair_features(
    staff_ids,
    cohorts: pd.DataFrame,
    effects: RatingEffects,
    profiles: pd.DataFrame,
    topic_weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Feature rows (:data:`STAFF_FEATURES`) of (staff, class) pairs.

    Parameters
    ----------
    staff_ids : array-like of str
        One staff member per row.
    cohorts : DataFrame
        One cohort profile per row.
    effects : RatingEffects
        Rating history of the staff (no topics).
    profiles : DataFrame
        From :func:`staff_profiles`.
    topic_weights : DataFrame, optional
        One row per pair: the class's weight per topic (columns are topic ids).
    """
    staff_ids = np.asarray(staff_ids, dtype=object)
    cohorts = cohorts.reset_index(drop=True)
    if len(cohorts) != len(staff_ids):
        raise ValueError("need one cohort row per staff row")
    X = effects.features(staff_ids, np.full(len(staff_ids), "", dtype=object), cohorts["rank_mean"])
    X = X.drop(columns=["topic_n", "topic_offset"])
    prof = profiles.reindex(pd.Index(staff_ids))
    X["years"] = prof["years"].to_numpy(float)
    bg = prof["background"].fillna("").astype(str).to_numpy()
    is_cat = np.isin(bg, CATEGORIES)
    X["background_is_topic"] = (~is_cat & (bg != "")).astype(float)
    tw = np.zeros(len(bg))
    if topic_weights is not None:
        tw_frame = topic_weights.reset_index(drop=True)
        for k in pd.unique(bg[~is_cat]):
            if k in tw_frame:
                sel = bg == k
                tw[sel] = tw_frame[k].to_numpy(float)[sel]
    X["background_topic_weight"] = tw
    share = np.zeros(len(bg))
    for i, cat in enumerate(CATEGORIES):
        sel = bg == cat
        share[sel] = cohorts[CATEGORY_SHARE_COLUMNS[i]].to_numpy(float)[sel]
    X["background_category_share"] = share
    for c in COHORT_COLUMNS:
        X[c] = cohorts[c].to_numpy(float) if c in cohorts else np.nan
    if topic_weights is not None:
        tw_frame = topic_weights.reset_index(drop=True)
        num = np.zeros(len(bg))
        den = np.zeros(len(bg))
        for k in tw_frame.columns:
            col = RESERVE_PREFIX + str(k)
            if col in cohorts:
                v = cohorts[col].to_numpy(float)
                wk = tw_frame[k].to_numpy(float)
                ok = ~np.isnan(v)
                num += np.where(ok, v * wk, 0.0)
                den += np.where(ok, wk, 0.0)
        X["class_reserve"] = np.where(den > 0, num / np.maximum(den, 1e-12), np.nan)
    else:
        X["class_reserve"] = np.nan
    return X[list(STAFF_FEATURES)]


@dataclass(frozen=True)
class RatingHistory:
    """Rater leniency, class cohorts and corrected rating events (see :func:`rating_history`)."""

    leniency: pd.Series
    cohorts: pd.DataFrame
    events: pd.DataFrame


def teacher_training_rows(
    tables: dict[str, pd.DataFrame],
    reserve: ReserveMatrix | None = None,
    leniency: pd.Series | None = None,
    *,
    n_folds: int = 5,
    random_state: int = 0,
    history: RatingHistory | None = None,
    **effect_params,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Training rows of the teacher matcher: one per rated class session.

    A row is a (class, course) session whose teacher got at least one score; the label is the mean
    leniency-corrected teacher score. History features come *out of fold*: the classes are split
    into ``n_folds`` groups and a row's teacher effects are estimated without its group's ratings
    (self-study ratings always count), so no row sees its own label.

    Parameters
    ----------
    tables : dict of str to DataFrame
        The raw tables as known at training time.
    reserve : ReserveMatrix, optional
        Adds the cohort's mean reserve on the taught topic.
    leniency : Series, optional
        Rater leniency by cadre_id (see :func:`ganxun.models.matching.rater_leniency`); None leaves
        the scores uncorrected. Ignored when ``history`` is given.
    n_folds : int
        Out-of-fold groups of classes.
    random_state : int
        Seed of the fold assignment.
    history : RatingHistory, optional
        Precomputed leniency, cohorts and events (see :func:`rating_history`).
    **effect_params
        Passed to :func:`rating_effects`.

    Returns
    -------
    X : DataFrame
        :data:`TEACHER_FEATURES`.
    y : ndarray
        Mean corrected score per row.
    meta : DataFrame
        class_id, course_id, teacher_id, topic_id, rated_on (last rating), n_ratings, fold.
    """
    history = history or rating_history(tables, reserve, "teacher", leniency)
    ev = history.events
    profiles, declared = teacher_profiles(tables)
    teachers = Vocabulary(tables["teachers"]["teacher_id"])

    def fold_features(hist: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        eff = rating_effects(hist, "teacher_id", "topic_id", targets=teachers, **effect_params)
        coh = history.cohorts.reindex(rows["class_id"].to_numpy())
        return teacher_pair_features(
            rows["teacher_id"], rows["topic_id"], coh, eff, profiles, declared
        )

    sessions, X = _out_of_fold_rows(
        ev,
        ev[ev["class_id"].notna()],
        ["class_id", "course_id", "teacher_id", "topic_id"],
        fold_features,
        TEACHER_FEATURES,
        n_folds,
        random_state,
    )
    meta = sessions[["class_id", "course_id", "teacher_id", "topic_id", "rated_on", "n_ratings"]]
    meta = meta.assign(fold=sessions["fold"])
    return X, sessions["y"].to_numpy(float), meta.reset_index(drop=True)


def staff_training_rows(
    tables: dict[str, pd.DataFrame],
    reserve: ReserveMatrix | None = None,
    leniency: pd.Series | None = None,
    *,
    n_folds: int = 5,
    random_state: int = 0,
    history: RatingHistory | None = None,
    **effect_params,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Training rows of the staff matcher: one per (class, staff member) with ratings.

    Same out-of-fold scheme as :func:`teacher_training_rows`.

    Returns
    -------
    X : DataFrame
        :data:`STAFF_FEATURES`.
    y : ndarray
        Mean corrected score per row.
    meta : DataFrame
        class_id, staff_id, rated_on, n_ratings, fold.
    """
    history = history or rating_history(tables, reserve, "staff", leniency)
    ev = history.events
    profiles = staff_profiles(tables)
    staff = Vocabulary(tables["staff"]["staff_id"])
    topic_w = class_topic_weights(tables, sorted(tables["topics"]["topic_id"]))

    def fold_features(hist: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        eff = rating_effects(hist, "staff_id", None, targets=staff, **effect_params)
        coh = history.cohorts.reindex(rows["class_id"].to_numpy())
        tw = topic_w.reindex(rows["class_id"].to_numpy()).fillna(0.0)
        return staff_pair_features(rows["staff_id"], coh, eff, profiles, tw)

    rows_all, X = _out_of_fold_rows(
        ev, ev, ["class_id", "staff_id"], fold_features, STAFF_FEATURES, n_folds, random_state
    )
    meta = rows_all[["class_id", "staff_id", "rated_on", "n_ratings", "fold"]]
    return X, rows_all["y"].to_numpy(float), meta.reset_index(drop=True)


def _out_of_fold_rows(ev, rated, keys, fold_features, columns, n_folds, random_state):
    """Training rows of the matchers and their features from history out of fold.

    A row groups the ``rated`` events by ``keys`` (class_id first): y (mean corrected score),
    n_ratings, rated_on (last) and fold (all rows of a class in one fold). The feature rows of a
    fold are ``fold_features(hist, rows)`` with ``hist`` the events of ``ev`` outside that fold
    (events of no class, e.g. self-study ratings, always count: NaN differs from every fold).

    Returns
    -------
    rows : DataFrame
    X : DataFrame
        One row per row of ``rows`` (``columns`` when there is none), index reset.
    """
    rows_all = (
        rated.groupby(keys, sort=True)
        .agg(y=("adjusted", "mean"), n_ratings=("adjusted", "size"), rated_on=("rated_on", "max"))
        .reset_index()
    )
    rows_all["fold"] = group_folds(rows_all["class_id"], n_folds, random_state)
    ev_fold = ev["class_id"].map(rows_all.drop_duplicates("class_id").set_index("class_id")["fold"])
    parts = []
    for f in range(max(1, n_folds)):
        rows = rows_all[rows_all["fold"] == f]
        if rows.empty:
            continue
        X = fold_features(ev[ev_fold.ne(f).to_numpy()], rows)
        X.index = rows.index
        parts.append(X)
    X = pd.concat(parts).loc[rows_all.index] if parts else empty_frame(columns)
    return rows_all, X.reset_index(drop=True)


def rating_history(
    tables: dict[str, pd.DataFrame],
    reserve: ReserveMatrix | None,
    kind: str,
    leniency: pd.Series | None = None,
) -> RatingHistory:
    """Leniency, class cohorts and corrected rating events of teachers or staff.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Raw tables.
    reserve : ReserveMatrix, optional
        Adds mean reserve columns to the cohorts.
    kind : {"teacher", "staff"}
        Which ratings.
    leniency : Series, optional
        Rater leniency by cadre_id; None leaves the scores uncorrected.
    """
    if kind not in ("teacher", "staff"):
        raise ValueError(f"kind must be 'teacher' or 'staff', got {kind!r}")
    leniency = pd.Series(dtype=float) if leniency is None else leniency
    cohorts = class_cohorts(tables, reserve)
    build = teacher_rating_events if kind == "teacher" else staff_rating_events
    return RatingHistory(leniency, cohorts, build(tables, leniency, cohorts))


def empty_frame(columns) -> pd.DataFrame:
    """An empty frame with float columns ``columns`` (the rows of a table with no data)."""
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
