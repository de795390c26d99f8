"""Answer the service's questions by external id from one loaded bundle (read-only, thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.ranking import expand_to_groups
from serving.online import OnlineOverlay
from training.fitting import Fitted


class UnknownIdError(LookupError):
    """An id that the loaded bundle does not know (answered with 404)."""

    def __init__(self, kind: str, value: str):
        self.kind, self.value = kind, value
        super().__init__(f"unknown {kind} {value!r}")


class BadRequestError(ValueError):
    """A request that is well-formed but asks for something impossible (answered with 422)."""


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
        cat = fitted.catalog
        self._topic_names = cat.topic_info["name_zh"].to_numpy()
        self._modes = cat.course_info["mode"].to_numpy()
        self._titles = cat.course_info["title"].to_numpy()
        self._main_topic = cat.topics.index(cat.course_info["main_topic"])
        self.online = OnlineOverlay(fitted)

    def _cadre(self, cadre_id: str) -> int:
        idx = self.fitted.catalog.cadres.one(cadre_id)
        if idx < 0:
            raise UnknownIdError("cadre", cadre_id)
        return idx

    def unit_of(self, cadre_id: str) -> str | None:
        """The unit of a known cadre, or None when the bundle does not know the cadre."""
        idx = self.fitted.catalog.cadres.one(cadre_id)
        return None if idx < 0 else str(self.fitted.catalog.cadre_info.at[idx, "unit_id"])

    def has_cadre(self, cadre_id: str) -> bool:
        """Whether the bundle knows this cadre."""
        return self.fitted.catalog.cadres.one(cadre_id) >= 0

    def _targets(self, idx: int) -> np.ndarray:
        seg = int(self.fitted.catalog.cadre_info.at[idx, "segment"])
        return self.fitted.catalog.targets[max(seg, 0)]

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

    def recommend(
        self,
        cadre_id: str,
        k: int = 10,
        exclude_course_ids: list[str] | None = None,
        topics: list[str] | None = None,
        modes: list[str] | None = None,
    ) -> list[Recommendation]:
        """Top ``k`` courses for one cadre, never one already taken (or a re-issue of it)."""
        cat, rec = self.fitted.catalog, self.fitted.recommender
        idx = self._cadre(cadre_id)
        seg = int(cat.cadre_info.at[idx, "segment"])
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
        seen = sp.csr_matrix(rec.seen[idx])
        recent = self.online.taken_courses(idx)
        if recent:
            seen = seen + sp.csr_matrix(
                (np.ones(len(recent)), (np.zeros(len(recent), int), sorted(recent))),
                shape=seen.shape,
            )
        exclude = expand_to_groups(seen, cat.course_groups)
        ids, best = rec.model.recommend(
            [idx], user_items=seen, N=k, exclude=exclude, allowed=allowed[None, :]
        )
        gaps = np.maximum(0.0, self._targets(idx) - self.online.reserve(idx)[0])
        gap_topics = {int(j) for j in np.argsort(-gaps)[:3] if gaps[j] > 0}
        peer = rec.peer.score_segments(np.array([seg]))[0]
        share = rec.peer.global_share_
        quality = self.fitted.quality.course
        out = []
        for course, score in zip(ids[0], best[0], strict=True):
            if course < 0:
                break
            reasons = []
            t = int(self._main_topic[course])
            if t in gap_topics:
                reasons.append(f"补短板：{self._topic_names[t]}")
            if peer[course] > 1.2 * share[course]:
                reasons.append("同岗位干部常选")
            if quality.confidence()[course] > 0.5 and quality.quality_[course] >= 3.8:
                reasons.append(f"评分 {quality.quality_[course]:.1f}")
            if not reasons:
                reasons.append("热门课程")
            out.append(
                Recommendation(
                    course_id=str(cat.courses.ids_[course]),
                    title=str(self._titles[course]),
                    score=round(float(score), 6),
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
