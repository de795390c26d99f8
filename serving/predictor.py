"""Answer the service's questions by external id from one loaded bundle (read-only, thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ganxun.features.catalog import segment_of
from ganxun.models.ranking import top_k
from ganxun.serving.online import OnlineOverlay
from ganxun.training.fitting import Fitted, default_list_rows, list_length


class UnknownIdError(LookupError):
    """An id that the loaded bundle does not know (answered with 404)."""

    def __init__(self, kind: str, value: str):
        self.kind, self.value = kind, value
        super().__init__(f"unknown {kind} {value!r}")


class BadRequestError(ValueError):
    """A request that is well-formed but asks for something impossible (answered with 422)."""


MAX_K = 100  # the largest list a request may ask for (RecommendationRequest.k)


class DefaultLists:
    """Each cadre's top-``n`` courses for requests without filters, computed once per bundle.

    Bundles trained with their lists (``lists.joblib``, computed by ``ganxun train``) fill them
    at load; otherwise :meth:`Predictor.materialize` fills them in batches after the bundle goes
    live (a background thread of the model store). A cadre's row is used only once ``ready`` and
    while the cadre has no completion or answer since the bundle's cut-off. ``n`` is the
    recommender's candidate count (capped at ``MAX_K``): a list of ``k <= n`` items comes from the
    same candidates whatever ``k`` is, so its first ``k`` items are the list a live call with
    ``N=k`` returns. ``n = 0`` turns them off.
    """

    def __init__(self, n_cadres: int, n: int):
        self.n = n
        self.ids = np.full((n_cadres, n), -1, np.int32)
        self.scores = np.full((n_cadres, n), -np.inf)
        self.ready = np.zeros(n_cadres, bool)


@dataclass(frozen=True)
class Recommendation:
    """One recommended course."""

    course_id: str
    title: str
    score: float
    reasons: list[str]


class Predictor:
    """Queries over a fitted bundle: knowledge profiles and course recommendations."""

    def __init__(self, fitted: Fitted, manifest: dict):
        self.fitted = fitted
        self.manifest = manifest
        self.version: str = manifest["version"]
        self.source: dict = {}  # where the bundle came from: model_uri, registered_version
        self._unit_names: dict[str, str] | None = None
        cat = fitted.catalog
        self._topic_names = cat.topic_info["name_zh"].to_numpy()
        self._modes = cat.course_info["mode"].to_numpy()
        self._titles = cat.course_info["title"].to_numpy()
        self._main_topic = cat.topics.index(cat.course_info["main_topic"])
        self.online = OnlineOverlay(fitted)
        # per-request lookups as arrays (pandas .at and sklearn checks cost ~0.1 ms each)
        self._segment = cat.cadre_info["segment"].to_numpy()
        self._unit_id = cat.cadre_info["unit_id"].to_numpy()
        serving = cat.cadre_info.get("in_service")  # older bundles: everyone
        self._in_service = (
            np.ones(len(cat.cadre_info), bool) if serving is None else serving.to_numpy(bool)
        )
        self._groups = np.asarray(cat.course_groups, dtype=np.int64)
        quality = fitted.quality.course
        self._quality = quality.quality_
        self._quality_confidence = quality.confidence()
        # what _explain needs per course, as Python lists (numpy scalar access is slow)
        self._cadre_pos = {str(c): i for i, c in enumerate(cat.cadres.ids_)}
        self._course_ids = [str(c) for c in cat.courses.ids_]
        self._course_titles = [str(t) for t in self._titles]
        self._course_topic = [int(t) for t in self._main_topic]
        self._gap_reason = [f"补短板：{n}" for n in self._topic_names]
        # "评分 4.8" for a well-rated course: corrected quality in the top quarter of confidently
        # rated courses, shown as the mean score cadres gave it (inflated scales stay readable)
        shown = getattr(fitted.quality, "course_mean_score", None)
        shown = self._quality if shown is None else np.where(np.isnan(shown), 0.0, shown)
        sure = self._quality_confidence > 0.5
        bar = np.quantile(self._quality[sure], 0.75) if sure.any() else np.inf
        self._rating_reason = [
            f"评分 {m:.1f}" if c > 0.5 and q >= bar and m > 0 else None
            for q, c, m in zip(
                self._quality.tolist(),
                self._quality_confidence.tolist(),
                np.asarray(shown, dtype=float).tolist(),
                strict=True,
            )
        ]
        self._peer_pick: dict[int, list[bool]] = {}
        n = list_length(fitted, MAX_K)
        self.lists = DefaultLists(len(cat.cadres.ids_), n)
        stored = getattr(fitted, "lists", None)  # computed at training time (newer bundles)
        if stored is not None and stored.ids.shape == self.lists.ids.shape:
            self.lists.ids[:], self.lists.scores[:] = stored.ids, stored.scores
            self.lists.ready[:] = True

    def _cadre(self, cadre_id: str) -> int:
        idx = self._cadre_pos.get(cadre_id, -1)
        if idx < 0:
            raise UnknownIdError("cadre", cadre_id)
        return idx

    def unit_of(self, cadre_id: str) -> str | None:
        """The unit of a known cadre, or None when the bundle does not know the cadre."""
        idx = self._cadre_pos.get(cadre_id, -1)
        return None if idx < 0 else str(self._unit_id[idx])

    def in_service(self, cadre_id: str) -> bool:
        """False for a known cadre who has left (离任); True otherwise."""
        idx = self._cadre_pos.get(cadre_id, -1)
        return idx < 0 or bool(self._in_service[idx])

    def unknown_ids(self, event) -> list[str]:  # noqa: ANN001 - any features.events event
        """The id fields of ``event`` naming a cadre, course, item or teacher this bundle lacks.

        In field order (``cadre_id``, then ``course_id`` / ``item_id``, then ``teacher_id``);
        empty when the bundle knows every id the event names.
        """
        cat = self.fitted.catalog
        vocabularies = (
            ("cadre_id", cat.cadres),
            ("course_id", cat.courses),
            ("item_id", cat.items),
            ("teacher_id", cat.teachers),
        )
        out = []
        for field, vocab in vocabularies:
            value = getattr(event, field, None)
            if value is not None and vocab.one(value) < 0:
                out.append(field)
        return out

    def unit_name(self, unit_id: str) -> str | None:
        """The unit's name (None for a unit the bundle does not know, or one without a name)."""
        if self._unit_names is None:
            info = self.fitted.catalog.unit_info
            self._unit_names = {
                str(u): str(n)
                for u, n in zip(info["unit_id"], info["name"], strict=True)
                if isinstance(n, str) and n
            }
        return self._unit_names.get(unit_id)

    def has_cadre(self, cadre_id: str) -> bool:
        """Whether the bundle knows this cadre."""
        return cadre_id in self._cadre_pos

    def _targets(self, idx: int) -> np.ndarray:
        seg = int(self._segment[idx])
        return self.fitted.catalog.targets[max(seg, 0)]

    def _peers_choose(self, seg: int) -> list[bool]:
        """Per course, whether this segment's cadres take it notably more often than all do."""
        if seg not in self._peer_pick:
            peer = self.fitted.recommender.peer
            segment = peer.score_segments(np.array([seg]))[0]
            self._peer_pick[seg] = (segment > 1.2 * peer.global_share_).tolist()
        return self._peer_pick[seg]

    def materialize(self, chunk: int = 256, stop=None) -> int:
        """Fill the rows of :attr:`lists` not yet ready, in batches; returns how many were filled.

        ``stop()`` is asked before each batch (e.g. "has another bundle gone live?"). A bundle
        trained with its lists (see :func:`ganxun.training.fitting.default_lists`) has nothing to
        fill.
        """
        lists, done = self.lists, 0
        if lists.n == 0:
            return 0
        lists.ready[~self._in_service] = True  # a cadre who has left gets no list
        todo = np.flatnonzero(~lists.ready)
        for start in range(0, len(todo), chunk):
            if stop is not None and stop():
                break
            rows = todo[start : start + chunk]
            ids, best = default_list_rows(self.fitted, rows, lists.n)
            lists.ids[rows, : ids.shape[1]] = ids
            lists.scores[rows, : ids.shape[1]] = best
            lists.ready[rows] = True
            done += len(rows)
        return done

    def knowledge(self, cadre_id: str) -> list[dict]:
        """Reserve (0–100), required level, gap and confidence for every topic of one cadre."""
        idx = self._cadre(cadre_id)
        reserve, confidence = self.online.reserve(idx)
        reserve = reserve.astype(float)
        target = self._targets(idx)
        gap = np.maximum(0.0, target - reserve)
        return [
            {
                "topic_id": tid,
                "name": str(self._topic_names[j]),
                "reserve": round(100 * float(reserve[j]), 1),
                "required": round(100 * float(target[j]), 1),
                "gap": round(100 * float(gap[j]), 1),
                "confidence": round(float(confidence[j]), 3),
            }
            for j, tid in enumerate(self.fitted.catalog.topics.ids_)
        ]

    def precomputed(
        self,
        cadre_id: str,
        k: int = 10,
        exclude_course_ids: list[str] | None = None,
        topics: list[str] | None = None,
        modes: list[str] | None = None,
    ) -> list[Recommendation] | None:
        """:meth:`recommend` answered from the precomputed lists (no model call), or None.

        None when the request has filters, asks for more than the lists hold, or the cadre's list
        is not ready or out of date (a completion or an exam answer since the bundle's cut-off:
        the list is then computed with the cadre's live gaps).
        """
        idx = self._cadre(cadre_id)
        lists = self.lists
        if topics or modes or exclude_course_ids or k > lists.n or not lists.ready[idx]:
            return None
        if idx in self.online.changed:  # a completion or an answer since the bundle's cut-off
            return None
        seg = int(self._segment[idx])
        return self._explain(idx, seg, lists.ids[idx, :k], lists.scores[idx, :k])

    def recommend(
        self,
        cadre_id: str,
        k: int = 10,
        exclude_course_ids: list[str] | None = None,
        topics: list[str] | None = None,
        modes: list[str] | None = None,
        *,
        precomputed: bool = True,
    ) -> list[Recommendation]:
        """Top ``k`` courses for one cadre, never one already taken (or a re-issue of it).

        Answered from the precomputed lists when they can (:meth:`precomputed`; pass
        ``precomputed=False`` when the caller has just looked), else computed by the model.
        """
        if precomputed:
            fast = self.precomputed(cadre_id, k, exclude_course_ids, topics, modes)
            if fast is not None:
                return fast
        rec = self.fitted.recommender
        idx = self._cadre(cadre_id)
        seg = int(self._segment[idx])
        recent = self.online.taken_courses(idx)
        allowed = self._allowed(exclude_course_ids, topics, modes)
        seen = sp.csr_matrix(rec.seen[idx])
        if recent:
            seen = seen + sp.csr_matrix(
                (np.ones(len(recent)), (np.zeros(len(recent), int), sorted(recent))),
                shape=seen.shape,
            )
        # seen widened to every re-issue of a taken course (expand_to_groups for one row)
        taken_groups = self._groups[seen.indices[seen.data > 0]]
        exclude = sp.csr_matrix(np.isin(self._groups, taken_groups)[None, :].astype(np.float64))
        context = None
        if idx in self.online.changed:  # answers or completions since the bundle: live gaps
            reserve = self.online.reserve(idx)[0].astype(np.float64)
            context = {"gaps": np.maximum(0.0, self._targets(idx) - reserve)[None, :]}
        ids, best = rec.model.recommend(
            [idx],
            user_items=seen,
            N=k,
            exclude=exclude,
            allowed=allowed[None, :],
            extra_context=context,
        )
        return self._explain(idx, seg, ids[0], best[0])

    def _allowed(
        self,
        exclude_course_ids: list[str] | None,
        topics: list[str] | None,
        modes: list[str] | None,
    ) -> np.ndarray:
        """Courses the request's filters leave in (BadRequestError for an unknown topic)."""
        cat = self.fitted.catalog
        allowed = np.ones(len(cat.courses), bool)
        if topics:
            t_idx = cat.topics.index(topics)
            if (t_idx < 0).any():
                bad = [t for t, i in zip(topics, t_idx, strict=True) if i < 0]
                raise BadRequestError(f"unknown topic id(s): {', '.join(bad)}")
            allowed &= np.asarray((cat.course_topics[:, t_idx] > 0).sum(axis=1)).ravel() > 0
        if modes:
            allowed &= np.isin(self._modes, modes)
        if exclude_course_ids:
            ex = cat.courses.index(exclude_course_ids)
            allowed[ex[ex >= 0]] = False
        return allowed

    def recommend_new(
        self,
        rank: str,
        category: str,
        k: int = 10,
        exclude_course_ids: list[str] | None = None,
        topics: list[str] | None = None,
        modes: list[str] | None = None,
    ) -> list[Recommendation]:
        """Top ``k`` courses for a cadre the bundle does not know yet.

        What peers of the same rank and post category choose (shrunk to the city-wide choice),
        within the request's filters.
        """
        seg = int(segment_of(rank, category)[0])
        if seg < 0:
            raise BadRequestError(f"unknown rank or category: {rank!r}, {category!r}")
        scores = np.where(
            self._allowed(exclude_course_ids, topics, modes),
            self.fitted.recommender.peer.score_segments(np.array([seg]))[0],
            -np.inf,
        )
        ids, best = top_k(scores[None, :], k)
        return self._items(seg, ids[0], best[0], gap_topics=set())

    def _explain(
        self, idx: int, seg: int, ids: np.ndarray, best: np.ndarray
    ) -> list[Recommendation]:
        """The ranked courses with their reasons (gap, peers, rating)."""
        reserve = self.online.reserve(idx)[0]
        gaps = np.maximum(0.0, self._targets(idx) - reserve).tolist()
        # the 3 largest positive gaps; in Python, not np.argsort, which releases the GIL even
        # for 12 numbers and so makes the event loop queue behind the other threads to get it back
        order = sorted(range(len(gaps)), key=lambda j: -gaps[j] if gaps[j] == gaps[j] else 1.0)
        return self._items(seg, ids, best, {j for j in order[:3] if gaps[j] > 0})

    def _items(
        self, seg: int, ids: np.ndarray, best: np.ndarray, gap_topics: set[int]
    ) -> list[Recommendation]:
        """Listed courses (up to the first ``-1`` pad) with reasons: gap, peers, rating."""
        peers = self._peers_choose(seg)
        out = []
        for course, score in zip(ids.tolist(), best.tolist(), strict=True):
            if course < 0:
                break
            reasons = []
            t = self._course_topic[course]
            if t in gap_topics:
                reasons.append(self._gap_reason[t])
            if peers[course]:
                reasons.append("同岗位干部常选")
            if self._rating_reason[course] is not None:
                reasons.append(self._rating_reason[course])
            if not reasons:
                reasons.append("热门课程")
            out.append(
                Recommendation(
                    course_id=self._course_ids[course],
                    title=self._course_titles[course],
                    score=round(score, 6),
                    reasons=reasons,
                )
            )
        return out

    def layout(self, unit_id: str, n_weak: int = 3) -> dict:
        """A unit's training layout: topic × year hours and coverage, reserve, weakest topics."""
        cat, lay = self.fitted.catalog, self.fitted.layout
        u = cat.units.one(unit_id)
        if u < 0:
            raise UnknownIdError("unit", unit_id)
        names = self._topic_names
        cells = lay.hours[lay.hours["unit"] == u].sort_values(["topic", "year"])
        members = cat.cadre_unit == u
        ranks = cat.cadre_info.loc[members, "rank"]
        quality = self.fitted.quality.course.quality_
        weak = []
        gap = np.nan_to_num(lay.mean_gap[u], nan=-1.0)
        for t in np.argsort(-gap, kind="stable")[:n_weak]:
            if gap[t] <= 0:
                break
            on_topic = np.flatnonzero(self._main_topic == t)
            best = on_topic[np.argsort(-quality[on_topic], kind="stable")][:3]
            audience = ranks.mode().iloc[0] if len(ranks) else ""
            weak.append(
                {
                    "topic_id": str(cat.topics.ids_[t]),
                    "name": str(names[t]),
                    "mean_gap": round(100 * float(gap[t]), 1),
                    "suggested_theme": f"{names[t]}专题培训班（面向{audience}干部）",
                    "suggested_courses": [
                        {
                            "course_id": str(cat.courses.ids_[c]),
                            "title": str(self._titles[c]),
                            "quality": round(float(quality[c]), 2),
                        }
                        for c in best
                    ],
                }
            )
        return {
            "unit_id": unit_id,
            "name": str(cat.unit_info.at[u, "name"]),
            "cadres": int(lay.unit_sizes[u]),
            "topics": [
                {
                    "topic_id": str(tid),
                    "name": str(names[j]),
                    "mean_reserve": _pct(lay.mean_reserve[u, j]),
                    "mean_gap": _pct(lay.mean_gap[u, j]),
                }
                for j, tid in enumerate(cat.topics.ids_)
            ],
            "cells": [
                {
                    "topic_id": str(cat.topics.ids_[int(r.topic)]),
                    "year": int(r.year),
                    "hours": round(float(r.hours), 1),
                    "trained_share": round(float(r.trained_share), 4),
                }
                for r in cells.itertuples()
            ],
            "weakest": weak,
        }


def _pct(x: float) -> float | None:
    return None if not np.isfinite(x) else round(100 * float(x), 1)
