"""The training plan (``mandatory``): the classes that deliver the hours the rules ask for.

Organisation departments meet the hour rules (:func:`.obligations.training_rules`) through an
annual training plan (年度调训计划), published with the year's other plans. With ``mandatory`` on,
every year of the window that starts inside it gets, from a stream of its own
(``default_rng([seed, PLAN_STREAM])``), classes appended after every class of the clean city
(all 必修, in the annual plan):

* 网络专题班 (kind ``online``): the year's online 专题 courses (``online_course_hours`` each) are
  published in January; the units are split into groups of about ``online_class_cadres`` cadres
  and each group's class assigns every cadre in service (``source`` rollcall) a few of them to
  study within the class's weeks. Their hours count as 网络 and as 集中.
* 乡科级 unit classes (集中轮训班, kind ``rollcall``): each unit runs enough classes a year for
  ``township_seats`` seats per 乡科级 cadre, in person (face courses of about
  ``township_hours``, 8 hours a day), calling its own cadres.
* 县处级 classes (kind ``rollcall``): city-wide 进修班 (long, with exams) and 专题班 (short) for
  ``county_seats`` seats per 县处级 cadre a year.

Who is called and who comes: the plan's rollcall classes call cadres in service and free
(Gumbel-top-k over ``plan_propensity`` × the rollcall log-propensity, so the 培训专业户 are still
called more, plus ``plan_behind`` × how far behind the pace of their rule the department's own
tally has them: catching up those behind). A called cadre attends with probability
``sigmoid(attend_base + engagement)`` and misses part of a session more often when less engaged.

*Engagement* (log-odds) = logit(diligence) + the unit's training culture + the cadre's workload
of the year (some years heavy) − a disruption for ``move_disruption_days`` after a promotion or a
transfer. It drives attendance, completion of assigned online courses (the package and the
网络专题班) and the year-end rush, so whether a cadre meets a rule follows a persistent trait, a
unit effect and the year's events. Truth: ``truth["engagement"]`` (cadre × year: workload) and
``truth["unit_culture"]``; ``cadres.diligence`` as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ganxun.features.contracts import ENROLL_SOURCES, TOPICS
from ganxun.simulation.common import day_number, logit, make_ids, round_weights, sigmoid
from ganxun.simulation.learning import apply_rate, effect_of_rating, gain_rate
from ganxun.simulation.names import SUBTITLES
from ganxun.simulation.params import (
    FACE_MODES,
    N_FACTORS,
    N_RANK,
    N_TOPICS,
    NETWORK_SCHOOL,
    NEVER,
    NO_DAY,
    ONLINE,
    PLAN_STREAM,
    ROLLCALL,
    TOPIC_IDS,
)

#: Tiers of the plan's classes (``b_tier``): not a plan class, 网络专题班, 乡科级, 县处级.
NOT_PLAN, ONLINE_TIER, TOWNSHIP, COUNTY = -1, 0, 1, 2
COUNTY_RANKS = np.arange(N_RANK) >= 3
TOWNSHIP_RANKS = ~COUNTY_RANKS
ROLLCALL_SRC = ENROLL_SOURCES.index("rollcall")
_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def _year_of(days) -> np.ndarray:
    """Calendar year of day numbers."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970


