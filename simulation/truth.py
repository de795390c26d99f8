"""What only evaluation may read: the hidden state of the simulation, as one dict."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.simulation.common import make_ids
from ganxun.simulation.exams import ITEM_FORMATS
from ganxun.simulation.params import N_TOPICS, TOPIC_IDS


class TruthMixin:
    """What only evaluation may read: the hidden state behind the tables."""

    def _realism_truth(self) -> None:
        """The truth of the realism switches that needs the record buffers (before the tables)."""
        self.extra_truth: dict[str, object] = {}
        self.cadre_columns: dict[str, np.ndarray] = {}
        for on, part in (
            (self.careers, self._careers_truth),
            (self.mandatory, self._obligations_truth),
        ):
            if on:
                found = part()
                self.cadre_columns.update(found.pop("cadre_columns"))
                self.extra_truth.update(found)

    def _truth(self) -> dict[str, object]:
        truth = self._clean_truth()
        if not self.realism:
            return truth
        cadres = truth["cadres"]
        if "concentrated_rollcall" in self.realism:
            cadres["reserve"] = self.reserve
        for name, values in self.cadre_columns.items():
            cadres[name] = values
        if self.i_c is not None:
            truth["items"]["format"] = np.array(ITEM_FORMATS, dtype=object)[self.i_format]
            truth["items"]["guessing"] = self.i_c
        if self.formats:
            truth.update(self._exams_truth())
        if "dirt" in self.realism:
            truth["duplicates"] = pd.concat(self.duplicates, ignore_index=True)
        truth.update(self.extra_truth)
        return truth

    def _clean_truth(self) -> dict[str, object]:
        cadre_ids = np.array(make_ids("C", 6, self.n), dtype=object)
        course_ids = np.array([*make_ids("K", 5, self.n_courses), None], dtype=object)
        teacher_ids = np.array(make_ids("T", 4, self.n_teachers), dtype=object)
        unit_ids = np.array(make_ids("U", 4, self.n_units), dtype=object)
        return {
            "mastery": self.hist,
            "months": pd.DatetimeIndex(self.months, name="month"),
            "cadre_ids": cadre_ids.astype(str),
            "topic_ids": list(TOPIC_IDS),
            "cadres": pd.DataFrame(
                {
                    "cadre_id": cadre_ids,
                    "learning_rate": self.lr,
                    "leniency": self.leniency,
                    "activity": self.activity,
                    "rollcall_propensity": self.propensity,
                    "ability": self.ability,
                }
            ),
            "cadre_prefs": self.prefs,
            "course_factors": self.k_factors,
            "items": pd.DataFrame(
                {
                    "item_id": make_ids("Q", 5, self.n_items),
                    "difficulty": self.i_b,
                    "discrimination": self.i_a,
                }
            ),
            "courses": pd.DataFrame(
                {
                    "course_id": course_ids[:-1].tolist(),
                    "quality": self.k_quality,
                    "reissue_of": course_ids[self.k_reissue],
                }
            ),
            "teacher_quality": pd.DataFrame(
                {
                    "teacher_id": np.repeat(teacher_ids, N_TOPICS),
                    "topic_id": np.tile(np.array(TOPIC_IDS, dtype=object), self.n_teachers),
                    "quality": self.t_q.ravel(),
                }
            ),
            "teachers": pd.DataFrame(
                {
                    "teacher_id": teacher_ids,
                    "base": self.t_base,
                    "pref_rank_level": self.t_pref,
                    "cohort_sensitivity": self.t_sens,
                }
            ),
            "staff": pd.DataFrame(
                {
                    "staff_id": make_ids("S", 4, self.n_staff),
                    "quality": self.s_q,
                    "pref_rank_level": self.s_pref,
                    "cohort_sensitivity": self.s_sens,
                }
            ),
            "units": pd.DataFrame(
                {
                    "unit_id": np.repeat(unit_ids, N_TOPICS),
                    "topic_id": np.tile(np.array(TOPIC_IDS, dtype=object), self.n_units),
                    "offset": self.unit_offset.ravel(),
                }
            ),
            "params": dict(self.p),
        }
