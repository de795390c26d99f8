"""The estimators on any public data: ``external diagnose`` and ``external recommend``.

The functions here take and return DataFrames; the command line reads and writes the CSV files.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.vocab import Vocabulary
from models.diagnosis import LogisticDiagnosis, StackedDiagnosis

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


def recommend(
    train: pd.DataFrame,
    users: pd.DataFrame,
    k: int = 10,
    random_state: int = 0,
    label_split: str = "auto",
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

    Returns
    -------
    DataFrame
        user_id, item_id, rank (1 = best); items the user interacted with are never listed.
    """
    if label_split not in ("auto", "time", "random"):
        raise ValueError(f"label_split must be auto, time or random, not {label_split!r}")
    from models.recommender import TwoStageRecommender

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
    timestamps, split = None, "random"
    if "timestamp" in train:
        t = pd.to_numeric(train["timestamp"], errors="coerce")
        if t.isna().any():
            t = pd.to_datetime(train["timestamp"], errors="coerce").astype("int64") / 86_400e9
        if t.notna().all():
            frame = pd.DataFrame({"u": ui, "i": ii, "t": t.to_numpy(float)})
            last = frame.groupby(["u", "i"])["t"].max()
            rows, cols = last.index.get_level_values(0), last.index.get_level_values(1)
            timestamps = sp.csr_matrix(
                (last.to_numpy() - last.min() + 1.0, (rows, cols)), shape=shape
            )
    model = TwoStageRecommender(random_state=random_state)
    if label_split == "time" and timestamps is None:
        raise ValueError("label_split='time' needs a timestamp column in TRAIN")
    if label_split != "auto":
        split = label_split
    elif timestamps is not None:
        split = "time"
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
