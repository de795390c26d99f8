"""The simulation run: the world is built, the months are simulated, tables and truth written."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ganxun.simulation.careers import CareersMixin
from ganxun.simulation.catalogue import CatalogueMixin
from ganxun.simulation.choices import ChoicesMixin, course_side
from ganxun.simulation.common import Rows, day_number
from ganxun.simulation.exams import ExamsMixin
from ganxun.simulation.learning import apply_rate
from ganxun.simulation.obligations import ObligationsMixin
from ganxun.simulation.params import (
    END_MONTH,
    N_CAT,
    N_RANK,
    N_TOPICS,
    PARAMS,
    REALISM_PARAMS,
    ROLLCALL,
    SCALES,
)
from ganxun.simulation.plan import PlanMixin
from ganxun.simulation.population import PopulationMixin
from ganxun.simulation.ratings import RatingsMixin
from ganxun.simulation.realism import resolve_realism
from ganxun.simulation.records import RecordsMixin
from ganxun.simulation.rollcall import RollcallMixin
from ganxun.simulation.tables import TablesMixin
from ganxun.simulation.traits import TraitsMixin
from ganxun.simulation.truth import TruthMixin


@dataclass
class City:
    """A generated city: the raw tables of the contract and the hidden truth behind them.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Every table of :data:`ganxun.features.contracts.TABLES`, with exactly its columns in order.
    truth : dict of str to object
        What only evaluation may read: true mastery per month, cadre/course/teacher/staff/unit
        latents, preference factors and the process constants (``truth["params"]``). With the
        realism switches on, also: ``promotions``, ``merger`` and the ``cadres`` columns
        ``hired_on``/``left_on``/``leave_reason`` (careers); ``enrollment_effects`` and
        ``cadres.diligence`` (mandatory); ``items.format``/``items.guessing`` (guessing);
        ``class_effects``, ``exams``, ``exam_items`` (exam_formats); ``cadres.reserve``
        (concentrated_rollcall); ``duplicates`` and ``courses.reissue_of`` (dirt).
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, object] = field(default_factory=dict)


