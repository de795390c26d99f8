"""Two-stage recommender: named retrievers propose candidates, a LambdaRank model orders them.

Stage one asks every retriever (:mod:`ganxun.models.retrieval`) for its top ``n_candidates`` allowed
items per user and takes the union, topped up with popular items so that every user, including
one with no history, gets a list. Stage two describes each (user, candidate) pair by feature
groups and orders the candidates with :class:`ganxun.models.ranker.LambdaRanker`:

``retrieval``
    each retriever's rank of the candidate among the allowed items and its within-user z-score,
    and its raw score too for a retriever marked ``calibrated = True`` (one whose scores mean
    the same at both stages, like the choice model's utilities);
``popularity``
    the item's popularity relative to the average item;
``activity``
    the user's history length relative to the average user, and how mainstream the history is
    (mean relative popularity of its items);
``similarity``
    max and mean item-item cosine similarity of the candidate to the user's history, relative
    to the typical neighbour similarity;
``extra``
    caller-supplied columns from ``extra_features(users, items, context)`` (domain features such
    as knowledge gap × course topic, course quality, mode and hours fit).

Training labels come from the interactions themselves: each user's interactions are split into a
*history* (retrievers are fitted on it, features are computed from it) and a *future* (a
candidate is relevant when it is there); the split is random per interaction, by time when
timestamps are given, or supplied by the caller. After the ranker is fitted the retrievers are
refitted on all interactions for serving. Because the ranker learns on a history that is
smaller than what it serves on, every built-in feature is scale-free (ranks, z-scores, ratios
to the stage's average); raw retriever scores, counts and shares would drift between the two
and silently degrade the ranking. Extra features should be scale-free for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ganxun.models.ranker import LambdaRanker, RankerBag
from ganxun.models.ranking import top_k
from ganxun.models.retrieval import (
    ALSRetriever,
    EASERetriever,
    ItemKNNRetriever,
    PopularityRetriever,
    binarize,
    check_user_items,
    check_userids,
    cosine_item_similarity,
    training_rows,
)

FEATURE_GROUPS = ("retrieval", "popularity", "activity", "similarity", "extra")

# Dense per-batch score arrays hold about this many cells per retriever.
_BATCH_CELLS = 1 << 20


@dataclass(frozen=True)
class FeatureContext:
    """What an extra-feature callback may look at besides the (user, item) pairs.

    Attributes
    ----------
    stage : {"fit", "recommend"}
        ``"fit"`` while building the ranker's training rows (``user_items`` is then the history
        part of the label split), ``"recommend"`` when serving.
    userids : ndarray of shape (n_query_users,)
        The users being scored (a pair's user is ``userids[row]``).
    user_items : csr_matrix of shape (n_query_users, n_items)
        The visible interactions of the users being scored, one row per query user.
    row : ndarray of shape (n_rows,)
        Row of ``user_items`` that each (user, item) pair belongs to.
    visible : csr_matrix of shape (n_users, n_items)
        All interactions the retrievers were fitted on at this stage; features derived from
        interactions must use only these, so training rows never see their own labels.
    extra : Any
        Whatever the caller passed as ``extra_context`` to ``fit``/``recommend``/``explain``.
    """

    stage: str
    userids: np.ndarray
    user_items: sp.csr_matrix
    row: np.ndarray
    visible: sp.csr_matrix
    extra: Any = None


ExtraFeatures = Callable[[np.ndarray, np.ndarray, FeatureContext], np.ndarray]


def default_retrievers(random_state: int | None = None) -> list[tuple[str, Any]]:
    """EASE, ALS, item-kNN and popularity with settings that suit a few thousand items."""
    return [
        ("ease", EASERetriever(l2=300.0)),
        (
            "als",
            ALSRetriever(factors=32, regularization=0.1, alpha=5.0, random_state=random_state),
        ),
        ("knn", ItemKNNRetriever(n_neighbors=100, shrink=10.0)),
        ("popularity", PopularityRetriever()),
    ]


@dataclass
class _Stage:
    """Everything features are computed from at one stage (label-split history, or serving)."""

    retrievers: dict[str, Any]
    visible: sp.csr_matrix
    popularity: np.ndarray
    popularity_order: np.ndarray
    mean_activity: float
    similarity: sp.csc_matrix
    similarity_scale: float


class TwoStageRecommender(BaseEstimator):
    """Candidates from several retrievers, ordered by a LightGBM LambdaRank model.

    Parameters
    ----------
    retrievers : sequence of (str, retriever), optional
        Named candidate sources, each with ``fit(user_items)`` and
        ``score(userids, user_items) -> (n, n_items)`` (see :mod:`ganxun.models.retrieval`); they
        are cloned before fitting. Default: :func:`default_retrievers`. Domain sources (e.g. courses
        matching a cadre's knowledge gaps) plug in here.
    ranker : LambdaRanker, optional
        The second stage (cloned before fitting). Default: ``LambdaRanker(random_state=...)``.
    reference_retrievers : sequence of (str, retriever), optional
        Retrievers fitted once on all interactions after the ranker, for comparison only (e.g.
        an offline evaluation of "ALS alone"): they are in ``retrievers_`` but propose no
        candidate and give no feature, so they cost one fit and nothing at serving time.
    n_candidates : int
        Items taken from each retriever per user; the union is topped up with popular items to
        at least this many (and at least ``N`` when serving).
    feature_groups : sequence of str
        Which of ``FEATURE_GROUPS`` the ranker sees (for ablations).
    extra_features : callable, optional
        ``extra_features(users, items, context) -> ndarray (n_rows, n_extra)`` with ``users``
        and ``items`` the int index of each pair and ``context`` a :class:`FeatureContext`.
        Used when ``"extra"`` is in ``feature_groups``; NaN marks a missing value. The ranker
        learns on a history smaller than what it serves on, so prefer scale-free values
        (ratios, ranks, matches) over raw counts.
    extra_feature_names : sequence of str
        Names of the extra columns (also used by :meth:`explain`).
    label_fraction : float
        Share of each user's interactions held out as ranker labels.
    n_label_splits : int
        Random label splits (holding out disjoint interactions) whose rows are pooled to train
        the ranker: more queries, slower fit. Only used by ``label_split="random"``.
    n_rankers : int
        Rankers trained, each on its own label splits and with ranker seed ``random_state + b``;
        their scores are averaged (:class:`ganxun.models.ranker.RankerBag`). Bagging reduces the
        variance of a ranker learnt from few users, for ``n_rankers`` times the fit. Only
        ``label_split="random"`` draws new splits per ranker: with a time or given split the
        rankers differ only through the ranker's own sampling (none by default).
    max_train_users : int or None
        Users (with held-out interactions) sampled per label split to build ranker training
        rows; bounds fit time and memory on large populations (``None`` = all).
    negative_fraction : float
        Share of each query's negative candidates (candidates that are not labels) kept as ranker
        training rows, drawn at random; below 1 it trades a little ranking signal for a much
        faster ranker fit when candidates are many and labels few.
    similarity_neighbors : int
        Neighbours kept per item in the similarity used by the ``similarity`` features.
    refit : bool
        Refit the retrievers on all interactions after the ranker is trained (else serve with
        the ones fitted on the last label split's history).
    random_state : int or None
        Seeds the label split, the default retrievers and the default ranker.

    Retrievers with a true ``stage_aware`` attribute are fitted as ``fit(user_items,
    stage=...)`` with ``stage`` ``"fit"`` on the label split's history and ``"recommend"`` on all
    interactions, like :class:`FeatureContext.stage`: a source that depends on a date (courses of
    the classes open after a cut-off, say) then sees the label cut-off while the ranker learns.

    Attributes
    ----------
    retrievers_ : dict of str to retriever
        Fitted candidate sources used for serving, then the reference retrievers.
    reference_names_ : tuple of str
        Names of the reference retrievers in ``retrievers_``.
    ranker_ : LambdaRanker or RankerBag
        The second stage (a :class:`ganxun.models.ranker.RankerBag` when ``n_rankers > 1``).
    feature_names_ : list of str
        Columns of the ranker's feature rows, in order.
    item_popularity_ : ndarray of shape (n_items,)
        Engagement count of each item relative to the average item (serving stage).
    user_items_ : csr_matrix of shape (n_users, n_items)
        The training interactions (rows used when ``user_items`` is not passed).
    train_summary_ : dict
        Ranker training data: queries, rows, positives and candidate recall (share of held-out
        interactions that stage one put among the candidates).
    """

    def __init__(
        self,
        retrievers: Sequence[tuple[str, Any]] | None = None,
        ranker: LambdaRanker | None = None,
        reference_retrievers: Sequence[tuple[str, Any]] | None = None,
        n_candidates: int = 100,
        feature_groups: Sequence[str] = FEATURE_GROUPS,
        extra_features: ExtraFeatures | None = None,
        extra_feature_names: Sequence[str] = (),
        label_fraction: float = 0.25,
        n_label_splits: int = 2,
        n_rankers: int = 1,
        max_train_users: int | None = 20_000,
        negative_fraction: float = 1.0,
        similarity_neighbors: int = 100,
        refit: bool = True,
        random_state: int | None = None,
    ):
        self.retrievers = retrievers
        self.ranker = ranker
        self.reference_retrievers = reference_retrievers
        self.n_candidates = n_candidates
        self.feature_groups = feature_groups
        self.extra_features = extra_features
        self.extra_feature_names = extra_feature_names
        self.label_fraction = label_fraction
        self.n_label_splits = n_label_splits
        self.n_rankers = n_rankers
        self.max_train_users = max_train_users
        self.negative_fraction = negative_fraction
        self.similarity_neighbors = similarity_neighbors
        self.refit = refit
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        user_items,
        *,
        timestamps=None,
        label_split=None,
        label_allowed=None,
        extra_context: Any = None,
    ) -> TwoStageRecommender:
        """Fit retrievers on a history split, the ranker on its labels, then refit retrievers.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Non-negative engagement weights.
        timestamps : csr_matrix of shape (n_users, n_items), optional
            Time (or any increasing order) of each interaction, at the cells of ``user_items``.
            Given to retrievers that need it (``requires_timestamps``) and to the time split.
        label_split : {"random", "time"} or (csr_matrix, csr_matrix), optional
            How each user's interactions are split into history and labelled future:
            ``"random"`` — each interaction is a label with probability ``label_fraction``
            (``n_label_splits`` disjoint draws); ``"time"`` — each user's latest
            ``label_fraction`` are labels (needs ``timestamps``); a pair ``(history, future)``
            — used as given. Default: ``"time"`` when ``timestamps`` are given, else
            ``"random"``. Choose the split that resembles how the model will be used.
        label_allowed : array-like of bool, shape (n_items,), optional
            Items that may be candidates while the ranker's training rows are built (e.g. only
            the courses already published at the cut-off of a time split); default all.
        extra_context : Any, optional
            Passed to ``extra_features`` as ``context.extra``.

        Returns
        -------
        self
        """
        x = check_user_items(user_items)
        groups = self._check_params()
        rng = check_random_state(self.random_state)
        named = self._named_retrievers()
        if timestamps is not None:
            timestamps = sp.csr_matrix(timestamps, dtype=np.float64)
            if timestamps.shape != x.shape:
                raise ValueError(
                    f"timestamps must have the shape of user_items {x.shape}, "
                    f"got {timestamps.shape}"
                )
        references = self._references(named)
        needs_time = [n for n, r in named + references if getattr(r, "requires_timestamps", False)]
        if needs_time and timestamps is None:
            raise ValueError(f"retrievers {needs_time} need timestamps; pass timestamps=")
        self.n_users_, self.n_items_ = x.shape
        self.feature_names_ = self._feature_names(groups, named)

        label_blocked = None
        if label_allowed is not None:
            label_blocked = ~np.asarray(label_allowed, dtype=bool).ravel()
            if label_blocked.shape != (x.shape[1],):
                raise ValueError(f"label_allowed must have shape ({x.shape[1]},)")
        rankers, summaries, stage = [], [], None
        for b in range(int(self.n_rankers)):
            splits = self._label_splits(x, label_split, timestamps, rng)
            rows_x, y, g, summary, stage = self._ranker_rows(
                named, groups, splits, timestamps, label_blocked, extra_context, rng
            )
            ranker = clone(self.ranker) if self.ranker is not None else LambdaRanker()
            if self.ranker is None or b > 0:
                seed = self.random_state if self.ranker is None else ranker.random_state
                ranker.set_params(random_state=None if seed is None else int(seed) + b)
            rankers.append(ranker.fit(rows_x, y, g, feature_names=self.feature_names_))
            summaries.append(summary)
        self.ranker_ = rankers[0] if len(rankers) == 1 else RankerBag(rankers)
        summary = {k: sum(s[k] for s in summaries) for k in summaries[0]}
        summary["candidate_recall"] = summary["positives"] / max(1, summary["held_out"])
        summary["rankers"] = len(rankers)
        if self.refit or stage is None:
            stage = self._fit_stage(named, x, timestamps, "recommend")
        fitted_refs = self._fit_stage(references, x, timestamps, "recommend", features=False)
        self.retrievers_ = {**stage.retrievers, **fitted_refs.retrievers}
        self.reference_names_ = tuple(fitted_refs.retrievers)
        self.user_items_ = x
        self.visible_ = stage.visible
        self.item_popularity_ = stage.popularity
        self.popularity_order_ = stage.popularity_order
        self.item_similarity_ = stage.similarity
        self.mean_activity_ = stage.mean_activity
        self.similarity_scale_ = stage.similarity_scale
        self.train_summary_ = summary
        return self

    def _ranker_rows(
        self,
        named: list[tuple[str, Any]],
        groups: tuple[str, ...],
        splits: list[tuple[sp.csr_matrix, sp.csr_matrix]],
        timestamps,
        label_blocked: np.ndarray | None,
        extra_context: Any,
        rng: np.random.RandomState,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, _Stage]:
        """The ranker's training rows (features, labels, query ids) pooled over label splits.

        Retrievers are fitted on each split's history; a query is a user with a held-out
        interaction among its candidates. Also returns a summary of the rows and the last
        split's stage.
        """
        parts_x, parts_y, parts_g = [], [], []
        summary = {"splits": len(splits), "queries": 0, "rows": 0, "positives": 0, "held_out": 0}
        stage = None
        for s, (hist, fut) in enumerate(splits):
            stage = self._fit_stage(named, hist, timestamps, "fit")
            users = np.flatnonzero(np.diff(fut.indptr) > 0)
            if self.max_train_users is not None and len(users) > self.max_train_users:
                users = np.sort(rng.choice(users, int(self.max_train_users), replace=False))
            for chunk in self._chunks(users):
                rows = hist[chunk]
                blocked = rows.toarray() > 0
                if label_blocked is not None:
                    blocked |= label_blocked[None, :]
                future = fut[chunk]
                found = {}

                def select(pr, pi, future=future, found=found):
                    # rows of queries with a positive: every positive, a share of the negatives
                    labels = np.asarray(future[pr, pi]).ravel() > 0
                    has_pos = np.bincount(pr, weights=labels, minlength=future.shape[0]) > 0
                    keep = has_pos[pr]
                    if self.negative_fraction < 1.0:
                        keep &= labels | (rng.random_sample(len(pr)) < self.negative_fraction)
                    found.update(labels=labels[keep], queries=int(has_pos.sum()))
                    found["positives"] = int(labels.sum())
                    return keep

                pr, pi, feats = self._pair_features(
                    stage,
                    groups,
                    chunk,
                    rows,
                    blocked,
                    n_min=self.n_candidates,
                    stage_name="fit",
                    extra_context=extra_context,
                    select=select,
                )
                summary["held_out"] += int(future.nnz)
                parts_x.append(feats.astype(np.float32))
                parts_y.append(found["labels"].astype(np.int64))
                parts_g.append(s * self.n_users_ + chunk[pr])
                summary["queries"] += found["queries"]
                summary["positives"] += found["positives"]
        y = np.concatenate(parts_y) if parts_y else np.empty(0, np.int64)
        if not y.sum():
            raise ValueError(
                "no held-out interaction reached the candidates: need users with several "
                "interactions (or a larger n_candidates) to train the ranker"
            )
        summary["rows"] = int(len(y))
        return np.concatenate(parts_x), y, np.concatenate(parts_g), summary, stage

    # ------------------------------------------------------------ serving
    def recommend(
        self,
        userids,
        user_items=None,
        N: int = 10,
        filter_already_liked_items: bool = True,
        exclude=None,
        allowed=None,
        extra_context: Any = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``N`` items per user in the batch shape ``(ids, scores)``.

        Parameters
        ----------
        userids : array-like of int, shape (n,)
            User indices; indices ``>= n_users_`` are users unknown at fit time.
        user_items : csr_matrix of shape (n, n_items), optional
            Current interactions of the requested users (default: their training rows).
        N : int
            Length of each list.
        filter_already_liked_items : bool
            Never return items present in ``user_items``.
        exclude : csr_matrix of shape (n, n_items), optional
            Further items never to return per user (e.g. near-duplicates of taken courses, see
            :func:`ganxun.models.ranking.expand_to_groups`).
        allowed : array-like of bool, shape (n_items,) or (n, n_items), optional
            Only these items may be returned (e.g. the user's catalogue).
        extra_context : Any, optional
            Passed to ``extra_features`` as ``context.extra``.

        Returns
        -------
        ids, scores : ndarray of shape (n, N)
            Ranker scores in descending order; rows with fewer than ``N`` allowed items are
            padded with ``-1`` ids and ``-inf`` scores.
        """
        check_is_fitted(self)
        ids = check_userids(userids)
        rows = self._query_rows(ids, user_items)
        blocked = self._blocked(ids, rows, filter_already_liked_items, exclude, allowed)
        stage = self._serving_stage()
        groups = self._check_params()
        n = max(0, int(N))
        out_ids = np.full((len(ids), n), -1, np.int64)
        out_scores = np.full((len(ids), n), -np.inf)
        for chunk in self._chunks(np.arange(len(ids))):
            pr, pi, feats = self._pair_features(
                stage,
                groups,
                ids[chunk],
                rows[chunk],
                blocked[chunk],
                n_min=max(self.n_candidates, n),
                stage_name="recommend",
                extra_context=extra_context,
            )
            dense = np.full((len(chunk), self.n_items_), -np.inf)
            dense[pr, pi] = self.ranker_.predict(feats)
            got_ids, got_scores = top_k(dense, n)
            out_ids[chunk, : got_ids.shape[1]] = got_ids
            out_scores[chunk, : got_ids.shape[1]] = got_scores
        return out_ids, out_scores

    def explain(
        self,
        userid: int,
        items,
        user_items=None,
        *,
        extra_context: Any = None,
        n_top: int = 3,
    ) -> dict[int, dict[str, Any]]:
        """Feature values and their contributions to the ranking score of some items.

        Parameters
        ----------
        userid : int
            The user.
        items : array-like of int
            Items to explain (typically the ones :meth:`recommend` returned).
        user_items : csr_matrix of shape (1, n_items), optional
            The user's current interactions (default: the training row).
        extra_context : Any, optional
            Passed to ``extra_features`` as ``context.extra``.
        n_top : int
            How many features to list under ``"top_features"``.

        Returns
        -------
        dict of int to dict
            Per item: ``"score"`` (ranker score), ``"features"`` (name → value; NaN when not
            defined), ``"contributions"`` (name → additive TreeSHAP contribution to the score),
            ``"top_features"`` (names of the ``n_top`` largest positive contributions), to be
            mapped to human-readable reasons.
        """
        check_is_fitted(self)
        ids = check_userids([userid])
        items = np.atleast_1d(np.asarray(items, dtype=np.int64))
        if items.size and (items.min() < 0 or items.max() >= self.n_items_):
            raise ValueError(f"items must be in [0, {self.n_items_})")
        rows = self._query_rows(ids, user_items)
        blocked = rows.toarray() > 0
        blocked[0, items] = False
        pr = np.zeros(len(items), np.int64)
        _, _, feats = self._pair_features(
            self._serving_stage(),
            self._check_params(),
            ids,
            rows,
            blocked,
            n_min=0,
            stage_name="recommend",
            extra_context=extra_context,
            pairs=(pr, items),
        )
        scores = self.ranker_.predict(feats)
        contrib = self.ranker_.contributions(feats)[:, :-1]
        out = {}
        for j, item in enumerate(items.tolist()):
            order = np.argsort(-contrib[j], kind="stable")
            top = [self.feature_names_[f] for f in order[:n_top] if contrib[j, f] > 0]
            out[item] = {
                "score": float(scores[j]),
                "features": dict(zip(self.feature_names_, feats[j].tolist(), strict=True)),
                "contributions": dict(zip(self.feature_names_, contrib[j].tolist(), strict=True)),
                "top_features": top,
            }
        return out

    # ------------------------------------------------------------ internals
    def _check_params(self) -> tuple[str, ...]:
        groups = tuple(self.feature_groups)
        unknown = sorted(set(groups) - set(FEATURE_GROUPS))
        if unknown:
            raise ValueError(f"unknown feature groups {unknown}; choose from {FEATURE_GROUPS}")
        if self.n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1, got {self.n_candidates}")
        if int(self.n_rankers) < 1:
            raise ValueError(f"n_rankers must be >= 1, got {self.n_rankers}")
        if not 0.0 < self.label_fraction < 1.0:
            raise ValueError(f"label_fraction must be in (0, 1), got {self.label_fraction}")
        if "extra" in groups and self.extra_features is not None and not self.extra_feature_names:
            raise ValueError("extra_feature_names must name the columns of extra_features")
        if "extra" in groups and self.extra_features is None:
            groups = tuple(g for g in groups if g != "extra")
        return groups

    def _named_retrievers(self) -> list[tuple[str, Any]]:
        named = (
            default_retrievers(self.random_state) if self.retrievers is None else self.retrievers
        )
        named = [(str(n), r) for n, r in named]
        names = [n for n, _ in named]
        if not named:
            raise ValueError("at least one retriever is required")
        if len(set(names)) != len(names):
            raise ValueError(f"retriever names must be unique, got {names}")
        return [(n, clone(r)) for n, r in named]

    def _feature_names(self, groups: tuple[str, ...], named: list[tuple[str, Any]]) -> list[str]:
        out = []
        if "retrieval" in groups:
            for n, r in named:
                out += [f"{n}_rank", f"{n}_z"] + ([f"{n}_score"] if _calibrated(r) else [])
        if "popularity" in groups:
            out.append("item_popularity")
        if "activity" in groups:
            out += ["user_activity", "user_mainstream"]
        if "similarity" in groups:
            out += ["history_sim_max", "history_sim_mean"]
        if "extra" in groups:
            out += [str(n) for n in self.extra_feature_names]
        return out

    def _label_splits(self, x: sp.csr_matrix, label_split, timestamps, rng) -> list[tuple]:
        if isinstance(label_split, tuple):
            if len(label_split) != 2:
                raise ValueError("label_split as a tuple must be (history, future)")
            hist = check_user_items(label_split[0], n_items=x.shape[1], name="history")
            fut = check_user_items(label_split[1], n_items=x.shape[1], name="future")
            if hist.shape[0] != x.shape[0] or fut.shape[0] != x.shape[0]:
                raise ValueError("history and future must have one row per user of user_items")
            return [(hist, fut)]
        if label_split is None:
            label_split = "time" if timestamps is not None else "random"
        coo = x.tocoo()
        if label_split == "random":
            # disjoint slices of one uniform draw: every split holds out different interactions
            u = rng.random_sample(x.nnz)
            f = self.label_fraction
            return [
                _split_by_mask(x, np.mod(u - s * f, 1.0) < f)
                for s in range(max(1, int(self.n_label_splits)))
            ]
        if label_split != "time":
            raise ValueError(
                f"label_split must be 'random', 'time' or (history, future), got {label_split!r}"
            )
        if timestamps is None:
            raise ValueError("label_split='time' needs timestamps")
        t = np.asarray(timestamps[coo.row, coo.col], dtype=np.float64).ravel()
        order = np.lexsort((t, coo.row))
        counts = np.diff(x.indptr)
        position = np.empty(x.nnz, np.int64)
        position[order] = np.arange(x.nnz) - np.repeat(x.indptr[:-1], counts)
        n_future = np.floor(self.label_fraction * counts + 0.5).astype(np.int64)
        future = position >= (counts - n_future)[coo.row]
        return [_split_by_mask(x, future)]

    def _references(self, named: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        refs = [(str(n), clone(r)) for n, r in (self.reference_retrievers or ())]
        names = [n for n, _ in named] + [n for n, _ in refs]
        if len(set(names)) != len(names):
            raise ValueError(f"retriever and reference retriever names must be unique: {names}")
        return refs

    def _fit_stage(
        self,
        named: list[tuple[str, Any]],
        visible: sp.csr_matrix,
        timestamps,
        stage_name: str,
        features: bool = True,
    ) -> _Stage:
        retrievers = {}
        for n, r in named:
            kwargs: dict[str, Any] = {}
            if getattr(r, "requires_timestamps", False):
                kwargs["timestamps"] = timestamps
            if getattr(r, "stage_aware", False):
                kwargs["stage"] = stage_name
            retrievers[n] = clone(r).fit(visible, **kwargs)
        counts = np.diff(visible.tocsc().indptr).astype(np.float64)
        popularity = counts / max(counts.mean(), 1e-12)
        active = np.diff(visible.indptr)
        if features and "similarity" in self._check_params():
            similarity = cosine_item_similarity(
                visible, shrink=10.0, n_neighbors=self.similarity_neighbors
            ).tocsc()  # column slices of candidates are what _history_similarity reads
        else:  # not a feature of this ranker: skip the item-item product
            similarity = sp.csc_matrix((visible.shape[1], visible.shape[1]))
        return _Stage(
            retrievers=retrievers,
            visible=visible,
            popularity=popularity,
            popularity_order=np.argsort(-popularity, kind="stable"),
            mean_activity=float(active[active > 0].mean()) if (active > 0).any() else 1.0,
            similarity=similarity,
            similarity_scale=float(similarity.data.mean()) if similarity.nnz else 1.0,
        )

    def _serving_stage(self) -> _Stage:
        references = getattr(self, "reference_names_", ())
        return _Stage(
            retrievers={n: r for n, r in self.retrievers_.items() if n not in references},
            visible=self.visible_,
            popularity=self.item_popularity_,
            popularity_order=self.popularity_order_,
            mean_activity=self.mean_activity_,
            similarity=self.item_similarity_,
            similarity_scale=self.similarity_scale_,
        )

    def _chunks(self, idx: np.ndarray) -> list[np.ndarray]:
        size = max(1, _BATCH_CELLS // max(1, self.n_items_))
        return [idx[i : i + size] for i in range(0, len(idx), size)]

    def _query_rows(self, ids: np.ndarray, user_items) -> sp.csr_matrix:
        if user_items is None:
            return training_rows(self.user_items_, ids)
        rows = check_user_items(user_items, n_items=self.n_items_)
        if rows.shape[0] != len(ids):
            raise ValueError(
                f"user_items must have one row per user id: {rows.shape[0]} rows for {len(ids)} ids"
            )
        return rows

    def _blocked(self, ids, rows, filter_seen, exclude, allowed) -> np.ndarray:
        blocked = np.zeros((len(ids), self.n_items_), bool)
        if filter_seen:
            blocked |= rows.toarray() > 0
        if exclude is not None:
            ex = sp.csr_matrix(exclude)
            if ex.shape != blocked.shape:
                raise ValueError(f"exclude must have shape {blocked.shape}, got {ex.shape}")
            blocked |= ex.toarray() != 0
        if allowed is not None:
            ok = np.asarray(allowed, dtype=bool)
            if ok.shape not in ((self.n_items_,), blocked.shape):
                raise ValueError(
                    f"allowed must have shape ({self.n_items_},) or {blocked.shape}, got {ok.shape}"
                )
            blocked |= ~np.broadcast_to(ok, blocked.shape)
        return blocked

    def _pair_features(
        self,
        stage: _Stage,
        groups: tuple[str, ...],
        userids: np.ndarray,
        rows: sp.csr_matrix,
        blocked: np.ndarray,
        *,
        n_min: int,
        stage_name: str,
        extra_context: Any,
        pairs: tuple[np.ndarray, np.ndarray] | None = None,
        select: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate (row, item) pairs of a batch and their feature rows (sorted by row).

        ``select(pr, pi) -> mask`` keeps only some candidate pairs before their features are
        computed (the fit uses it to drop queries without a label and sample negatives).
        """
        n, n_items = blocked.shape
        allowed = ~blocked
        n_allowed = allowed.sum(axis=1)
        scores = {}
        informative = {}
        cand = np.zeros((n, n_items), bool)
        k = min(int(self.n_candidates), n_items)
        for name, retriever in stage.retrievers.items():
            s = np.asarray(_retriever_scores(retriever, userids, rows, extra_context))
            s[blocked] = -np.inf
            hi = s.max(axis=1)
            lo = np.where(blocked, np.inf, s).min(axis=1)
            informative[name] = hi > lo  # a constant row carries no preference
            scores[name] = s
            if pairs is None:
                top = np.argpartition(-s, k - 1, axis=1)[:, :k]
                ok = informative[name][:, None] & np.isfinite(np.take_along_axis(s, top, axis=1))
                cand[np.nonzero(ok)[0], top[ok]] = True
        if pairs is None:
            short = np.flatnonzero(cand.sum(axis=1) < np.minimum(n_min, n_allowed))
            for r in short:
                order = stage.popularity_order
                free = order[allowed[r, order] & ~cand[r, order]]
                cand[r, free[: n_min - cand[r].sum()]] = True
            pr, pi = np.nonzero(cand)
        else:
            pr, pi = pairs
        if select is not None:
            keep = np.asarray(select(pr, pi), dtype=bool)
            pr, pi = pr[keep], pi[keep]
        cols: list[np.ndarray] = []
        if "retrieval" in groups:
            for name, s in scores.items():
                v = s[pr, pi]
                cnt = np.maximum(n_allowed, 1)
                finite = np.where(allowed, s, 0.0)
                mean = finite.sum(axis=1) / cnt
                var = np.where(allowed, (s - mean[:, None]) ** 2, 0.0).sum(axis=1) / cnt
                z = (v - mean[pr]) / (np.sqrt(var[pr]) + 1e-12)
                no_info = ~informative[name][pr] | ~np.isfinite(v)
                cols += [
                    np.where(no_info, np.nan, _count_greater(s, pr, v)),
                    np.where(no_info, np.nan, z),
                ]
                if _calibrated(stage.retrievers[name]):
                    cols.append(np.where(np.isfinite(v), v, np.nan))
        history = binarize(rows)
        n_hist = np.diff(history.indptr).astype(np.float64)
        if "popularity" in groups:
            cols.append(stage.popularity[pi])
        if "activity" in groups:
            mainstream = (history @ stage.popularity) / np.maximum(n_hist, 1)
            activity = n_hist / stage.mean_activity
            cols += [activity[pr], np.where(n_hist > 0, mainstream, np.nan)[pr]]
        if "similarity" in groups:
            sim_max, sim_mean = _history_similarity(stage.similarity, history, pr, pi)
            cols += [sim_max / stage.similarity_scale, sim_mean / stage.similarity_scale]
        if "extra" in groups:
            context = FeatureContext(
                stage=stage_name,
                userids=userids,
                user_items=rows,
                row=pr,
                visible=stage.visible,
                extra=extra_context,
            )
            extra = np.asarray(self.extra_features(userids[pr], pi, context), dtype=np.float64)
            extra = extra.reshape(len(pr), -1) if extra.ndim == 1 else extra
            if extra.shape != (len(pr), len(self.extra_feature_names)):
                raise ValueError(
                    f"extra_features returned shape {extra.shape}, expected "
                    f"({len(pr)}, {len(self.extra_feature_names)})"
                )
            cols += list(extra.T)
        feats = np.column_stack(cols) if cols else np.zeros((len(pr), 0))
        return pr, pi, feats


def _calibrated(retriever) -> bool:
    """Whether a retriever's raw scores mean the same at every stage (then a feature too)."""
    return bool(getattr(retriever, "calibrated", False))


def _retriever_scores(retriever, userids, rows, extra_context) -> np.ndarray:
    """``retriever.score``; retrievers with ``reads_context = True`` also get ``extra_context``."""
    if getattr(retriever, "reads_context", False):
        return retriever.score(userids, rows, context=extra_context)
    return retriever.score(userids, rows)


def _split_by_mask(x: sp.csr_matrix, future: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(history, future) parts of ``x`` by a boolean mask over its stored entries."""
    coo = x.tocoo()

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=x.shape)

    return part(~future), part(future)


def _count_greater(scores: np.ndarray, pr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """0-based rank of each pair: how many items of its row score higher (``pr`` sorted)."""
    ascending = np.sort(scores, axis=1)
    out = np.empty(len(pr))
    bounds = np.searchsorted(pr, np.arange(scores.shape[0] + 1))
    for r in range(scores.shape[0]):
        lo, hi = bounds[r], bounds[r + 1]
        if hi > lo:
            out[lo:hi] = scores.shape[1] - np.searchsorted(ascending[r], values[lo:hi], "right")
    return out


def _history_similarity(
    similarity: sp.csr_matrix, history: sp.csr_matrix, pr: np.ndarray, pi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Max and mean similarity of each pair's item to the items in its row's history."""
    sim_max = np.zeros(len(pr))
    sim_mean = np.zeros(len(pr))
    sim_t = similarity if similarity.format == "csc" else sp.csc_matrix(similarity)
    bounds = np.searchsorted(pr, np.arange(history.shape[0] + 1))
    for r in range(history.shape[0]):
        lo, hi = bounds[r], bounds[r + 1]
        h = history.indices[history.indptr[r] : history.indptr[r + 1]]
        if hi == lo or len(h) == 0:
            continue
        block = sim_t[:, pi[lo:hi]][h].toarray()
        sim_max[lo:hi] = block.max(axis=0)
        sim_mean[lo:hi] = block.mean(axis=0)
    return sim_max, sim_mean
