"""Feature builders for cohorts and classes: who sits in a class, how they rate, what they gain.

Three families of pure functions, used by :mod:`models.matching` and :mod:`models.rollcall`:

* **cohorts** — the profile of a group of cadres (size, mean and spread of rank level, post
  category shares, mean reserve per topic), from a class's enrolments or from its target ranks
  when nobody is enrolled yet;
* **ratings** — teacher and staff ratings corrected for rater leniency, and their per-target
  effects (overall, per topic, and a smooth curve over the cohort's rank level) estimated by
  shrunk backfitting, so that a target with few ratings falls back on the prior;
* **point-in-time history** — per cadre and date: answers and training hours per topic before the
  date, recent training load, and the gains measured by the pre/post exams of rollcall classes.

Every function takes the raw tables of :mod:`features.contracts` (already validated) and returns
DataFrames or arrays; nothing here reads files or keeps state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.contracts import CATEGORIES, RANKS, TEACHER_TITLES
from features.vocab import Vocabulary

#: Rank name -> rank level 0 (科员) .. 5 (副厅), in :data:`features.contracts.RANKS` order.
RANK_LEVEL: dict[str, int] = {r: i for i, r in enumerate(RANKS)}
#: Share of the cohort in each post category, in :data:`features.contracts.CATEGORIES` order.
CATEGORY_SHARE_COLUMNS: tuple[str, ...] = tuple(f"cat_share_{i}" for i in range(len(CATEGORIES)))
#: The columns (keys) of a cohort profile, besides the per-topic ``reserve_<topic_id>`` ones.
COHORT_COLUMNS: tuple[str, ...] = ("cohort_size", "rank_mean", "rank_sd", *CATEGORY_SHARE_COLUMNS)
#: Prefix of the per-topic mean-reserve columns of a cohort profile.
RESERVE_PREFIX = "reserve_"
#: Rank levels at which rating curves are tabulated (interpolated in between).
LEVEL_GRID = np.linspace(0.0, len(RANKS) - 1.0, 21)

_KEY_SPAN = 1 << 20  # days per group in the packed (group, day) keys: far beyond any date range


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


# --- ratings -------------------------------------------------------------------------------------


def rating_triples(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every score given by a cadre, as (rater, target, score) rows for a leniency model.

    Course scores rate the course (``c:<course_id>``), teacher scores the teacher on the course's
    main topic (``t:<teacher_id>|<topic_id>``), staff scores the staff member (``s:<staff_id>``), so
    that one model of ``score = mean + leniency[rater] + effect[target]`` sees all of a cadre's
    ratings (see :func:`models.matching.rater_leniency`).
    """
    cr = tables["course_ratings"]
    main = course_main_topic(tables)
    has_t = cr["teacher_score"].notna() & cr["teacher_id"].notna()
    t = cr[has_t]
    sr = tables["staff_ratings"]
    parts = [
        pd.DataFrame(
            {
                "rater": cr["cadre_id"].to_numpy(),
                "target": ("c:" + cr["course_id"].astype(str)).to_numpy(),
                "score": cr["course_score"].astype(float).to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "rater": t["cadre_id"].to_numpy(),
                "target": (
                    "t:"
                    + t["teacher_id"].astype(str)
                    + "|"
                    + t["course_id"].map(main).fillna("").astype(str)
                ).to_numpy(),
                "score": t["teacher_score"].astype(float).to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "rater": sr["cadre_id"].to_numpy(),
                "target": ("s:" + sr["staff_id"].astype(str)).to_numpy(),
                "score": sr["score"].astype(float).to_numpy(),
            }
        ),
    ]
    return pd.concat(parts, ignore_index=True)


def _cadre_levels(tables: dict[str, pd.DataFrame]) -> pd.Series:
    cad = tables["cadres"]
    return pd.Series(rank_levels(cad["rank"].to_numpy()), index=cad["cadre_id"].to_numpy())


