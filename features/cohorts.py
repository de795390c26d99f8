"""Cohort features: who sits in a class, and the profile of a group of cadres.

The profile of a group of cadres is its size, the mean and spread of rank level, post category
shares and mean reserve per topic, from a class's enrolments or from its target ranks when nobody
is enrolled yet; :class:`ReserveMatrix` carries a reserve matrix with its vocabularies. Used by
:mod:`ganxun.models.matching`, :mod:`ganxun.models.rollcall` and the class pages. Pure functions of
the validated raw tables of :mod:`ganxun.features.contracts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, RANKS
from ganxun.features.vocab import Vocabulary

#: Rank name -> rank level 0 (科员) .. 5 (副厅), in :data:`ganxun.features.contracts.RANKS` order.
RANK_LEVEL: dict[str, int] = {r: i for i, r in enumerate(RANKS)}
#: Share of the cohort in each post category, in :data:`ganxun.features.contracts.CATEGORIES` order.
CATEGORY_SHARE_COLUMNS: tuple[str, ...] = tuple(f"cat_share_{i}" for i in range(len(CATEGORIES)))
#: The columns (keys) of a cohort profile, besides the per-topic ``reserve_<topic_id>`` ones.
COHORT_COLUMNS: tuple[str, ...] = ("cohort_size", "rank_mean", "rank_sd", *CATEGORY_SHARE_COLUMNS)
#: Prefix of the per-topic mean-reserve columns of a cohort profile.
RESERVE_PREFIX = "reserve_"


# --- reserve -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReserveMatrix:
    """A knowledge-reserve matrix with the vocabularies of its rows (cadres) and columns (topics).

    Parameters
    ----------
    values : ndarray of shape (n_cadres, n_topics)
        Reserve in [0, 1] (e.g. ``Fitted.knowledge.reserve``).
    cadres, topics : Vocabulary
        The row and column vocabularies (e.g. ``Fitted.catalog.cadres`` / ``.topics``).
    """

    values: np.ndarray
    cadres: Vocabulary
    topics: Vocabulary

    def __post_init__(self) -> None:
        shape = (len(self.cadres), len(self.topics))
        if np.shape(self.values) != shape:
            raise ValueError(f"reserve has shape {np.shape(self.values)}, vocabularies say {shape}")

    def rows(self, cadre_ids, topic_ids=None) -> np.ndarray:
        """Reserve rows of some cadres (NaN for unknown cadres or topics).

        Parameters
        ----------
        cadre_ids : array-like of str
            The cadres.
        topic_ids : array-like of str, optional
            Column order of the result (default: the matrix's own topic order).

        Returns
        -------
        ndarray of shape (len(cadre_ids), n_topics)
        """
        ci = self.cadres.index(pd.Series(np.asarray(cadre_ids, dtype=object), dtype=object))
        cols = (
            np.arange(len(self.topics))
            if topic_ids is None
            else self.topics.index(pd.Series(np.asarray(topic_ids, dtype=object), dtype=object))
        )
        out = np.full((len(ci), len(cols)), np.nan)
        ok_r, ok_c = ci >= 0, cols >= 0
        out[np.ix_(ok_r, ok_c)] = np.asarray(self.values, dtype=float)[np.ix_(ci[ok_r], cols[ok_c])]
        return out


# --- cohorts -------------------------------------------------------------------------------------


def rank_levels(ranks) -> np.ndarray:
    """Rank level (0 = 科员 .. 5 = 副厅) of each rank name; NaN for an unknown name."""
    idx = pd.Index(RANKS).get_indexer(pd.Index(np.atleast_1d(np.asarray(ranks, dtype=object))))
    return np.where(idx >= 0, idx, np.nan).astype(float)


def cohort_profile(
    ranks, categories, reserve_rows: np.ndarray | None = None, topic_ids=None
) -> dict[str, float]:
    """Profile of one cohort from its members.

    Parameters
    ----------
    ranks, categories : array-like of str
        Rank and post category of each member.
    reserve_rows : ndarray of shape (n_members, n_topics), optional
        Members' reserve (NaN cells are ignored).
    topic_ids : array-like of str, optional
        Topic of each column of ``reserve_rows``.

    Returns
    -------
    dict of str to float
        :data:`COHORT_COLUMNS` plus ``reserve_<topic_id>`` (mean reserve) per topic given.
    """
    levels = rank_levels(ranks)
    levels = levels[~np.isnan(levels)]
    cats = pd.Index(CATEGORIES).get_indexer(pd.Index(np.asarray(categories, dtype=object)))
    out: dict[str, float] = {
        "cohort_size": float(len(levels)),
        "rank_mean": float(levels.mean()) if len(levels) else np.nan,
        "rank_sd": float(levels.std()) if len(levels) else np.nan,
    }
    counts = np.bincount(cats[cats >= 0], minlength=len(CATEGORIES)).astype(float)
    share = counts / counts.sum() if counts.sum() else np.full(len(CATEGORIES), np.nan)
    out.update(zip(CATEGORY_SHARE_COLUMNS, share.tolist(), strict=True))
    if reserve_rows is not None and topic_ids is not None:
        rows = np.asarray(reserve_rows, dtype=float).reshape(len(np.atleast_1d(ranks)), -1)
        seen = (~np.isnan(rows)).sum(axis=0)
        means = np.where(seen > 0, np.nansum(rows, axis=0) / np.maximum(seen, 1), np.nan)
        for k, v in zip(topic_ids, means, strict=True):
            out[RESERVE_PREFIX + str(k)] = float(v)
    return out


def target_rank_profile(target_ranks) -> dict[str, float]:
    """Profile of a cohort not called yet: rank level from the class's target ranks only.

    Size and category shares are unknown (NaN); the gradient-boosted models handle missing values.
    """
    levels = rank_levels(list(target_ranks or ()))
    levels = levels[~np.isnan(levels)]
    out = {c: np.nan for c in COHORT_COLUMNS}
    if len(levels):
        out["rank_mean"] = float(levels.mean())
        out["rank_sd"] = float(levels.std())
    return out


def class_members(tables: dict[str, pd.DataFrame], class_ids=None) -> pd.DataFrame:
    """Distinct (class_id, cadre_id) pairs of the enrolments that name a class."""
    e = tables["enrollments"]
    e = e[e["class_id"].notna()]
    if class_ids is not None:
        e = e[e["class_id"].isin(set(np.asarray(class_ids, dtype=object).tolist()))]
    return e[["class_id", "cadre_id"]].drop_duplicates().reset_index(drop=True)


def class_cohorts(
    tables: dict[str, pd.DataFrame],
    reserve: ReserveMatrix | None = None,
    class_ids=None,
    members: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Cohort profile of each class: its enrolled cadres, else its target ranks.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Needs ``classes``, ``cadres`` and (unless ``members`` is given) ``enrollments``.
    reserve : ReserveMatrix, optional
        Adds ``reserve_<topic_id>``: the members' mean reserve per topic.
    class_ids : array-like of str, optional
        Classes to profile (default: every class of ``classes``).
    members : DataFrame, optional
        (class_id, cadre_id) pairs to use instead of the enrolments (e.g. a proposed roster).

    Returns
    -------
    DataFrame
        Indexed by class_id, columns :data:`COHORT_COLUMNS` (+ reserve columns).
    """
    classes = tables["classes"].set_index("class_id")
    ids = classes.index if class_ids is None else pd.Index(np.asarray(class_ids, dtype=object))
    if members is None:
        members = class_members(tables, ids)
    cad = tables["cadres"].set_index("cadre_id")
    m = members[members["class_id"].isin(set(ids)) & members["cadre_id"].isin(cad.index)]
    m = m.drop_duplicates(["class_id", "cadre_id"])
    levels = rank_levels(cad.loc[m["cadre_id"], "rank"].to_numpy())
    cats = pd.Index(CATEGORIES).get_indexer(pd.Index(cad.loc[m["cadre_id"], "category"].to_numpy()))
    frame = pd.DataFrame({"class_id": m["class_id"].to_numpy(), "level": levels})
    for i, col in enumerate(CATEGORY_SHARE_COLUMNS):
        frame[col] = (cats == i).astype(float)
    g = frame.groupby("class_id", sort=False)
    out = pd.DataFrame(index=ids)
    out["cohort_size"] = g.size().reindex(ids).fillna(0.0).astype(float)
    out["rank_mean"] = g["level"].mean().reindex(ids)
    out["rank_sd"] = g["level"].std(ddof=0).reindex(ids)
    for col in CATEGORY_SHARE_COLUMNS:
        out[col] = g[col].mean().reindex(ids)
    empty = out["cohort_size"].to_numpy() == 0
    known = ids[empty].intersection(classes.index)
    if len(known):
        fallback = pd.DataFrame(
            [target_rank_profile(classes.at[c, "target_ranks"]) for c in known], index=known
        )
        out.loc[known, list(COHORT_COLUMNS)] = fallback[list(COHORT_COLUMNS)].to_numpy()
        out.loc[known, "cohort_size"] = 0.0
    if reserve is not None:
        topic_ids = reserve.topics.ids_
        rows = reserve.rows(m["cadre_id"].to_numpy(), topic_ids)
        rframe = pd.DataFrame(rows, columns=[RESERVE_PREFIX + str(k) for k in topic_ids])
        rframe["class_id"] = m["class_id"].to_numpy()
        means = rframe.groupby("class_id", sort=False).mean()
        out = out.join(means.reindex(ids))
    out.index.name = "class_id"
    return out


def class_topic_weights(tables: dict[str, pd.DataFrame], topic_ids) -> pd.DataFrame:
    """Class × topic weights from ``class_topics``, each class's row summing to one."""
    ct = tables["class_topics"]
    w = ct.pivot_table(index="class_id", columns="topic_id", values="weight", aggfunc="sum")
    w = w.reindex(columns=list(topic_ids)).fillna(0.0)
    sums = w.sum(axis=1).replace(0.0, 1.0)
    return w.div(sums, axis=0)


def course_main_topic(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Main topic (largest weight; the first topic id on ties) of every course with topics."""
    ct = tables["course_topics"].sort_values(
        ["course_id", "weight", "topic_id"], ascending=[True, False, True]
    )
    return ct.drop_duplicates("course_id").set_index("course_id")["topic_id"]


def class_slots(tables: dict[str, pd.DataFrame], class_ids=None) -> pd.DataFrame:
    """Topic slots of classes: one per session, with the main topic of the session's course.

    Returns
    -------
    DataFrame
        class_id, course_id, topic_id, session_on, teacher_id (the teacher on record, if any),
        sorted by class and date.
    """
    s = tables["class_sessions"]
    if class_ids is not None:
        s = s[s["class_id"].isin(set(np.asarray(class_ids, dtype=object).tolist()))]
    s = s.assign(topic_id=s["course_id"].map(course_main_topic(tables)))
    s = s[s["topic_id"].notna()].sort_values(["class_id", "session_on", "course_id"])
    return s[["class_id", "course_id", "topic_id", "session_on", "teacher_id"]].reset_index(
        drop=True
    )


def class_hours(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Total course hours of each class's sessions."""
    s = tables["class_sessions"].merge(
        tables["courses"][["course_id", "hours"]], on="course_id", how="left"
    )
    return s.groupby("class_id")["hours"].sum()