class PlanMixin:
    """The annual plan's classes, the engagement behind attending them, and their calls."""

    def _plan(self) -> None:
        """Draw engagement and append the plan's classes (only ``b_tier`` when off)."""
        self.b_tier = np.full(self.n_classes, NOT_PLAN)
        if not self.mandatory:
            return
        q = self.p["mandatory"]
        rng = self.plan_rng = np.random.default_rng([self.seed, PLAN_STREAM])
        first_year = int(_year_of(self.start_day))
        self.plan_year0 = first_year
        n_years = int(_year_of(self.end_day)) - first_year + 1
        self.culture = rng.normal(0.0, q["culture_sd"], self.n_units)
        heavy = rng.random((self.n, n_years)) < q["heavy_year_share"]
        self.workload = rng.normal(0.0, q["workload_sd"], (self.n, n_years))
        self.workload -= q["heavy_year_shift"] * heavy
        self.dil_logit = logit(self.diligence)
        self.habit = rng.standard_normal(self.n)  # a cadre's own way with the same chances
        self.last_moved = np.full(self.n, -NO_DAY, np.int64)
        self.class_hours = np.zeros(self.n)  # the department's tally: 集中 hours this year
        self.offjob_hours = np.zeros(self.n)  # 脱产 hours in the current 5-year period
        self.online_assigned = np.full(self.n, -1)
        self.online_class_of: dict[int, np.ndarray] = {}
        self._face_pool = np.flatnonzero(np.isin(self.k_mode, FACE_MODES) & ~self.k_mandatory)
        self._rows: dict[str, list] = {k: [] for k in ("kind", "start", "end", "inst", "ranks")}
        self._rows.update({k: [] for k in ("staff", "cap", "w", "name", "pub", "sess", "tier")})
        self._rows["unit"] = []
        for year in sorted(self.package):  # the years whose January is in the window
            plan_day = day_number(pd.Timestamp(year, 1, 1)) + int(rng.integers(-17, 10))
            lo = max(self.start_day, day_number(pd.Timestamp(year, 1, 1)))
            hi = min(self.end_day, day_number(pd.Timestamp(year, 12, 31)))
            self._online_plan(q, rng, year, plan_day, lo, hi)
            self._township_plan(q, rng, year, plan_day, lo, hi)
            self._county_plan(q, rng, year, plan_day, lo, hi)
        r = self._rows
        new = self._append_classes(
            kind=np.array(r["kind"], np.int64),
            start=np.array(r["start"], np.int64),
            end=np.array(r["end"], np.int64),
            inst=np.array(r["inst"], np.int64),
            ranks=np.array(r["ranks"], bool),
            staff=np.array(r["staff"], np.int64),
            capacity=np.array(r["cap"], np.int64),
            topic_w=np.array(r["w"]),
            names=r["name"],
            published=np.array(r["pub"], np.int64),
            sessions=r["sess"],
        )
        self.b_tier = np.concatenate([self.b_tier, np.array(r["tier"], np.int64)])
        self.b_unit = np.full(self.n_classes, NEVER)
        self.b_unit[new] = r["unit"]
        # the long 县处级 classes (进修班) set exams; 轮训班, 专题班 and online classes do not
        days = self.b_end - self.b_start + 1
        self.b_exam = (self.b_tier == COUNTY) & (days >= q["county_long_days"])
        self.b_mandatory = np.concatenate([self.b_mandatory, np.ones(len(new), bool)])
        for year, of_unit in self.online_class_of.items():  # group index -> class index
            self.online_class_of[year] = new[0] + of_unit
        del self._rows

    # --- building the classes --------------------------------------------------------------------

    def _add_class(self, tier, kind, start, days, inst, ranks, cap, topics, name, pub, sess, unit):
        """Queue one class for :meth:`_append_classes`."""
        r, rng = self._rows, self.plan_rng
        w = np.zeros(N_TOPICS)
        w[topics] = round_weights(rng, len(topics))
        staff = NEVER
        if kind != ONLINE:
            own = np.flatnonzero(self.s_inst == inst)
            staff = int(rng.choice(own)) if len(own) and rng.random() < 0.8 else NEVER
            staff = staff if staff >= 0 else int(rng.integers(self.n_staff))
        for key, value in (
            ("kind", kind),
            ("start", start),
            ("end", start + days - 1),
            ("inst", inst),
            ("ranks", ranks),
            ("staff", staff),
            ("cap", max(1, min(int(cap), 10_000))),
            ("w", w),
            ("name", name),
            ("pub", min(pub, start)),
            ("sess", sess),
            ("tier", tier),
            ("unit", unit),
        ):
            r[key].append(value)

    def _face_sessions(self, rng, topics, hours: float, start: int, plan_day: int):
        """In-person courses on the class topics (longer ones likelier) worth about ``hours``.

        Returns the sessions (courses, their own teachers, days) and the class's length in days
        (``hours_per_day`` a day).
        """
        pool = self._face_pool[self.k_pub[self._face_pool] <= plan_day]
        on = (self.k_w[pool][:, topics] > 0).any(axis=1)
        power = self.p["mandatory"]["session_hours_power"]
        key = power * np.log(self.k_hours[pool]) + rng.gumbel(size=len(pool))
        order = pool[np.lexsort((-key, ~on))]  # the class topics first, then other courses
        total = np.cumsum(self.k_hours[order])
        n_s = int(min(np.searchsorted(total, hours) + 1, len(order), 30))
        js = order[:n_s]
        got = float(self.k_hours[js].sum())
        days = max(1, int(np.ceil(got / self.p["mandatory"]["hours_per_day"])))
        day = np.sort(start + rng.integers(0, days, n_s))
        return (js, self.k_teacher[js], day), days  # in-person courses have their teacher

    def _topics(self, rng) -> list[int]:
        n_top = int(rng.choice([1, 2], p=[0.6, 0.4]))
        return [int(t) for t in rng.permutation(N_TOPICS)[:n_top]]

    def _face_inst(self, rng, size: int = 1) -> np.ndarray:
        w = self.inst_weight * (self.inst_kind != NETWORK_SCHOOL)
        return rng.choice(self.n_inst, size, p=w / w.sum())

    def _online_plan(self, q, rng, year, plan_day, lo, hi) -> None:
        """The year's online 专题 courses and one 网络专题班 per group of units."""
        n_k = int(q["online_courses_per_year"])
        topic = rng.permutation(np.resize(rng.permutation(N_TOPICS), n_k))
        hours = rng.choice(q["online_course_hours"], n_k)
        teacher = np.full(n_k, NEVER)
        for j in range(n_k):
            who = np.flatnonzero(self.t_declared[:, topic[j]])
            teacher[j] = who[np.argmax(self.t_weight[who, topic[j]] + rng.normal(0, 0.5, len(who)))]
        net = np.flatnonzero(self.inst_kind == NETWORK_SCHOOL)
        inst = rng.choice(net, n_k) if len(net) else self.t_inst[teacher]
        sub = rng.integers(0, len(SUBTITLES[0]), n_k)
        titles = [
            f"{TOPICS[TOPIC_IDS[k]][0]}专题系列课程：{SUBTITLES[k][s]}"
            for k, s in zip(topic, sub, strict=True)
        ]
        courses = self._append_courses(
            pub=np.full(n_k, plan_day),
            topic_w=np.eye(N_TOPICS)[topic],
            level=rng.choice([1, 2], n_k),
            mode=np.ones(n_k, np.int64),
            hours=hours,
            teacher=teacher,
            inst=inst,
            quality=0.8 * self.t_q[teacher, topic] + rng.normal(0.0, 0.3, n_k),
            factors=rng.normal(0.0, 0.45, (n_k, N_FACTORS)),
            titles=titles,
            reissue_of=np.full(n_k, NEVER),
        )
        self.k_mandatory = np.concatenate([self.k_mandatory, np.zeros(n_k, bool)])
        # groups of units of about online_class_cadres cadres each
        size = np.bincount(self.c_unit, minlength=self.n_units)
        order = rng.permutation(self.n_units)
        group = np.zeros(self.n_units, np.int64)
        group[order] = (np.cumsum(size[order]) - 1) // max(1, int(q["online_class_cadres"]))
        n_g = int(group.max()) + 1
        first_start = max(lo, day_number(pd.Timestamp(year, *q["online_start"])))
        last_start = min(hi - 20, day_number(pd.Timestamp(year, *q["online_last_start"])))
        if last_start < first_start:
            return
        base = len(self._rows["kind"])
        for g in range(n_g):
            start = int(rng.integers(first_start, last_start + 1))
            days = int(rng.integers(*q["online_days"]))
            days = max(14, min(days, hi - start + 1))
            js = rng.permutation(courses)  # courses until the class holds online_class_hours
            n_s = int(np.searchsorted(np.cumsum(self.k_hours[js]), q["online_class_hours"]) + 1)
            js = js[: min(n_s, n_k)]
            day = np.sort(start + rng.integers(0, days, len(js)))
            cap = int(np.ceil(1.2 * size[group == g].sum()))
            topics = sorted(set(self.k_k1[js].tolist()))[:3]
            name = f"{year}年度干部网络专题班（第{g + 1}期）"
            sess = (js, self.k_teacher[js], day)
            self._add_class(
                ONLINE_TIER, ONLINE, start, days, int(inst[0]), np.ones(N_RANK, bool), cap,
                topics, name, plan_day, sess, NEVER,
            )  # fmt: skip
        self.online_class_of[year] = base + group  # queue position; made a class index later

    def _township_plan(self, q, rng, year, plan_day, lo, hi) -> None:
        """Each unit's 集中轮训班 for its 乡科级 cadres."""
        town = TOWNSHIP_RANKS[self.c_rank]
        per_unit = np.bincount(self.c_unit[town], minlength=self.n_units)
        span = (hi - lo + 1) / 365.25
        for u in np.flatnonzero(per_unit):
            seats = q["township_seats"] * per_unit[u] * span
            cap = int(rng.integers(q["township_capacity"][0], q["township_capacity"][1] + 1))
            # at least as many classes as seats per cadre: a cadre can come to several
            k = max(int(np.ceil(q["township_seats"])), int(round(seats / cap)))
            cap = int(np.ceil(seats / k))
            slots = (np.arange(k) + rng.random(k)) / k
            for j, s in enumerate(slots):
                topics = self._topics(rng)
                target = rng.uniform(*q["township_class_hours"])
                start = int(lo + s * max(hi - lo - 10, 1))
                sess, days = self._face_sessions(rng, topics, target, start, plan_day)
                if start + days - 1 > hi:
                    continue
                topic = TOPICS[TOPIC_IDS[topics[0]]][0]
                name = f"{self.unit_name[u]}{year}年第{j + 1}期科级干部{topic}集中轮训班"
                self._add_class(
                    TOWNSHIP, ROLLCALL, start, days, int(self._face_inst(rng)[0]),
                    TOWNSHIP_RANKS, cap, topics, name, plan_day, sess, int(u),
                )  # fmt: skip

    def _county_plan(self, q, rng, year, plan_day, lo, hi) -> None:
        """City-wide 县处级 进修班 (long) and 专题班 (short)."""
        n_county = int(COUNTY_RANKS[self.c_rank].sum())
        span = (hi - lo + 1) / 365.25
        seats = q["county_seats"] * n_county * span
        for long in (True, False):
            share = q["county_long_share"] if long else 1.0 - q["county_long_share"]
            cap_lo, cap_hi = q["county_capacity"]
            cap = int(rng.integers(cap_lo, cap_hi + 1))
            k = max(int(np.ceil(q["county_seats"] * share)), int(round(seats * share / cap)))
            cap = int(np.ceil(seats * share / k))
            hours = q["county_long_hours"] if long else q["county_short_hours"]
            slots = (np.arange(k) + rng.random(k)) / k
            for j, s in enumerate(slots):
                topics = self._topics(rng)
                start = int(lo + s * max(hi - lo - 30, 1))
                sess, days = self._face_sessions(rng, topics, rng.uniform(*hours), start, plan_day)
                if start + days - 1 > hi:
                    continue
                topic = TOPICS[TOPIC_IDS[topics[0]]][0]
                kind = "进修班" if long else "专题研讨班"
                name = f"{year}年第{j + 1}期县处级干部{topic}{kind}"
                inst = 0 if long else int(self._face_inst(rng)[0])
                self._add_class(
                    COUNTY, ROLLCALL, start, days, inst, COUNTY_RANKS, cap, topics, name,
                    plan_day, sess, NEVER,
                )  # fmt: skip

    # --- the month loop --------------------------------------------------------------------------

    def _engagement(self, cadres: np.ndarray, day) -> np.ndarray:
        """Engagement of cadres on a day (one or one per cadre): 0 for a typical cadre.

        logit(diligence) - diligence_mean + the unit's culture + the year's workload - the
        disruption of a recent move.
        """
        q = self.p["mandatory"]
        year = np.clip(_year_of(day) - self.plan_year0, 0, self.workload.shape[1] - 1)
        moved = (np.asarray(day) - self.last_moved[cadres]) < q["move_disruption_days"]
        return (
            self.dil_logit[cadres]
            - q["diligence_mean"]
            + self.culture[self.c_unit[cadres]]
            + self.workload[cadres, year]
            - q["move_disruption"] * moved
        )

    def _p_engaged(self, base: str, cadres: np.ndarray, day) -> np.ndarray:
        """Chance that cadres do one thing the rules ask: ``sigmoid(base + slope * engagement)``."""
        q = self.p["mandatory"]
        return sigmoid(q[base] + q["engagement_slope"] * self._engagement(cadres, day))

    def _habitual(self, cadres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uniform draws that follow each cadre's habit (correlation ``habit`` across events).

        A decision ``draw < chance`` then goes the same way for a cadre year after year unless
        the chance moves (workload, a move): who crams or skips a class is a habit, not a coin.
        """
        h = self.p["mandatory"]["habit"]
        z = h * self.habit[cadres] + np.sqrt(1.0 - h * h) * rng.standard_normal(len(cadres))
        return ndtr(z)

    def _plan_rollcall(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Call the plan's rollcall classes starting in month ``i``; their (cadres, courses)."""
        if not self.mandatory:
            return _EMPTY
        if self.careers:  # promotions and transfers applied this month
            now = self.moves["month"] == i
            self.last_moved[self.moves["cadre"][now]] = self.moves["day"][now]
        if self.months[i].month == 1:
            self.class_hours[:] = 0.0
            if (self.months[i].year - self.p["mandatory"]["county_anchor_year"]) % 5 == 0:
                self.offjob_hours[:] = 0.0
        cs = np.flatnonzero((self.b_month == i) & (self.b_tier > ONLINE_TIER))
        rng = self.plan_rng
        classes, members = [], []
        for tier in (TOWNSHIP, COUNTY):
            cls = cs[self.b_tier[cs] == tier]
            if not len(cls):
                continue
            for c, called in self._plan_call(i, tier, cls):
                p_come = self._p_engaged("attend_base", called, self.b_start[c])
                come = called[self._habitual(called, rng) < p_come]
                self.busy[come] = self.b_end[c]
                classes.append(c)
                members.append(come)
        return self._plan_train(classes, members)

    def _plan_train(self, classes: list[int], members: list[np.ndarray]):
        """Train, examine (进修班) and rate the month's plan classes at once; (cadres, courses).

        Like an ordinary rollcall class, but a member misses part of a session with probability
        ``plan_partial * (1 - P(engaged))`` and a completed session is rated with ``plan_rate``.
        """
        p, q, rng = self.p, self.p["mandatory"], self.plan_rng
        parts = []
        for c, mem in zip(classes, members, strict=True):
            sl = slice(self.sess_ptr[c], self.sess_ptr[c + 1])
            n_m, n_s = len(mem), sl.stop - sl.start
            parts.append(
                (
                    np.repeat(mem, n_s),
                    np.tile(self.sess_course[sl], n_m),
                    np.full(n_m * n_s, c),
                    np.tile(self.sess_teacher[sl], n_m),
                    np.tile(self.sess_day[sl], n_m),
                    np.full(n_m * n_s, self.c_rank[mem].mean() if n_m else 0.0),
                )
            )
        if not parts or not sum(len(x[0]) for x in parts):
            return _EMPTY
        cad, crs, cls, tch, day, cohort = (np.concatenate([x[j] for x in parts]) for j in range(6))
        n = len(cad)
        engaged = self._p_engaged("attend_base", cad, self.b_start[cls])
        partial = rng.random(n) < q["plan_partial"] * (1.0 - engaged)
        prog = np.where(partial, np.round(rng.uniform(0.3, 0.95, n), 2), 1.0)
        expected = self._teacher_rating(tch, crs, cohort)
        effect = np.where(
            tch >= 0,
            effect_of_rating(np.nan_to_num(expected, nan=3.0), p),
            np.exp(p["teacher_gamma"] * self.k_quality[crs]),
        )
        m_rows = self.m[cad]
        rate = gain_rate(
            m_rows, self.k_w[crs], self.k_hours[crs] * prog, self.lr[cad], effect,
            self.k_level[crs], p,
        )  # fmt: skip
        for k in range(N_TOPICS):
            self.acc[:, k] += np.bincount(cad, weights=rate[:, k], minlength=self.n)
        for c, mem in zip(classes, members, strict=True):
            if self.b_exam[c] and len(mem):  # rows of a class: each member's sessions in a row
                r = rate[cls == c].reshape(len(mem), -1, N_TOPICS).sum(axis=1)
                before = self.m[mem]
                self._class_exams(c, mem, before, apply_rate(before, r))
        done = ~partial
        self.enr.add(
            cadre=cad,
            course=crs,
            cls=cls,
            src=ROLLCALL_SRC,
            enrolled=self.b_start[cls],
            completed=np.where(done, day, NEVER),
            prog=prog,
            hours=np.round(self.k_hours[crs] * prog, 2),
        )
        self._mark_done((cad * self.n_courses + crs)[done])
        rated = done & (rng.random(n) < q["plan_rate"])
        self._course_rating(
            cad[rated], crs[rated], tch[rated], expected[rated], day[rated], cls[rated], rng=rng
        )
        return cad, crs

    def _plan_call(self, i: int, tier: int, cls: np.ndarray):
        """(class, called cadres) of one tier's classes of the month: Gumbel-top-k by group."""
        q, rng = self.p["mandatory"], self.plan_rng
        ms = self.month_start[i]
        ranks = COUNTY_RANKS if tier == COUNTY else TOWNSHIP_RANKS
        ok = self.serving & (self.busy < ms) & ranks[self.c_rank]
        if self.careers:
            first, last = self._exam_window()
            ok &= (self.leave_day > self.b_end[cls].max() + last) & (self.hire_day <= ms + first)
        pool = np.flatnonzero(ok)
        if tier == COUNTY:
            years_in = (self.months[i].year - q["county_anchor_year"]) % 5
            elapsed = (12 * years_in + self.months[i].month - 0.5) / 60.0
            need, done = q["county_hours"], self.offjob_hours[pool]
            group, c_group = np.zeros(len(pool), np.int64), np.zeros(len(cls), np.int64)
        else:
            elapsed = (self.months[i].month - 0.5) / 12.0
            need, done = q["township_hours"], self.class_hours[pool]
            group, c_group = self.c_unit[pool], self.b_unit[cls]
        behind = np.clip((need * elapsed - done) / need, -1.0, 1.0)
        key = (
            q["plan_propensity"] * self.log_propensity[pool]
            + q["plan_behind"] * behind
            + rng.gumbel(size=len(pool))
        )
        order = np.lexsort((-key, group))
        pool, group = pool[order], group[order]
        rank_in = np.arange(len(pool)) - np.searchsorted(group, group, side="left")
        c_order = np.lexsort((self.b_start[cls], c_group))
        cls, c_group = cls[c_order], c_group[c_order]
        cap = self.b_capacity[cls]
        cum = np.cumsum(cap)
        first_of = np.searchsorted(c_group, c_group, side="left")
        ends = cum - (cum[first_of] - cap[first_of])  # cumulative capacity within the group
        big = len(pool) + 1
        slot = np.searchsorted(c_group * big + ends, group * big + rank_in, side="right")
        inside = slot < len(cls)
        inside[inside] &= c_group[slot[inside]] == group[inside]
        for j in np.unique(slot[inside]):
            yield int(cls[j]), np.sort(pool[inside & (slot == j)])

    def _plan_online(self, i: int, taken: np.ndarray):
        """Assign the 网络专题班 starting in month ``i`` to their units' cadres in service."""
        year = self.months[i].year
        if year not in self.online_class_of:
            return _EMPTY
        of_unit = self.online_class_of[year][self.c_unit]
        ms, me = self.month_start[i], self.month_end[i]
        who = np.flatnonzero(
            self.serving
            & (self.online_assigned < year)
            & (self.b_month[of_unit] == i)
            & (self.leave_day > me)
        )
        if not len(who):
            return _EMPTY
        self.online_assigned[who] = year
        cls = of_unit[who]
        cad, k, c_of = [], [], []
        for c in np.unique(cls):
            members = who[cls == c]
            js = self.sess_course[self.sess_ptr[c] : self.sess_ptr[c + 1]]
            cad.append(np.repeat(members, len(js)))
            k.append(np.tile(js, len(members)))
            c_of.append(np.full(len(members) * len(js), c))
        cad, k, c_of = np.concatenate(cad), np.concatenate(k), np.concatenate(c_of)
        keep = ~np.isin(cad * self.n_courses + k, taken)
        cad, k, c_of = cad[keep], k[keep], c_of[keep]
        start = np.maximum(self.b_start[c_of], ms)
        return self._enrol_assigned(
            i, cad, k, c_of, start, self.b_end[c_of], "online_base", ROLLCALL_SRC
        )

    def _plan_truth(self) -> dict[str, object]:
        """Truth of the plan: the workload of every cadre-year and every unit's culture."""
        n_years = self.workload.shape[1]
        return {
            "engagement": pd.DataFrame(
                {
                    "cadre_id": np.repeat(np.array(make_ids("C", 6, self.n), object), n_years),
                    "year": np.tile(np.arange(n_years) + self.plan_year0, self.n),
                    "workload": np.round(self.workload.ravel(), 4),
                }
            ),
            "unit_culture": pd.DataFrame(
                {
                    "unit_id": make_ids("U", 4, self.n_units),
                    "culture": np.round(self.culture, 4),
                }
            ),
        }