def teacher_rating_events(
    tables: dict[str, pd.DataFrame],
    leniency: pd.Series,
    cohorts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every teacher score, with the topic taught, the cohort's rank level and leniency removed.

    The topic is the course's main topic; the cohort level is the class's mean rank level for a
    rating given in a class, else the rater's own rank level (self-study). ``leniency`` is indexed
    by cadre_id (cadres it does not list count as 0; pass an empty Series for raw scores);
    ``cohorts`` defaults to :func:`class_cohorts` of the rated classes.

    Returns
    -------
    DataFrame
        cadre_id, teacher_id, topic_id, course_id, class_id, rated_on, score, leniency,
        adjusted (score - leniency), level.
    """
    cr = tables["course_ratings"]
    cr = cr[cr["teacher_score"].notna() & cr["teacher_id"].notna()]
    main = course_main_topic(tables)
    out = pd.DataFrame(
        {
            "cadre_id": cr["cadre_id"].to_numpy(),
            "teacher_id": cr["teacher_id"].to_numpy(),
            "topic_id": cr["course_id"].map(main).to_numpy(),
            "course_id": cr["course_id"].to_numpy(),
            "class_id": cr["class_id"].to_numpy(),
            "rated_on": cr["rated_on"].to_numpy(),
            "score": cr["teacher_score"].astype(float).to_numpy(),
        }
    )
    out = out[out["topic_id"].notna()].reset_index(drop=True)
    return _finish_events(tables, out, leniency, cohorts)


def staff_rating_events(
    tables: dict[str, pd.DataFrame],
    leniency: pd.Series,
    cohorts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every staff score with the class cohort's rank level and the rater's leniency removed.

    ``leniency`` and ``cohorts`` as in :func:`teacher_rating_events`.

    Returns
    -------
    DataFrame
        cadre_id, staff_id, class_id, rated_on, score, leniency, adjusted, level.
    """
    sr = tables["staff_ratings"]
    out = pd.DataFrame(
        {
            "cadre_id": sr["cadre_id"].to_numpy(),
            "staff_id": sr["staff_id"].to_numpy(),
            "class_id": sr["class_id"].to_numpy(),
            "rated_on": sr["rated_on"].to_numpy(),
            "score": sr["score"].astype(float).to_numpy(),
        }
    )
    return _finish_events(tables, out, leniency, cohorts)


def _finish_events(tables, out, leniency, cohorts) -> pd.DataFrame:
    out["leniency"] = out["cadre_id"].map(leniency).fillna(0.0).astype(float).to_numpy()
    out["adjusted"] = out["score"] - out["leniency"]
    own = out["cadre_id"].map(_cadre_levels(tables)).astype(float)
    in_class = out["class_id"].notna()
    if cohorts is None:
        cohorts = class_cohorts(tables, class_ids=out.loc[in_class, "class_id"].unique())
    cls_level = out["class_id"].map(cohorts["rank_mean"]).astype(float)
    out["level"] = np.where(in_class & cls_level.notna(), cls_level, own)
    return out[out["level"].notna()].reset_index(drop=True)


@dataclass(frozen=True)
class RatingEffects:
    """Shrunk rating effects of targets (teachers or staff) from leniency-corrected ratings.

    ``expected(target, topic, level) = mean + base[target] + offset[target, topic]
    + curve[target](level)``. ``curve`` is tabulated on :data:`LEVEL_GRID`; ``curve_weight`` is the
    kernel weight (effective number of ratings) behind each grid point.
    """

    mean: float
    targets: Vocabulary
    base: np.ndarray
    n: np.ndarray
    offset: pd.Series  # MultiIndex (target, topic)
    offset_n: pd.Series
    curve: np.ndarray  # (n_targets, len(LEVEL_GRID))
    curve_weight: np.ndarray
    topic_mean: pd.Series  # shrunk mean of each topic's ratings, relative to ``mean``

    def features(self, targets, topics, levels) -> pd.DataFrame:
        """History features of (target, topic, cohort level) queries.

        Returns
        -------
        DataFrame
            hist_n, hist_base, topic_n, topic_offset, fit_n, cohort_fit, prior_rating (one row per
            query; an unknown target gets zero counts and the topic's mean as prior).
        """
        targets = np.asarray(targets, dtype=object)
        topics = np.asarray(topics, dtype=object)
        levels = np.clip(np.asarray(levels, dtype=float), LEVEL_GRID[0], LEVEL_GRID[-1])
        ti = self.targets.index(pd.Series(targets, dtype=object))
        known = ti >= 0
        t = np.maximum(ti, 0)
        base = np.where(known, self.base[t], 0.0)
        n = np.where(known, self.n[t], 0.0)
        key = pd.MultiIndex.from_arrays([targets, topics])
        off = self.offset.reindex(key).to_numpy(dtype=float)
        off_n = self.offset_n.reindex(key).to_numpy(dtype=float)
        off, off_n = np.nan_to_num(off), np.nan_to_num(off_n)
        tmean = self.topic_mean.reindex(pd.Index(topics)).to_numpy(dtype=float)
        tmean = np.nan_to_num(tmean)
        pos = np.interp(levels, LEVEL_GRID, np.arange(len(LEVEL_GRID)))
        lo = np.floor(np.nan_to_num(pos)).astype(int)
        hi = np.minimum(lo + 1, len(LEVEL_GRID) - 1)
        frac = np.nan_to_num(pos) - lo
        curve = (1 - frac) * self.curve[t, lo] + frac * self.curve[t, hi]
        weight = (1 - frac) * self.curve_weight[t, lo] + frac * self.curve_weight[t, hi]
        curve = np.where(known & ~np.isnan(levels), curve, 0.0)
        weight = np.where(known & ~np.isnan(levels), weight, 0.0)
        # a target nobody rated starts from the topic's mean; a rated one on a new topic from its
        # own base (its offset is 0)
        prior_off = np.where(off_n > 0, off, tmean * (n == 0))
        return pd.DataFrame(
            {
                "hist_n": n,
                "hist_base": base,
                "topic_n": off_n,
                "topic_offset": off,
                "fit_n": weight,
                "cohort_fit": curve,
                "prior_rating": self.mean + base + prior_off + curve,
            }
        )


def rating_effects(
    events: pd.DataFrame,
    target_col: str,
    topic_col: str | None = "topic_id",
    shrinkage: float = 5.0,
    topic_shrinkage: float = 5.0,
    curve_shrinkage: float = 10.0,
    bandwidth: float = 0.6,
    n_iter: int = 4,
    targets: Vocabulary | None = None,
) -> RatingEffects:
    """Estimate :class:`RatingEffects` by backfitting shrunk means and a kernel curve per target.

    Each round: the target's base is the shrunk mean of what the other parts leave; the topic
    offset the shrunk mean of the rest per (target, topic); the curve a Nadaraya–Watson smooth of
    the rest over the cohort's rank level (Gaussian kernel of ``bandwidth`` levels), shrunk to 0
    where few ratings are near. Ratings of a target with none of its own fall back to the mean.

    Parameters
    ----------
    events : DataFrame
        One row per rating: ``target_col``, ``topic_col`` (or None), level, adjusted.
    target_col : str
        Column naming the rated target (teacher_id or staff_id).
    topic_col : str or None
        Column naming the topic; None for targets without topics (staff).
    shrinkage, topic_shrinkage, curve_shrinkage : float
        Pseudo-counts of the base, the topic offsets and the curve points.
    bandwidth : float
        Kernel width in rank levels.
    n_iter : int
        Backfitting rounds.
    targets : Vocabulary, optional
        Target vocabulary (default: the targets present in ``events``).
    """
    if targets is None:
        targets = Vocabulary(events[target_col].astype(str))
    ti = targets.index(events[target_col])
    ev = events[ti >= 0]
    ti = ti[ti >= 0]
    y = ev["adjusted"].to_numpy(float)
    levels = ev["level"].to_numpy(float)
    topics = (
        ev[topic_col].astype(str).to_numpy() if topic_col else np.full(len(ev), "", dtype=object)
    )
    n_t = len(targets)
    mean = float(y.mean()) if len(y) else 3.0
    member = sp.csr_matrix((np.ones(len(ti)), (ti, np.arange(len(ti)))), shape=(n_t, len(ti)))
    kern = np.exp(-0.5 * ((levels[:, None] - LEVEL_GRID[None, :]) / bandwidth) ** 2)
    kern_sum = np.asarray(member @ kern)
    n = np.bincount(ti, minlength=n_t).astype(float)
    topic_codes, topic_uniques = pd.factorize(pd.Index(topics))
    n_topic = np.bincount(topic_codes, minlength=len(topic_uniques)).astype(float)
    pair_uniques, pair_codes = np.unique(
        ti.astype(np.int64) * max(1, len(topic_uniques)) + topic_codes, return_inverse=True
    )
    n_pair = np.bincount(pair_codes, minlength=len(pair_uniques)).astype(float)
    topic_mean = np.bincount(topic_codes, y - mean, len(topic_uniques)) / (n_topic + shrinkage)
    base = np.zeros(n_t)
    off = np.zeros(len(pair_uniques))
    curve = np.zeros((n_t, len(LEVEL_GRID)))
    f = np.zeros(len(y))
    for _ in range(max(1, n_iter)):
        base = np.bincount(ti, y - mean - off[pair_codes] - f, n_t) / (n + shrinkage)
        if topic_col:
            r = y - mean - base[ti] - f
            off = np.bincount(pair_codes, r, len(pair_uniques)) / (n_pair + topic_shrinkage)
        r = y - mean - base[ti] - off[pair_codes]
        curve = np.asarray(member @ (kern * r[:, None])) / (kern_sum + curve_shrinkage)
        f = _interp_rows(curve, ti, levels)
    pair_t = pair_uniques // max(1, len(topic_uniques))
    pair_k = np.asarray(topic_uniques, dtype=object)[pair_uniques % max(1, len(topic_uniques))]
    index = pd.MultiIndex.from_arrays([targets.lookup(pair_t), pair_k])
    return RatingEffects(
        mean=mean,
        targets=targets,
        base=base,
        n=n,
        offset=pd.Series(off, index=index),
        offset_n=pd.Series(n_pair, index=index),
        curve=curve,
        curve_weight=kern_sum,
        topic_mean=pd.Series(topic_mean, index=pd.Index(topic_uniques)),
    )


def _interp_rows(table: np.ndarray, rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
    pos = np.interp(levels, LEVEL_GRID, np.arange(len(LEVEL_GRID)))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(LEVEL_GRID) - 1)
    frac = pos - lo
    return (1 - frac) * table[rows, lo] + frac * table[rows, hi]


def _folds(keys: pd.Series, n_folds: int, random_state: int) -> np.ndarray:
    """A fold per row, all rows of one key in the same fold (keys shuffled with the seed)."""
    codes, uniques = pd.factorize(keys)
    perm = np.random.default_rng(random_state).permutation(len(uniques))
    return perm[codes] % max(1, n_folds)


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
        Rater leniency by cadre_id (see :func:`models.matching.rater_leniency`); None leaves the
        scores uncorrected. Ignored when ``history`` is given.
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
    rows_all["fold"] = _folds(rows_all["class_id"], n_folds, random_state)
    ev_fold = ev["class_id"].map(rows_all.drop_duplicates("class_id").set_index("class_id")["fold"])
    parts = []
    for f in range(max(1, n_folds)):
        rows = rows_all[rows_all["fold"] == f]
        if rows.empty:
            continue
        X = fold_features(ev[ev_fold.ne(f).to_numpy()], rows)
        X.index = rows.index
        parts.append(X)
    X = pd.concat(parts).loc[rows_all.index] if parts else _empty(columns)
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


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


# --- point-in-time cadre history -----------------------------------------------------------------

#: Features of a (cadre, class) row of the rollcall gain model, in model order.
ROLLCALL_FEATURES: tuple[str, ...] = (
    "prior_accuracy",
    "accuracy_gap",
    "class_answers",
    "class_topic_hours",
    "recent_hours",
    "hours_3y",
    "rollcall_hours_3y",
    "past_gain",
    "n_past_gains",
    "rank_level",
    "category",
    "target",
    "class_hours",
    "n_class_topics",
    "main_weight",
)


def _days(dates) -> np.ndarray:
    values = pd.to_datetime(pd.Series(np.asarray(dates))).to_numpy("datetime64[D]")
    return values.astype(np.int64)


def to_day(date) -> int:
    """Day number (days since 1970-01-01) of a date."""
    return int(np.datetime64(pd.Timestamp(date).normalize().date(), "D").astype(np.int64))


class _Cumulative:
    """Sums of event values per group strictly before a day, by binary search on packed keys."""

    def __init__(self, groups: np.ndarray, days: np.ndarray, values: np.ndarray):
        key = groups.astype(np.int64) * _KEY_SPAN + (days.astype(np.int64) + _KEY_SPAN // 2)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        vals = np.asarray(values, dtype=float).reshape(len(key), -1)[order]
        self.cum = np.vstack([np.zeros((1, vals.shape[1])), np.cumsum(vals, axis=0)])

    def before(self, groups: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Sum over each group's events dated strictly before ``days``."""
        g = groups.astype(np.int64) * _KEY_SPAN
        hi = np.searchsorted(self.key, g + days.astype(np.int64) + _KEY_SPAN // 2, side="left")
        lo = np.searchsorted(self.key, g, side="left")
        return self.cum[hi] - self.cum[lo]


@dataclass(frozen=True)
class CadreState:
    """What was known about some cadres at some dates (one row per (cadre, date) query).

    Attributes
    ----------
    correct, total : ndarray of shape (n, n_topics)
        Correct and all exam answers per topic before the date.
    topic_hours : ndarray of shape (n, n_topics)
        Training hours per topic in the two years before the date.
    recent_hours, hours_3y, rollcall_hours_3y : ndarray of shape (n,)
        Training hours in the last 365 days, in the last three years, and rollcall hours in the
        last three years.
    past_gain, n_past_gains : ndarray of shape (n,)
        Mean residual of the cadre's earlier pre/post exam gains (0 when none) and their number.
    mean_accuracy : float
        Accuracy of all answers (the prior of a cadre with none).
    """

    correct: np.ndarray
    total: np.ndarray
    topic_hours: np.ndarray
    recent_hours: np.ndarray
    hours_3y: np.ndarray
    rollcall_hours_3y: np.ndarray
    past_gain: np.ndarray
    n_past_gains: np.ndarray
    mean_accuracy: float

    def accuracy(self, prior_strength: float = 4.0) -> np.ndarray:
        """Accuracy per topic, smoothed towards the overall accuracy."""
        a = prior_strength
        return (self.correct + a * self.mean_accuracy) / (self.total + a)


@dataclass(frozen=True)
class CadreHistory:
    """Event summaries of every cadre, queryable at any date (see :func:`cadre_history`)."""

    cadres: Vocabulary
    topics: Vocabulary
    answers: _Cumulative  # group = cadre * n_topics + topic; values (correct, total)
    topic_hours: _Cumulative  # group = cadre * n_topics + topic; values hours
    hours: _Cumulative  # group = cadre; values (hours, rollcall hours)
    gains: _Cumulative  # group = cadre; values (residual gain, 1), known after the class
    mean_accuracy: float

    def state(self, cadre_ids, days) -> CadreState:
        """The :class:`CadreState` of cadres at dates (only events strictly before count).

        Parameters
        ----------
        cadre_ids : array-like of str
            One cadre per row (unknown cadres get empty histories).
        days : int or array-like of int
            Day number (see :func:`to_day`) of each row.
        """
        ci = self.cadres.index(pd.Series(np.asarray(cadre_ids, dtype=object), dtype=object))
        days = np.broadcast_to(np.asarray(days, dtype=np.int64), ci.shape).copy()
        n_k = len(self.topics)
        c = np.where(ci >= 0, ci, len(self.cadres) + 1)  # a group with no events
        correct = np.zeros((len(ci), n_k))
        total = np.zeros((len(ci), n_k))
        hours = np.zeros((len(ci), n_k))
        for k in range(n_k):
            g = c * n_k + k
            ct = self.answers.before(g, days)
            correct[:, k], total[:, k] = ct[:, 0], ct[:, 1]
            hours[:, k] = (
                self.topic_hours.before(g, days) - self.topic_hours.before(g, days - 730)
            )[:, 0]
        h_now = self.hours.before(c, days)
        h_1y = h_now - self.hours.before(c, days - 365)
        h_3y = h_now - self.hours.before(c, days - 3 * 365)
        gains = self.gains.before(c, days)
        return CadreState(
            correct=correct,
            total=total,
            topic_hours=hours,
            recent_hours=h_1y[:, 0],
            hours_3y=h_3y[:, 0],
            rollcall_hours_3y=h_3y[:, 1],
            past_gain=gains[:, 0] / np.maximum(gains[:, 1], 1.0),
            n_past_gains=gains[:, 1],
            mean_accuracy=self.mean_accuracy,
        )


def prepost_gains(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy on the pre-exam (answered on the class start) and post-exam (on its end).

    Only classes that ran both exams count, and only cadres who answered both.

    Returns
    -------
    DataFrame
        class_id, cadre_id, start_on, end_on, pre, post, n_pre, n_post, gain (post - pre),
        residual (gain minus the class mean, minus the pooled regression on pre - class mean:
        what is left of a cadre's gain once the class and the starting level are accounted for).
    """
    cols = ["class_id", "cadre_id", "start_on", "end_on", "pre", "post", "n_pre", "n_post"]
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in [*cols, "gain", "residual"]})
    r = tables["responses"]
    r = r[r["class_id"].notna()]
    if r.empty:
        return empty
    cl = tables["classes"].set_index("class_id")[["start_on", "end_on"]]
    r = r.join(cl, on="class_id")
    phase = np.where(
        r["answered_on"].eq(r["start_on"]), 0, np.where(r["answered_on"].eq(r["end_on"]), 1, -1)
    )
    r = r.assign(phase=phase)
    r = r[r["phase"] >= 0]
    g = r.groupby(["class_id", "cadre_id", "phase"])["correct"].agg(["mean", "size"]).unstack()
    if g.empty or ("mean", 1) not in g or ("mean", 0) not in g:
        return empty
    g = g.dropna()
    out = pd.DataFrame(
        {
            "pre": g[("mean", 0)].to_numpy(float),
            "post": g[("mean", 1)].to_numpy(float),
            "n_pre": g[("size", 0)].to_numpy(float),
            "n_post": g[("size", 1)].to_numpy(float),
        },
        index=g.index,
    ).reset_index()
    out = out.join(cl, on="class_id")
    out["gain"] = out["post"] - out["pre"]
    d = out["gain"] - out.groupby("class_id")["gain"].transform("mean")
    p = out["pre"] - out.groupby("class_id")["pre"].transform("mean")
    beta = float((d * p).sum() / max((p * p).sum(), 1e-12))
    out["residual"] = d - beta * p
    return out[[*cols, "gain", "residual"]]


@dataclass(frozen=True)
class SpeedPrior:
    """How much a cadre's pre/post residual gains say about their own learning speed.

    Attributes
    ----------
    signal_var : float
        Variance of a cadre's persistent gain residual (the covariance of two residuals of the
        same cadre in different classes), at least 0.
    noise_var : float
        Variance of one residual around the cadre's persistent part (exam noise, class luck).
    mean_gain : float
        Mean pre/post accuracy gain (converts a residual into a relative speed).
    """

    signal_var: float = 0.0
    noise_var: float = 1.0
    mean_gain: float = 0.0


def speed_prior(gains: pd.DataFrame) -> SpeedPrior:
    """Estimate the :class:`SpeedPrior` from :func:`prepost_gains` rows (method of moments).

    The persistent part is what two classes of the same cadre share: its variance is the mean
    product of residual pairs within a cadre. With no cadre seen twice, or no positive mean gain,
    the prior says the residuals carry no signal.
    """
    if gains.empty or float(gains["gain"].mean()) <= 0:
        return SpeedPrior()
    res = gains["residual"].astype(float)
    by = res.groupby(gains["cadre_id"].to_numpy())
    total, squares, n = by.sum(), (res * res).groupby(gains["cadre_id"].to_numpy()).sum(), by.size()
    n_pairs = float((n * (n - 1) / 2).sum())
    var = float(res.var(ddof=0))
    if n_pairs == 0 or var <= 0:
        return SpeedPrior(mean_gain=float(gains["gain"].mean()))
    signal = float(((total * total - squares) / 2).sum() / n_pairs)
    signal = min(max(signal, 0.0), var)
    return SpeedPrior(signal, max(var - signal, 1e-12), float(gains["gain"].mean()))


def learning_speed(
    past_gain: np.ndarray, n_past_gains: np.ndarray, prior: SpeedPrior, floor: float = 0.2
) -> np.ndarray:
    """Each cadre's expected gain relative to a typical classmate (1 = typical).

    The mean residual of ``n`` earlier pre/post gains is shrunk towards 0 by the empirical-Bayes
    factor ``signal / (signal + noise / n)`` and divided by the mean gain; cadres with no earlier
    pre/post exams get 1. Never below ``floor``.
    """
    n = np.asarray(n_past_gains, dtype=float)
    if prior.mean_gain <= 0 or prior.signal_var <= 0:
        return np.ones_like(n)
    shrink = prior.signal_var / (prior.signal_var + prior.noise_var / np.maximum(n, 1.0))
    rel = np.where(n > 0, np.asarray(past_gain, dtype=float) * shrink, 0.0) / prior.mean_gain
    return np.maximum(floor, 1.0 + rel)


def cadre_history(
    tables: dict[str, pd.DataFrame], topics: Vocabulary, gains: pd.DataFrame | None = None
) -> CadreHistory:
    """Build the point-in-time :class:`CadreHistory` of every cadre from the raw tables.

    Parameters
    ----------
    tables : dict of str to DataFrame
        cadres, items, responses, enrollments, course_topics (and classes unless ``gains`` is
        given).
    topics : Vocabulary
        Topic order of the per-topic arrays.
    gains : DataFrame, optional
        From :func:`prepost_gains`.
    """
    cadres = Vocabulary(tables["cadres"]["cadre_id"])
    n_k = len(topics)
    r = tables["responses"][["cadre_id", "item_id", "answered_on", "correct"]]
    rt = r.merge(tables["items"][["item_id", "topic_id"]], on="item_id", how="inner")
    ci, ki = cadres.index(rt["cadre_id"]), topics.index(rt["topic_id"])
    ok = (ci >= 0) & (ki >= 0)
    correct = rt["correct"].to_numpy(float)[ok]
    answers = _Cumulative(
        ci[ok] * n_k + ki[ok],
        _days(rt["answered_on"].to_numpy()[ok]),
        np.column_stack([correct, np.ones_like(correct)]),
    )
    e = tables["enrollments"]
    ehours = e["hours"].astype(float).to_numpy()
    eci = cadres.index(e["cadre_id"])
    rollcall = (e["source"] == "rollcall").to_numpy()
    ok = eci >= 0
    hours = _Cumulative(
        eci[ok],
        _days(e["enrolled_on"].to_numpy())[ok],
        np.column_stack([ehours, np.where(rollcall, ehours, 0.0)])[ok],
    )
    ct = tables["course_topics"]
    ct = ct.assign(weight=ct["weight"] / ct.groupby("course_id")["weight"].transform("sum"))
    et = e[["cadre_id", "course_id", "enrolled_on", "hours"]].merge(ct, on="course_id")
    tci, tki = cadres.index(et["cadre_id"]), topics.index(et["topic_id"])
    ok = (tci >= 0) & (tki >= 0)
    topic_hours = _Cumulative(
        tci[ok] * n_k + tki[ok],
        _days(et["enrolled_on"].to_numpy()[ok]),
        (et["hours"].astype(float) * et["weight"]).to_numpy()[ok],
    )
    if gains is None:
        gains = prepost_gains(tables)
    gci = cadres.index(gains["cadre_id"])
    ok = gci >= 0
    res = gains["residual"].to_numpy(float)[ok]
    gain_sum = _Cumulative(
        gci[ok],
        _days(gains["end_on"].to_numpy()[ok]) + 1,  # known the day after the post-exam
        np.column_stack([res, np.ones_like(res)]),
    )
    mean_acc = float(correct.mean()) if len(correct) else 0.5
    return CadreHistory(cadres, topics, answers, topic_hours, hours, gain_sum, mean_acc)


def post_target_rows(post_requirements: pd.DataFrame, ranks, categories, topic_ids) -> np.ndarray:
    """Target reserve per (cadre, topic) from the post's rank and category.

    Cells the table does not give get the topic's mean target (0.6 when the topic has none).

    Returns
    -------
    ndarray of shape (len(ranks), len(topic_ids))
    """
    pr = post_requirements
    table = pr.pivot_table(index=["rank", "category"], columns="topic_id", values="target")
    table = table.reindex(columns=list(topic_ids))
    fill = table.mean(axis=0).fillna(0.6)
    key = pd.MultiIndex.from_arrays(
        [np.asarray(ranks, dtype=object), np.asarray(categories, dtype=object)]
    )
    rows = table.reindex(key)
    return rows.fillna(fill).to_numpy(float)


def rollcall_features(
    state: CadreState,
    topic_weights: np.ndarray,
    class_hours,
    ranks,
    categories,
    targets: np.ndarray,
    prior_strength: float = 4.0,
) -> pd.DataFrame:
    """Feature rows (:data:`ROLLCALL_FEATURES`) of (cadre, class) pairs.

    Parameters
    ----------
    state : CadreState
        The cadres' history at the class date, one row per pair.
    topic_weights : ndarray of shape (n, n_topics) or (n_topics,)
        The class's topic weights (rows sum to one), in the state's topic order.
    class_hours : float or array-like
        Planned hours of the class.
    ranks, categories : array-like of str
        Each cadre's rank and post category.
    targets : ndarray of shape (n, n_topics)
        The post's target reserve per topic (:func:`post_target_rows`).
    prior_strength : float
        Answers the overall accuracy is worth in the smoothed accuracy.
    """
    n = len(state.recent_hours)
    w = np.asarray(topic_weights, dtype=float)
    w = np.broadcast_to(w, (n, state.correct.shape[1])) if w.ndim == 1 else w
    acc = (w * state.accuracy(prior_strength)).sum(axis=1)
    target = (w * np.asarray(targets, dtype=float)).sum(axis=1)
    cats = pd.Index(CATEGORIES).get_indexer(pd.Index(np.asarray(categories, dtype=object)))
    return pd.DataFrame(
        {
            "prior_accuracy": acc,
            "accuracy_gap": target - acc,
            "class_answers": (w * state.total).sum(axis=1),
            "class_topic_hours": (w * state.topic_hours).sum(axis=1),
            "recent_hours": state.recent_hours,
            "hours_3y": state.hours_3y,
            "rollcall_hours_3y": state.rollcall_hours_3y,
            "past_gain": state.past_gain,
            "n_past_gains": state.n_past_gains,
            "rank_level": rank_levels(ranks),
            "category": np.where(cats >= 0, cats, np.nan).astype(float),
            "target": target,
            "class_hours": np.broadcast_to(np.asarray(class_hours, dtype=float), (n,)),
            "n_class_topics": (w > 0).sum(axis=1).astype(float),
            "main_weight": w.max(axis=1) if w.shape[1] else np.zeros(n),
        }
    )[list(ROLLCALL_FEATURES)]


def rollcall_training_rows(
    tables: dict[str, pd.DataFrame],
    topics: Vocabulary,
    *,
    history: CadreHistory | None = None,
    gains: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Training rows of the rollcall gain model: one per (class, cadre) with pre and post exams.

    Features describe the cadre as known the day before the class started (point in time, so the
    class's own exams and enrolments never leak in); the label is the cadre's accuracy gain minus
    the class's mean gain plus the overall mean gain (the pre and post exams of a class draw
    different items, so only differences within a class are comparable).

    Returns
    -------
    X : DataFrame
        :data:`ROLLCALL_FEATURES`.
    y : ndarray
        Relative accuracy gain.
    meta : DataFrame
        The :func:`prepost_gains` rows.
    """
    gains = prepost_gains(tables) if gains is None else gains
    history = history or cadre_history(tables, topics, gains)
    if gains.empty:
        return _empty(ROLLCALL_FEATURES), np.zeros(0), gains
    w = class_topic_weights(tables, topics.ids_).reindex(gains["class_id"]).fillna(0.0)
    hours = class_hours(tables).reindex(gains["class_id"]).fillna(0.0).to_numpy()
    cad = tables["cadres"].set_index("cadre_id").reindex(gains["cadre_id"])
    state = history.state(gains["cadre_id"], _days(gains["start_on"].to_numpy()))
    targets = post_target_rows(
        tables["post_requirements"], cad["rank"], cad["category"], topics.ids_
    )
    X = rollcall_features(state, w.to_numpy(), hours, cad["rank"], cad["category"], targets)
    rel = gains["gain"] - gains.groupby("class_id")["gain"].transform("mean")
    y = (rel + gains["gain"].mean()).to_numpy(float)
    return X, y, gains.reset_index(drop=True)
