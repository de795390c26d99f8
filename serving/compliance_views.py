"""Hour compliance (学时达标) and 任职培训 from the bundle: per cadre, a unit's ledger, the city.

Everything comes from ``fitted.compliance`` (each cadre's standing on each hour rule with the
forecast ``p_met`` and its status, the open 任职培训, the compulsory courses due), computed by
``ganxun train`` at the bundle's cut-off, and from the class calendar of the planning tables
(which published classes would still count). Rows are looked up by cadre through indices built
once per bundle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.obligations import published_classes
from ganxun.serving.predictor import Predictor, UnknownIdError

#: 任职培训 status words, and the order of every status in a ledger (worst first).
APPOINTMENT_WORDS = {"met": "已完成", "open": "待完成", "overdue": "已逾期"}
LEDGER_ORDER = {"已逾期": 0, "有风险": 1, "待完成": 2, "进度正常": 3, "已达标": 4, "已完成": 5}
MAX_OPEN_CLASSES = 10


class NoComplianceError(LookupError):
    """The bundle was trained without the compliance part (answered with 503)."""


def _date(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def _positions(frame: pd.DataFrame, column: str = "cadre_id") -> dict[str, np.ndarray]:
    if frame is None or frame.empty:
        return {}
    return {str(k): v for k, v in frame.groupby(column, sort=False).indices.items()}


class ComplianceViews:
    """Answers about hour rules for one predictor (built once per bundle)."""

    def __init__(self, predictor: Predictor):
        state = predictor.fitted.compliance
        if state is None:
            raise NoComplianceError("this bundle has no compliance part (train it again)")
        self.predictor = predictor
        self.state = state
        self.asof = pd.Timestamp(predictor.fitted.asof)
        self.standing = state.standing.reset_index(drop=True)
        self.appointment = state.appointment.reset_index(drop=True)
        self.mandatory = state.mandatory.reset_index(drop=True)
        self._standing_at = _positions(self.standing)
        self._appointment_at = _positions(self.appointment)
        self._mandatory_at = _positions(self.mandatory)
        cat = predictor.fitted.catalog
        self._titles = dict(
            zip(cat.courses.ids_.astype(str), cat.course_info["title"], strict=True)
        )
        planning = predictor.fitted.planning
        self._calendar = (
            published_classes(planning.tables, self.asof) if planning is not None else None
        )

    # --- one cadre ------------------------------------------------------------------------------

    def rules(self, cadre_id: str, rank: str | None = None, classes: bool = True) -> list[dict]:
        """The cadre's standing on each rule, with the published classes that would count.

        ``classes=False`` leaves ``open_classes`` empty (cheaper, for lists of cadres).
        """
        rows = self.standing.iloc[self._standing_at.get(cadre_id, [])]
        return [
            {
                "rule_id": str(r.rule_id),
                "rule_name": str(r.rule_name),
                "kind": str(r.kind),
                "window_start": _date(r.window_start),
                "window_end": _date(r.window_end),
                "required": round(float(r.required), 1),
                "hours": round(float(r.hours), 1),
                "due": round(float(r.due), 1),
                "p_met": round(float(r.p_met), 3) if pd.notna(r.p_met) else None,
                "status": str(r.status),
                "open_classes": self.open_classes(rank, str(r.kind), r.window_end)
                if classes and float(r.due) > 0
                else [],
            }
            for r in rows.itertuples()
        ]

    def open_classes(self, rank: str | None, kind: str, end) -> list[dict]:
        """Published classes starting before ``end`` open to ``rank``, counting as ``kind``."""
        cal = self._calendar
        if cal is None or cal.empty:
            return []
        ok = (cal["start_on"] < pd.Timestamp(end)).to_numpy()
        ok &= np.array([kind in k for k in cal["kinds"]], bool)
        if rank is not None:
            ok &= np.array([not r or rank in r for r in cal["target_ranks"]], bool)
        return [
            {
                "class_id": str(c.class_id),
                "name": str(c.name),
                "kind": str(c.kind),
                "start_on": _date(c.start_on),
                "end_on": _date(c.end_on),
                "hours": round(float(c.hours), 1),
            }
            for c in cal[ok].head(MAX_OPEN_CLASSES).itertuples()
        ]

    def appointments(self, cadre_id: str) -> list[dict]:
        """The cadre's 任职培训 (promotions whose rule was not met), newest first."""
        rows = self.appointment.iloc[self._appointment_at.get(cadre_id, [])]
        rows = rows.sort_values("promoted_on", ascending=False, kind="stable")
        return [
            {
                "rule_id": str(r.rule_id),
                "rule_name": str(r.rule_name),
                "kind": str(r.kind),
                "promoted_on": _date(r.promoted_on),
                "to_rank": str(r.to_rank),
                "missing": round(float(r.missing), 1),
                "done": round(float(r.done), 1),
                "remaining": round(float(r.remaining), 1),
                "due_on": _date(r.due_on),
                "status": APPOINTMENT_WORDS.get(str(r.status), str(r.status)),
            }
            for r in rows.itertuples()
        ]

    def mandatory_due(self, cadre_id: str) -> list[dict]:
        """Compulsory courses still due (a completion event since the cut-off takes one off)."""
        rows = self.mandatory.iloc[self._mandatory_at.get(cadre_id, [])]
        if rows.empty:
            return []
        predictor = self.predictor
        idx = predictor.fitted.catalog.cadres.one(cadre_id)
        taken = sorted(predictor.online.taken_courses(idx)) if idx >= 0 else []
        done = (
            set(predictor.fitted.catalog.courses.lookup(np.array(taken)).astype(str))
            if taken
            else set()
        )
        return [
            {
                "course_id": str(r.course_id),
                "title": str(self._titles.get(str(r.course_id), r.course_id)),
                "hours": round(float(r.hours), 1),
                "published_on": _date(r.published_on),
            }
            for r in rows.itertuples()
            if str(r.course_id) not in done
        ]

    def cadre(self, cadre_id: str) -> dict:
        """Everything :class:`CadreComplianceResponse` holds, but the model version."""
        info = cadre_row(self.predictor, cadre_id)
        return {
            **info,
            "asof": self.asof.date(),
            "rules": self.rules(cadre_id, info["rank"]),
            "appointment": self.appointments(cadre_id),
            "mandatory": self.mandatory_due(cadre_id),
        }

    def at_risk(self) -> pd.DataFrame:
        """(cadre_id, kind) of every rule standing at risk (有风险) — for rollcall reasons."""
        s = self.standing
        return s.loc[s["status"] == "有风险", ["cadre_id", "kind", "p_met"]]

    # --- a unit ---------------------------------------------------------------------------------

    def ledger(self, unit_id: str) -> dict:
        """A unit's ledger: every in-service cadre's rule lines and 任职培训, worst first."""
        predictor = self.predictor
        cat = predictor.fitted.catalog
        u = cat.units.one(unit_id)
        if u < 0:
            raise UnknownIdError("unit", unit_id)
        info = cat.cadre_info
        members = (cat.cadre_unit == u) & info["in_service"].to_numpy(bool)
        people = info[members]
        ranks = dict(zip(people["cadre_id"].astype(str), people["rank"], strict=True))
        cats = dict(zip(people["cadre_id"].astype(str), people["category"], strict=True))
        at = [self._standing_at[c] for c in ranks if c in self._standing_at]
        lines = self.standing.iloc[np.concatenate(at) if at else []]
        rows = [
            {
                "cadre_id": str(c),
                "rank": ranks[str(c)],
                "category": cats[str(c)],
                "obligation": str(name),
                "rule_id": str(rule),
                "kind": str(kind),
                "required": round(float(req), 1),
                "hours": round(float(got), 1),
                "due": round(float(due), 1),
                "deadline": (pd.Timestamp(end) - pd.Timedelta(days=1)).date(),
                "p_met": round(float(p), 3) if float(due) > 0 else None,
                "status": str(st),
            }
            for c, name, rule, kind, req, got, due, end, p, st in zip(
                lines["cadre_id"],
                lines["rule_name"],
                lines["rule_id"],
                lines["kind"],
                lines["required"],
                lines["hours"],
                lines["due"],
                lines["window_end"],
                lines["p_met"],
                lines["status"],
                strict=True,
            )
        ]
        for cadre_id in ranks:
            if cadre_id not in self._appointment_at:
                continue
            for a in self.appointments(cadre_id):
                if a["status"] == "已完成":
                    continue
                rows.append(
                    {
                        "cadre_id": cadre_id,
                        "rank": ranks[cadre_id],
                        "category": cats[cadre_id],
                        "obligation": f"任职培训（{a['to_rank']}，{a['kind']}）",
                        "rule_id": a["rule_id"],
                        "kind": a["kind"],
                        "required": a["missing"],
                        "hours": a["done"],
                        "due": a["remaining"],
                        "deadline": a["due_on"],
                        "p_met": None,
                        "status": a["status"],
                    }
                )
        rows.sort(key=lambda r: (LEDGER_ORDER.get(r["status"], 9), r["deadline"], r["cadre_id"]))
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return {
            "unit_id": unit_id,
            "unit_name": predictor.unit_name(unit_id),
            "asof": self.asof.date(),
            "cadres": int(members.sum()),
            "counts": counts,
            "rows": rows,
        }

    # --- the city -------------------------------------------------------------------------------

    def summary(self) -> dict:
        """Compliance by district and by unit level, and in total (computed once per bundle)."""
        if getattr(self, "_summary", None) is None:
            self._summary = self._summarize()
        return self._summary

    def _summarize(self) -> dict:
        cat = self.predictor.fitted.catalog
        units = cat.unit_info.set_index("unit_id")
        info = cat.cadre_info[cat.cadre_info["in_service"].to_numpy(bool)]
        unit_of = dict(zip(info["cadre_id"].astype(str), info["unit_id"].astype(str), strict=True))
        s = self.standing[self.standing["cadre_id"].astype(str).isin(unit_of)].copy()
        a = self.appointment[self.appointment["cadre_id"].astype(str).isin(unit_of)].copy()
        for frame in (s, a):
            frame["unit_id"] = frame["cadre_id"].astype(str).map(unit_of)
            frame["district"] = frame["unit_id"].map(units["district"]).fillna("（未知）")
            frame["level"] = frame["unit_id"].map(units["level"]).fillna("（未知）")
        people = info.assign(
            district=info["unit_id"].map(units["district"]).fillna("（未知）"),
            level=info["unit_id"].map(units["level"]).fillna("（未知）"),
        )

        def group(name: str, members, lines, appts) -> dict:
            st = lines["status"].value_counts()
            n = int(len(lines))
            bad = int(st.get("有风险", 0) + st.get("已逾期", 0))
            return {
                "group": str(name),
                "cadres": int(len(members)),
                "rule_lines": n,
                "met": int(st.get("已达标", 0)),
                "on_track": int(st.get("进度正常", 0)),
                "at_risk": int(st.get("有风险", 0)),
                "overdue": int(st.get("已逾期", 0)),
                "at_risk_share": round(bad / n, 4) if n else 0.0,
                "appointment_open": int((appts["status"] == "open").sum()),
                "appointment_overdue": int((appts["status"] == "overdue").sum()),
            }

        def by(column: str) -> list[dict]:
            return [
                group(
                    name, people[people[column] == name], s[s[column] == name], a[a[column] == name]
                )
                for name in sorted(people[column].unique())
            ]

        return {
            "asof": self.asof.date(),
            "total": group("全市", people, s, a),
            "by_district": by("district"),
            "by_level": by("level"),
        }


def cadre_row(predictor: Predictor, cadre_id: str) -> dict:
    """The cadre's unit, rank, category and whether in service (UnknownIdError if unknown)."""
    cat = predictor.fitted.catalog
    i = cat.cadres.one(cadre_id)
    if i < 0:
        raise UnknownIdError("cadre", cadre_id)
    row = cat.cadre_info.iloc[i]
    unit = str(row["unit_id"])
    return {
        "cadre_id": cadre_id,
        "unit_id": unit,
        "unit_name": predictor.unit_name(unit),
        "rank": str(row["rank"]),
        "category": str(row["category"]),
        "in_service": bool(row.get("in_service", True)),
    }


def mandatory_for(predictor: Predictor, cadre_id: str) -> list[dict]:
    """The compulsory courses still due for a cadre ([] for a bundle without compliance)."""
    if predictor.fitted.compliance is None:
        return []
    return compliance_views(predictor).mandatory_due(cadre_id)


def compliance_views(predictor: Predictor) -> ComplianceViews:
    """The predictor's :class:`ComplianceViews` (built on first use, then kept with it)."""
    views = getattr(predictor, "_compliance_views", None)
    if views is None:
        views = ComplianceViews(predictor)
        predictor._compliance_views = views
    return views
