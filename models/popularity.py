"""Peer popularity: what cadres of the same segment (rank × category) took most."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ganxun.models.ranking import top_k


class PeerPopularity(BaseEstimator):
    """Score items by their (smoothed) share among users of the same segment.

    Parameters
    ----------
    global_weight : float
        Pseudo-count mixing the overall popularity into each segment's counts, so small
        segments and unseen segments still get a sensible list.
    """

    def __init__(self, global_weight: float = 20.0):
        self.global_weight = global_weight

    def fit(self, user_items: sp.csr_matrix, segments: np.ndarray) -> PeerPopularity:
        """Count engagements per segment.

        Parameters
        ----------
        user_items : csr_matrix of shape (n_users, n_items)
            Engagement weights (any non-negative value; presence is what counts).
        segments : ndarray of shape (n_users,)
            Segment index of each user, ``0 <= segment < n_segments``.
        """
        user_items = sp.csr_matrix(user_items)
        segments = np.asarray(segments, dtype=np.int64)
        if segments.shape != (user_items.shape[0],):
            raise ValueError("segments must give one segment per user row")
        if len(segments) and segments.min() < 0:
            raise ValueError("segment indices must be non-negative")
        n_seg = int(segments.max()) + 1 if len(segments) else 1
        binary = user_items.copy()
        binary.data[:] = 1.0
        member = sp.csr_matrix(
            (np.ones(len(segments)), (segments, np.arange(len(segments)))),
            shape=(n_seg, len(segments)),
        )
        self.segment_counts_ = np.asarray((member @ binary).todense())
        self.global_share_ = np.asarray(binary.sum(axis=0)).ravel() / max(1, binary.shape[0])
        self.segment_sizes_ = np.bincount(segments, minlength=n_seg).astype(float)
        self.user_segments_ = segments
        self.n_items_ = user_items.shape[1]
        return self

    def score_segments(self, segments: np.ndarray) -> np.ndarray:
        """Smoothed popularity per item for each requested segment (unknown segment = global)."""
        check_is_fitted(self)
        segments = np.asarray(segments, dtype=np.int64)
        known = (segments >= 0) & (segments < len(self.segment_sizes_))
        counts = np.zeros((len(segments), self.n_items_))
        sizes = np.zeros(len(segments))
        counts[known] = self.segment_counts_[segments[known]]
        sizes[known] = self.segment_sizes_[segments[known]]
        g = self.global_weight
        return (counts + g * self.global_share_) / (sizes + g)[:, None]

    def recommend(
        self,
        userids: np.ndarray,
        user_items: sp.csr_matrix,
        N: int = 10,
        filter_already_liked_items: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``N`` items for each user, in the ``implicit`` batch shape ``(ids, scores)``.

        ``user_items`` holds the rows of the requested users (what each has already taken). Users
        unknown at fit time (ids beyond the fitted ones) get the overall popularity.
        """
        check_is_fitted(self)
        userids = np.atleast_1d(np.asarray(userids, dtype=np.int64))
        known = (userids >= 0) & (userids < len(self.user_segments_))
        segments = np.full(len(userids), -1, np.int64)
        segments[known] = self.user_segments_[userids[known]]
        scores = self.score_segments(segments)
        exclude = sp.csr_matrix(user_items) if filter_already_liked_items else None
        return top_k(scores, N, exclude)
