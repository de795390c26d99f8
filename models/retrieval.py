"""Candidate retrieval: item scorers over a users × items interaction matrix.

Every retriever answers through one small interface, after implicit's ``RecommenderBase``:

- ``fit(user_items)`` learns from a csr matrix of shape (n_users, n_items) of engagement weights;
- ``score(userids, user_items=None)`` returns a dense (n, n_items) score array, higher is better;
- ``recommend(userids, user_items, N, filter_already_liked_items)`` returns the batch shape
  ``(ids, scores)`` of :func:`ganxun.models.ranking.top_k`.

Scores are dense, so a batch costs ``n × n_items`` floats: fine for catalogues up to ~20k items
and batches of a few hundred users (the two-stage recommender chunks its batches accordingly).
``user_items`` passed to ``score``/``recommend`` holds the *current* rows of the requested users,
which lets item-based models (EASE, item-kNN) serve users who were not in the training matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ganxun.models.popularity import PeerPopularity
from ganxun.models.ranking import top_k


def check_user_items(
    user_items, *, n_items: int | None = None, name: str = "user_items"
) -> sp.csr_matrix:
    """Validate an interaction matrix and return it as a clean float64 csr matrix.

    Parameters
    ----------
    user_items : sparse matrix or array-like of shape (n_users, n_items)
        Non-negative engagement weights; zero means "no interaction".
    n_items : int, optional
        Required number of columns (the fitted catalogue size).
    name : str
        Name used in error messages.

    Returns
    -------
    csr_matrix
        Canonical csr (sorted indices, duplicates summed, explicit zeros removed).
    """
    if user_items is None:
        raise ValueError(f"{name} is required")
    m = sp.csr_matrix(user_items, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {m.shape}")
    if n_items is not None and m.shape[1] != n_items:
        raise ValueError(f"{name} has {m.shape[1]} item columns, the model was fitted on {n_items}")
    m.sum_duplicates()
    if m.nnz and not np.isfinite(m.data).all():
        raise ValueError(f"{name} contains NaN or infinite weights")
    if m.nnz and m.data.min() < 0:
        raise ValueError(f"{name} must be non-negative (engagement weights)")
    m.eliminate_zeros()
    m.sort_indices()
    return m


def check_userids(userids) -> np.ndarray:
    """Validate user indices: a 1-D array of non-negative integers."""
    ids = np.atleast_1d(np.asarray(userids))
    if ids.ndim != 1:
        raise ValueError(f"userids must be 1-D, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"userids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError("userids must be non-negative")
    return ids


def training_rows(user_items: sp.csr_matrix, userids: np.ndarray) -> sp.csr_matrix:
    """Rows of ``user_items`` for ``userids``; ids beyond the matrix get empty rows."""
    known = userids < user_items.shape[0]
    if known.all():
        return sp.csr_matrix(user_items[userids])
    r = np.flatnonzero(known)
    pick = sp.csr_matrix(
        (np.ones(len(r)), (r, userids[known])), shape=(len(userids), user_items.shape[0])
    )
    return sp.csr_matrix(pick @ user_items)


def binarize(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """Copy of ``user_items`` with every stored weight set to 1."""
    out = sp.csr_matrix(user_items, dtype=np.float64, copy=True)
    out.data[:] = 1.0
    return out


def cosine_item_similarity(
    user_items: sp.csr_matrix, *, shrink: float = 0.0, n_neighbors: int | None = None
) -> sp.csr_matrix:
    """Item-item cosine similarity of binary engagement, optionally shrunk and pruned.

    Parameters
    ----------
    user_items : csr_matrix of shape (n_users, n_items)
        Interactions; only presence counts.
    shrink : float
        Added to the denominator, so pairs with little co-support score lower.
    n_neighbors : int, optional
        Keep only the ``n_neighbors`` most similar items in each row (all when ``None``).

    Returns
    -------
    csr_matrix of shape (n_items, n_items)
        Zero diagonal; row ``i`` holds the neighbours of item ``i``.
    """
    x = binarize(user_items).tocsc()
    counts = np.asarray(x.sum(axis=0)).ravel()
    norms = np.sqrt(counts)
    co = sp.csr_matrix(x.T @ x)
    co.setdiag(0.0)
    co.eliminate_zeros()
    rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
    co.data = co.data / (norms[rows] * norms[co.indices] + shrink + 1e-12)
    if n_neighbors is not None and n_neighbors < co.shape[1]:
        co = _prune_rows(co, int(n_neighbors))
    return co


def _prune_rows(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest stored values of each row."""
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        if hi - lo > k:
            keep = lo + np.argpartition(-m.data[lo:hi], k - 1)[:k]
        else:
            keep = np.arange(lo, hi)
        rows.append(np.full(len(keep), r))
        cols.append(m.indices[keep])
        vals.append(m.data[keep])
    if not rows:
        return sp.csr_matrix(m.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape
    )


