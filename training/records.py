"""What a bundle keeps for the organisation department's views of a cadre (no I/O).

:class:`RecordsState` holds every cadre's raw rows as compact arrays (enrolments, class exam
results, posts: :mod:`ganxun.features.records`), the classes with the ratings they received, and
the knowledge reserve at each year end — the radar over time of the training dossier
(培训电子档案). The bundle otherwise holds today's reserve only.

**Year-end reserves (an approximation, documented).** Refitting the diagnosis model at every year
end would cost one knowledge fit per year. Instead each year end's reserve is the fitted model's
theta with its exposure covariate set to the cadre's decayed training hours at that year end:
``theta_Y = theta + beta * (x(hours_Y) - x(hours_now))``, the same move the service makes for a
completion (:func:`ganxun.training.fitting.shift_exposure`). So the history shows what training
did, through the effect the model learned from everyone's answers; the cadre's own ability and
topic deviations rest on all their answers up to the cut-off, including answers given after that
year end (a cadre who learned without training shows a flat line). ``benchmarks/bench_selection.py``
reports how well these year-end reserves agree with the simulated truth at each year end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.exposure import decayed_topic_hours, with_exposure_hours
from ganxun.features.history import prepost_gains
from ganxun.features.records import (
    CadreRows,
    class_table,
    enrollment_rows,
    exam_rows,
    post_rows,
    year_ends,
)
from ganxun.features.vocab import Vocabulary
from ganxun.training.config import KnowledgeConfig


@dataclass
class RecordsState:
    """Per-cadre rows and year-end reserves (see the module docstring).

    ``classes`` is :func:`ganxun.features.records.class_table`, indexed by ``class_vocab``;
    ``year_end_reserve`` has shape (n_years, n_cadres, n_topics), uint8 on the 0–100 scale, for
    the cut-offs ``year_end_days`` (int32 day numbers; the last one is the bundle's cut-off).
    """

    enrollments: CadreRows
    exams: CadreRows
    posts: CadreRows
    classes: pd.DataFrame
    class_vocab: Vocabulary
    years: np.ndarray
    year_end_days: np.ndarray
    year_end_reserve: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory held by the per-cadre arrays."""
        return int(
            self.enrollments.nbytes
            + self.exams.nbytes
            + self.posts.nbytes
            + self.year_end_reserve.nbytes
        )


def year_end_reserves(knowledge, enrollments, cat, ends, kc: KnowledgeConfig) -> np.ndarray:
    """Reserve (0–1) of every cadre × topic at each cut-off of ``ends``, as (n_ends, n, k).

    ``knowledge`` is the fitted :class:`ganxun.training.fitting.KnowledgeState`; ``enrollments``
    the enrolments before its cut-off, with exposure hours
    (:func:`ganxun.features.exposure.with_exposure_hours`).
    """
    from ganxun.training.fitting import exposure_logit

    now = exposure_logit(knowledge.exposure, knowledge.hours.astype(float))
    r = np.clip(knowledge.reserve.astype(float), 1e-4, 1 - 1e-4)
    theta = np.log(r / (1.0 - r))
    coef = np.asarray(getattr(knowledge.model, "covariate_coef_", ()), dtype=float)
    out = np.empty((len(ends), *theta.shape), np.float32)
    for y, end in enumerate(ends):
        hours = decayed_topic_hours(
            enrollments, cat.course_topics, cat.cadres, cat.courses, end, kc.half_life_days
        )
        delta = exposure_logit(knowledge.exposure, hours) - now
        shift = delta * coef[0] if len(coef) else delta * (1.0 - knowledge.confidence)
        out[y] = 1.0 / (1.0 + np.exp(-(theta + shift)))
    return out


def build_records(tables: dict[str, pd.DataFrame], cat, knowledge, asof, kc: KnowledgeConfig):
    """The :class:`RecordsState` of the tables as of ``asof`` (``cat``: the bundle's catalogue)."""
    asof = pd.Timestamp(asof)
    classes = class_table(tables, asof)
    class_vocab = Vocabulary(classes["class_id"])
    e = tables["enrollments"]
    e = e[e["enrolled_on"] < asof]
    first = e["enrolled_on"].min() if len(e) else asof - pd.Timedelta(days=1)
    ends = year_ends(first, asof)
    exposure = with_exposure_hours(e, tables["courses"], kc.online_weight, kc.mandatory_weight)
    reserve = year_end_reserves(knowledge, exposure, cat, ends, kc)
    return RecordsState(
        enrollments=enrollment_rows(tables, cat.cadres, cat.courses, class_vocab, asof),
        exams=exam_rows(prepost_gains(tables), cat.cadres, class_vocab, asof),
        posts=post_rows(tables, cat.cadres, cat.units, asof),
        classes=classes,
        class_vocab=class_vocab,
        years=np.array([(end - pd.Timedelta(days=1)).year for end in ends], np.int32),
        year_end_days=np.array([(end - pd.Timestamp("1970-01-01")).days for end in ends], np.int32),
        year_end_reserve=np.round(100 * reserve).astype(np.uint8),
    )
