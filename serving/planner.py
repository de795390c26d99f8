"""Class planning queries over the bundle: teachers and staff for a class, plans, rollcall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.cohorts import class_cohorts, class_slots
from ganxun.models.rollcall import ClassRequest, request_from_class
from ganxun.serving.predictor import BadRequestError, UnknownIdError
from ganxun.training.fitting import PlanningState


class Planner:
    """Answers by class id (or an inline class) from the bundle's :class:`PlanningState`."""

    def __init__(self, state: PlanningState, topic_ids: np.ndarray, compliance=None):
        self.state = state
        self.classes = state.tables["classes"].set_index("class_id")
        self.topic_ids = set(map(str, topic_ids))
        # (cadre_id, hour kind) of every rule standing forecast not to be met (有风险)
        self.at_risk: set[tuple[str, str]] = set()
        if compliance is not None:
            s = compliance.standing
            risky = s[s["status"] == "有风险"]
            self.at_risk = set(zip(risky["cadre_id"].astype(str), risky["kind"], strict=True))

    def institution_of(self, class_id: str) -> str:
        """The institution running a class (UnknownIdError when the class is unknown)."""
        if class_id not in self.classes.index:
            raise UnknownIdError("class", class_id)
        return str(self.classes.at[class_id, "institution_id"])

    def _cohort(self, class_id: str) -> pd.Series:
        return class_cohorts(self.state.tables, self.state.reserve, [class_id]).iloc[0]

    def teachers(self, class_id: str, k: int = 5) -> list[dict]:
        """Ranked teachers for each topic slot of the class."""
        self.institution_of(class_id)
        slots = class_slots(self.state.tables, [class_id])
        if slots.empty:
            raise BadRequestError(f"class {class_id!r} has no scheduled sessions with a topic")
        cohort = self._cohort(class_id)
        topics = slots["topic_id"].to_numpy()
        ranked = self.state.teacher.rank(topics, cohort, k=k)
        return [
            {
                "course_id": s.course_id,
                "topic_id": s.topic_id,
                "session_on": s.session_on.date(),
                "teachers": [_ranked(r) for r in ranked.records(i)],
            }
            for i, s in enumerate(slots.itertuples())
        ]

    def staff(self, class_id: str, k: int = 5) -> list[dict]:
        """Ranked support staff for the class."""
        self.institution_of(class_id)
        ct = self.state.tables["class_topics"]
        weights = ct[ct["class_id"] == class_id].set_index("topic_id")["weight"].to_dict()
        ranked = self.state.staff.rank(self._cohort(class_id), weights or None, k=k)
        return [_ranked(r) for r in ranked.records(0)]

    def plan_teachers(self, class_ids: list[str], max_sessions: int) -> tuple[pd.DataFrame, list]:
        """One assignment of teachers to every slot of several classes, and unfilled slots."""
        class_ids = list(dict.fromkeys(class_ids))  # a class named twice is planned once
        for c in class_ids:
            self.institution_of(c)
        slots = class_slots(self.state.tables, class_ids)
        if slots.empty:
            raise BadRequestError("none of these classes has scheduled sessions with a topic")
        cohorts = class_cohorts(self.state.tables, self.state.reserve, class_ids)
        table, plan = self.state.teacher.plan(slots, cohorts, max_sessions=max_sessions)
        return table, plan.unfilled

    def request(
        self,
        class_id: str | None,
        topics: dict[str, float] | None,
        target_ranks: list[str] | None,
        capacity: int | None,
        unit_quotas: dict[str, int] | None,
        max_recent_hours: float | None,
        exclude_cadre_ids: list[str],
        fairness_bound: float | None = None,
    ) -> ClassRequest:
        """The rollcall request of an existing class (with overrides) or of an inline class."""
        changes = {
            "unit_quotas": unit_quotas or None,
            "max_recent_hours": max_recent_hours,
            "exclude_cadre_ids": tuple(exclude_cadre_ids),
            "fairness_bound": fairness_bound,
        }
        if class_id is not None:
            self.institution_of(class_id)
            if capacity is not None:
                changes["capacity"] = capacity
            if target_ranks:
                changes["target_ranks"] = tuple(target_ranks)
            return request_from_class(self.state.tables, class_id, **changes)
        unknown = sorted(set(topics or {}) - self.topic_ids)
        if unknown:
            raise BadRequestError(f"unknown topic id(s): {', '.join(unknown)}")
        if not topics or capacity is None:
            raise BadRequestError("an inline class needs topics and capacity")
        return ClassRequest(
            topic_weights=dict(topics),
            target_ranks=tuple(target_ranks or ()),
            capacity=capacity,
            **changes,
        )

    def rollcall(self, request: ClassRequest, k: int) -> tuple[pd.DataFrame, list, pd.DataFrame]:
        """Suggested roster, constraint report and the top ``k`` candidates.

        A cadre forecast not to meet an hour rule the class counts toward (有风险 in the bundle's
        compliance) has "，预计不达标" added to the reason naming the hours they lack, and the
        report says how many such cadres the roster covers (constraint ``at_risk``: ``limit``
        eligible at-risk candidates, ``used`` of them on the roster).
        """
        return self.rollcall_with_pool(request, k)[:3]

    def rollcall_with_pool(self, request: ClassRequest, k: int) -> tuple:
        """:meth:`rollcall` and, last, every candidate (for the roster's equity report)."""
        roster, report, pool = self.state.rollcall.propose(request, explain_top=k)
        if self.at_risk:
            kinds = tuple(getattr(request, "hour_kinds", ()) or ())
            risky = {c for c, kind in self.at_risk if kind in kinds}
            roster = self._mark(roster, risky)
            pool = self._mark(pool, risky)
            eligible = pool[pool["eligible"].to_numpy(bool)]
            report = [
                *report,
                {
                    "constraint": "at_risk",
                    "limit": int(eligible["cadre_id"].isin(risky).sum()),
                    "used": int(roster["cadre_id"].isin(risky).sum()),
                },
            ]
        candidates = pool.sort_values("benefit", ascending=False).head(k)
        return roster, report, candidates, pool

    @staticmethod
    def _mark(frame: pd.DataFrame, risky: set[str]) -> pd.DataFrame:
        """Add the forecast to the hours reason of each at-risk cadre."""
        if frame.empty or "reasons" not in frame or not risky:
            return frame
        frame = frame.copy()
        hit = frame["cadre_id"].astype(str).isin(risky).to_numpy()
        marked = frame["reasons"].to_numpy(object).copy()
        for j in np.flatnonzero(hit):  # only the at-risk rows: a city pool is 10,000 rows
            marked[j] = [
                f"{r}，预计不达标" if "尚缺" in r and not r.startswith("任职培训") else r
                for r in marked[j]
            ]
        frame["reasons"] = marked
        return frame


def _ranked(record: dict) -> dict:
    return {
        "id": record["id"],
        "predicted_rating": round(float(record["score"]), 3),
        "reasons": list(record["reasons"]),
    }
