"""Cadre/course specifics for the two-stage recommender: domain retrievers and pair features.

* :class:`GapRetriever` — courses on the topics where the cadre falls short of the post target
  (covers new cadres and new courses, which collaborative signals cannot).
* peers (what cadres of the same rank and post category take) come from
  :class:`models.retrieval.SegmentPopularityRetriever`;
* :class:`CoursePairFeatures` — the ranker's cadre × course features: gap·topic match, course
  quality, peer share, mode and hours fit with the cadre's history, freshness.

All hold plain arrays, so a fitted recommender pickles into the bundle with them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from models.popularity import PeerPopularity
from models.retrieval import Retriever

PAIR_FEATURES = (
    "gap_match",
    "gap_top_topic",
    "course_quality",
    "quality_confidence",
    "peer_share",
    "peer_lift",
    "mode_share",
    "hours_ratio",
    "days_since_published",
    "course_level",
)


class GapRetriever(Retriever):
    """Score courses by how much of the cadre's knowledge gap their topics cover.

    Parameters
    ----------
    gaps : ndarray of shape (n_users, n_topics)
        Gap to the post target (0–1) per cadre and topic.
    course_topics : csr_matrix of shape (n_items, n_topics)
        Topic weights of each course (rows sum to one).
    """

    def __init__(self, gaps: np.ndarray | None = None, course_topics=None):
        self.gaps = gaps
        self.course_topics = course_topics

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.gaps is None or self.course_topics is None:
            raise ValueError("GapRetriever needs gaps and course_topics")
        self.topic_matrix_ = sp.csr_matrix(self.course_topics).T.toarray()  # (n_topics, n_items)

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        known = ids < len(self.gaps)
        g = np.zeros((len(ids), self.gaps.shape[1]))
        g[known] = self.gaps[ids[known]]
        return g @ self.topic_matrix_


class CoursePairFeatures:
    """The ranker's extra features for (cadre, course) pairs; picklable, no I/O.

    Parameters
    ----------
    gaps : ndarray (n_cadres, n_topics)
        Gap to the post target per cadre × topic.
    course_topics : csr_matrix (n_courses, n_topics)
        Course topic weights.
    quality, quality_confidence : ndarray (n_courses,)
        Leniency-corrected expected rating (1–5) and its confidence.
    segments : ndarray (n_cadres,)
        Segment of each cadre.
    modes : ndarray (n_courses,) of int
        Mode code of each course.
    hours, levels : ndarray (n_courses,)
        Course hours and level.
    published_days : ndarray (n_courses,)
        Days between publication and the cut-off date.
    """

    names = PAIR_FEATURES

    def __init__(
        self,
        gaps,
        course_topics,
        quality,
        quality_confidence,
        segments,
        modes,
        hours,
        levels,
        published_days,
    ):
        self.gaps = np.asarray(gaps, np.float32)
        self.course_topics = sp.csr_matrix(course_topics)
        self.quality = np.asarray(quality, float)
        self.quality_confidence = np.asarray(quality_confidence, float)
        self.segments = np.asarray(segments, np.int64)
        self.modes = np.asarray(modes, np.int64)
        self.hours = np.asarray(hours, float)
        self.levels = np.asarray(levels, float)
        self.published_days = np.asarray(published_days, float)
        self.n_modes = int(self.modes.max()) + 1 if len(self.modes) else 1
        self._dense_topics = self.course_topics.toarray()

    def _peer_counts(self, visible) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Segment × course counts, segment sizes and overall share (cached per matrix)."""
        key = (id(visible), visible.nnz, visible.shape)
        cached = getattr(self, "_peer_cache", None)
        if cached is None or cached[0] != key:
            peer = PeerPopularity(global_weight=0.0).fit(visible, self.segments[: visible.shape[0]])
            sizes = np.maximum(peer.segment_sizes_, 1)
            cached = (key, (peer.segment_counts_, sizes, peer.global_share_))
            self._peer_cache = cached  # one assignment: readers in other threads see old or new
        return cached[1]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_peer_cache", None)
        return state

    def __call__(self, users: np.ndarray, items: np.ndarray, context) -> np.ndarray:
        """Feature rows for pairs; ``context.visible`` limits history to what the stage may see."""
        n = len(users)
        known = users < len(self.gaps)
        gap = np.zeros((n, self.gaps.shape[1]), np.float32)
        gap[known] = self.gaps[users[known]]
        ct = self._dense_topics[items]
        gap_match = (gap * ct).sum(axis=1)
        top_topic = gap.argmax(axis=1)
        gap_top = ct[np.arange(n), top_topic] * (gap.max(axis=1) > 0)
        seg = np.where(known, self.segments[np.minimum(users, len(self.segments) - 1)], -1)
        seg_counts, seg_sizes, share_all = self._peer_counts(context.visible)
        peer = np.where(
            seg >= 0, seg_counts[np.maximum(seg, 0), items] / seg_sizes[np.maximum(seg, 0)], np.nan
        )
        lift = peer / np.maximum(share_all[items], 1e-6)
        # mode and hours fit with the cadre's visible history
        rows = context.user_items
        hist = sp.csr_matrix(rows)
        hist_bin = hist.copy()
        hist_bin.data[:] = 1.0
        mode_onehot = sp.csr_matrix(
            (np.ones(len(self.modes)), (np.arange(len(self.modes)), self.modes)),
            shape=(len(self.modes), self.n_modes),
        )
        counts = np.asarray((hist_bin @ mode_onehot).todense())
        totals = np.maximum(counts.sum(axis=1), 1)
        mode_share = counts[context.row, self.modes[items]] / totals[context.row]
        mean_hours = np.asarray(hist_bin @ self.hours).ravel() / totals
        hours_ratio = self.hours[items] / np.maximum(mean_hours[context.row], 0.5)
        return np.column_stack(
            [
                gap_match,
                gap_top,
                self.quality[items],
                self.quality_confidence[items],
                peer,
                lift,
                mode_share,
                hours_ratio,
                self.published_days[items],
                self.levels[items],
            ]
        ).astype(np.float64)
