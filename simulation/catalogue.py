"""What is on offer: courses, exam items, classes with their sessions and their publication."""

from __future__ import annotations

import numpy as np

from ganxun.features.contracts import CLASS_KINDS, TOPICS
from ganxun.simulation.common import round_weights
from ganxun.simulation.names import ANGLES, RANK_WORD, REISSUE, SUBTITLES
from ganxun.simulation.params import (
    AD_HOC_NOTICE_DAYS,
    ELECTIVE,
    FACE_MODES,
    KIND_CAPACITY,
    KIND_DAYS,
    KIND_SHARE,
    KIND_SUFFIX,
    MODE_HOURS,
    MODE_P,
    N_FACTORS,
    N_MODE,
    N_RANK,
    N_TOPICS,
    NEVER,
    ONLINE,
    ONLINE_MODES,
    PLAN_SHARE,
    PLAN_WINDOW_DAYS,
    PUBLICATION_STREAM,
    ROLLCALL,
    TOPIC_IDS,
)


class CatalogueMixin:
    """What is on offer: courses, exam items, classes with their sessions, and their publication."""

    def _courses(self) -> None:
        rng, n = self.rng, self.size["courses"]
        before = rng.random(n) < 0.25
        pub = np.where(
            before,
            self.start_day - rng.integers(1, 3 * 365, n),
            rng.integers(self.start_day, self.end_day + 1, n),
        )
        pub.sort()
        k1 = rng.choice(N_TOPICS, n, p=rng.dirichlet(np.full(N_TOPICS, 8.0)))
        two = rng.random(n) < 0.4
        k2 = np.where(two, (k1 + rng.integers(1, N_TOPICS, n)) % N_TOPICS, NEVER)
        w1 = np.where(two, np.round(rng.uniform(0.55, 0.8, n), 2), 1.0)
        level = rng.choice([1, 2, 3], n, p=[0.4, 0.4, 0.2])
        mode = rng.choice(N_MODE, n, p=MODE_P)
        hours = np.array([rng.choice(MODE_HOURS[md]) for md in mode])
        no_teacher = np.isin(mode, ONLINE_MODES) & (rng.random(n) < 0.2)
        by_topic = rng.random(n) < 0.8
        teacher = np.full(n, NEVER)
        for j in np.flatnonzero(~no_teacher):
            teacher[j] = (
                self._declared_teacher(k1[j]) if by_topic[j] else rng.integers(self.n_teachers)
            )
        inst = np.where(teacher >= 0, self.t_inst[np.maximum(teacher, 0)], 0)
        inst[teacher < 0] = self._choose_inst(int((teacher < 0).sum()), online=True)
        quality = np.where(
            teacher >= 0,
            0.8 * self.t_q[np.maximum(teacher, 0), k1] + rng.normal(0.0, 0.3, n),
            rng.normal(-0.1, 0.5, n),
        )
        centers = rng.normal(0.0, 0.6, (N_TOPICS, N_FACTORS))
        factors = 0.5 * centers[k1] + rng.normal(0.0, 0.45, (n, N_FACTORS))
        sub = rng.integers(0, len(SUBTITLES[0]), n)
        angle = rng.integers(0, len(ANGLES), n)
        titles = []
        for j in range(n):
            name = TOPICS[TOPIC_IDS[k1[j]]][0]
            if k2[j] >= 0:
                name += "与" + TOPICS[TOPIC_IDS[k2[j]]][0]
            micro = "【微课】" if mode[j] == 2 else ""
            titles.append(f"{micro}{name}专题：{SUBTITLES[k1[j]][sub[j]]}{ANGLES[angle[j]]}")

        reissue_of = np.full(n, NEVER)
        n_re = round(0.08 * n)
        chosen = np.sort(rng.choice(np.arange(n // 4, n), n_re, replace=False))
        used = np.zeros(n, bool)
        for j in chosen:
            pool = np.flatnonzero((np.arange(n) < j) & (reissue_of < 0) & ~used)
            pool = pool[~np.isin(pool, chosen)]
            if not len(pool):
                continue
            o = int(rng.choice(pool))
            used[o] = True
            reissue_of[j] = o
            for arr in (k1, k2, w1, level, mode, hours):
                arr[j] = arr[o]
            if teacher[o] >= 0 and rng.random() >= 0.7:
                teacher[j] = self._declared_teacher(k1[o])
            else:
                teacher[j] = teacher[o]
            inst[j] = self.t_inst[teacher[j]] if teacher[j] >= 0 else inst[o]
            quality[j] = quality[o] + 0.1 + rng.normal(0.0, 0.15)
            factors[j] = factors[o] + rng.normal(0.0, 0.1, N_FACTORS)
            titles[j] = titles[o] + REISSUE

        topic_w = np.zeros((n, N_TOPICS))
        topic_w[np.arange(n), k1] = w1
        has2 = k2 >= 0
        topic_w[np.flatnonzero(has2), k2[has2]] = np.round(1.0 - w1[has2], 2)
        self.n_courses = n
        self.k_pub, self.k_k1, self.k_w, self.k_level, self.k_mode = pub, k1, topic_w, level, mode
        self.k_hours, self.k_teacher, self.k_inst, self.k_quality = hours, teacher, inst, quality
        self.k_factors, self.k_title, self.k_reissue = factors, titles, reissue_of

    def _items(self) -> None:
        rng, per = self.rng, self.size["items_per_topic"]
        n = per * N_TOPICS
        k1 = np.repeat(np.arange(N_TOPICS), per)
        two = rng.random(n) < 0.15
        k2 = (k1 + rng.integers(1, N_TOPICS, n)) % N_TOPICS
        tested = np.zeros((n, N_TOPICS))
        tested[np.arange(n), k1] = 1.0
        tested[np.flatnonzero(two), k2[two]] = 1.0
        self.n_items = n
        self.i_tested = tested
        self.i_w = tested / tested.sum(axis=1, keepdims=True)
        self.i_b = rng.normal(0.0, 1.0, n)
        self.i_a = rng.lognormal(
            np.log(self.p["discrimination_median"]), self.p["discrimination_sigma"], n
        )

    def _classes(self) -> None:
        rng, n = self.rng, self.size["classes"]
        counts = np.round(np.array(KIND_SHARE) * n).astype(int)
        counts[-1] = n - counts[:-1].sum()
        kind = rng.permutation(np.repeat(np.arange(len(CLASS_KINDS)), counts))
        lo = np.array([d[0] for d in KIND_DAYS])[kind]
        hi = np.array([d[1] for d in KIND_DAYS])[kind]
        dur = rng.integers(lo, hi + 1)
        start = rng.integers(self.start_day, self.end_day - dur + 2)
        order = np.argsort(start, kind="stable")
        kind, dur, start = kind[order], dur[order], start[order]
        end = start + dur - 1

        inst = np.array([self._choose_inst(1, online=bool(k == ONLINE))[0] for k in kind])
        r1 = rng.choice(N_RANK, n, p=[0.22, 0.22, 0.22, 0.16, 0.12, 0.06])
        r2 = np.where(r1 < N_RANK - 1, r1 + 1, r1 - 1)
        pair = rng.random(n) < 0.5
        rank_mask = np.zeros((n, N_RANK), bool)
        rank_mask[np.arange(n), r1] = True
        rank_mask[np.flatnonzero(pair), r2[pair]] = True
        staff = np.full(n, NEVER)
        for c in np.flatnonzero(kind != ONLINE):
            own = np.flatnonzero(self.s_inst == inst[c])
            staff[c] = (
                rng.choice(own) if len(own) and rng.random() < 0.8 else rng.integers(self.n_staff)
            )
        factor = float(np.clip(self.n * self.size["years"] / (n * 60.0), 0.1, 1.0))
        cap_lo = np.array([c[0] for c in KIND_CAPACITY])[kind]
        cap_hi = np.array([c[1] for c in KIND_CAPACITY])[kind]
        capacity = np.maximum(2, np.rint(rng.integers(cap_lo, cap_hi + 1) * factor)).astype(int)
        per_rank = np.bincount(self.c_rank, minlength=N_RANK)
        eligible = rank_mask @ per_rank
        capacity = np.maximum(1, np.minimum(capacity, eligible))

        class_w = np.zeros((n, N_TOPICS))
        s_class, s_course, s_teacher, s_day = [], [], [], []
        mode_pref = np.ones((len(CLASS_KINDS), N_MODE))
        mode_pref[[ROLLCALL, ELECTIVE]] = np.where(np.isin(np.arange(N_MODE), FACE_MODES), 3, 1)
        mode_pref[ONLINE] = np.where(np.isin(np.arange(N_MODE), ONLINE_MODES), 3, 0.3)
        has_topic = self.k_w > 0
        for c in range(n):
            avail = self.k_pub <= start[c]
            per_topic = np.bincount(self.k_k1[avail], minlength=N_TOPICS).astype(float)
            main = int(rng.choice(N_TOPICS, p=per_topic / per_topic.sum()))
            n_top = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
            others = rng.permutation(np.delete(np.arange(N_TOPICS), main))[: n_top - 1]
            topics = [main, *others.tolist()]
            cand = avail & has_topic[:, topics].any(axis=1)
            while cand.sum() < 3 and len(topics) < 3:
                rest = per_topic.copy()
                rest[topics] = -1
                topics.append(int(np.argmax(rest)))
                cand = avail & has_topic[:, topics].any(axis=1)
            class_w[c, topics] = round_weights(rng, len(topics))
            idx = np.flatnonzero(cand)
            w = (self.k_w[idx] @ class_w[c]) * mode_pref[kind[c], self.k_mode[idx]]
            n_s = min(int(rng.integers(3, 9)), len(idx))
            js = rng.choice(idx, n_s, replace=False, p=w / w.sum())
            days = np.sort(rng.integers(start[c], end[c] + 1, n_s))
            for j, day in zip(js, days, strict=True):
                s_class.append(c)
                s_course.append(j)
                s_teacher.append(self._session_teacher(int(j), int(inst[c])))
                s_day.append(day)

        names, period = [], {}
        for c in range(n):
            year = int(np.datetime64(int(start[c]), "D").astype("datetime64[Y]").astype(int)) + 1970
            period[year] = period.get(year, 0) + 1
            words = "、".join(dict.fromkeys(RANK_WORD[r] for r in np.flatnonzero(rank_mask[c])))
            who = words if words == RANK_WORD[0] else words + "干部"
            topic = TOPICS[TOPIC_IDS[int(np.argmax(class_w[c]))]][0]
            names.append(f"{year}年第{period[year]}期{who}{topic}{KIND_SUFFIX[kind[c]]}")

        self.n_classes = n
        self.b_kind, self.b_start, self.b_end, self.b_inst = kind, start, end, inst
        self.b_ranks, self.b_staff, self.b_capacity = rank_mask, staff, capacity
        self.b_w, self.b_name = class_w, names
        self.b_level = (rank_mask * np.arange(N_RANK)).sum(axis=1) / rank_mask.sum(axis=1)
        self.b_month = np.searchsorted(self.month_start, start, side="right") - 1
        s_class = np.array(s_class, dtype=np.int64)
        self.sess_ptr = np.searchsorted(s_class, np.arange(n + 1))
        self.sess_class, self.sess_course = s_class, np.array(s_course, dtype=np.int64)
        self.sess_teacher, self.sess_day = np.array(s_teacher), np.array(s_day, dtype=np.int64)

    def _publication(self) -> None:
        """When each class was announced (``b_published``), from a random stream of its own.

        A class is in its year's annual plan with the probability of its kind, unless it starts
        within two weeks of the plan's publication; the others are announced 2–8 weeks ahead.
        """
        rng = np.random.default_rng([self.seed, PUBLICATION_STREAM])
        start = self.b_start
        year = start.astype("datetime64[D]").astype("datetime64[Y]")
        years = np.unique(year)
        offset = rng.integers(PLAN_WINDOW_DAYS[0], PLAN_WINDOW_DAYS[1] + 1, len(years))
        plan_day = years.astype("datetime64[D]").astype(np.int64) + offset
        plan = plan_day[np.searchsorted(years, year)]
        lo, hi = AD_HOC_NOTICE_DAYS
        notice = rng.integers(lo, hi + 1, len(start))
        in_plan = (rng.random(len(start)) < np.array(PLAN_SHARE)[self.b_kind]) & (
            start >= plan + lo
        )
        self.b_published = np.where(in_plan, plan, start - notice)

    def _session_teacher(self, course: int, inst: int) -> int:
        """The institution's pick for a session: declared for the topic, noisy (not optimal)."""
        k = self.k_k1[course]
        who = np.flatnonzero(self.t_declared[:, k])
        if not len(who):  # pragma: no cover - every topic has a declared teacher
            t = self.k_teacher[course]
            return int(t) if t >= 0 else int(self.rng.integers(self.n_teachers))
        score = (
            self.t_weight[who, k]
            + 0.8 * (self.t_inst[who] == inst)
            + 1.0 * (who == self.k_teacher[course])
            + self.rng.normal(0.0, 0.7, len(who))
        )
        return int(who[np.argmax(score)])

    def _append_courses(
        self, pub, topic_w, level, mode, hours, teacher, inst, quality, factors, titles, reissue_of
    ) -> np.ndarray:
        """Add courses at the end of the catalogue (after classes are drawn); their indices.

        The realism processes add courses this way (the yearly 必修 package, a renamed re-issue),
        so the classes and every draw made before them stay as they were.
        """
        new = np.arange(self.n_courses, self.n_courses + len(pub))
        topic_w = np.asarray(topic_w, dtype=float)
        self.k_pub = np.concatenate([self.k_pub, pub])
        self.k_k1 = np.concatenate([self.k_k1, np.argmax(topic_w, axis=1)])
        self.k_w = np.vstack([self.k_w, topic_w])
        self.k_level = np.concatenate([self.k_level, level])
        self.k_mode = np.concatenate([self.k_mode, mode])
        self.k_hours = np.concatenate([self.k_hours, hours])
        self.k_teacher = np.concatenate([self.k_teacher, teacher])
        self.k_inst = np.concatenate([self.k_inst, inst])
        self.k_quality = np.concatenate([self.k_quality, quality])
        self.k_factors = np.vstack([self.k_factors, factors])
        self.k_title = [*self.k_title, *titles]
        self.k_reissue = np.concatenate([self.k_reissue, reissue_of])
        self.n_courses += len(pub)
        return new

    def _append_classes(
        self, kind, start, end, inst, ranks, staff, capacity, topic_w, names, published, sessions
    ) -> np.ndarray:
        """Add classes at the end of the class list (after every draw of the clean city).

        ``sessions`` is one (courses, teachers, days) triple per class. The 必修 plan of the
        ``mandatory`` switch adds its classes this way, so the classes drawn before it (and every
        draw made with them) stay as they were. Returns the new classes' indices.
        """
        n_old, n_new = self.n_classes, len(kind)
        new = np.arange(n_old, n_old + n_new)
        ranks = np.asarray(ranks, bool).reshape(n_new, N_RANK)
        self.b_kind = np.concatenate([self.b_kind, kind])
        self.b_start = np.concatenate([self.b_start, start])
        self.b_end = np.concatenate([self.b_end, end])
        self.b_inst = np.concatenate([self.b_inst, inst])
        self.b_ranks = np.vstack([self.b_ranks, ranks])
        self.b_staff = np.concatenate([self.b_staff, staff])
        self.b_capacity = np.concatenate([self.b_capacity, capacity])
        self.b_w = np.vstack([self.b_w, np.asarray(topic_w, float).reshape(n_new, N_TOPICS)])
        self.b_name = [*self.b_name, *names]
        self.b_level = (self.b_ranks * np.arange(N_RANK)).sum(axis=1) / self.b_ranks.sum(axis=1)
        self.b_month = np.searchsorted(self.month_start, self.b_start, side="right") - 1
        self.b_published = np.concatenate([self.b_published, published])
        if hasattr(self, "b_induction"):
            self.b_induction = np.concatenate([self.b_induction, np.zeros(n_new, bool)])
        counts = np.array([len(s[0]) for s in sessions], np.int64)
        s_class = np.repeat(new, counts)
        self.sess_class = np.concatenate([self.sess_class, s_class])
        for attr, j in (("sess_course", 0), ("sess_teacher", 1), ("sess_day", 2)):
            parts = [np.asarray(s[j], np.int64) for s in sessions]
            setattr(self, attr, np.concatenate([getattr(self, attr), *parts]))
        self.sess_ptr = np.searchsorted(self.sess_class, np.arange(n_old + n_new + 1))
        self.n_classes = n_old + n_new
        return new
