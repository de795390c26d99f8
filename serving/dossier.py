"""A cadre's training dossier (培训电子档案) from the bundle's per-cadre records.

Posts held, every class and course by year with hours, mode, source and completion, class exams
with their pre→post gains, the ratings the cadre's classes received, the knowledge reserve at each
year end (the radar over time) and the obligations met and due. The rows come from
``fitted.records`` (:class:`ganxun.training.records.RecordsState`); the last year's reserve is
the live one (events since the cut-off included).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, HOUR_KINDS, RANKS
from ganxun.features.records import NO_DAY, SOURCE_WORDS, SOURCES, from_days
from ganxun.serving.compliance_views import ComplianceViews, cadre_row
from ganxun.serving.predictor import Predictor

RESERVE_NOTE = (
    "各年末知识储备度：以当前模型对该干部的能力估计为基础，按截至各年末的参训学时（随时间衰减）"
    "调整培训暴露效应得到；最近一年为当前值。能力估计使用截至模型训练日的全部作答，"
    "因此历年曲线主要反映培训带来的变化，仅供参考。"
)


class NoRecordsError(LookupError):
    """The bundle was trained without the per-cadre records (answered with 503)."""


def _date(day: int):
    return None if day == NO_DAY else from_days(np.array([day]))[0].date()


class Dossiers:
    """Builds dossiers for one predictor (built once per bundle)."""

    def __init__(self, predictor: Predictor, compliance: ComplianceViews | None):
        records = predictor.fitted.records
        if records is None:
            raise NoRecordsError("this bundle has no per-cadre records (train it again)")
        self.predictor = predictor
        self.records = records
        self.compliance = compliance
        cat = predictor.fitted.catalog
        self.course_ids = cat.courses.ids_.astype(str)
        self.titles = cat.course_info["title"].astype(str).to_numpy()
        self.modes = cat.course_info["mode"].astype(str).to_numpy()
        self.topic_ids = cat.topics.ids_.astype(str)
        self.topic_names = cat.topic_info["name_zh"].astype(str).to_numpy()
        self.unit_ids = cat.units.ids_.astype(str)
        classes = records.classes
        self.classes = classes.reset_index(drop=True)

    def _class(self, k: int) -> pd.Series:
        return self.classes.iloc[int(k)]

    def posts(self, idx: int) -> list[dict]:
        """Posts held, oldest first."""
        p = self.records.posts.of(idx)
        out = []
        for j in range(len(p["unit"])):
            unit = self.unit_ids[p["unit"][j]] if p["unit"][j] >= 0 else ""
            out.append(
                {
                    "unit_id": unit,
                    "unit_name": self.predictor.unit_name(unit),
                    "rank": RANKS[p["rank"][j]] if p["rank"][j] >= 0 else "",
                    "category": CATEGORIES[p["category"][j]] if p["category"][j] >= 0 else "",
                    "from_on": _date(p["from_on"][j]),
                    "to_on": _date(p["to_on"][j]),
                }
            )
        return out

    def _courses(self, rows: dict, sel: np.ndarray) -> list[dict]:
        out = []
        for j in np.flatnonzero(sel):
            c = int(rows["course"][j])
            k = int(rows["klass"][j])
            src = int(rows["source"][j])
            completed = rows["completed_on"][j] != NO_DAY
            out.append(
                {
                    "course_id": self.course_ids[c],
                    "title": self.titles[c],
                    "mode": self.modes[c],
                    "source": SOURCE_WORDS[SOURCES[src]] if src >= 0 else "其他",
                    "class_id": str(self._class(k)["class_id"]) if k >= 0 else None,
                    "enrolled_on": _date(rows["enrolled_on"][j]),
                    "completed_on": _date(rows["completed_on"][j]),
                    "completed": bool(completed),
                    "progress": round(float(rows["progress"][j]), 3),
                    "hours": round(float(rows["hours"][j]), 2),
                    "hour_kinds": [
                        kind for b, kind in enumerate(HOUR_KINDS) if int(rows["kinds"][j]) >> b & 1
                    ],
                }
            )
        return out

    def _classes(self, rows: dict, sel: np.ndarray) -> list[dict]:
        klass = rows["klass"][sel]
        out = []
        for k in dict.fromkeys(klass[klass >= 0].tolist()):
            mine = sel & (rows["klass"] == k)
            c = self._class(k)
            out.append(
                {
                    "class_id": str(c["class_id"]),
                    "name": str(c["name"]),
                    "kind": str(c["kind"]),
                    "start_on": pd.Timestamp(c["start_on"]).date(),
                    "end_on": pd.Timestamp(c["end_on"]).date(),
                    "hours": round(float(rows["hours"][mine].sum()), 2),
                    "courses": int(mine.sum()),
                    "completed": int((rows["completed_on"][mine] != NO_DAY).sum()),
                    "rating": None if pd.isna(c["rating"]) else round(float(c["rating"]), 2),
                    "n_ratings": int(c["n_ratings"]),
                    "staff_rating": None
                    if pd.isna(c["staff_rating"])
                    else round(float(c["staff_rating"]), 2),
                }
            )
        return out

    def _exams(self, idx: int) -> list[dict]:
        x = self.records.exams.of(idx)
        out = []
        for j in range(len(x["klass"])):
            k = int(x["klass"][j])
            if k < 0:
                continue
            c = self._class(k)
            out.append(
                {
                    "class_id": str(c["class_id"]),
                    "class_name": str(c["name"]),
                    "end_on": pd.Timestamp(c["end_on"]).date(),
                    "pre": round(100 * float(x["pre"][j]), 1),
                    "post": round(100 * float(x["post"][j]), 1),
                    "gain": round(100 * float(x["post"][j] - x["pre"][j]), 1),
                    "answers": int(round(float(x["n_pre"][j] + x["n_post"][j]))),
                }
            )
        return out

    def years(self, idx: int) -> list[dict]:
        """One entry per year from the first record (or post) to the cut-off."""
        rec = self.records
        rows = rec.enrollments.of(idx)
        years_of = np.array(
            [d.year for d in from_days(rows["enrolled_on"])], dtype=np.int32
        ).reshape(-1)
        exams = self._exams(idx)
        posts = rec.posts.of(idx)
        started = posts["from_on"][posts["from_on"] != NO_DAY]
        hired = int(started.min()) if len(started) else None
        live = self.predictor.online.reserve(idx)[0]
        out = []
        for y, year in enumerate(rec.years.tolist()):
            has_rows = bool((years_of == year).any()) or any(
                e["end_on"].year == year for e in exams
            )
            served = hired is None or hired < int(rec.year_end_days[y])
            if not (has_rows or served):
                continue  # a year before the cadre's first post, with nothing in it
            sel = years_of == year
            hours = rows["hours"][sel].astype(float)
            by_kind = {
                kind: round(float(hours[(rows["kinds"][sel] >> b & 1).astype(bool)].sum()), 2)
                for b, kind in enumerate(HOUR_KINDS)
            }
            by_source = {}
            for s, name in enumerate(SOURCES):
                got = float(hours[rows["source"][sel] == s].sum())
                if got > 0:
                    by_source[SOURCE_WORDS[name]] = round(got, 2)
            last = y == len(rec.years) - 1
            reserve = live if last else rec.year_end_reserve[y, idx].astype(float) / 100.0
            out.append(
                {
                    "year": year,
                    "hours": round(float(hours.sum()), 2),
                    "hours_by_kind": by_kind,
                    "hours_by_source": by_source,
                    "classes": self._classes(rows, sel),
                    "courses": self._courses(rows, sel),
                    "exams": [e for e in exams if e["end_on"].year == year],
                    "reserve_at": _date(int(rec.year_end_days[y]) - 1),
                    "reserve": [
                        {
                            "topic_id": self.topic_ids[t],
                            "name": self.topic_names[t],
                            "reserve": round(100 * float(reserve[t]), 1),
                        }
                        for t in range(len(self.topic_ids))
                    ]
                    if served
                    else [],
                }
            )
        return out

    def dossier(self, cadre_id: str) -> dict:
        """Everything :class:`DossierResponse` holds, but the model version."""
        info = cadre_row(self.predictor, cadre_id)
        idx = self.predictor.fitted.catalog.cadres.one(cadre_id)
        years = self.years(idx)
        target = self.predictor._targets(idx)
        comp = self.compliance
        return {
            **info,
            "asof": pd.Timestamp(self.predictor.fitted.asof).date(),
            "posts": self.posts(idx),
            "total_hours": round(sum(y["hours"] for y in years), 2),
            "years": years,
            "required": [
                {
                    "topic_id": self.topic_ids[t],
                    "name": self.topic_names[t],
                    "required": round(100 * float(target[t]), 1),
                }
                for t in range(len(self.topic_ids))
            ],
            "reserve_note": RESERVE_NOTE,
            "rules": comp.rules(cadre_id, info["rank"]) if comp else [],
            "appointment": comp.appointments(cadre_id) if comp else [],
            "mandatory": comp.mandatory_due(cadre_id) if comp else [],
        }


def dossiers(predictor: Predictor) -> Dossiers:
    """The predictor's :class:`Dossiers` (built on first use, then kept with it)."""
    views = getattr(predictor, "_dossiers", None)
    if views is None:
        from ganxun.serving.compliance_views import NoComplianceError, compliance_views

        try:
            comp = compliance_views(predictor)
        except NoComplianceError:
            comp = None
        views = Dossiers(predictor, comp)
        predictor._dossiers = views
    return views
