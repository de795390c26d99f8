"""Answer the service's questions by external id from one loaded bundle (read-only, thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from models.ranking import expand_to_groups, top_k
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
        scores = rec.model.score_segments(np.array([seg]))[0]
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
        scores = np.where(allowed, scores, -np.inf)
        seen = sp.csr_matrix(rec.seen[idx])
        recent = self.online.taken_courses(idx)
        if recent:
            seen = seen + sp.csr_matrix(
                (np.ones(len(recent)), (np.zeros(len(recent), int), sorted(recent))),
                shape=seen.shape,
            )
        exclude = expand_to_groups(seen, cat.course_groups)
        ids, best = top_k(scores[None, :], k, exclude)
        gaps = np.maximum(0.0, self._targets(idx) - self.online.reserve(idx)[0])
        gap_topics = {int(j) for j in np.argsort(-gaps)[:3] if gaps[j] > 0}
        share = rec.model.global_share_
        out = []
        for course, score in zip(ids[0], best[0], strict=True):
            if course < 0:
                break
            reasons = []
            t = int(self._main_topic[course])
            if t in gap_topics:
                reasons.append(f"补短板：{self._topic_names[t]}")
            if score > 1.2 * share[course]:
                reasons.append("同岗位干部常选")
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
