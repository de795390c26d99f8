"""Post-training evaluation (训后评价) and rollcall equity (调训公平) over the bundle.

:class:`ClassViews` answers, for a class that has ended, what it achieved — the members'
difficulty-adjusted pre→post gain by topic beside classes that taught the same topics, its value
added against classes of similar cohorts, the teachers' and staff's ratings less their raters'
leniency, attendance and completion, and which members still fall short of their posts on the
class topics — from the class table computed at training time
(:mod:`ganxun.training.class_table`). For rosters and periods it reports each unit's and
district's seat share against its share of need and how concentrated seats are
(:mod:`ganxun.models.equity`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.models.class_evaluation import peer_comparison
from ganxun.models.equity import (
    allocation_report,
    by_district,
    period_need,
    rollcall_concentration,
    seat_report,
)
from ganxun.serving.class_needs import Cohorts
from ganxun.serving.predictor import BadRequestError, UnknownIdError

#: Class-weighted gap (0–1) from which a member still counts as short after the class.
STILL_SHORT = 0.05
#: Years of rollcall seats the concentration index reads.
CONCENTRATION_YEARS = 3


class NotEnded(ValueError):
    """The class has not ended by the bundle's cut-off (answered 422 ``not_ended``)."""


class NoClassTable(LookupError):
    """The bundle was trained without the class table (answered 503)."""


def _round(x, n: int = 4):
    return None if x is None or not np.isfinite(x) else round(float(x), n)


