"""One call designs a whole class (一键设计班次): topics, sessions, teachers, staff and roster.

The design is a fixed sequence, each step the best answer given the steps before it:

1. **needs of the eligible pool** — the cadres in service of the target units and ranks (not
   excluded, within the recent-hours cap): their reserve against their posts' targets;
2. **topics** — the goal's fixed topics, or the topics most of the pool is short on, weighted
   by the gap (:func:`ganxun.models.needs.suggest_topic_weights`);
3. **roster** — the rollcall optimiser on those topics: capacity, target ranks and units, unit
   quotas, recent-hours cap, fairness bound, hour obligations (:meth:`RollcallRanker.candidates`,
   :func:`propose_roster`);
4. **the roster's needs refine the topics** — the same topics, re-weighted by the roster's own
   gaps (the roster was chosen for these topics, so the set stays);
5. **sessions** — catalogue courses on those topics that the roster has not taken, on site,
   published by the start, within the hours (:func:`choose_sessions`), spread over the days;
6. **teachers** — the matcher's predicted ratings from this roster, one teacher per session by
   the assignment plan, with each teacher's load and dates across the classes already in the
   bundle's calendar (:func:`teacher_availability`, :func:`plan_teachers`);
7. **staff** — the best-rated support staff member free on the class dates.

Every constraint is reported with its limit and use; every choice carries its reasons; a goal
that cannot be met raises :class:`InfeasibleDesign` naming the constraint.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.cohorts import cohort_profile
from ganxun.models.assignment import plan_teachers
from ganxun.models.class_design import (
    ON_SITE_MODES,
    DesignGoal,
    InfeasibleDesign,
    choose_sessions,
    session_dates,
    staff_availability,
    teacher_availability,
)
from ganxun.models.needs import suggest_topic_weights
from ganxun.models.rollcall import ClassRequest, InfeasibleRoster, propose_roster
from ganxun.serving.class_needs import Cohorts, topic_reasons
from ganxun.serving.predictor import BadRequestError

#: The id the draft class has in the teacher plan (never a real class id).
DRAFT = "__draft__"
#: Most of the roster who may already have taken a scheduled course.
MAX_REPEAT_SHARE = 0.3

STEPS = (
    ("pool_needs", "符合条件干部的训前需求"),
    ("topics", "确定专题及权重"),
    ("roster", "调训名单"),
    ("refine_topics", "按名单需求调整专题权重"),
    ("sessions", "课程安排"),
    ("teachers", "师资配置"),
    ("staff", "班主任/教辅"),
)


class Designer:
    """Designs draft classes from one bundle (read-only; a design changes nothing)."""

    def __init__(self, fitted, cohorts: Cohorts | None = None):
        self.fitted = fitted
        self.cohorts = cohorts or Cohorts(fitted)
        planning = fitted.planning
        self.rr, self.tm, self.sm = planning.rollcall, planning.teacher, planning.staff
        self.tables = planning.tables
        cat = fitted.catalog
        self.topic_ids = self.cohorts.topic_ids
        self.names = self.cohorts.topic_names
        info = cat.course_info
        self.courses = info.assign(course_id=np.asarray(cat.courses.ids_).astype(str))[
            ["course_id", "title", "hours", "level", "mode"]
        ].reset_index(drop=True)
        ctm = cat.course_topics.toarray()
        order = cat.topics.index(pd.Series(self.topic_ids, dtype=object))
        self.course_topics = ctm[:, order]
        self.quality = np.asarray(fitted.quality.course.quality_, dtype=float)
        published = pd.to_datetime(info["published_on"])
        self.published = published.to_numpy()
        self.on_site = info["mode"].isin(ON_SITE_MODES).to_numpy()
        self.mandatory = info["mandatory"].to_numpy(bool) if "mandatory" in info else None

    # --- the sequence ---------------------------------------------------------------------------

    def design(self, goal: DesignGoal, max_sessions: int = 4, max_topics: int = 3) -> dict:
        """The draft class of ``goal`` (see the module doc); InfeasibleDesign when impossible."""
        steps: list[dict] = []
        pool = self.cohorts.pool(
            goal.unit_ids, goal.target_ranks, goal.exclude_cadre_ids, goal.max_recent_hours
        )
        if not len(pool):
            raise InfeasibleDesign(
                "target_ranks" if goal.target_ranks else "unit_ids",
                "目标单位和职级内没有符合条件的在职干部"
                " (no cadre in service matches the target units and ranks)",
            )
        pool_needs = self.cohorts.needs(pool)
        steps.append(_step("pool_needs", f"{len(pool)} 名符合条件的干部"))
        topics, fixed = self._topics(goal, pool_needs, max_topics)
        steps.append(_step("topics", "指定专题" if fixed else "按缺口最大且多数干部未达要求的专题"))

        roster, report, candidates = self._roster(goal, topics)
        rows = self.cohorts.of_cadres(roster["cadre_id"])
        steps.append(_step("roster", f"{len(roster)} 人，总预计收益 {roster['benefit'].sum():.3f}"))

        roster_needs = self.cohorts.needs(rows, topics)
        refined = topics if fixed else _reweight(topics, roster_needs)
        steps.append(
            _step("refine_topics", "指定专题不调整" if fixed else "按名单的平均缺口重新加权")
        )

        sessions = self._sessions(goal, refined, rows, fixed)
        refined = {t: w for t, w in refined.items() if t in set(sessions["topic_id"])}
        refined = {t: w / sum(refined.values()) for t, w in refined.items()}
        steps.append(
            _step("sessions", f"{len(sessions)} 门课程，共 {sessions['hours'].sum():g} 学时")
        )

        cohort = self._cohort(rows)
        sessions, teacher_report = self._teachers(goal, sessions, cohort, max_sessions)
        filled = int(sessions["teacher_id"].notna().sum())
        steps.append(_step("teachers", f"{filled}/{len(sessions)} 个课次已配教师"))

        staff, staff_report = self._staff(goal, refined, cohort)
        steps.append(_step("staff", staff["staff_id"] if staff else "无可用人选"))

        constraints = report + self._design_constraints(goal, roster, sessions, max_sessions)
        constraints += teacher_report + staff_report
        return {
            "steps": steps,
            "needs": pool_needs,
            "topics": refined,
            "pool_topics": topics,
            "fixed_topics": fixed,
            "roster": roster,
            "candidates": candidates,
            "roster_needs": roster_needs,
            "sessions": sessions,
            "staff": staff,
            "constraints": constraints,
            "complete": filled == len(sessions) and staff is not None,
        }

    # --- steps ------------------------------------------------------------------------------------

    def _topics(self, goal: DesignGoal, needs: pd.DataFrame, max_topics: int):
        if goal.topics:
            unknown = sorted(set(goal.topics) - set(self.topic_ids))
            if unknown:
                raise BadRequestError(f"unknown topic id(s): {', '.join(unknown)}")
            w = {t: float(v) for t, v in goal.topics.items() if v > 0}
            if not w:
                raise BadRequestError("fixed topics need a positive weight")
            total = sum(w.values())
            return {t: v / total for t, v in w.items()}, True
        weights = suggest_topic_weights(needs, max_topics=max_topics)
        # too few schedulable hours on these topics: add the next topics by gap (at most
        # max_topics), so that the class can be filled
        allowed = self._allowed(goal)
        for topic in needs["topic_id"]:
            if self._catalogue_hours(weights, allowed) >= goal.hours or len(weights) >= max_topics:
                break
            if topic not in weights:
                weights[topic] = 0.0
                weights = _gap_weights(needs, list(weights))
        return weights, False

    def _catalogue_hours(self, topics: dict[str, float], allowed: np.ndarray) -> float:
        cols = [self.topic_ids.index(t) for t in topics]
        on_topic = allowed & (self.course_topics[:, cols].max(axis=1) >= 0.5)
        return float(self.courses["hours"].to_numpy(float)[on_topic].sum())

    def _roster(self, goal: DesignGoal, topics: dict[str, float]):
        request = ClassRequest(
            topic_weights=topics,
            target_ranks=tuple(goal.target_ranks),
            capacity=goal.capacity,
            unit_quotas=goal.unit_quotas,
            max_recent_hours=goal.max_recent_hours,
            hours=goal.hours,
            exclude_cadre_ids=tuple(goal.exclude_cadre_ids),
            fairness_bound=goal.fairness_bound,
        )
        cand = self.rr.candidates(request)
        if goal.unit_ids:
            cand = cand[cand["unit_id"].astype(str).isin(set(goal.unit_ids))]
        try:
            roster, report = propose_roster(
                cand.reset_index(drop=True),
                capacity=goal.capacity,
                unit_quotas=goal.unit_quotas,
                target_ranks=goal.target_ranks or None,
                max_recent_hours=goal.max_recent_hours,
                fairness_bound=goal.fairness_bound,
            )
        except InfeasibleRoster as err:
            raise InfeasibleDesign(err.constraint, str(err)) from err
        return roster, report, cand

    def _allowed(self, goal: DesignGoal) -> np.ndarray:
        ok = self.on_site.copy() if goal.on_site else ~self.on_site
        start = np.datetime64(pd.Timestamp(goal.start_on))
        ok &= ~(self.published > start)  # published by the start (NaT counts as published)
        if self.mandatory is not None:
            ok &= ~self.mandatory
        if goal.exclude_course_ids:
            ok &= ~self.courses["course_id"].isin(set(goal.exclude_course_ids)).to_numpy()
        return ok

    def _sessions(self, goal: DesignGoal, topics, rows: np.ndarray, fixed, quality=None):
        """:func:`choose_sessions` for the roster ``rows``.

        Unless the topics are fixed, a topic whose courses the roster has all taken is dropped,
        and so is the lightest topic while the hours cannot hold one course of each.
        """
        taken = self.cohorts.taken_share(rows)
        quality = self.quality if quality is None else quality
        while True:
            try:
                sessions = choose_sessions(
                    topics,
                    goal.hours,
                    self.courses,
                    self.course_topics,
                    self.topic_ids,
                    taken,
                    quality,
                    self._allowed(goal),
                    max_repeat_share=MAX_REPEAT_SHARE,
                )
                break
            except InfeasibleDesign as err:  # a suggested topic that cannot be taught: drop it
                if fixed or len(topics) == 1 or err.constraint not in ("hours", "courses"):
                    raise
                gone = err.topic if err.topic in topics else min(topics, key=topics.get)
                if err.constraint == "hours":  # too short for every topic: the lightest goes
                    gone = min(topics, key=topics.get)
                rest = {t: w for t, w in topics.items() if t != gone}
                topics = {t: w / sum(rest.values()) for t, w in rest.items()}
        sessions["session_on"] = session_dates(len(sessions), goal.start_on, goal.days)
        return sessions

    def _cohort(self, rows: np.ndarray) -> dict:
        info = self.cohorts.info.iloc[rows]
        return cohort_profile(
            info["rank"].to_numpy(),
            info["category"].to_numpy(),
            self.rr.reserve_[rows],
            self.topic_ids,
        )

    def calendar(self) -> pd.DataFrame:
        """Sessions already planned: teacher_id, class_id, session_on (the bundle's calendar)."""
        return self.tables["class_sessions"][["teacher_id", "class_id", "session_on"]]

    def _teachers(self, goal: DesignGoal, sessions: pd.DataFrame, cohort: dict, max_sessions):
        teachers = np.asarray(self.tm.teachers_.ids_).astype(str)
        topics = sessions["topic_id"].to_numpy()
        scores = self.tm.score_matrix(topics, cohort, declared_only=True)
        free, caps, load = teacher_availability(
            self.calendar(), sessions["session_on"], teachers, max_sessions
        )
        eligible = np.isfinite(scores) & free
        if goal.exclude_teacher_ids:
            eligible &= ~np.isin(teachers, list(goal.exclude_teacher_ids))[None, :]
        months = pd.to_datetime(sessions["session_on"]).dt.to_period("M").astype(str).to_numpy()
        plan = plan_teachers(
            np.where(eligible, scores, -np.inf),
            sessions["session_on"].to_numpy(),
            np.full(len(sessions), DRAFT, dtype=object),
            caps,
            eligible=eligible,
            slot_periods=months,
            time_limit=5.0,
        )
        chosen = plan.assignment
        planned = load.groupby("teacher_id")["planned"].max()
        assigned = [teachers[j] for j in chosen if j >= 0]
        why = self._teacher_reasons(topics, cohort, sorted(set(assigned)))
        new_load = pd.Series(assigned, dtype=object).value_counts()
        ids, ratings, reasons, unfilled = [], [], [], []
        messages = {u.slot: u.message for u in plan.unfilled}
        for s, j in enumerate(chosen):
            if j < 0:
                ids.append(None)
                ratings.append(None)
                reasons.append([])
                unfilled.append(messages.get(s, "没有符合条件的人选"))
                continue
            t = teachers[j]
            before = int(planned.get(t, 0))
            extra = [f"本月已排 {before} 次，本班 {int(new_load[t])} 次，上限 {max_sessions} 次"]
            ids.append(t)
            ratings.append(round(float(scores[s, j]), 3))
            reasons.append(why.get((s, t), []) + extra)
            unfilled.append(None)
        out = sessions.assign(
            teacher_id=ids, predicted_rating=ratings, teacher_reasons=reasons, unfilled=unfilled
        )
        month_use = 0
        for t in set(assigned):
            month_use = max(month_use, int(planned.get(t, 0)) + int(new_load[t]))
        report = [
            {
                "constraint": "teacher_load",
                "limit": int(max_sessions),
                "used": month_use,
            },
            {
                "constraint": "teacher_dates",
                "limit": 0,
                "used": _double_booked(self.calendar(), out),
            },
            {
                "constraint": "sessions_staffed",
                "limit": len(out),
                "used": int(out["teacher_id"].notna().sum()),
            },
        ]
        return out, report

    def _teacher_reasons(self, topics, cohort, teacher_ids) -> dict:
        if not teacher_ids:
            return {}
        ranked = self.tm.rank(topics, cohort, candidates=teacher_ids, k=len(teacher_ids))
        out = {}
        for s in range(len(topics)):
            for rec in ranked.records(s):
                out[(s, str(rec["id"]))] = list(rec["reasons"])
        return out

    def _staff(self, goal: DesignGoal, topics: dict[str, float], cohort: dict):
        staff = np.asarray(self.sm.staff_.ids_).astype(str)
        end = pd.Timestamp(goal.start_on) + pd.Timedelta(days=goal.days - 1)
        calendar = self.tables["classes"][["staff_id", "start_on", "end_on"]]
        free = staff_availability(calendar, goal.start_on, end, staff)
        if goal.exclude_staff_ids:
            free &= ~np.isin(staff, list(goal.exclude_staff_ids))
        report = {"constraint": "staff_dates", "limit": 1, "used": 1}
        if not free.any():
            report["used"] = 0
            report["shortfall"] = 1
            return None, [report]
        ranked = self.sm.rank(cohort, topics, candidates=list(staff[free]), k=3)
        recs = ranked.records(0)
        best = recs[0]
        chosen = {
            "staff_id": str(best["id"]),
            "predicted_rating": round(float(best["score"]), 3),
            "reasons": [*best["reasons"], "班次期间未承担其他班次"],
            "alternatives": [str(r["id"]) for r in recs[1:]],
        }
        return chosen, [report]

    def _design_constraints(self, goal, roster, sessions, max_sessions) -> list[dict]:
        out = []
        if goal.unit_ids:
            outside = int((~roster["unit_id"].astype(str).isin(set(goal.unit_ids))).sum())
            out.append({"constraint": "unit_ids", "limit": list(goal.unit_ids), "used": outside})
        out.append(
            {"constraint": "hours", "limit": goal.hours, "used": float(sessions["hours"].sum())}
        )
        days = pd.to_datetime(sessions["session_on"]).dt.normalize().nunique()
        out.append({"constraint": "days", "limit": goal.days, "used": int(days)})
        out.append(
            {
                "constraint": "repeat_courses",
                "limit": MAX_REPEAT_SHARE,
                "used": round(float(sessions["taken_share"].max()), 4) if len(sessions) else 0.0,
            }
        )
        for name, excluded, used in (
            ("exclude_cadre_ids", goal.exclude_cadre_ids, roster["cadre_id"]),
            ("exclude_course_ids", goal.exclude_course_ids, sessions["course_id"]),
            ("exclude_teacher_ids", goal.exclude_teacher_ids, sessions["teacher_id"].dropna()),
        ):
            if excluded:
                hit = int(pd.Series(used, dtype=object).isin(set(excluded)).sum())
                out.append({"constraint": name, "limit": len(excluded), "used": hit})
        return out


def _step(step: str, summary: str) -> dict:
    return {"step": step, "title": dict(STEPS)[step], "summary": str(summary)}


def _gap_weights(needs: pd.DataFrame, topics: list[str]) -> dict[str, float]:
    """``topics`` weighted by the cohort's mean gap, summing to one (rounded to 0.01)."""
    gaps = needs.set_index("topic_id")["mean_gap"].reindex(topics).fillna(0.0)
    w = np.round(gaps.clip(lower=1e-6).to_numpy() / gaps.clip(lower=1e-6).sum(), 2)
    w[0] = round(1.0 - w[1:].sum(), 2)
    return {t: float(v) for t, v in zip(gaps.index, w, strict=True) if v > 0}


def _reweight(topics: dict[str, float], roster_needs: pd.DataFrame) -> dict[str, float]:
    """The same topics weighted by the roster's mean gap (kept as they were without a gap)."""
    gaps = roster_needs.set_index("topic_id")["mean_gap"].reindex(list(topics)).fillna(0.0)
    if gaps.sum() <= 0:
        return dict(topics)
    return _gap_weights(roster_needs, list(topics))


def _double_booked(calendar: pd.DataFrame, sessions: pd.DataFrame) -> int:
    """Sessions whose teacher teaches another class on the same date (0 for a valid design)."""
    mine = sessions[sessions["teacher_id"].notna()]
    if mine.empty:
        return 0
    days = pd.to_datetime(mine["session_on"]).dt.normalize()
    on = pd.to_datetime(calendar["session_on"]).dt.normalize()
    cal = calendar[on.isin(set(days))].assign(day=on)
    busy = set(zip(cal["teacher_id"], cal["day"], strict=True))
    return int(sum((t, d) in busy for t, d in zip(mine["teacher_id"], days, strict=True)))


def topic_choices(design: dict) -> list[dict]:
    """The design's topics with their weights before and after the roster, and reasons."""
    out = []
    for t, w in design["topics"].items():
        reasons = topic_reasons(design["needs"], t) if not design["fixed_topics"] else ["指定专题"]
        roster = topic_reasons(design["roster_needs"], t)
        out.append(
            {
                "topic_id": t,
                "weight": float(w),
                "pool_weight": float(design["pool_topics"].get(t, 0.0)),
                "reasons": reasons + [f"名单中{x}" for x in roster[:1]],
            }
        )
    return out
