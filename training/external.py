"""The estimators on any public data: ``external diagnose`` and ``external recommend``.

The functions here take and return DataFrames; the command line reads and writes the CSV files.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.vocab import Vocabulary
from ganxun.models.context_features import FeatureSet, ItemAttributeFeatures, TimeContextFeatures
from ganxun.models.diagnosis import LogisticDiagnosis
from ganxun.models.stacked_diagnosis import StackedDiagnosis

log = logging.getLogger(__name__)


def require_columns(df: pd.DataFrame, name: str, columns: list[str]) -> pd.DataFrame:
    """``df`` with ids as strings; ValueError naming the file and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {', '.join(missing)} (has {', '.join(df.columns)})"
        )
    out = df.copy()
    for c in columns:
        if c.endswith("_id"):
            out[c] = out[c].astype(str).str.strip()
    return out


def clean_responses(train: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Keep rows whose ``correct`` is 0 or 1; describe each dropped row (1-based data row)."""
    correct = pd.to_numeric(train["correct"], errors="coerce")
    bad = ~correct.isin([0, 1])
    problems = [
        f"TRAIN row {i + 1}, column correct: must be 0 or 1, got {train['correct'].iloc[i]!r}"
        for i in np.flatnonzero(bad.to_numpy())
    ]
    out = train[~bad].assign(correct=correct[~bad].astype(int))
    return out, problems


def diagnose(
    train: pd.DataFrame,
    items: pd.DataFrame,
    pairs: pd.DataFrame,
    model: str = "stacked",
    random_state: int = 0,
) -> pd.DataFrame:
    """P(correct) for every (user, item) pair, from a diagnosis model fitted on ``train``.

    Parameters
    ----------
    train : DataFrame
        user_id, item_id, correct (0/1).
    items : DataFrame
        item_id, topic_id — one row per topic the item tests.
    pairs : DataFrame
        user_id, item_id to predict; unknown users and items get a prior, never an error.
    model : {"stacked", "logistic"}
        The stacked LightGBM model (more accurate) or the logistic model alone (faster).
    random_state : int
        Seed of the stacked model's folds and booster.

    Returns
    -------
    DataFrame
        user_id, item_id, p_correct, in the order of ``pairs``.
    """
    item_vocab = Vocabulary(pd.concat([items["item_id"], train["item_id"]]))
    topics = Vocabulary(items["topic_id"])
    ii, ti = item_vocab.index(items["item_id"]), topics.index(items["topic_id"])
    q = sp.csr_matrix((np.ones(len(ii)), (ii, ti)), shape=(len(item_vocab), len(topics)))
    q.data[:] = 1.0
    users = Vocabulary(train["user_id"])
    estimator = (
        StackedDiagnosis(random_state=random_state) if model == "stacked" else LogisticDiagnosis()
    )
    estimator.fit(
        users.index(train["user_id"]),
        item_vocab.index(train["item_id"]),
        train["correct"].to_numpy(int),
        q,
        n_users=len(users),
    )
    p = estimator.predict_proba(users.index(pairs["user_id"]), item_vocab.index(pairs["item_id"]))
    return pd.DataFrame(
        {
            "user_id": pairs["user_id"].to_numpy(),
            "item_id": pairs["item_id"].to_numpy(),
            "p_correct": np.round(p, 6),
        }
    )


def item_attributes(items: pd.DataFrame, item_ids: np.ndarray) -> dict:
    """Attribute arrays aligned with ``item_ids`` from an ITEMS side file.

    Parameters
    ----------
    items : DataFrame
        item_id and one column per attribute, read as strings. A column whose values are all 0
        or 1 is a flag (e.g. a genre); any other column must be numeric (an empty cell = unknown).
    item_ids : ndarray of str
        The catalogue (items of TRAIN), in model order; items missing from the file get no
        flag and unknown numbers, items only in the file are ignored.

    Returns
    -------
    dict
        ``flags`` (n_items, n_flags) or None, ``numbers`` (n_items, n_numbers) or None,
        ``number_names``.

    Raises
    ------
    ValueError
        Naming the 1-based data row and the column of a value that is not a number, or a
        repeated item_id.
    """
    items = require_columns(items, "ITEMS", ["item_id"])
    dup = items["item_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"ITEMS row {i + 1}, column item_id: {items['item_id'].iloc[i]!r} repeats")
    columns = [c for c in items.columns if c != "item_id"]
    if not columns:
        raise ValueError("ITEMS has no attribute column besides item_id")
    pos = pd.Series(np.arange(len(item_ids)), index=pd.Index(np.asarray(item_ids).astype(str)))
    at = pos.reindex(items["item_id"]).to_numpy()
    found = ~np.isnan(at)
    flags, numbers, names = [], [], []
    for c in columns:
        raw = items[c].astype(str).str.strip()
        value = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
        bad = value.isna() & (raw != "") & (raw.str.lower() != "nan")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"ITEMS row {i + 1}, column {c}: not a number: {raw.iloc[i]!r}")
        col = np.full(len(item_ids), np.nan)
        col[at[found].astype(np.int64)] = value.to_numpy(float)[found]
        if value.notna().all() and value.isin([0, 1]).all():
            flags.append(np.nan_to_num(col, nan=0.0))
        else:
            numbers.append(col)
            names.append(str(c))
    return {
        "flags": np.column_stack(flags) if flags else None,
        "numbers": np.column_stack(numbers) if numbers else None,
        "number_names": names,
    }


def recommend(
    train: pd.DataFrame,
    users: pd.DataFrame,
    k: int = 10,
    random_state: int = 0,
    label_split: str = "auto",
    items: pd.DataFrame | None = None,
    time_features: bool = False,
    n_rankers: int = 3,
) -> pd.DataFrame:
    """Top ``k`` unseen items per user from the two-stage recommender fitted on ``train``.

    Parameters
    ----------
    train : DataFrame
        user_id, item_id and optionally weight (engagement, default 1) and timestamp (numeric or
        date; when present the ranker learns from each user's latest interactions).
    users : DataFrame
        user_id of the users to recommend for; unknown users get the most popular items.
    k : int
        List length.
    random_state : int
        Seed of the label split, ALS and the ranker.
    label_split : {"auto", "time", "random"}
        What the ranker learns to predict: each user's latest interactions (``time``: the right
        choice when the lists are for what comes next) or a random quarter of them (``random``:
        for random held-out protocols such as MovieLens' stratified split — on that protocol
        ``time`` costs about 0.2 nDCG@10). ``auto``: ``time`` when timestamps are given.
    items : DataFrame, optional
        ITEMS side file: item_id plus attribute columns (0/1 flags such as genres, numbers such
        as a release year; see :func:`item_attributes`); the ranker then compares each
        candidate's attributes with the user's history.
    time_features : bool
        Give the ranker the time context of each (user, candidate) pair (when the user was
        active against when others engaged with the item; needs TRAIN timestamps). Off by
        default: on MovieLens-100K it did not help on validation.
    n_rankers : int
        Rankers trained on their own random label splits and averaged (bagging): on
        MovieLens-100K three of them beat one on validation (nDCG@10 +0.002) for three times the
        fit; 1 fits fastest. A time split is the same for every ranker, so it gets one.

    Returns
    -------
    DataFrame
        user_id, item_id, rank (1 = best); items the user interacted with are never listed.
    """
    if label_split not in ("auto", "time", "random"):
        raise ValueError(f"label_split must be auto, time or random, not {label_split!r}")
    from ganxun.models.recommender import TwoStageRecommender

    user_vocab, item_vocab = Vocabulary(train["user_id"]), Vocabulary(train["item_id"])
    ui, ii = user_vocab.index(train["user_id"]), item_vocab.index(train["item_id"])
    weight = (
        pd.to_numeric(train["weight"], errors="coerce").fillna(1.0).to_numpy(float)
        if "weight" in train
        else np.ones(len(train))
    )
    shape = (len(user_vocab), len(item_vocab))
    x = sp.csr_matrix((weight, (ui, ii)), shape=shape)
    x.sum_duplicates()
    x.data = np.maximum(x.data, 1e-3)
    timestamps, split, dates = None, "random", False
    if "timestamp" in train:
        t = pd.to_numeric(train["timestamp"], errors="coerce")
        if t.isna().any():
            t = pd.to_datetime(train["timestamp"], errors="coerce").astype("int64") / 86_400e9
            dates = True  # in days
        if t.notna().all():
            frame = pd.DataFrame({"u": ui, "i": ii, "t": t.to_numpy(float)})
            last = frame.groupby(["u", "i"])["t"].max()
            rows, cols = last.index.get_level_values(0), last.index.get_level_values(1)
            timestamps = sp.csr_matrix(
                (last.to_numpy() - last.min() + 1.0, (rows, cols)), shape=shape
            )
    if label_split == "time" and timestamps is None:
        raise ValueError("label_split='time' needs a timestamp column in TRAIN")
    if time_features and timestamps is None:
        raise ValueError("time features need a timestamp column in TRAIN (numeric or dates)")
    parts = []
    if time_features:
        parts.append(TimeContextFeatures(timestamps, unit=1.0 if dates else 86_400.0))
    if items is not None:
        parts.append(
            ItemAttributeFeatures(
                **item_attributes(items, item_vocab.lookup(np.arange(len(item_vocab))))
            )
        )
    extra = FeatureSet(parts) if parts else None
    if label_split != "auto":
        split = label_split
    elif timestamps is not None:
        split = "time"
    model = TwoStageRecommender(
        random_state=random_state,
        extra_features=extra,
        extra_feature_names=extra.names if extra else (),
        n_rankers=n_rankers if split == "random" else 1,  # a time split is the same every draw
    )
    model.fit(x, timestamps=timestamps, label_split=split)
    query = users["user_id"].drop_duplicates().to_numpy()
    known = user_vocab.index(query)
    unknown = known < 0
    rows = sp.csr_matrix(x[np.maximum(known, 0)].multiply((~unknown)[:, None]))
    qi = np.where(unknown, len(user_vocab), known)  # an index past the fitted users = a new user
    ids, _ = model.recommend(qi, rows, N=k)
    out_u, out_i, out_r = [], [], []
    for user, row in zip(query, ids, strict=True):
        ok = row[row >= 0]
        out_u.extend([user] * len(ok))
        out_i.extend(item_vocab.lookup(ok))
        out_r.extend(range(1, len(ok) + 1))
    return pd.DataFrame({"user_id": out_u, "item_id": out_i, "rank": out_r})