def generate(
    scale: str = "tiny",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    realism: bool | str | Iterable[str] = True,
) -> City:
    """Generate a synthetic city by simulating it month by month.

    Parameters
    ----------
    scale : {"tiny", "city", "province"}, default "tiny"
        Sizes from :data:`SCALES`; the simulation ends with the month :data:`END_MONTH` and starts
        ``years * 12`` months earlier.
    seed : int, default 0
        Seed of the one random stream; the same seed gives identical tables and truth.
    progress : callable, optional
        Called as ``progress(done_months, total_months)`` after every simulated month.
    realism : bool, str or iterable of str, default True
        The messiness of real records to add (:data:`REALISM_SWITCHES`): ``True`` every switch,
        ``False`` none (the clean city: the same tables and truth as before the switches
        existed), or the names of the switches to turn on. Recorded in
        ``truth["params"]["realism"]``, each switch's constants in ``truth["params"][name]``.

    Returns
    -------
    City
        The raw tables (every table of the contract the switches produce) and the hidden truth.

    Raises
    ------
    ValueError
        If ``scale`` is not one of :data:`SCALES`, or a switch is unknown.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(SCALES)}")
    sim = _Simulation(scale, int(seed), progress, resolve_realism(realism))
    return sim.run()


class _Simulation(
    PopulationMixin,
    TraitsMixin,
    CatalogueMixin,
    CareersMixin,
    ObligationsMixin,
    PlanMixin,
    ExamsMixin,
    RollcallMixin,
    ChoicesMixin,
    RatingsMixin,
    RecordsMixin,
    TablesMixin,
    TruthMixin,
):
    """State and steps of one generation run (private; :func:`generate` is the interface).

    Each process is a mixin in a module of its own (population, catalogue, exams, rollcall,
    choices, ratings); they share this object's state, set up here and in :meth:`run`'s order.
    """

    def __init__(
        self,
        scale: str,
        seed: int,
        progress: Callable[[int, int], None] | None,
        realism: tuple[str, ...] = (),
    ):
        self.size = SCALES[scale]
        self.scale, self.seed, self.realism = scale, seed, realism
        self.rng = np.random.default_rng(seed)
        self.progress = progress
        self.p = {k: list(v) if isinstance(v, list) else v for k, v in PARAMS.items()}
        self.p.update({name: copy.deepcopy(REALISM_PARAMS[name]) for name in realism})
        self.p["realism"] = list(realism)
        end_month = pd.Period(END_MONTH, "M")
        self.n_months = int(self.size["years"]) * 12
        self.months = pd.period_range(end=end_month, periods=self.n_months, freq="M").to_timestamp()
        self.month_start = np.array([day_number(t) for t in self.months])
        self.month_end = np.append(self.month_start[1:], day_number(end_month.end_time)) - 1
        self.month_end[-1] = day_number(end_month.end_time.normalize())
        self.start_day, self.end_day = int(self.month_start[0]), int(self.month_end[-1])
        self.end_year = end_month.year
        split = self.months[-6]
        self.p.update(
            start=self.months[0].date().isoformat(),
            end=pd.Timestamp(end_month.end_time).date().isoformat(),
            split_date=split.date().isoformat(),
            scale=scale,
            seed=seed,
        )

    def run(self) -> City:
        self._units()
        self._cadres()
        self._post_requirements()
        self._institutions()
        self._teachers()
        self._staff()
        self._courses()
        self._items()
        self._classes()
        self._publication()
        # the realism processes, each from a random stream of its own (no-ops when off)
        self._careers()
        self._obligations()
        self._plan()
        self._renamed_reissues()
        self._guessing()
        self._exam_formats()
        self._alias_setup()
        self._simulate()
        self._career_finish()
        self._realism_truth()  # reads the record buffers before the tables free them
        tables = self._tables()
        return City(tables, self._truth())

    def _simulate(self) -> None:
        p, n, n_courses = self.p, self.n, self.n_courses
        self.m = self.m0.copy()
        self.floor = p["floor_frac"] * self.m0
        self.hist = np.empty((self.n_months + 1, n, N_TOPICS), np.float32)
        self.hist[0] = self.m
        self.done_bits = np.zeros((n * n_courses + 7) // 8, np.uint8)
        self.pop = np.zeros(n_courses)
        self.group = self.c_rank * N_CAT + self.c_cat
        self.group_size = np.bincount(self.group, minlength=N_RANK * N_CAT)
        self.peer = np.zeros((N_RANK * N_CAT, n_courses))
        self.busy = np.full(n, np.iinfo(np.int64).min)
        self.b_seated = np.zeros(self.n_classes, np.int64)
        self.rank_pool = [np.flatnonzero(self.c_rank == r) for r in range(N_RANK)]
        self.log_propensity = np.log(self.propensity)
        self.y = course_side(self.k_factors, self.k_w, self.k_mode)
        i4, f4 = np.int32, np.float32
        self.enr = Rows(
            {"eff": 1.0},
            cadre=i4,
            course=i4,
            cls=i4,
            src=np.int8,
            enrolled=i4,
            completed=i4,
            prog=f4,
            hours=f4,
            eff=f4,
        )
        self.resp = Rows(cadre=i4, item=i4, day=i4, correct=np.int8, cls=i4, phase=np.int8)
        self.crat = Rows(
            cadre=i4, course=i4, cls=i4, teacher=i4, day=i4, score=np.int8, tscore=np.int8
        )
        self.exam_rows = Rows(
            cadre=i4, exam=i4, cls=i4, topic=np.int8, score=f4, max=f4, day=i4, phase=np.int8
        )
        for i in range(self.n_months):
            self._career_month(i)
            first_batch = len(self.enr.cols["cadre"])
            self.acc = np.zeros((n, N_TOPICS))
            self._self_tests(i)
            month_codes = [np.zeros(0, np.int64)]
            month_courses = [np.zeros(0, np.int64)]
            month_cadres = [np.zeros(0, np.int64)]
            ordinary = (self.b_month == i) & (self.b_kind == ROLLCALL) & (self.b_tier < 0)
            for c in np.flatnonzero(ordinary):
                cadres, courses = self._rollcall(int(c))
                month_codes.append(cadres * n_courses + courses)
                month_cadres.append(cadres)
                month_courses.append(courses)
            cadres, courses = self._plan_rollcall(i)  # the 必修 plan's classes (mandatory)
            month_codes.append(cadres * n_courses + courses)
            month_cadres.append(cadres)
            month_courses.append(courses)
            cadres, courses = self._electives(i, np.concatenate(month_codes))
            cadres = np.concatenate([*month_cadres, cadres])
            courses = np.concatenate([*month_courses, courses])
            more = self._obligations_month(i, first_batch, cadres * n_courses + courses)
            cadres, courses = np.concatenate([cadres, more[0]]), np.concatenate([courses, more[1]])
            self.pop += np.bincount(courses, minlength=n_courses)
            np.add.at(self.peer, (self.group[cadres], courses), 1.0)
            m = apply_rate(self.m, self.acc)
            m = self.floor + (m - self.floor) * np.exp(-p["decay"])
            m = np.clip(m, p["m_min"], p["m_max"])
            # out of service (before a hire, after leaving): mastery stays as it was
            self.m = np.where(self.serving[:, None], m, self.m) if self.careers else m
            self.hist[i + 1] = self.m
            if self.progress is not None:
                self.progress(i + 1, self.n_months)
        self._staff_ratings()

    def _mark_done(self, codes: np.ndarray) -> None:
        np.bitwise_or.at(self.done_bits, codes >> 3, (1 << (codes & 7)).astype(np.uint8))

    def _is_done(self, codes: np.ndarray) -> np.ndarray:
        return ((self.done_bits[codes >> 3] >> (codes & 7).astype(np.uint8)) & 1).astype(bool)
