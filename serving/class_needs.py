"""Needs analysis before a class (训前需求分析): who the cohort is and what it lacks.

A cohort is a class's members (or, for a class not yet called, the cadres of its target ranks),
a draft roster of cadre ids, or the cadres in service of some units and ranks. For it the
service answers per topic the reserve against the posts' targets (mean, spread, share below
target), the topics where most of the cohort is short (with the distribution of the reserve on
each), the courses the cohort already took (so a class does not repeat them) and suggested topic
weights (:mod:`ganxun.models.needs`). Every array here is in the rollcall ranker's cadre order
(the ``cadres`` table at training time), whose reserve and targets the roster step also reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.models.needs import cohort_needs, suggest_topic_weights
from ganxun.serving.predictor import BadRequestError, UnknownIdError
from ganxun.training.fitting import Fitted

#: Weak topics shown with a histogram, and the histogram's bins (reserve 0–100).
WEAK_TOPICS, BINS = 4, 10


class Cohorts:
    """Cohorts and their needs from one bundle (read-only)."""

    def __init__(self, fitted: Fitted):
        planning = fitted.planning
        self.fitted = fitted
        self.rr = planning.rollcall
        self.tables = planning.tables
        info = self.rr.cadre_info_
        self.info = info
        self.ids = info["cadre_id"].astype(str).to_numpy()
        self.pos = pd.Index(self.ids)
        self.in_service = np.asarray(getattr(self.rr, "in_service_", np.ones(len(info), bool)))
        self.topic_ids = [str(t) for t in self.rr.topics_.ids_]
        names = fitted.catalog.topic_info.set_index("topic_id")["name_zh"]
        self.topic_names = {t: str(names.get(t, t)) for t in self.topic_ids}
        cat = fitted.catalog
        # the recommender's "seen" rows (catalogue cadre order) for each cadre of this order
        self.seen_row = cat.cadres.index(pd.Series(self.ids, dtype=object))
        self.seen = fitted.recommender.seen.tocsr()
        self.course_titles = cat.course_info["title"].astype(str).to_numpy()
        self.course_ids = np.asarray(cat.courses.ids_).astype(str)
        self.units = set(info["unit_id"].astype(str))

    # --- who ------------------------------------------------------------------------------------

    def members(self, class_id: str) -> np.ndarray:
        """Positions of a class's enrolled members (empty for a class not yet called)."""
        e = self.tables["enrollments"]
        ids = e.loc[e["class_id"] == class_id, "cadre_id"].unique()
        got = self.pos.get_indexer(pd.Index(ids, dtype=object))
        return np.unique(got[got >= 0])

    def pool(
        self,
        unit_ids=(),
        ranks=(),
        exclude=(),
        max_recent_hours: float | None = None,
    ) -> np.ndarray:
        """Positions of the cadres in service of ``unit_ids`` and ``ranks`` (empty: any)."""
        ok = self.in_service.copy()
        if unit_ids:
            unknown = sorted(set(map(str, unit_ids)) - self.units)
            if unknown:
                raise BadRequestError(f"unknown unit id(s): {', '.join(unknown[:10])}")
            ok &= self.info["unit_id"].astype(str).isin(set(unit_ids)).to_numpy()
        if ranks:
            ok &= self.info["rank"].isin(set(ranks)).to_numpy()
        if exclude:
            ok &= ~np.isin(self.ids, list(exclude))
        if max_recent_hours is not None:
            ok &= self.rr.state_.recent_hours <= float(max_recent_hours)
        return np.flatnonzero(ok)

    def of_cadres(self, cadre_ids) -> np.ndarray:
        """Positions of listed cadres (BadRequestError naming unknown ids)."""
        got = self.pos.get_indexer(pd.Index(list(cadre_ids), dtype=object))
        if (got < 0).any():
            bad = [c for c, g in zip(cadre_ids, got, strict=True) if g < 0]
            raise BadRequestError(f"unknown cadre id(s): {', '.join(map(str, bad[:10]))}")
        return np.unique(got)

    def class_cohort(self, class_id: str) -> tuple[np.ndarray, str]:
        """A class's cohort: its members, else the cadres of its target ranks."""
        classes = self.tables["classes"].set_index("class_id")
        if class_id not in classes.index:
            raise UnknownIdError("class", class_id)
        got = self.members(class_id)
        if len(got):
            return got, "members"
        ranks = tuple(classes.at[class_id, "target_ranks"] or ())
        return self.pool(ranks=ranks), "target_ranks"

    # --- what they need ---------------------------------------------------------------------------

    def needs(self, rows: np.ndarray, topics=None) -> pd.DataFrame:
        """:func:`cohort_needs` of the cohort (optionally only ``topics``)."""
        out = cohort_needs(
            self.rr.reserve_[rows],
            self.rr.targets_[rows],
            self.topic_ids,
            [self.topic_names[t] for t in self.topic_ids],
        )
        return out if topics is None else out[out["topic_id"].isin(set(topics))]

    def taken_share(self, rows: np.ndarray) -> np.ndarray:
        """Per catalogue course, the share of the cohort who took it or a re-issue of it."""
        if not len(rows):
            return np.zeros(len(self.course_ids))
        sel = self.seen_row[rows]
        m = self.seen[sel[sel >= 0]]
        took = np.asarray((m > 0).sum(axis=0)).ravel().astype(float)
        groups = np.asarray(self.fitted.catalog.course_groups, dtype=np.int64)
        # a re-issue counts as taken: the most-taken member of each near-duplicate group
        best = pd.Series(took).groupby(groups).transform("max").to_numpy()
        return best / len(rows)

    def report(self, rows: np.ndarray, source: str, max_topics: int = 3) -> dict:
        """The needs analysis of a cohort, as the API answers it."""
        if not len(rows):
            raise BadRequestError("the cohort is empty: no cadre in service matches")
        needs = self.needs(rows)
        weights = suggest_topic_weights(needs, max_topics=max_topics)
        reserve = self.rr.reserve_[rows]
        targets = self.rr.targets_[rows]
        weak = needs[needs["share_short"] >= 0.5].head(WEAK_TOPICS)
        if weak.empty:
            weak = needs.head(1)
        edges = np.linspace(0.0, 100.0, BINS + 1)
        weak_rows = []
        for r in weak.itertuples():
            k = self.topic_ids.index(r.topic_id)
            counts, _ = np.histogram(np.clip(100 * reserve[:, k], 0, 100), bins=edges)
            weak_rows.append(
                {
                    "topic_id": r.topic_id,
                    "name": r.name,
                    "share_short": round(float(r.share_short), 4),
                    "mean_gap": round(100 * float(r.mean_gap), 1),
                    "mean_target": round(100 * float(targets[:, k].mean()), 1),
                    "edges": [round(float(e), 1) for e in edges],
                    "counts": [int(c) for c in counts],
                }
            )
        share = self.taken_share(rows)
        top = np.argsort(-share, kind="stable")[:20]
        taken = [
            {
                "course_id": self.course_ids[j],
                "title": self.course_titles[j],
                "share": round(float(share[j]), 4),
            }
            for j in top
            if share[j] > 0
        ]
        info = self.info.iloc[rows]
        return {
            "cohort": {
                "source": source,
                "size": len(rows),
                "units": int(info["unit_id"].nunique()),
                "ranks": {str(k): int(v) for k, v in info["rank"].value_counts().items()},
            },
            "topics": [
                {
                    "topic_id": r.topic_id,
                    "name": r.name,
                    "mean_reserve": round(100 * float(r.mean_reserve), 1),
                    "sd_reserve": round(100 * float(r.sd_reserve), 1),
                    "mean_target": round(100 * float(r.mean_target), 1),
                    "share_short": round(float(r.share_short), 4),
                    "mean_gap": round(100 * float(r.mean_gap), 1),
                }
                for r in needs.itertuples()
            ],
            "weak_topics": weak_rows,
            "taken_courses": taken,
            "suggested_topics": [
                {
                    "topic_id": t,
                    "name": self.topic_names[t],
                    "weight": float(w),
                    "reasons": topic_reasons(needs, t),
                }
                for t, w in weights.items()
            ],
        }


def topic_reasons(needs: pd.DataFrame, topic_id: str) -> list[str]:
    """Why a topic is in a class, from the cohort's needs (Chinese)."""
    row = needs[needs["topic_id"] == topic_id]
    if row.empty:
        return []
    r = row.iloc[0]
    return [
        f"{r['share_short']:.0%} 的干部未达岗位要求",
        f"平均缺口 {100 * r['mean_gap']:.1f} 分",
    ]
