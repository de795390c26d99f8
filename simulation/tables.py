"""The one door from the simulation's hidden state to what a service may read: the raw tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import (
    CATEGORIES,
    CLASS_KINDS,
    EDUCATIONS,
    ENROLL_SOURCES,
    GENDERS,
    INSTITUTION_KINDS,
    MODES,
    RANKS,
    RESPONSE_PHASES,
    TABLES,
    TEACHER_TITLES,
    TOPICS,
    UNIT_LEVELS,
)
from ganxun.simulation.common import dates_from_days, make_ids, text_column
from ganxun.simulation.names import SECTORS
from ganxun.simulation.obligations import training_rules
from ganxun.simulation.params import N_CAT, N_RANK, N_TOPICS, TOPIC_IDS


class TablesMixin:
    """The one door from the simulation's state to what a service may read: the raw tables."""

    def _tables(self) -> dict[str, pd.DataFrame]:
        # the simulation state is no longer needed: free it before the big tables are built
        self.done_bits = self.acc = self.peer = None
        units = make_ids("U", 4, self.n_units)
        cadres = make_ids("C", 6, self.n)
        insts = make_ids("I", 3, self.n_inst)
        teachers = make_ids("T", 4, self.n_teachers)
        staff = make_ids("S", 4, self.n_staff)
        courses = make_ids("K", 5, self.n_courses)
        classes = make_ids("B", 5, self.n_classes)
        items = make_ids("Q", 5, self.n_items)
        every = np.arange
        t = {}
        t["topics"] = pd.DataFrame(
            {
                "topic_id": text_column(TOPIC_IDS, every(N_TOPICS)),
                "name_zh": text_column([TOPICS[k][0] for k in TOPIC_IDS], every(N_TOPICS)),
                "name_en": text_column([TOPICS[k][1] for k in TOPIC_IDS], every(N_TOPICS)),
            }
        )
        t["units"] = pd.DataFrame(
            {
                "unit_id": text_column(units, every(self.n_units)),
                "name": text_column(self.unit_name, every(self.n_units)),
                "district": text_column(self.unit_district, every(self.n_units)),
                "level": text_column(UNIT_LEVELS, self.unit_level),
                "sector": text_column(SECTORS, self.unit_sector),
            }
        )
        t["cadres"] = pd.DataFrame(
            {
                "cadre_id": text_column(cadres, every(self.n)),
                "unit_id": text_column(units, self.c_unit),
                "rank": text_column(RANKS, self.c_rank),
                "category": text_column(CATEGORIES, self.c_cat),
                "birth_year": (self.end_year - self.c_age).astype(np.int64),
                "gender": text_column(GENDERS, self.c_gender),
                "education": text_column(EDUCATIONS, self.c_edu),
                "appointed_on": dates_from_days(self.c_appointed),
            }
        )
        r, c, k = np.meshgrid(every(N_RANK), every(N_CAT), every(N_TOPICS), indexing="ij")
        t["post_requirements"] = pd.DataFrame(
            {
                "rank": text_column(RANKS, r.ravel()),
                "category": text_column(CATEGORIES, c.ravel()),
                "topic_id": text_column(TOPIC_IDS, k.ravel()),
                "target": self.target.ravel(),
            }
        )
        t["institutions"] = pd.DataFrame(
            {
                "institution_id": text_column(insts, every(self.n_inst)),
                "name": text_column(self.inst_name, every(self.n_inst)),
                "kind": text_column(INSTITUTION_KINDS, self.inst_kind),
            }
        )
        t["teachers"] = pd.DataFrame(
            {
                "teacher_id": text_column(teachers, every(self.n_teachers)),
                "institution_id": text_column(insts, self.t_inst),
                "title": text_column(TEACHER_TITLES, self.t_title),
            }
        )
        tt, tk = np.nonzero(self.t_declared)
        t["teacher_topics"] = pd.DataFrame(
            {
                "teacher_id": text_column(teachers, tt),
                "topic_id": text_column(TOPIC_IDS, tk),
                "weight": self.t_weight[tt, tk],
            }
        )
        t["staff"] = pd.DataFrame(
            {
                "staff_id": text_column(staff, every(self.n_staff)),
                "institution_id": text_column(insts, self.s_inst),
                "background": text_column(self.s_background, every(self.n_staff)),
                "years": self.s_years.astype(np.int64),
            }
        )
        t["courses"] = pd.DataFrame(
            {
                "course_id": text_column(courses, every(self.n_courses)),
                "title": text_column(self.k_title, every(self.n_courses)),
                "mode": text_column(MODES, self.k_mode),
                "hours": self.k_hours.astype(float),
                "level": self.k_level.astype(np.int64),
                "institution_id": text_column(insts, self.k_inst),
                "teacher_id": text_column(teachers, self.k_teacher),
                "published_on": dates_from_days(self.k_pub),
            }
        )
        if self.mandatory:
            t["courses"]["mandatory"] = self.k_mandatory.copy()
        kj, kk = np.nonzero(self.k_w)
        t["course_topics"] = pd.DataFrame(
            {
                "course_id": text_column(courses, kj),
                "topic_id": text_column(TOPIC_IDS, kk),
                "weight": self.k_w[kj, kk],
            }
        )
        t["classes"] = pd.DataFrame(
            {
                "class_id": text_column(classes, every(self.n_classes)),
                "name": text_column(self.b_name, every(self.n_classes)),
                "institution_id": text_column(insts, self.b_inst),
                "kind": text_column(CLASS_KINDS, self.b_kind),
                "start_on": dates_from_days(self.b_start),
                "end_on": dates_from_days(self.b_end),
                "capacity": self.b_capacity.astype(np.int64),
                "target_ranks": pd.Series(
                    [tuple(RANKS[x] for x in np.flatnonzero(row)) for row in self.b_ranks],
                    dtype=object,
                ),
                "staff_id": text_column(staff, self.b_staff),
                "published_on": dates_from_days(self.b_published),
            }
        )
        if self.mandatory:
            t["classes"]["mandatory"] = self.b_mandatory.copy()
            t["training_rules"] = training_rules(self.p["mandatory"])
        if self.careers:
            t["cadre_posts"] = self._posts_table(cadres, units)
        if self.alias_ids:
            t["cadre_aliases"] = self._aliases_table()
        bj, bk = np.nonzero(self.b_w)
        t["class_topics"] = pd.DataFrame(
            {
                "class_id": text_column(classes, bj),
                "topic_id": text_column(TOPIC_IDS, bk),
                "weight": self.b_w[bj, bk],
            }
        )
        t["class_sessions"] = pd.DataFrame(
            {
                "class_id": text_column(classes, self.sess_class),
                "course_id": text_column(courses, self.sess_course),
                "teacher_id": text_column(teachers, self.sess_teacher),
                "session_on": dates_from_days(self.sess_day),
            }
        )
        it, ik = np.nonzero(self.i_tested)
        t["items"] = pd.DataFrame(
            {"item_id": text_column(items, it), "topic_id": text_column(TOPIC_IDS, ik)}
        )

        # the big ones: sorted by date, built column by column while the buffers are released
        e, self.enr = self.enr.get(), None
        order = np.argsort(e["enrolled"], kind="stable")
        t["enrollments"] = pd.DataFrame(
            {
                "cadre_id": text_column(cadres, e.pop("cadre")[order]),
                "course_id": text_column(courses, e.pop("course")[order]),
                "class_id": text_column(classes, e.pop("cls")[order]),
                "source": text_column(ENROLL_SOURCES, e.pop("src")[order]),
                "enrolled_on": dates_from_days(e.pop("enrolled")[order]),
                "completed_on": dates_from_days(e.pop("completed")[order]),
                "progress": np.round(e.pop("prog")[order].astype(float), 2),
                "hours": np.round(e.pop("hours")[order].astype(float), 2),
            },
            copy=False,
        )
        self.duplicates: list[pd.DataFrame] = []
        rs, self.resp = self.resp.get(), None
        order = self._double_exports("responses", np.argsort(rs["day"], kind="stable"))
        cls = rs.pop("cls")
        cadre_codes = self._cadre_codes("responses", rs.pop("cadre"), cls, order)
        cls = cls[order]
        t["responses"] = pd.DataFrame(
            {
                "cadre_id": text_column(*cadre_codes),
                "item_id": text_column(items, rs.pop("item")[order]),
                "answered_on": dates_from_days(rs.pop("day")[order]),
                "correct": rs.pop("correct")[order].astype(np.int64),
                "class_id": text_column(classes, cls),
            },
            copy=False,
        )
        if self.formats:
            t["responses"]["phase"] = text_column(RESPONSE_PHASES, rs.pop("phase")[order])
            t["exam_scores"] = self._exam_scores_table(classes)
        del cls, cadre_codes
        cr, self.crat = self.crat.get(), None
        order = self._double_exports("course_ratings", np.argsort(cr["day"], kind="stable"))
        tscore = pd.array(cr["tscore"][order].astype(np.int64), dtype="Int64")
        tscore[tscore <= 0] = pd.NA  # no teacher to score
        cr_cls = cr["cls"][order]
        t["course_ratings"] = pd.DataFrame(
            {
                "cadre_id": text_column(
                    *self._cadre_codes("course_ratings", cr["cadre"], None, order)
                ),
                "course_id": text_column(courses, cr["course"][order]),
                "class_id": text_column(classes, cr_cls),
                "teacher_id": text_column(teachers, cr["teacher"][order]),
                "rated_on": dates_from_days(cr["day"][order]),
                "course_score": cr["score"][order].astype(np.int64),
                "teacher_score": tscore,
            },
            copy=False,
        )
        sr = self.srat
        order = self._double_exports("staff_ratings", np.argsort(sr["day"], kind="stable"))
        t["staff_ratings"] = pd.DataFrame(
            {
                "cadre_id": text_column(
                    *self._cadre_codes("staff_ratings", sr["cadre"], None, order)
                ),
                "class_id": text_column(classes, sr["cls"][order]),
                "staff_id": text_column(staff, sr["staff"][order]),
                "rated_on": dates_from_days(sr["day"][order]),
                "score": sr["score"][order].astype(np.int64),
            }
        )
        # every table of the contract this city has, its columns in contract order (an optional
        # column or table the city does not produce is left out, as a real export may)
        return {
            name: t[name][[c for c in spec.columns if c in t[name].columns]]
            for name, spec in TABLES.items()
            if name in t
        }

    def _exam_scores_table(self, classes: list[str]) -> pd.DataFrame:
        """``exam_scores``: the classes that keep totals only (``exam_formats``)."""
        x, self.exam_rows = self.exam_rows.get(), None
        order = np.argsort(x["day"], kind="stable")
        exams = make_ids("E", 6, 2 * self.n_classes)
        return pd.DataFrame(
            {
                "cadre_id": text_column(
                    *self._cadre_codes("exam_scores", x["cadre"], x["cls"], order)
                ),
                "exam_id": text_column(exams, x["exam"][order]),
                "class_id": text_column(classes, x["cls"][order]),
                "topic_id": text_column(TOPIC_IDS, x["topic"][order]),
                "score": x["score"][order].astype(float),
                "max_score": x["max"][order].astype(float),
                "taken_on": dates_from_days(x["day"][order]),
                "phase": text_column(RESPONSE_PHASES, x["phase"][order]),
            }
        )
