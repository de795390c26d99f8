"""How records are kept (``dirt`` and ``aliases`` switches): double exports, renamed re-issues, ids.

* ``dirt``: about 0.3% of the rows of ``responses``, ``course_ratings`` and ``staff_ratings`` are
  exported twice (the copy right after the original; ``truth["duplicates"]`` names both rows, as
  validation reports them), and one course is re-issued under a title of its own, so that title
  matching cannot find it (``truth["courses"]["reissue_of"]``).
* ``aliases``: besides the cadre id (the 干部信息系统's own), every cadre has an id in the
  learning platform (lms), the exam system (exam) and the evaluation system (eval) — the
  ``cadre_aliases`` table — and a share of the rows of ``responses`` and ``exam_scores`` carries
  the exam-system id, of ``course_ratings`` and ``staff_ratings`` the evaluation-system id
  (class exams by class, other rows one by one). Validation maps them back on load.

Each part draws from a stream of its own (``default_rng([seed, RECORDS_STREAM, part])``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.simulation.common import make_ids
from ganxun.simulation.names import SUBTITLES
from ganxun.simulation.params import N_FACTORS, NEVER, RECORDS_STREAM

DUPLICATED = ("responses", "course_ratings", "staff_ratings")


class RecordsMixin:
    """Double exports, a renamed re-issue and source-system ids."""

    def _stream(self, part: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, RECORDS_STREAM, part])

    def _renamed_reissues(self) -> None:
        """Re-issue older courses under new titles (``dirt``): same content, a title of its own."""
        if "dirt" not in self.realism:
            return
        rng = self._stream(0)
        mid = (self.start_day + self.end_day) // 2
        pool = np.flatnonzero((self.k_pub < mid) & (self.k_reissue == NEVER) & ~self.k_mandatory)
        pool = pool[~np.isin(pool, self.k_reissue)]
        for o in rng.choice(pool, self.p["dirt"]["renamed_reissues"], replace=False):
            k = int(self.k_k1[o])
            stems = [s for s in SUBTITLES[k] if s not in self.k_title[o]]
            title = f"新时代{stems[int(rng.integers(len(stems)))]}能力提升课"
            first = max(int(self.k_pub[o]), self.start_day) + 90
            pub = int(rng.integers(first, max(first + 1, self.end_day - 90)))
            new = self._append_courses(
                pub=[pub],
                topic_w=self.k_w[[o]],
                level=self.k_level[[o]],
                mode=self.k_mode[[o]],
                hours=self.k_hours[[o]],
                teacher=self.k_teacher[[o]],
                inst=self.k_inst[[o]],
                quality=self.k_quality[[o]] + 0.1 + rng.normal(0.0, 0.15),
                factors=self.k_factors[[o]] + rng.normal(0.0, 0.1, (1, N_FACTORS)),
                titles=[title],
                reissue_of=[o],
            )
            self.k_mandatory = np.append(self.k_mandatory, np.zeros(len(new), bool))

    def _alias_setup(self) -> None:
        """Draw every cadre's id in each source system (``aliases``)."""
        self.alias_ids: dict[str, list[str]] = {}
        if "aliases" not in self.realism:
            return
        rng = self._stream(1)
        for system, prefix in self.p["aliases"]["systems"].items():
            number = 10_000_000 + rng.permutation(self.n) * 7 + rng.integers(0, 7, self.n)
            self.alias_ids[system] = [f"{prefix}{x:08d}" for x in number]

    def _cadre_codes(self, table: str, cadre: np.ndarray, cls, order: np.ndarray):
        """Vocabulary and codes of a table's ``cadre_id`` column, some rows as a system's id.

        ``cadre`` and ``cls`` (None: no class) are the recorded rows, ``order`` the rows of the
        table (a row exported twice appears twice, with the same id both times).
        """
        cadre_ids = make_ids("C", 6, self.n)
        if "aliases" not in self.realism or table not in self.p["aliases"]["rows"]:
            return cadre_ids, cadre[order]
        system, share = self.p["aliases"]["rows"][table]
        rng = self._stream(2 + list(self.p["aliases"]["rows"]).index(table))
        by_row = rng.random(len(cadre)) < share
        if cls is not None:  # a class's answers come from one system
            by_class = rng.random(self.n_classes) < share
            by_row = np.where(cls >= 0, by_class[np.maximum(cls, 0)], by_row)
        return cadre_ids + self.alias_ids[system], (cadre + self.n * by_row)[order]

    def _aliases_table(self) -> pd.DataFrame:
        """``cadre_aliases``: one row per cadre and source system."""
        cadre_ids = make_ids("C", 6, self.n)
        systems = list(self.alias_ids)
        return pd.DataFrame(
            {
                "source_system": np.repeat(systems, self.n),
                "source_id": np.concatenate([self.alias_ids[s] for s in systems]),
                "cadre_id": np.tile(np.array(cadre_ids, dtype=object), len(systems)),
            }
        )

    def _double_exports(self, name: str, order: np.ndarray) -> np.ndarray:
        """The row order of an event table with a few rows exported twice (``dirt``).

        Each copy follows its original; ``self.duplicates`` gets the 1-based rows of both, as
        validation names them. Working on the row order keeps the big tables from being copied.
        """
        if "dirt" not in self.realism or name not in DUPLICATED:
            return order
        n = len(order)
        k = int(round(self.p["dirt"]["duplicate_share"] * n))
        if not k:
            return order
        rng = self._stream(10 + DUPLICATED.index(name))
        chosen = np.sort(rng.choice(n, k, replace=False))
        copy_row = chosen + np.arange(1, k + 1) + 1  # 1-based, after the copies before it
        self.duplicates.append(
            pd.DataFrame({"table": name, "row": copy_row, "duplicate_of": copy_row - 1})
        )
        return np.insert(order, chosen + 1, order[chosen])