class Retriever(BaseEstimator):
    """Base class of candidate sources: ``fit``, dense ``score`` and batch ``recommend``.

    Subclasses implement ``_fit(user_items)`` and ``_score(userids, rows)``, where ``rows`` is a
    csr matrix holding the current interactions of each requested user.
    """

    def fit(self, user_items) -> Retriever:
        """Learn from interactions.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Non-negative engagement weights (completions, progress, ratings...).

        Returns
        -------
        self
        """
        x = check_user_items(user_items)
        self.n_users_, self.n_items_ = x.shape
        self.user_items_ = x
        self._fit(x)
        return self

    def score(self, userids, user_items=None) -> np.ndarray:
        """Dense scores of every item for each requested user.

        Parameters
        ----------
        userids : array-like of int, shape (n,)
            User indices; indices ``>= n_users_`` are users unknown at fit time.
        user_items : csr_matrix of shape (n, n_items), optional
            Current interactions of the requested users, one row per entry of ``userids``.
            Defaults to the training rows (empty for unknown users).

        Returns
        -------
        ndarray of shape (n, n_items)
            Higher is better; a user with no usable signal gets a constant row.
        """
        check_is_fitted(self)
        ids = check_userids(userids)
        rows = self._rows(ids, user_items)
        return np.asarray(self._score(ids, rows), dtype=np.float64)

    def recommend(
        self,
        userids,
        user_items,
        N: int = 10,
        filter_already_liked_items: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``N`` items per user in the batch shape ``(ids, scores)``.

        Parameters
        ----------
        userids : array-like of int, shape (n,)
            User indices.
        user_items : csr_matrix of shape (n, n_items)
            Rows of the requested users (what each has already engaged with).
        N : int
            Length of each list.
        filter_already_liked_items : bool
            Drop items present in ``user_items``.

        Returns
        -------
        ids, scores : ndarray of shape (n, N)
            Padded with ``-1`` / ``-inf`` when fewer items are allowed.
        """
        check_is_fitted(self)
        ids = check_userids(userids)
        rows = self._rows(ids, user_items)
        scores = self.score(ids, rows)
        return top_k(scores, N, rows if filter_already_liked_items else None)

    def _rows(self, ids: np.ndarray, user_items) -> sp.csr_matrix:
        if user_items is not None:
            rows = check_user_items(user_items, n_items=self.n_items_)
            if rows.shape[0] != len(ids):
                raise ValueError(
                    f"user_items must have one row per user id: {rows.shape[0]} rows for "
                    f"{len(ids)} ids"
                )
            return rows
        return training_rows(self.user_items_, ids)

    def _fit(self, user_items: sp.csr_matrix) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


#: The stages of the two-stage recommender: its ranker's label cut-off, and serving.
STAGES = ("fit", "recommend")


class StagedRetriever(Retriever):
    """A retriever whose data depend on the stage: fitted as ``fit(user_items, stage)``.

    Subclasses hold their data per stage (``"fit"``: as of the ranker's label cut-off,
    ``"recommend"``: as of serving) and read ``self.stage_`` in ``_fit``; the two-stage
    recommender passes the stage to retrievers with ``stage_aware = True``.
    """

    stage_aware = True

    def fit(self, user_items, stage: str = "recommend") -> StagedRetriever:
        """Learn from interactions for ``stage`` (one of :data:`STAGES`)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        self.stage_ = stage
        return super().fit(user_items)


class ALSRetriever(Retriever):
    """Implicit-feedback matrix factorisation (Hu, Koren & Volinsky) via ``implicit``'s ALS.

    Each stored weight ``w`` becomes a confidence ``alpha * w`` on the preference 1; absent cells
    have confidence 1 on preference 0. Runs on the CPU; with ``num_threads=1`` and a fixed
    ``random_state`` the factors are reproducible.

    Parameters
    ----------
    factors : int
        Latent dimensions.
    regularization : float
        L2 penalty on the factors.
    alpha : float
        Confidence scale of observed weights.
    iterations : int
        ALS sweeps.
    recalculate_user : bool
        Solve each requested user's factor from the passed ``user_items`` rows instead of using
        the stored one (users unknown at fit time are always solved this way).
    binary : bool
        Fit on presence (every stored weight becomes 1, so the confidence is ``alpha``) instead
        of on the stored weights, e.g. when the weights are ratings that other retrievers read.
    num_threads : int
        Threads of the solver (0 = all cores).
    random_state : int or None
        Seed of the initial factors.

    Attributes
    ----------
    user_factors_ : ndarray of shape (n_users, factors)
    item_factors_ : ndarray of shape (n_items, factors)
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 1.0,
        iterations: int = 15,
        recalculate_user: bool = False,
        binary: bool = False,
        num_threads: int = 1,
        random_state: int | None = None,
    ):
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.recalculate_user = recalculate_user
        self.binary = binary
        self.num_threads = num_threads
        self.random_state = random_state

    def _fit(self, user_items: sp.csr_matrix) -> None:
        from implicit.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            calculate_training_loss=False,
            use_gpu=False,
            num_threads=self.num_threads,
            random_state=self.random_state,
        )
        x = binarize(user_items) if self.binary else user_items
        model.fit(x.astype(np.float32), show_progress=False)
        self.model_ = model
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        rows = binarize(rows) if self.binary else rows
        solve = np.ones(len(ids), bool) if self.recalculate_user else ids >= self.n_users_
        factors = np.zeros((len(ids), self.user_factors_.shape[1]))
        stored = ~solve
        factors[stored] = self.user_factors_[ids[stored]]
        need = np.flatnonzero(solve & (np.diff(rows.indptr) > 0))
        if len(need):
            solved = self.model_.recalculate_user(need, rows[need].astype(np.float32))
            factors[need] = np.asarray(solved, dtype=np.float64)
        return factors @ self.item_factors_.T


class _ItemItemRetriever(Retriever):
    """Scores ``x_u B`` from a dense item-item weight matrix ``coef_`` fitted on ``XᵀX``.

    Subclasses set ``binary``: fit and score on presence, or on the stored weights.
    """

    def _gram(self, user_items: sp.csr_matrix) -> np.ndarray:
        x = binarize(user_items) if self.binary else user_items
        return np.asarray((x.T @ x).toarray(), dtype=np.float64)

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        x = binarize(rows) if self.binary else rows
        return np.asarray(x @ self.coef_)


class EASERetriever(_ItemItemRetriever):
    """Closed-form item-item autoencoder EASE (Steck, 2019).

    ``B = I - P / diag(P)`` with ``P = (XᵀX + λI)⁻¹`` (each column divided by its diagonal
    entry), so ``diag(B) = 0`` and a user's scores are ``x_u B``. The dense ``n_items²`` weight
    matrix (8 bytes per cell) limits it to catalogues of roughly 10k items.

    Parameters
    ----------
    l2 : float
        The ridge penalty λ; larger values favour popular items less sharply.
    binary : bool
        Fit on presence (True) or on the stored weights.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        The item-item weights ``B``.
    """

    def __init__(self, l2: float = 500.0, binary: bool = True):
        self.l2 = l2
        self.binary = binary

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.l2 <= 0:
            raise ValueError(f"l2 must be positive, got {self.l2}")
        self.coef_ = dlae_weights(self._gram(user_items), 0.0, self.l2, zero_diagonal=True)


class DLAERetriever(_ItemItemRetriever):
    """Closed-form denoising linear autoencoder DLAE / EDLAE (Steck, 2020).

    Dropping each input item with probability ``p`` while training a linear item-item
    autoencoder is, in expectation, an item-wise ridge penalty on its weights:
    ``Λ = p / (1 - p) · diag(G) + λI`` with the Gram matrix ``G = XᵀX``, so popular items (large
    ``G_jj``) are penalised more, unlike EASE's uniform λ. With ``P = (G + Λ)⁻¹``:

    - DLAE (``zero_diagonal=False``): ``B = (G + Λ)⁻¹ G = I - P Λ``;
    - EDLAE (``zero_diagonal=True``, the full-rank "emphasized" variant): ``B = I - P / diag(P)``
      (each column divided by its diagonal entry), i.e. EASE with the penalty Λ, ``diag(B) = 0``.

    A user's scores are ``x_u B``. With ``p = 0`` DLAE is ridge regression of ``X`` on itself and
    EDLAE is EASE with ``l2 = λ``. The dense ``n_items²`` weights limit it to catalogues of
    roughly 10k items.

    Parameters
    ----------
    p : float
        Dropout probability in [0, 1).
    l2 : float
        Uniform ridge λ added to the dropout penalty; must be positive (it keeps ``G + Λ``
        invertible when some item has no interaction).
    zero_diagonal : bool
        EDLAE (True) or DLAE (False).
    binary : bool
        Fit on presence (True) or on the stored weights.

    Attributes
    ----------
    coef_ : ndarray of shape (n_items, n_items)
        The item-item weights ``B``.
    """

    def __init__(
        self, p: float = 0.25, l2: float = 10.0, zero_diagonal: bool = False, binary: bool = True
    ):
        self.p = p
        self.l2 = l2
        self.zero_diagonal = zero_diagonal
        self.binary = binary

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if not 0.0 <= self.p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {self.p}")
        if self.l2 <= 0:
            raise ValueError(f"l2 must be positive, got {self.l2}")
        gram = self._gram(user_items)
        self.coef_ = dlae_weights(gram, self.p, self.l2, zero_diagonal=self.zero_diagonal)


def dlae_weights(gram: np.ndarray, p: float, l2: float, *, zero_diagonal: bool) -> np.ndarray:
    """Item-item weights of DLAE (or EDLAE with ``zero_diagonal``) from the Gram matrix ``XᵀX``.

    See :class:`DLAERetriever`; returned C-contiguous (fast ``sparse @ dense``).
    """
    penalty = p / (1.0 - p) * np.diag(gram) + l2
    a = gram.copy()
    a[np.diag_indices_from(a)] += penalty
    inv = scipy.linalg.cho_solve(scipy.linalg.cho_factor(a), np.eye(len(a)))
    if zero_diagonal:
        coef = -inv / np.diag(inv)[None, :]
        coef[np.diag_indices_from(coef)] = 0.0
    else:
        coef = -inv * penalty[None, :]
        coef[np.diag_indices_from(coef)] += 1.0
    return np.ascontiguousarray(coef)


class ItemKNNRetriever(Retriever):
    """Item-based nearest neighbours (cosine similarity of binary engagement).

    A user's score of an item is its summed similarity to the items in the user's history.

    Parameters
    ----------
    n_neighbors : int
        Neighbours kept per item.
    shrink : float
        Added to the cosine denominator to damp pairs with little co-support.

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_items, n_items)
    """

    def __init__(self, n_neighbors: int = 100, shrink: float = 10.0):
        self.n_neighbors = n_neighbors
        self.shrink = shrink

    def _fit(self, user_items: sp.csr_matrix) -> None:
        self.similarity_ = cosine_item_similarity(
            user_items, shrink=self.shrink, n_neighbors=self.n_neighbors
        )

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray((binarize(rows) @ self.similarity_).toarray())


class TimedRetriever(Retriever):
    """A retriever fitted on interactions and their timestamps: ``fit(user_items, timestamps)``.

    Subclasses implement ``_fit_timed(user_items, timestamps)``; the timestamps arrive as a csr
    matrix of the interactions' shape, checked here.
    """

    requires_timestamps = True

    def fit(self, user_items, timestamps=None) -> TimedRetriever:
        """Learn from interactions and the time (or any increasing order) of each one.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Interactions; only presence counts.
        timestamps : csr_matrix of shape (n_users, n_items)
            Time of each interaction, at the cells of ``user_items``.

        Returns
        -------
        self
        """
        if timestamps is None:
            raise ValueError(f"{type(self).__name__} needs the timestamps of the interactions")
        self._timestamps = timestamps
        try:
            return super().fit(user_items)
        finally:
            del self._timestamps

    def _fit(self, user_items: sp.csr_matrix) -> None:
        ts = sp.csr_matrix(self._timestamps)
        if ts.shape != user_items.shape:
            raise ValueError(f"timestamps must have shape {user_items.shape}, got {ts.shape}")
        self._fit_timed(user_items, ts)

    def _fit_timed(self, user_items: sp.csr_matrix, timestamps: sp.csr_matrix) -> None:
        raise NotImplementedError  # pragma: no cover - interface


class CoVisitRetriever(TimedRetriever):
    """Items engaged close in time by the same users (a co-visitation item-kNN).

    Each user's interactions are ordered by timestamp; every pair of items at most ``window``
    positions apart adds ``decay ** (distance - 1)`` to their (symmetric) co-visit count, which
    is then cosine-normalised by the items' popularity. A user's score of an item is its summed
    co-visit similarity to the user's items. Sessions carry signal that whole-history
    co-occurrence (EASE, cosine kNN) dilutes: courses taken in the same term, films rated in
    one sitting.

    Parameters
    ----------
    window : int
        Largest distance, in positions of the time-ordered history, of a counted pair.
    decay : float
        Weight factor per extra position of distance (1 = flat).
    n_neighbors : int or None
        Neighbours kept per item (all when ``None``).

    Attributes
    ----------
    similarity_ : csr_matrix of shape (n_items, n_items)
    """

    def __init__(self, window: int = 3, decay: float = 1.0, n_neighbors: int | None = 200):
        self.window = window
        self.decay = decay
        self.n_neighbors = n_neighbors

    def _fit_timed(self, user_items: sp.csr_matrix, ts: sp.csr_matrix) -> None:
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        coo = user_items.tocoo()
        t = np.asarray(ts[coo.row, coo.col], dtype=np.float64).ravel()
        order = np.lexsort((coo.col, t, coo.row))
        users, items = coo.row[order], coo.col[order]
        rows, cols, vals = [], [], []
        for d in range(1, int(self.window) + 1):
            same = users[d:] == users[:-d]
            a, b = items[:-d][same], items[d:][same]
            w = np.full(len(a), float(self.decay) ** (d - 1))
            rows += [a, b]
            cols += [b, a]
            vals += [w, w]
        n_items = user_items.shape[1]
        if rows:
            co = sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n_items, n_items),
            )
        else:
            co = sp.csr_matrix((n_items, n_items))
        co.setdiag(0.0)
        co.eliminate_zeros()
        counts = np.diff(user_items.tocsc().indptr).astype(np.float64)
        r = np.repeat(np.arange(n_items), np.diff(co.indptr))
        co.data = co.data / np.sqrt(counts[r] * counts[co.indices] + 1.0)
        if self.n_neighbors is not None and self.n_neighbors < n_items:
            co = _prune_rows(co, int(self.n_neighbors))
        self.similarity_ = co

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray((binarize(rows) @ self.similarity_).toarray())


class TimeWindowRetriever(TimedRetriever):
    """Items engaged with by others around the times the user was active.

    Times are binned into periods of ``unit``; an item's score for a user is the number of its
    interactions within ``bandwidth`` periods of each of the user's interactions, averaged over
    the user's interactions (popularity in the user's active windows). Useful when held-out
    interactions come from the same sessions as the visible ones. Users without timed history
    (unknown at fit time) get a constant row.

    Parameters
    ----------
    bandwidth : int
        Half-width of the window, in periods.
    unit : float
        Length of a period in timestamp units (86,400 for Unix seconds → days).

    Attributes
    ----------
    counts_ : ndarray of shape (n_items, n_periods)
        Interactions of each item per period.
    """

    def __init__(self, bandwidth: int = 3, unit: float = 86_400.0):
        self.bandwidth = bandwidth
        self.unit = unit

    def _fit_timed(self, user_items: sp.csr_matrix, ts: sp.csr_matrix) -> None:
        if self.bandwidth < 0 or self.unit <= 0:
            raise ValueError("bandwidth must be >= 0 and unit > 0")
        coo = user_items.tocoo()
        period = np.floor(np.asarray(ts[coo.row, coo.col]).ravel() / self.unit).astype(np.int64)
        self.period0_ = int(period.min()) if len(period) else 0
        n_p = int(period.max()) - self.period0_ + 1 if len(period) else 1
        counts = np.zeros((user_items.shape[1], n_p))
        np.add.at(counts, (coo.col, period - self.period0_), 1.0)
        # windowed counts: interactions of the item within bandwidth periods of each period
        c = np.cumsum(np.pad(counts, ((0, 0), (1, 0))), axis=1)
        idx = np.arange(n_p)
        b = int(self.bandwidth)
        self.counts_ = c[:, np.minimum(idx + b + 1, n_p)] - c[:, np.maximum(idx - b, 0)]
        self.user_periods_ = sp.csr_matrix(
            (period - self.period0_ + 1.0, (coo.row, coo.col)), shape=user_items.shape
        )

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        n_p = self.counts_.shape[1]
        known = ids < self.n_users_
        hist = np.zeros((len(ids), n_p))
        if known.any():
            mask = binarize(rows[known])
            p = sp.csr_matrix(self.user_periods_[ids[known]].multiply(mask)).tocoo()
            np.add.at(hist, (np.flatnonzero(known)[p.row], p.data.astype(np.int64) - 1), 1.0)
        hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1.0)
        return hist @ self.counts_.T


class PopularityRetriever(Retriever):
    """Share of users who engaged with each item: the same list for everyone (cold-start source).

    Attributes
    ----------
    popularity_ : ndarray of shape (n_items,)
    """

    def _fit(self, user_items: sp.csr_matrix) -> None:
        counts = np.diff(user_items.tocsc().indptr).astype(np.float64)
        self.popularity_ = counts / max(1, user_items.shape[0])

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(ids), self.n_items_)).copy()


class SegmentPopularityRetriever(Retriever):
    """Peer popularity as a candidate source: what users of the same segment engaged with most.

    Wraps :class:`ganxun.models.popularity.PeerPopularity` in the retriever interface so that the
    two-stage recommender can use it (e.g. segments = rank × category of cadres). Users without
    a segment (ids beyond ``segments`` or a negative entry) get the overall popularity.

    Parameters
    ----------
    segments : array-like of int, shape (n_users,)
        Segment index of each user index: a fixed lookup table, like a vocabulary, not learned.
    global_weight : float
        Pseudo-count mixing overall popularity into each segment's counts.

    Attributes
    ----------
    peer_ : PeerPopularity
    """

    def __init__(self, segments=None, global_weight: float = 20.0):
        self.segments = segments
        self.global_weight = global_weight

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.segments is None:
            raise ValueError("SegmentPopularityRetriever needs segments (one per user index)")
        seg = self._segments(np.arange(user_items.shape[0]))
        known = seg >= 0
        self.peer_ = PeerPopularity(global_weight=self.global_weight).fit(
            user_items[known], seg[known]
        )

    def _segments(self, ids: np.ndarray) -> np.ndarray:
        table = np.asarray(self.segments, dtype=np.int64).ravel()
        out = np.full(len(ids), -1, np.int64)
        inside = ids < len(table)
        out[inside] = table[ids[inside]]
        return out

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return self.peer_.score_segments(self._segments(ids))
