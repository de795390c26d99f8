"""Cadre/course specifics for the two-stage recommender: domain retrievers and pair features.

* :class:`GapRetriever` — courses on the topics where the cadre falls short of the post target
  (covers new cadres and new courses, which collaborative signals cannot).
* :class:`ScheduleRetriever` — courses of the elective and online classes open after the cut-off
  for the cadre's rank (:class:`ClassSchedule`, the calendar as published by the cut-off): cadres
  pick them far more often than the rest of the catalogue, since the platform puts them forward
  while the class runs.
* peers (what cadres of the same rank and post category take) come from
  :class:`ganxun.models.retrieval.SegmentPopularityRetriever`;
* :class:`CoursePairFeatures` — the ranker's cadre × course features: gap·topic match, course
  quality, peer share, mode and hours fit with the cadre's history, freshness, the class
  schedule, recent (trending) popularity, the cadre's age next to the course's mode.

Whatever depends on the cut-off date (gaps, the schedule, recent popularity, ages) is held per
stage in a :class:`StageView`: ``"fit"`` as of the cut-off of the ranker's label window,
``"recommend"`` as of the serving cut-off, so the ranker learns on what it will be served.
All hold plain arrays, so a fitted recommender pickles into the bundle with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ganxun.features.contracts import CLASS_NOTICE_DAYS, LIST_SEP, class_published_on
from ganxun.models.popularity import PeerPopularity
from ganxun.models.retrieval import StagedRetriever, check_userids

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
    "class_rank_share",
    "class_any_share",
    "class_rank_now",
    "recent_share",
    "recent_segment_share",
    "cadre_age",
    "course_mode",
    "course_hours",
)


def live_gap_rows(extra, gaps: np.ndarray, query_rows: np.ndarray) -> np.ndarray:
    """``gaps`` with the rows a caller gave as live gaps (serving, after new exam answers).

    ``extra`` is the recommender's ``extra_context``: a dict whose ``"gaps"`` entry is an array
    (n_query_users, n_topics) with NaN rows for users whose stored gaps stand; ``query_rows``
    gives each row of ``gaps`` its query user. Anything else leaves ``gaps`` unchanged.
    """
    live = extra.get("gaps") if isinstance(extra, dict) else None
    if live is None:
        return gaps
    over = np.asarray(live, dtype=np.float64)[query_rows]
    use = np.isfinite(over).all(axis=1)
    if use.any():
        gaps = np.array(gaps, dtype=gaps.dtype, copy=True)
        gaps[use] = over[use]
    return gaps


class GapRetriever(StagedRetriever):
    """Score courses by how much of the cadre's knowledge gap their topics cover.

    Parameters
    ----------
    gaps : ndarray of shape (n_users, n_topics)
        Gap to the post target (0–1) per cadre and topic (at the serving cut-off).
    course_topics : csr_matrix of shape (n_items, n_topics)
        Topic weights of each course (rows sum to one).
    fit_gaps : ndarray of shape (n_users, n_topics), optional
        The gaps as of the ranker's label cut-off, used when fitted with ``stage="fit"``
        (default: ``gaps``).
    """

    reads_context = True  # live gaps of some users (see :func:`live_gap_rows`)

    def __init__(self, gaps: np.ndarray | None = None, course_topics=None, fit_gaps=None):
        self.gaps = gaps
        self.course_topics = course_topics
        self.fit_gaps = fit_gaps

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.gaps is None or self.course_topics is None:
            raise ValueError("GapRetriever needs gaps and course_topics")
        use_fit = getattr(self, "stage_", "recommend") == "fit" and self.fit_gaps is not None
        self.gaps_ = np.asarray(self.fit_gaps if use_fit else self.gaps)
        self.topic_matrix_ = sp.csr_matrix(self.course_topics).T.toarray()  # (n_topics, n_items)

    def score(self, userids, user_items=None, context=None) -> np.ndarray:
        """:meth:`Retriever.score`, with the live gaps of ``context`` where it gives them."""
        check_is_fitted(self)
        ids = check_userids(userids)
        self._rows(ids, user_items)  # validates user_items; the gaps do not depend on them
        return self._gap_scores(ids, context)

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return self._gap_scores(ids, None)

    def _gap_scores(self, ids: np.ndarray, context) -> np.ndarray:
        gaps = getattr(self, "gaps_", self.gaps)  # bundles pickled before gaps_ existed
        known = ids < len(gaps)
        g = np.zeros((len(ids), gaps.shape[1]))
        g[known] = gaps[ids[known]]
        g = live_gap_rows(context, g, np.arange(len(ids)))
        return g @ self.topic_matrix_


class ClassSchedule:
    """Elective and online classes: when each runs, which ranks it targets, which courses it has.

    While such a class runs, the platform promotes its courses: every cadre is more likely to come
    across them, and cadres of the targeted ranks more likely still to pick them. The calendar is
    read as it was known at a cut-off: only classes published on or before it count (most are in
    the annual training plan, published around the turn of the year; ad-hoc ones a few weeks
    before they start), so a class announced after the cut-off never leaks into what is learned
    or served as of it.

    Parameters
    ----------
    start, end : ndarray of datetime64, shape (n_classes,)
        First and last day of each class.
    ranks : ndarray of bool, shape (n_classes, n_ranks)
        Ranks each class is open to.
    courses : csr_matrix of shape (n_classes, n_courses)
        1 where the class has a session of the course.
    published : ndarray of datetime64, shape (n_classes,), optional
        When each class was announced (default: :data:`ganxun.features.contracts.CLASS_NOTICE_DAYS`
        days before its start, see :func:`ganxun.features.contracts.class_published_on`).
    """

    def __init__(self, start, end, ranks, courses, published=None):
        self.start = np.asarray(start, dtype="datetime64[D]")
        self.end = np.asarray(end, dtype="datetime64[D]")
        self.ranks = np.asarray(ranks, dtype=bool)
        self.courses = sp.csr_matrix(courses, dtype=np.float64)
        self.courses.data[:] = 1.0
        if published is None:
            published = self.start - np.timedelta64(CLASS_NOTICE_DAYS, "D")
        self.published = np.asarray(published, dtype="datetime64[D]")

    @classmethod
    def from_tables(
        cls,
        classes: pd.DataFrame,
        sessions: pd.DataFrame,
        course_ids,
        rank_names,
        kinds=("elective", "online"),
    ) -> ClassSchedule:
        """Build from the ``classes`` and ``class_sessions`` tables (classes of ``kinds`` only).

        ``classes.published_on`` may be absent or empty: see
        :func:`ganxun.features.contracts.class_published_on` for the default.
        """
        c = classes[classes["kind"].isin(list(kinds))].reset_index(drop=True)
        ci = pd.Index(c["class_id"].astype(str)).get_indexer(sessions["class_id"].astype(str))
        ki = pd.Index(np.asarray(course_ids).astype(str)).get_indexer(
            sessions["course_id"].astype(str)
        )
        ok = (ci >= 0) & (ki >= 0)
        incidence = sp.csr_matrix(
            (np.ones(ok.sum()), (ci[ok], ki[ok])), shape=(len(c), len(course_ids))
        )
        rank_index = pd.Index(list(rank_names))
        mask = np.zeros((len(c), len(rank_index)), bool)
        for j, targets in enumerate(c["target_ranks"]):
            if isinstance(targets, str):  # a flat file's "科员|副科"
                targets = targets.split(LIST_SEP)
            r = rank_index.get_indexer(list(targets) if targets is not None else [])
            mask[j, r[r >= 0]] = True
        return cls(
            pd.to_datetime(c["start_on"]).to_numpy(),
            pd.to_datetime(c["end_on"]).to_numpy(),
            mask,
            incidence,
            class_published_on(c).to_numpy(),
        )

    def known_at(self, at) -> np.ndarray:
        """Mask of the classes published on or before ``at`` (the calendar known then)."""
        return self.published <= np.datetime64(pd.Timestamp(at).date(), "D")

    def shares(self, at, months: int) -> tuple[np.ndarray, np.ndarray]:
        """Share of the ``months`` calendar months from ``at`` in which each course is promoted.

        The first month runs from ``at`` to its end, the others are whole months. Only the
        classes published on or before ``at`` count (:meth:`known_at`), so ``months`` is how far
        ahead the calendar known at ``at`` is read.

        Returns
        -------
        by_rank : ndarray of shape (n_ranks, n_courses)
            Months in which a class open to the rank has the course, over ``months``.
        any_rank : ndarray of shape (n_courses,)
            Months in which any open class has it, over ``months``.
        """
        at = pd.Timestamp(at).normalize()
        n_courses = self.courses.shape[1]
        by_rank = np.zeros((self.ranks.shape[1], n_courses))
        any_rank = np.zeros(n_courses)
        months = max(int(months), 1)
        first = at.to_period("M").to_timestamp()
        known = self.known_at(at)
        for m in range(months):
            lo = first + pd.DateOffset(months=m)
            rank_m, any_m = self._promoted(known, max(lo, at), lo + pd.offsets.MonthEnd(0))
            by_rank += rank_m
            any_rank += any_m
        return by_rank / months, any_rank / months

    def promoted_by_month(self, month_starts) -> np.ndarray:
        """Which courses classes promoted in each month, whenever the classes were announced.

        For past months (what happened, not what was known ahead). Returns an array of shape
        ``(n_months, n_ranks + 1, n_courses)``: 1 where a class open to the rank (last row: to
        any rank) ran the course during the month.
        """
        n_ranks, n_courses = self.ranks.shape[1], self.courses.shape[1]
        out = np.zeros((len(month_starts), n_ranks + 1, n_courses), np.float32)
        every = np.ones(len(self.start), bool)
        for m, start in enumerate(pd.DatetimeIndex(month_starts)):
            out[m, :n_ranks], out[m, n_ranks] = self._promoted(
                every, start, start + pd.offsets.MonthEnd(0)
            )
        return out

    def _promoted(self, classes: np.ndarray, lo, hi) -> tuple[np.ndarray, np.ndarray]:
        """Courses that a class among ``classes`` (a mask) running on some day of [lo, hi] has.

        Returns boolean arrays: by rank the class is open to, (n_ranks, n_courses), and for any
        rank, (n_courses,).
        """
        open_ = (
            classes
            & (self.start <= np.datetime64(pd.Timestamp(hi).date(), "D"))
            & (self.end >= np.datetime64(pd.Timestamp(lo).date(), "D"))
        )
        n_ranks, n_courses = self.ranks.shape[1], self.courses.shape[1]
        if not open_.any():
            return np.zeros((n_ranks, n_courses), bool), np.zeros(n_courses, bool)
        inc = self.courses[open_]
        by_rank = (sp.csr_matrix(self.ranks[open_].T.astype(float)) @ inc).toarray() > 0
        return by_rank, np.asarray(inc.sum(axis=0)).ravel() > 0


class ScheduleRetriever(StagedRetriever):
    """Courses of the classes open after the cut-off: the share of months they are promoted.

    The shares come from :meth:`ClassSchedule.shares`, so only classes published by each stage's
    cut-off count.

    Parameters
    ----------
    by_rank : dict of str to ndarray (n_ranks, n_courses)
        Per stage (``"fit"``, ``"recommend"``), :meth:`ClassSchedule.shares` for each rank.
    any_rank : dict of str to ndarray (n_courses,)
        Per stage, the share of months in any open class.
    user_ranks : ndarray of shape (n_users,)
        Rank index of each user (``-1`` unknown: only ``any_rank`` counts).
    any_weight : float
        Weight of ``any_rank`` next to the user's rank share.
    """

    def __init__(self, by_rank=None, any_rank=None, user_ranks=None, any_weight: float = 0.3):
        self.by_rank = by_rank
        self.any_rank = any_rank
        self.user_ranks = user_ranks
        self.any_weight = any_weight

    def _fit(self, user_items: sp.csr_matrix) -> None:
        if self.by_rank is None or self.any_rank is None or self.user_ranks is None:
            raise ValueError("ScheduleRetriever needs by_rank, any_rank and user_ranks")
        stage = getattr(self, "stage_", "recommend")
        self.by_rank_ = np.asarray(self.by_rank[stage], dtype=np.float64)
        self.any_rank_ = self.any_weight * np.asarray(self.any_rank[stage], dtype=np.float64)

    def _score(self, ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        table = np.asarray(self.user_ranks, dtype=np.int64)
        rank = np.full(len(ids), -1, np.int64)
        inside = ids < len(table)
        rank[inside] = table[ids[inside]]
        out = np.broadcast_to(self.any_rank_, (len(ids), len(self.any_rank_))).copy()
        known = rank >= 0
        out[known] += self.by_rank_[rank[known]]
        return out


@dataclass
class StageView:
    """What the pair features read that depends on the cut-off date of a stage.

    Attributes
    ----------
    gaps : ndarray (n_cadres, n_topics)
        Gap to the post target per cadre × topic.
    published_days : ndarray (n_courses,)
        Days between each course's publication and the cut-off.
    cadre_age : ndarray (n_cadres,)
        Age of each cadre at the cut-off (NaN unknown).
    class_rank_share, class_rank_now : ndarray (n_ranks, n_courses)
        :meth:`ClassSchedule.shares` by rank over the schedule horizon and over the cut-off's
        month.
    class_any_share : ndarray (n_courses,)
        :meth:`ClassSchedule.shares` over any rank, over the horizon.
    recent_share : ndarray (n_courses,)
        Enrolments in the recent window before the cut-off relative to the average course.
    recent_segment_share : ndarray (n_segments, n_courses)
        The same within each segment, per member, relative to the overall average.
    """

    gaps: np.ndarray
    published_days: np.ndarray
    cadre_age: np.ndarray
    class_rank_share: np.ndarray
    class_rank_now: np.ndarray
    class_any_share: np.ndarray
    recent_share: np.ndarray
    recent_segment_share: np.ndarray


def recent_shares(recent: sp.csr_matrix, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``recent_share`` and ``recent_segment_share`` of a :class:`StageView`.

    ``recent`` is the cadre × course matrix of the enrolments of the recent window; both are
    ratios to the average course (scale-free, so a shorter history does not shift them).
    """
    binary = sp.csr_matrix(recent, dtype=np.float64, copy=True)
    binary.data[:] = 1.0
    counts = np.asarray(binary.sum(axis=0)).ravel()
    mean = max(counts.mean(), 1e-12) if len(counts) else 1.0
    peer = PeerPopularity(global_weight=0.0).fit(binary, segments)
    per_member = peer.segment_counts_ / np.maximum(peer.segment_sizes_, 1.0)[:, None]
    overall = mean / max(binary.shape[0], 1)
    return counts / mean, per_member / max(overall, 1e-12)