class ClassViews:
    """Evaluation and equity answers from one bundle (read-only)."""

    def __init__(self, fitted, cohorts: Cohorts | None = None):
        self.fitted = fitted
        self.cohorts = cohorts or Cohorts(fitted)
        planning = fitted.planning
        self.table = getattr(planning, "evaluation", None)
        self.tables = planning.tables
        self.classes = self.tables["classes"].set_index("class_id")
        self.unit_info = fitted.catalog.unit_info
        self.asof = pd.Timestamp(fitted.asof)
        quality = fitted.quality
        self.teacher_quality = pd.Series(
            quality.teacher.quality_, index=np.asarray(fitted.catalog.teachers.ids_).astype(str)
        )
        self.staff_quality = pd.Series(
            quality.staff.quality_, index=np.asarray(fitted.catalog.staff.ids_).astype(str)
        )

    # --- evaluation -----------------------------------------------------------------------------

    def evaluation(self, class_id: str) -> dict:
        """What a class achieved (see the module doc)."""
        if class_id not in self.classes.index:
            raise UnknownIdError("class", class_id)
        if self.table is None:
            raise NoClassTable("this bundle has no class evaluation table: retrain to add it")
        row = self.classes.loc[class_id]
        if pd.Timestamp(row["end_on"]) >= self.asof:
            raise NotEnded(
                f"班次 {class_id} 在模型数据截止日（{self.asof.date()}）前尚未结束"
                f" (class {class_id} had not ended by the model's cut-off {self.asof.date()})"
            )
        t = self.table
        names = self.cohorts.topic_names
        eff = t.classes[t.classes["class_id"] == class_id]
        summary = None
        if len(eff):
            e = eff.iloc[0]
            summary = {
                "gain": _round(e["gain"]),
                "gain_se": _round(e["gain_se"]),
                "measured": int(e["measured"]),
                "expected_gain": _round(e["expected_gain"]),
                "value_added": _round(e["value_added"]),
                "percentile": _round(e["percentile"]),
                "classes_compared": len(t.classes),
                "total_scores_only": bool(e["total_scores"]),
            }
        topics = peer_comparison(t.topics, class_id)
        ct = self.tables["class_topics"]
        weights = ct[ct["class_id"] == class_id].set_index("topic_id")["weight"]
        members = t.members[t.members["class_id"] == class_id]
        return {
            "class_id": class_id,
            "name": str(row.get("name", class_id)),
            "institution_id": str(row["institution_id"]),
            "kind": str(row["kind"]),
            "start_on": pd.Timestamp(row["start_on"]).date(),
            "end_on": pd.Timestamp(row["end_on"]).date(),
            "effect": summary,
            "topics": [
                {
                    "topic_id": str(r.topic_id),
                    "name": names.get(str(r.topic_id), str(r.topic_id)),
                    "weight": _round(weights.get(r.topic_id, 0.0), 3) or 0.0,
                    "gain": _round(r.gain),
                    "gain_se": _round(r.gain_se),
                    "measured": int(r.measured),
                    "peer_mean": _round(r.peer_mean),
                    "peer_classes": int(r.peer_classes),
                    "percentile": _round(r.percentile),
                }
                for r in topics.itertuples()
            ],
            "member_gains": [round(float(g), 4) for g in members["gain"].to_numpy(float)],
            "ratings": self._ratings(class_id),
            "attendance": self._attendance(class_id),
            "still_short": self._still_short(class_id, weights),
        }

    def _ratings(self, class_id: str) -> list[dict]:
        r = self.table.ratings
        r = r[r["class_id"] == class_id]
        out = []
        for x in r.itertuples():
            overall = self.teacher_quality if x.role == "teacher" else self.staff_quality
            out.append(
                {
                    "role": x.role,
                    "person_id": str(x.person_id),
                    "ratings": int(x.ratings),
                    "raw_mean": _round(x.raw_mean, 2),
                    "corrected_mean": _round(x.corrected_mean, 2),
                    "overall_quality": _round(overall.get(str(x.person_id), np.nan), 2),
                }
            )
        return sorted(out, key=lambda d: (d["role"], -(d["corrected_mean"] or 0)))

    def _attendance(self, class_id: str) -> dict:
        e = self.tables["enrollments"]
        e = e[e["class_id"] == class_id]
        members = int(e["cadre_id"].nunique())
        done = e["completed_on"].notna() if "completed_on" in e else pd.Series(False, e.index)
        per = e.assign(done=done).groupby("cadre_id")["done"].all()
        capacity = self.classes.at[class_id, "capacity"]
        return {
            "capacity": None if pd.isna(capacity) else int(capacity),
            "members": members,
            "sessions_completed_share": _round(done.mean() if len(e) else np.nan),
            "members_completed_all": int(per.sum()),
            "mean_progress": _round(e["progress"].mean() if len(e) else np.nan),
            "hours_attended": _round(e["hours"].sum() if len(e) else 0.0, 1),
        }

    def _still_short(self, class_id: str, weights: pd.Series, top: int = 50) -> list[dict]:
        rows = self.cohorts.members(class_id)
        if not len(rows) or weights.sum() <= 0:
            return []
        topic_ids = self.cohorts.topic_ids
        w = weights.reindex(topic_ids).fillna(0.0).to_numpy(float)
        w = w / w.sum()
        rr = self.cohorts.rr
        cells = np.maximum(0.0, rr.targets_[rows] - rr.reserve_[rows]) * (w > 0)[None, :]
        gap = cells @ w
        worst = cells.argmax(axis=1)
        info = self.cohorts.info.iloc[rows]
        order = np.argsort(-gap, kind="stable")
        out = []
        for i in order[:top]:
            if gap[i] < STILL_SHORT:
                break
            k = topic_ids[worst[i]]
            out.append(
                {
                    "cadre_id": str(info["cadre_id"].iloc[i]),
                    "unit_id": str(info["unit_id"].iloc[i]),
                    "rank": str(info["rank"].iloc[i]),
                    "gap": round(100 * float(gap[i]), 1),
                    "topic_id": k,
                    "topic_name": self.cohorts.topic_names[k],
                    "topic_gap": round(100 * float(cells[i, worst[i]]), 1),
                }
            )
        return out

    # --- equity ---------------------------------------------------------------------------------

    def roster_equity(self, roster: pd.DataFrame, candidates: pd.DataFrame) -> dict:
        """Seat share against need share per unit and district for one roster."""
        report = seat_report(roster, candidates, self.unit_info)
        return self._equity_payload(report)

    def period_equity(self, start, end) -> dict:
        """Seats of the rollcall classes starting in [start, end) against each unit's need."""
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        if end <= start:
            raise BadRequestError("end must be after start")
        cl = self.tables["classes"]
        cl = cl[(cl["kind"] == "rollcall") & (cl["start_on"] >= start) & (cl["start_on"] < end)]
        e = self.tables["enrollments"]
        e = e[e["class_id"].isin(set(cl["class_id"]))].drop_duplicates(["class_id", "cadre_id"])
        rr, co = self.cohorts.rr, self.cohorts
        units = co.info["unit_id"].astype(str).to_numpy()
        unit_of = pd.Series(units, index=co.ids)
        seats = unit_of.reindex(e["cadre_id"]).dropna().value_counts()
        per_class = e.groupby("class_id").size().reindex(cl["class_id"]).fillna(0).to_numpy()
        ct = self.tables["class_topics"]
        w = (
            ct[ct["class_id"].isin(set(cl["class_id"]))]
            .pivot_table(index="class_id", columns="topic_id", values="weight", aggfunc="sum")
            .reindex(index=cl["class_id"], columns=co.topic_ids)
            .fillna(0.0)
        )
        w = w.div(w.sum(axis=1).replace(0.0, 1.0), axis=0).to_numpy()
        eligible = np.zeros((len(units), len(cl)), bool)
        for j, ranks in enumerate(cl["target_ranks"]):
            ranks = set(ranks or ())
            eligible[:, j] = co.info["rank"].isin(ranks).to_numpy() if ranks else True
        eligible &= co.in_service[:, None]
        gaps = np.maximum(0.0, rr.targets_ - rr.reserve_)
        need = (
            period_need(gaps, eligible, units, w, per_class) if len(cl) else pd.Series(dtype=float)
        )
        report = allocation_report(seats, need, self.unit_info)
        payload = self._equity_payload(report)
        since = end - pd.DateOffset(years=CONCENTRATION_YEARS)
        conc = rollcall_concentration(self.tables["enrollments"], co.ids[co.in_service], since, end)
        payload.update(
            {
                "start": start.date(),
                "end": end.date(),
                "classes": len(cl),
                "seats": int(per_class.sum()),
                "concentration": {
                    "since": since.date(),
                    "gini": round(conc["gini"], 4),
                    "top10_share": round(conc["top10_share"], 4),
                    "never_called": round(conc["never_called"], 4),
                },
                "data_until": self.asof.date(),
            }
        )
        return payload

    def _equity_payload(self, report: pd.DataFrame) -> dict:
        def rows(frame: pd.DataFrame, key: str) -> list[dict]:
            out = []
            for r in frame.to_dict("records"):
                item = {
                    key: None if pd.isna(r[key]) else str(r[key]),
                    "seats": round(float(r["seats"]), 2),
                    "seat_share": round(float(r["seat_share"]), 4),
                    "need": round(float(r["need"]), 2),
                    "need_share": round(float(r["need_share"]), 4),
                    "ratio": _round(r["ratio"], 3),
                }
                if key == "unit_id":
                    item["name"] = r.get("name") if isinstance(r.get("name"), str) else None
                    item["district"] = (
                        r.get("district") if isinstance(r.get("district"), str) else None
                    )
                out.append(item)
            return out

        ratio = report["ratio"].to_numpy(float)
        return {
            "units": rows(report, "unit_id"),
            "districts": rows(by_district(report), "district"),
            "max_ratio": _round(np.nanmax(ratio) if np.isfinite(ratio).any() else np.nan, 3),
        }
