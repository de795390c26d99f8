"""Obligations (``mandatory``): the 必修 package, 必修 classes, hour rules, the year-end rush.

* Each January a package of a few 网络/移动 courses (``courses.mandatory = True``) is published;
  every cadre in service (a hire: from their first month) gets one enrolment per package course
  with ``source = "mandatory"``, enrolled on the day it was assigned. Whether the cadre completes
  it by 31 December follows their diligence (``truth["cadres"]["diligence"]``); the others show
  partial progress (or none), with ``hours = course hours × progress``.
* Some rollcall classes are 必修 (``classes.mandatory = True``): the 任职培训 classes (with
  ``careers``) and a share of the others (主体班).
* ``training_rules`` holds the defaults of the 2023 干部教育培训工作条例 plus a local online rule
  (see :func:`training_rules`).
* Year-end rush: on 1 November and 1 December a cadre short of the yearly 网络 hours rushes with
  a chance that grows with diligence, enrolling in online courses until the deficit is covered
  (source ``self``: to a model they look like choices). The hours are credited in full, but little
  is learned: every enrolment has an *effective learning share* (1 for ordinary training; a Beta
  draw for package courses; 3–20% for rush courses) and mastery grows with ``hours × share``.
  ``truth["enrollment_effects"]`` lists every enrolment whose share is below 1.

How hours count toward the rules (学时) — the mapping features/ implements too:

* **脱产** hours: the hours of enrolments in a class (``class_id`` set) whose kind is rollcall or
  elective, in a course taught 面授 or 混合;
* **集中** hours: the hours of every enrolment in a class (any kind, any mode);
* **网络** hours: the hours of every enrolment in a 网络 or 移动 course (in a class or not);
* an enrolment's hours count on its ``completed_on`` date, or on ``enrolled_on`` when it is not
  completed (partial progress earns partial hours); a yearly rule counts calendar years, the
  5-year rule the five calendar years ending with the current one.

The simulation's own tally (for the rush) counts network hours in the month a course is taken.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import ENROLL_SOURCES, RANKS, TOPICS
from ganxun.simulation.common import dates_from_days, day_number, logit, make_ids, sigmoid
from ganxun.simulation.learning import effect_of_rating, gain_rate
from ganxun.simulation.names import SUBTITLES
from ganxun.simulation.params import (
    FACE_MODES,
    N_FACTORS,
    N_TOPICS,
    NETWORK_SCHOOL,
    NEVER,
    OBLIGATIONS_STREAM,
    ONLINE,
    ONLINE_MODES,
    ROLLCALL,
    TOPIC_IDS,
)

MANDATORY = ENROLL_SOURCES.index("mandatory")
SELF = ENROLL_SOURCES.index("self")
_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def training_rules(params: dict) -> pd.DataFrame:
    """The ``training_rules`` table: the 2023 条例's defaults and the local online rule.

    县处级 (副处/正处/副厅): ``county_hours`` 脱产 hours in ``county_years`` years; 乡科级 and
    below (科员/副科/正科): ``township_hours`` 集中 hours a year; a promoted cadre who had not met
    a rule completes it within ``after_promotion_months``; every rank: ``network_hours`` 网络 hours
    a year.
    """
    return pd.DataFrame(
        {
            "rule_id": ["R1", "R2", "R3"],
            "ranks": [RANKS[3:], RANKS[:3], RANKS],
            "period_years": [params["county_years"], 1, 1],
            "min_hours": [
                params["county_hours"],
                params["township_hours"],
                params["network_hours"],
            ],
            "kind": ["脱产", "集中", "网络"],
            "after_promotion_months": pd.array(
                [params["after_promotion_months"]] * 2 + [None], dtype="Int64"
            ),
            "name": [
                "县处级干部5年脱产培训累计不少于550学时",
                "乡科级及以下干部每年集中培训不少于90学时",
                "网络培训每年不少于50学时（本市规定）",
            ],
        }
    )


class ObligationsMixin:
    """The yearly 必修 package, 必修 classes and the year-end rush of online hours."""

    def _obligations(self) -> None:
        """Publish the packages, mark 必修 classes, draw diligence (no-op when off)."""
        self.mandatory = "mandatory" in self.realism
        self.k_mandatory = np.zeros(self.n_courses, bool)
        if not self.mandatory:
            return
        q = self.p["mandatory"]
        rng = self.o_rng = np.random.default_rng([self.seed, OBLIGATIONS_STREAM])
        self.package: dict[int, np.ndarray] = {}
        for t in self.months[self.months.month == 1]:
            self.package[t.year] = self._package(q, rng, t.year)
        self.k_mandatory = np.zeros(self.n_courses, bool)
        for courses in self.package.values():
            self.k_mandatory[courses] = True
        z = (self.activity - self.activity.mean()) / max(self.activity.std(), 1e-9)
        noise = rng.normal(0.0, q["diligence_sd"], self.n)
        self.diligence = sigmoid(q["diligence_mean"] + q["diligence_activity"] * z + noise)
        share = rng.random(self.n_classes) < q["mandatory_class_share"]
        self.b_mandatory = (self.b_kind == ROLLCALL) & share
        if self.careers:
            self.b_mandatory |= self.b_induction
        self.assigned = np.full(self.n, -1)
        self.rusher = np.zeros(self.n, bool)
        self.net_hours = np.zeros(self.n)
        self.pending = {
            k: np.zeros(0, t)
            for k, t in zip("ckihwg", (int, int, int, float, float, float), strict=True)
        }

    def _package(self, q: dict, rng: np.random.Generator, year: int) -> np.ndarray:
        """Append one year's package of online courses to the catalogue; their indices."""
        # courses are added until the package holds package_total hours (a stable yearly load)
        most = q["package_courses"][1]
        mode = rng.choice(ONLINE_MODES, most, p=q["package_mode_share"])
        options = q["package_hours"]
        hours = np.array([rng.choice(options[ONLINE_MODES.index(m)]) for m in mode])
        size = int(min(np.searchsorted(np.cumsum(hours), q["package_total"]) + 1, most))
        size = max(size, q["package_courses"][0])
        mode, hours = mode[:size], hours[:size]
        others = rng.permutation(np.setdiff1d(np.arange(N_TOPICS), q["package_core_topics"]))
        topic = np.concatenate([q["package_core_topics"], others])[:size]
        teacher = np.full(size, NEVER)
        for j in np.flatnonzero(rng.random(size) < q["package_teacher_share"]):
            who = np.flatnonzero(self.t_declared[:, topic[j]])
            teacher[j] = rng.choice(
                who, p=self.t_weight[who, topic[j]] / self.t_weight[who, topic[j]].sum()
            )
        net = np.flatnonzero(self.inst_kind == NETWORK_SCHOOL)
        inst = rng.choice(net, size) if len(net) else self.t_inst[np.maximum(teacher, 0)]
        t = np.maximum(teacher, 0)
        quality = np.where(
            teacher >= 0,
            0.8 * self.t_q[t, topic] + rng.normal(0.0, 0.3, size),
            rng.normal(-0.1, 0.5, size),
        )
        sub = rng.integers(0, len(SUBTITLES[0]), size)
        titles = [
            f"{year}年度必修课：{TOPICS[TOPIC_IDS[k]][0]}专题：{SUBTITLES[k][s]}"
            for k, s in zip(topic, sub, strict=True)
        ]
        lo, hi = q["publish_days"]
        pub = day_number(pd.Timestamp(year, 1, 1)) + rng.integers(lo - 1, hi, size)
        return self._append_courses(
            pub=pub,
            topic_w=np.eye(N_TOPICS)[topic],
            level=rng.choice([1, 2], size),
            mode=mode,
            hours=hours,
            teacher=teacher,
            inst=inst,
            quality=quality,
            factors=rng.normal(0.0, 0.45, (size, N_FACTORS)),
            titles=titles,
            reissue_of=np.full(size, NEVER),
        )

    def _obligations_month(self, i: int, first_batch: int, taken: np.ndarray):
        """Month ``i``: credit online hours, assign the package, study, rush; the new rows.

        ``first_batch`` is the number of enrolment batches recorded before this month, ``taken``
        the (cadre × course) codes of this month's other enrolments. Returns (cadres, courses).
        """
        if not self.mandatory:
            return _EMPTY
        month, year = self.months[i].month, self.months[i].year
        if month == 1:
            self.net_hours[:] = 0.0
        cols = self.enr.cols
        c = np.concatenate([np.zeros(0, np.int64), *cols["cadre"][first_batch:]])
        k = np.concatenate([np.zeros(0, np.int64), *cols["course"][first_batch:]])
        h = np.concatenate([np.zeros(0), *cols["hours"][first_batch:]])
        b = np.concatenate([np.zeros(0, np.int64), *cols["cls"][first_batch:]])
        online = np.isin(self.k_mode[k], ONLINE_MODES)
        self.net_hours += np.bincount(c[online], weights=h[online], minlength=self.n)
        self._tally_classes(c, k, b, h)
        out = [_EMPTY]
        new = np.flatnonzero(self.serving & (self.assigned < year))
        if year in self.package and len(new):
            out.append(self._assign(i, year, new))
        out.append(self._plan_online(i, taken))
        self._study(i)
        if month in (11, 12) and year in self.package:  # a year tallied from January
            out.append(self._rush(i, month - 11, taken))
        return tuple(np.concatenate([o[j] for o in out]) for j in range(2))

    def _assign(self, i: int, year: int, cadres: np.ndarray):
        """Enrol ``cadres`` in the year's package, to be studied by 31 December."""
        pkg = self.package[year]
        self.assigned[cadres] = year
        cad, k = np.repeat(cadres, len(pkg)), np.tile(pkg, len(cadres))
        assign = np.maximum(self.k_pub[k], self.month_start[i])
        year_end = np.full(len(cad), day_number(pd.Timestamp(year, 12, 31)))
        return self._enrol_assigned(i, cad, k, NEVER, assign, year_end, "package_base", MANDATORY)

    def _enrol_assigned(self, i, cad, k, cls, assign, last, base: str, src):
        """Enrol cadres in assigned online courses; draw study days, completion and progress.

        A course is studied from a day between ``assign`` and ``last`` (late rather than early,
        the less engaged later: ``procrastination``) and completed with the chance of engaged
        cadres with base ``base`` (unless the cadre leaves first); the others show partial
        progress or none. Learning and the online-hours tally follow in the month of study
        (:meth:`_study`). Returns (cadres, courses).
        """
        q, rng = self.p["mandatory"], self.o_rng
        size = len(cad)
        eng = self._engagement(cad, assign)
        p_complete = sigmoid(q[base] + q["engagement_slope"] * eng)
        span = np.maximum(last - q["study_days"][1] - assign, 0)
        when = sigmoid(logit(rng.beta(2.0, 1.3, size)) - q["procrastination"] * eng)
        start = assign + (when * span).astype(np.int64)
        done = start + rng.integers(q["study_days"][0], q["study_days"][1] + 1, size)
        stop = np.minimum(self.end_day + 1, self.leave_day[cad])  # no record on or after
        complete = (rng.random(size) < p_complete) & (done < stop)
        opened = (start < stop) & (rng.random(size) >= q["partial_zero_share"])
        partial = np.round(rng.uniform(0.05, 0.95, size), 2)
        prog = np.where(complete, 1.0, np.where(opened, partial, 0.0))
        hours = np.round(self.k_hours[k] * prog, 2)
        share = rng.beta(*q["effective_beta"], size)
        self.enr.add(
            cadre=cad,
            course=k,
            cls=cls,
            src=src,
            enrolled=assign,
            completed=np.where(complete, done, NEVER),
            prog=prog,
            hours=hours,
            eff=share,
        )
        self._mark_done((cad * self.n_courses + k)[complete])
        studied = prog > 0
        day = np.where(complete, done, start)[studied]
        month = np.searchsorted(self.month_start, day, "right") - 1
        in_class = np.broadcast_to(np.asarray(cls) >= 0, (size,))
        add = {"c": cad, "k": k, "i": month, "h": hours * share, "w": hours}
        add["g"] = np.where(in_class, hours, 0.0)
        self.pending = {
            key: np.concatenate([v, add[key] if key == "i" else add[key][studied]])
            for key, v in self.pending.items()
        }
        rated = complete & (rng.random(size) < self.p["p_rate_self"])
        teachers = self.k_teacher[k[rated]]
        self._course_rating(
            cad[rated],
            k[rated],
            teachers,
            self._teacher_rating(teachers, k[rated], self.c_rank[cad[rated]]),
            done[rated],
            np.broadcast_to(np.asarray(cls), (size,))[rated],
            rng=rng,
        )
        return cad, k

    def _tally_classes(self, c, k, cls, h) -> None:
        """The department's tally of 集中 (this year) and 脱产 (this period) hours."""
        in_class = cls >= 0
        self.class_hours += np.bincount(c[in_class], weights=h[in_class], minlength=self.n)
        kind = self.b_kind[np.maximum(cls, 0)]
        off = in_class & (kind != ONLINE) & np.isin(self.k_mode[k], FACE_MODES)
        self.offjob_hours += np.bincount(c[off], weights=h[off], minlength=self.n)

    def _study(self, i: int) -> None:
        """Learning from the package courses studied in month ``i`` (hours × effective share)."""
        now = self.pending["i"] == i
        c, k, h, w, g = (self.pending[key][now] for key in "ckhwg")
        self.pending = {key: v[~now] for key, v in self.pending.items()}
        self._online_learning(c, k, h)
        self.net_hours += np.bincount(c, weights=w, minlength=self.n)
        self.class_hours += np.bincount(c, weights=g, minlength=self.n)

    def _rush(self, i: int, which: int, taken: np.ndarray):
        """Cadres short of network hours take many online courses at once, learning little."""
        q, rng, n_courses = self.p["mandatory"], self.o_rng, self.n_courses
        ms, me = self.month_start[i], self.month_end[i]
        deficit = q["network_hours"] - self.net_hours
        short = self.serving & (deficit > 0) & (self.leave_day > me)
        if which == 0:  # on 1 November each cadre decides whether to rush this year
            everyone = np.arange(self.n)
            self.rusher = self._habitual(everyone, rng) < self._p_engaged("rush_base", everyone, ms)
        who = np.flatnonzero(short & self.rusher & (rng.random(self.n) < q["rush_p"][which]))
        pool = np.flatnonzero(
            (self.k_pub <= me) & np.isin(self.k_mode, ONLINE_MODES) & ~self.k_mandatory
        )
        if not len(who) or not len(pool):
            return _EMPTY
        need = deficit[who] * q["rush_cover"][which] + q["rush_margin"]
        w = self.k_hours[pool] ** q["rush_hours_power"]
        cand = rng.choice(pool, (len(who), q["rush_max_courses"]), p=w / w.sum())
        codes = who[:, None] * n_courses + cand
        order = np.argsort(codes, axis=1)
        srt = np.take_along_axis(codes, order, axis=1)
        repeat = np.zeros(codes.shape, bool)
        np.put_along_axis(repeat, order, np.hstack([srt[:, :1] < 0, srt[:, 1:] == srt[:, :-1]]), 1)
        valid = ~repeat & ~self._is_done(codes) & ~np.isin(codes, taken)
        hrs = np.where(valid, self.k_hours[cand], 0.0)
        take = valid & (np.cumsum(hrs, axis=1) - hrs < need[:, None])
        cad, k = np.nonzero(take)
        cad, k = who[cad], cand[take]
        if which == 0:
            day = rng.integers(ms, me + 1, len(cad))
        else:  # December: the last two weeks
            day = me - rng.integers(0, q["rush_last_days"], len(cad))
        share = np.round(rng.uniform(*q["rush_effective"], len(cad)), 3)
        self.enr.add(
            cadre=cad,
            course=k,
            cls=NEVER,
            src=SELF,
            enrolled=day,
            completed=day,
            prog=1.0,
            hours=self.k_hours[k],
            eff=share,
        )
        self._mark_done(cad * n_courses + k)
        self._online_learning(cad, k, self.k_hours[k] * share)
        self.net_hours += np.bincount(cad, weights=self.k_hours[k], minlength=self.n)
        return cad, k

    def _online_learning(self, cadres, courses, effective_hours) -> None:
        """Add the month's exposure of self-paced courses (no class) to the accumulator."""
        if not len(cadres):
            return
        p = self.p
        teachers = self.k_teacher[courses]
        expected = self._teacher_rating(teachers, courses, self.c_rank[cadres])
        effect = np.where(
            teachers >= 0,
            effect_of_rating(np.nan_to_num(expected, nan=3.0), p),
            np.exp(p["teacher_gamma"] * self.k_quality[courses]),
        )
        rate = gain_rate(
            self.m[cadres],
            self.k_w[courses],
            effective_hours,
            self.lr[cadres],
            effect,
            self.k_level[courses],
            p,
        )
        for t in range(N_TOPICS):
            self.acc[:, t] += np.bincount(cadres, weights=rate[:, t], minlength=self.n)

    def _obligations_truth(self) -> dict[str, object]:
        """Truth of ``mandatory``: every enrolment that taught less than its hours, diligence."""
        e = self.enr.get()
        low = np.flatnonzero(e["eff"] < 1.0)
        low = low[np.argsort(e["enrolled"][low], kind="stable")]
        codes = pd.Categorical.from_codes  # compact: millions of rows at province scale
        return {
            "enrollment_effects": pd.DataFrame(
                {
                    "cadre_id": codes(e["cadre"][low], make_ids("C", 6, self.n)),
                    "course_id": codes(e["course"][low], make_ids("K", 5, self.n_courses)),
                    "enrolled_on": dates_from_days(e["enrolled"][low]),
                    "source": codes(e["src"][low], ENROLL_SOURCES),
                    "rush": e["src"][low] == SELF,
                    "effective_share": np.round(e["eff"][low].astype(float), 4),
                }
            ),
            **self._plan_truth(),
            "cadre_columns": {"diligence": self.diligence},
        }