class CoursePairFeatures:
    """The ranker's extra features for (cadre, course) pairs; picklable, no I/O.

    Parameters
    ----------
    views : dict of str to StageView
        ``"recommend"`` (serving cut-off) and optionally ``"fit"`` (the ranker's label cut-off;
        default the serving view).
    course_topics : csr_matrix (n_courses, n_topics)
        Course topic weights.
    quality, quality_confidence : ndarray (n_courses,)
        Leniency-corrected expected rating (1–5) and its confidence.
    segments : ndarray (n_cadres,)
        Segment of each cadre.
    ranks : ndarray (n_cadres,)
        Rank index of each cadre (``-1`` unknown).
    modes : ndarray (n_courses,) of int
        Mode code of each course.
    hours, levels : ndarray (n_courses,)
        Course hours and level.
    """

    names = PAIR_FEATURES

    def __init__(
        self,
        views,
        course_topics,
        quality,
        quality_confidence,
        segments,
        ranks,
        modes,
        hours,
        levels,
    ):
        if "recommend" not in views:
            raise ValueError("views needs a 'recommend' StageView")
        self.views = dict(views)
        self.course_topics = sp.csr_matrix(course_topics)
        self.quality = np.asarray(quality, float)
        self.quality_confidence = np.asarray(quality_confidence, float)
        self.segments = np.asarray(segments, np.int64)
        self.ranks = np.asarray(ranks, np.int64)
        self.modes = np.asarray(modes, np.int64)
        self.hours = np.asarray(hours, float)
        self.levels = np.asarray(levels, float)
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

    def __setstate__(self, state: dict) -> None:
        if "views" not in state:  # pickled before the stage views: its ranker reads 10 columns
            n_courses = len(state["published_days"])
            n_segments = int(np.max(state["segments"], initial=0)) + 1
            state["views"] = {
                "recommend": StageView(
                    gaps=state.pop("gaps"),
                    published_days=state.pop("published_days"),
                    cadre_age=np.full(len(state["segments"]), np.nan),
                    class_rank_share=np.zeros((1, n_courses)),
                    class_rank_now=np.zeros((1, n_courses)),
                    class_any_share=np.zeros(n_courses),
                    recent_share=np.zeros(n_courses),
                    recent_segment_share=np.zeros((n_segments, n_courses)),
                )
            }
            state["ranks"] = np.full(len(state["segments"]), -1, np.int64)
            state["n_columns"] = 10
        self.__dict__.update(state)

    def __call__(self, users: np.ndarray, items: np.ndarray, context) -> np.ndarray:
        """Feature rows for pairs; ``context.visible`` limits history to what the stage may see."""
        out = self._columns(users, items, context)
        return out[:, : getattr(self, "n_columns", out.shape[1])]

    def _columns(self, users: np.ndarray, items: np.ndarray, context) -> np.ndarray:
        view = self.views.get(context.stage, self.views["recommend"])
        n = len(users)
        known = users < len(view.gaps)
        who = np.where(known, users, 0)
        gap = np.zeros((n, view.gaps.shape[1]), np.float32)
        gap[known] = view.gaps[users[known]]
        if context.stage == "recommend":
            gap = live_gap_rows(context.extra, gap, context.row)
        ct = self._dense_topics[items]
        gap_match = (gap * ct).sum(axis=1)
        top_topic = gap.argmax(axis=1)
        gap_top = ct[np.arange(n), top_topic] * (gap.max(axis=1) > 0)
        seg = np.where(known, self.segments[who], -1)
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
        # the class schedule after the cut-off, for the cadre's rank
        rank = np.where(known, self.ranks[who], -1)
        has_rank = rank >= 0
        r = np.maximum(rank, 0)
        rank_share = np.where(has_rank, view.class_rank_share[r, items], np.nan)
        rank_now = np.where(has_rank, view.class_rank_now[r, items], np.nan)
        recent_seg = np.where(
            seg >= 0, view.recent_segment_share[np.maximum(seg, 0), items], np.nan
        )
        age = np.where(known, view.cadre_age[who], np.nan)
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
                view.published_days[items],
                self.levels[items],
                rank_share,
                view.class_any_share[items],
                rank_now,
                view.recent_share[items],
                recent_seg,
                age,
                self.modes[items].astype(np.float64),
                self.hours[items],
            ]
        ).astype(np.float64)
