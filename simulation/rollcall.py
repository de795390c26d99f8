"""Historical rollcall: how the organisation department filled its classes, and the gains."""

from __future__ import annotations

import numpy as np

from ganxun.features.contracts import ENROLL_SOURCES
from ganxun.simulation.learning import apply_rate, effect_of_rating, gain_rate
from ganxun.simulation.params import N_TOPICS, NEVER


class RollcallMixin:
    """Historical rollcall: who the organisation department called, and what they learned."""

    def _rollcall(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Call a rollcall class: pick members by propensity, train, examine, rate."""
        p, rng = self.p, self.rng
        start, end = self.b_start[c], self.b_end[c]
        pool = np.concatenate([self.rank_pool[r] for r in np.flatnonzero(self.b_ranks[c])])
        pool = pool[self.busy[pool] < start]
        if self.careers:  # every exam of the class falls inside the member's service
            first, last = self._exam_window()
            ok = (self.leave_day[pool] > end + last) & (self.hire_day[pool] <= start + first)
            due = self._induction_due(pool, start)
            pool = pool[ok & due] if self.b_induction[c] else pool[ok]
        cap = min(int(self.b_capacity[c]), len(pool))
        if cap == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        # Gumbel-top-k = sampling without replacement in proportion to the propensity
        key = self.log_propensity[pool] + rng.gumbel(size=len(pool))
        if self.careers:  # 任职培训: the newly promoted are called first
            key += self.p["careers"]["induction_boost"] * self._induction_due(pool, start)
        members = np.sort(pool[np.argpartition(-key, cap - 1)[:cap]])
        self.busy[members] = end
        if self.careers:
            self.induction_called[members] = True
        sl = slice(self.sess_ptr[c], self.sess_ptr[c + 1])
        js, ts, ds = self.sess_course[sl], self.sess_teacher[sl], self.sess_day[sl]
        n_m, n_s = len(members), len(js)
        cohort = self.c_rank[members].mean()
        expected = self._teacher_rating(ts, js, cohort)
        effect = effect_of_rating(expected, p)
        partial = rng.random((n_m, n_s)) < p["rollcall_partial"]
        prog = np.where(partial, np.round(rng.uniform(0.3, 0.95, (n_m, n_s)), 2), 1.0)
        m_rows = self.m[members]
        rate = np.zeros((n_m, N_TOPICS))
        for s in range(n_s):
            j = js[s]
            rate += gain_rate(
                m_rows,
                self.k_w[j],
                self.k_hours[j] * prog[:, s],
                self.lr[members],
                effect[s],
                self.k_level[j],
                p,
            )
        self.acc[members] += rate
        self._class_exams(c, members, m_rows, apply_rate(m_rows, rate))

        cadres = np.repeat(members, n_s)
        courses = np.tile(js, n_m)
        done = ~partial.ravel()
        self.enr.add(
            cadre=cadres,
            course=courses,
            cls=c,
            src=ENROLL_SOURCES.index("rollcall"),
            enrolled=start,
            completed=np.where(done, np.tile(ds, n_m), NEVER),
            prog=prog.ravel(),
            hours=np.round(self.k_hours[courses] * prog.ravel(), 2),
        )
        self._mark_done((cadres * self.n_courses + courses)[done])
        rated = done & (rng.random(len(cadres)) < p["p_rate_class"])
        self._course_rating(
            cadres[rated],
            courses[rated],
            np.tile(ts, n_m)[rated],
            np.tile(expected, n_m)[rated],
            np.tile(ds, n_m)[rated],
            c,
        )
        return cadres, courses

    def _induction_due(self, cadres: np.ndarray, day: int) -> np.ndarray:
        """Cadres promoted within ``induction_months`` before ``day`` and not called since."""
        months = self.p["careers"]["induction_months"]
        recent = self.promoted_day[cadres] >= day - round(months * 30.44)
        return recent & ~self.induction_called[cadres]

    def _exam_window(self) -> tuple[int, int]:
        """Earliest pre-test day after the start, latest post-test day after the end."""
        if not self.formats:
            return 0, 0
        q = self.p["exam_formats"]
        return q["pre_days"][0], q["post_days"][1]
