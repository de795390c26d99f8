"""Elective choice: the utility cadres choose courses by, and the month's choices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, CLASS_KINDS, ENROLL_SOURCES, MODES, RANKS
from ganxun.simulation.careers import month_groups
from ganxun.simulation.common import index_of
from ganxun.simulation.learning import effect_of_rating, gain_rate
from ganxun.simulation.params import (
    ELECTIVE_MAX_DAYS,
    N_CAT,
    N_MODE,
    N_RANK,
    N_TOPICS,
    NEVER,
    ROLLCALL,
)


def cadre_side(prefs: np.ndarray, gap: np.ndarray, age: np.ndarray, params: dict) -> np.ndarray:
    """Cadre half of the bilinear part of the elective utility: [p, beta_gap * gap, mode terms]."""
    base = np.asarray(params["mode_base"], dtype=float)
    slope = np.asarray(params["mode_age"], dtype=float)
    mode = base[None, :] + ((np.asarray(age, dtype=float) - 40.0) / 10.0)[:, None] * slope[None, :]
    return np.hstack([prefs, params["beta_gap"] * gap, mode]).astype(np.float32)


def course_side(factors: np.ndarray, topic_w: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Course half of the bilinear part: [f, topic weights, mode one-hot]."""
    return np.hstack([factors, topic_w, np.eye(N_MODE)[mode]]).astype(np.float32)


def course_scalar(quality, pop_count, hours, n_cadres: int, params: dict) -> np.ndarray:
    """Course-only part of the utility: quality, popularity per 1000 cadres and hours."""
    pop = np.log1p(1000.0 * np.asarray(pop_count, dtype=float) / max(n_cadres, 1))
    return (
        params["beta_q"] * quality
        + params["beta_pop"] * pop
        + params["beta_hours"] * np.log1p(hours)
    ).astype(np.float32)


def group_matrix(peer: np.ndarray, sizes: np.ndarray, bonus: np.ndarray, params) -> np.ndarray:
    """(rank x category group) x course part: peer popularity per 1000 peers + class bonus."""
    rate = 1000.0 * peer / np.maximum(sizes, 1)[:, None]
    out = params["beta_peer"] * np.log1p(rate)
    out += np.repeat(bonus, N_CAT, axis=0)  # group g = rank * n_categories + category
    return out.astype(np.float32)


def month_position(truth: dict, at: pd.Timestamp) -> int:
    """Index into ``truth["mastery"]`` of the state at ``at``: months fully finished before it."""
    months = pd.DatetimeIndex(truth["months"])
    ends = months + pd.offsets.MonthBegin(1)
    return int(np.searchsorted(ends.to_numpy(), np.datetime64(at, "ns"), side="right"))


def choice_utility(
    truth: dict, tables: dict[str, pd.DataFrame], cadre_ids, at
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic part of the elective utility of every course for some cadres at a date.

    The same utility the simulator draws electives from (before the Gumbel noise): preferences,
    gap to the post's target (mastery as of ``at``), course quality, popularity and peer popularity
    (enrollments before ``at``), mode and hours, and the bonus of courses of elective/online classes
    open in the month of ``at`` for the cadre's rank. Courses not yet published at ``at``, or
    already taken to completion by the cadre (an enrollment before ``at`` that completes), get
    ``-inf``. At a month start it equals the simulator's utility for that month (which also offers
    courses published later in the month).

    Parameters
    ----------
    truth : dict
        ``City.truth``.
    tables : dict of str to DataFrame
        The raw tables (cadres, post_requirements, courses, course_topics, classes,
        class_sessions, enrollments).
    cadre_ids : array-like of str
        Cadres to score.
    at : date-like
        The date of the decision.

    Returns
    -------
    course_ids : ndarray of str
        All courses, in ``courses`` table order.
    matrix : ndarray of float, shape (len(cadre_ids), n_courses)
        Utilities.
    """
    at = pd.Timestamp(at).normalize()
    base = UtilityBase(truth, tables, cadre_ids, at)
    bonus, _ = class_bonus(tables, base.course_ids, at, truth["params"])
    u = base.u + bonus[base.rank]
    u[:, ~(base.published <= at)] = -np.inf
    return base.course_ids, u


def choice_probabilities(
    truth: dict, tables: dict[str, pd.DataFrame], cadre_ids, months, state_at
) -> tuple[np.ndarray, np.ndarray]:
    """Each cadre's probability of choosing each course, summed over the months of a window.

    For every month (its first day in ``months``) the simulator draws electives by Gumbel-max
    over the utility within a random consideration set. Here that month's utility is the cadre's
    state as of ``state_at`` (mastery, popularity, peer popularity and completed courses:
    :func:`choice_utility` at ``state_at``) plus the bonus of the classes open in that month for
    the cadre's rank, over the courses published by the month's end; the choice probability is
    its softmax with each course weighted by its chance to be in the consideration set (when the
    catalogue is larger than ``consideration_set``: ``consideration_set`` uniform draws, plus
    ``promoted_draws`` draws among the courses of open elective/online classes). The oracle of
    the recommender evaluation ranks by the sum over the test window.

    Parameters
    ----------
    truth : dict
        ``City.truth``.
    tables : dict of str to DataFrame
        The raw tables, as for :func:`choice_utility`.
    cadre_ids : array-like of str
        Cadres to score.
    months : sequence of date-like
        The first day of each month of the window.
    state_at : date-like
        The date of the cadres' state (the time split).

    Returns
    -------
    course_ids : ndarray of str
        All courses, in ``courses`` table order.
    matrix : ndarray of float, shape (len(cadre_ids), n_courses)
        Expected number of times each course is chosen over the window, per choice a month.
    """
    params = truth["params"]
    base = UtilityBase(truth, tables, cadre_ids, pd.Timestamp(state_at).normalize())
    total = np.zeros(base.u.shape)
    size, draws = int(params["consideration_set"]), int(params["promoted_draws"])
    for month in months:
        start = pd.Timestamp(month).normalize().replace(day=1)
        bonus, promoted = class_bonus(tables, base.course_ids, start, params)
        offered = base.published <= start + pd.offsets.MonthEnd(0)
        n_pub = int(offered.sum())
        if n_pub == 0:
            continue
        weight = np.where(offered, 1.0, 0.0)
        if n_pub > size:  # a sampled consideration set: the chance each course is in it
            n_promo = int((promoted & offered).sum())
            miss = np.full(len(offered), (1.0 - 1.0 / n_pub) ** size)
            if n_promo:
                miss[promoted] *= (1.0 - 1.0 / n_promo) ** min(n_promo, draws)
            weight = np.where(offered, 1.0 - miss, 0.0)
        with np.errstate(divide="ignore"):
            u = base.u + bonus[base.rank] + np.log(weight)[None, :]
        top = np.max(u, axis=1, keepdims=True)
        p = np.exp(u - np.where(np.isfinite(top), top, 0.0))
        total += p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    return base.course_ids, total


class UtilityBase:
    """The elective utility without the class bonus, for some cadres as of a date.

    ``u`` (cadres × courses, ``-inf`` for courses the cadre completed before ``at``), ``rank``
    (rank index of each cadre), ``course_ids`` and ``published`` (publication date per course).
    """

    def __init__(self, truth: dict, tables: dict[str, pd.DataFrame], cadre_ids, at: pd.Timestamp):
        params = truth["params"]
        cadres = tables["cadres"].reset_index(drop=True)
        all_ids = np.asarray(truth["cadre_ids"]).astype(str)
        ci = index_of(cadre_ids, all_ids)
        # cadres validation set aside are absent from the tables: no group, no enrolments
        tab_i = pd.Index(cadres["cadre_id"].astype(str)).get_indexer(all_ids)
        present = tab_i >= 0
        rank = np.zeros(len(all_ids), np.int64)
        cat = np.zeros(len(all_ids), np.int64)
        age = np.full(len(all_ids), np.nan)
        rank[present] = index_of(cadres["rank"], RANKS)[tab_i[present]]
        cat[present] = index_of(cadres["category"], CATEGORIES)[tab_i[present]]
        end_year = pd.Timestamp(params["end"]).year
        born = pd.to_numeric(cadres["birth_year"]).to_numpy(dtype=float)
        age[present] = end_year - born[tab_i[present]]
        group, serving = rank * N_CAT + cat, present.copy()
        posts = tables.get("cadre_posts")
        careers = posts is not None and len(posts) > 0
        if careers:  # posts change: the group and service of the month of ``at``
            group, serving = month_groups(posts, all_ids, at)
            serving &= present
            rank, cat = group // N_CAT, group % N_CAT
        sizes = np.bincount(group[serving], minlength=N_RANK * N_CAT)

        pr = tables["post_requirements"]
        target = np.zeros((N_RANK, N_CAT, N_TOPICS))
        target[
            index_of(pr["rank"], RANKS),
            index_of(pr["category"], CATEGORIES),
            index_of(pr["topic_id"], truth["topic_ids"]),
        ] = pr["target"].to_numpy(dtype=float)
        mastery = np.asarray(truth["mastery"][month_position(truth, at)], dtype=float)
        gap = np.maximum(0.0, target[rank[ci], cat[ci]] - mastery[ci])

        courses = tables["courses"].reset_index(drop=True)
        course_ids = courses["course_id"].to_numpy().astype(str)
        n_courses = len(course_ids)
        ct = tables["course_topics"]
        topic_w = np.zeros((n_courses, N_TOPICS))
        topic_w[
            index_of(ct["course_id"], course_ids), index_of(ct["topic_id"], truth["topic_ids"])
        ] = ct["weight"].to_numpy(dtype=float)
        tc = truth["courses"]
        quality = np.zeros(n_courses)
        quality[index_of(tc["course_id"], course_ids)] = tc["quality"].to_numpy(dtype=float)
        factors = np.asarray(truth["course_factors"], dtype=float)
        mode = index_of(courses["mode"], MODES)
        hours = courses["hours"].to_numpy(dtype=float)

        enr = tables["enrollments"]
        before = (pd.to_datetime(enr["enrolled_on"]) < at).to_numpy()
        e_course = index_of(enr["course_id"][before], course_ids)
        e_cadre = index_of(enr["cadre_id"][before], all_ids)
        pop = np.bincount(e_course, minlength=n_courses)
        peer = np.zeros((N_RANK * N_CAT, n_courses))
        e_group = group[e_cadre]
        if careers:  # peers by the post held in the month of the enrolment
            e_group = month_groups(posts, all_ids[e_cadre], enr["enrolled_on"][before])[0]
        np.add.at(peer, (e_group, e_course), 1.0)

        x = cadre_side(np.asarray(truth["cadre_prefs"], dtype=float)[ci], gap, age[ci], params)
        y = course_side(factors, topic_w, mode)
        s = course_scalar(quality, pop, hours, len(all_ids), params)
        gm = group_matrix(peer, sizes, np.zeros((N_RANK, n_courses)), params)
        u = x @ y.T + s[None, :] + gm[group[ci]]

        done = before & enr["completed_on"].notna().to_numpy()
        pos = pd.Series(np.arange(len(ci)), index=np.asarray(cadre_ids).astype(str))
        d_cadre = enr["cadre_id"][done].astype(str)
        keep = d_cadre.isin(pos.index).to_numpy()
        rows = pos.reindex(d_cadre[keep]).to_numpy()
        cols = index_of(enr["course_id"][done][keep], course_ids)
        if len(rows):
            u[rows, cols] = -np.inf
        self.u, self.rank, self.course_ids = u, rank[ci], course_ids
        published = pd.to_datetime(courses["published_on"])
        if "mandatory" in courses.columns:  # 必修 courses are assigned, never offered
            published = published.mask(courses["mandatory"].fillna(False).astype(bool))
        self.published = published.to_numpy()


def class_bonus(
    tables: dict[str, pd.DataFrame], course_ids: np.ndarray, at: pd.Timestamp, params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Rank × course bonus of the elective/online classes open in the month of ``at``.

    Returns the bonus (``beta_class`` where a class open to the rank has the course) and the mask
    of the courses of any such class (the simulator's promoted courses).
    """
    n_courses = len(course_ids)
    bonus = np.zeros((N_RANK, n_courses))
    promoted = np.zeros(n_courses, bool)
    month_start = at.replace(day=1)
    month_end = month_start + pd.offsets.MonthEnd(0)
    cl = tables["classes"]
    assigned = cl["mandatory"].fillna(False).astype(bool) if "mandatory" in cl else False
    open_ = (
        ~assigned  # 必修 online classes are assigned, not chosen
        & cl["kind"].isin(CLASS_KINDS[1:])
        & (pd.to_datetime(cl["start_on"]) <= month_end)
        & (pd.to_datetime(cl["end_on"]) >= month_start)
    )
    sess = tables["class_sessions"]
    for cid, ranks in zip(cl["class_id"][open_], cl["target_ranks"][open_], strict=True):
        js = index_of(sess["course_id"][sess["class_id"] == cid], course_ids)
        promoted[js] = True
        for r in index_of(list(ranks), RANKS):
            bonus[r, js] = params["beta_class"]
    return bonus, promoted


class ChoicesMixin:
    """Electives of the simulation: what active cadres choose each month, and what they learn."""

    def _open_classes(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Courses of elective/online classes open in month ``i``: class, session teacher, bonus."""
        ms, me = self.month_start[i], self.month_end[i]
        course_class = np.full(self.n_courses, NEVER)
        course_teacher = np.full(self.n_courses, NEVER)
        bonus = np.zeros((N_RANK, self.n_courses))
        open_ = (self.b_kind != ROLLCALL) & (self.b_start <= me) & (self.b_end >= ms)
        open_ &= self.b_tier < 0  # the plan's 网络专题班 are assigned, not chosen
        for c in np.flatnonzero(open_):
            sl = slice(self.sess_ptr[c], self.sess_ptr[c + 1])
            js, ts = self.sess_course[sl], self.sess_teacher[sl]
            free = course_class[js] < 0
            course_class[js[free]] = c
            course_teacher[js[free]] = ts[free]
            bonus[np.ix_(np.flatnonzero(self.b_ranks[c]), js)] = self.p["beta_class"]
        return course_class, course_teacher, bonus

    def _choose(self, active: np.ndarray, n_choice: np.ndarray, pub: np.ndarray, promoted):
        """Gumbel-max (top-n, without replacement) over each active cadre's consideration set.

        The set is every published course when there are at most ``consideration_set`` of them,
        else that many drawn at random plus ``promoted_draws`` draws among the courses of open
        elective/online classes (a course drawn twice counts once).
        """
        p, rng = self.p, self.rng
        course_class, _, bonus = promoted
        gm = group_matrix(self.peer, self.group_size, bonus, p)
        gm += course_scalar(self.k_quality, self.pop, self.k_hours, self.n, p)[None, :]
        gm = gm[:, pub]
        y = self.y[pub]
        gap = np.maximum(0.0, self.target[self.c_rank[active], self.c_cat[active]] - self.m[active])
        x = cadre_side(self.prefs[active], gap, self.c_age[active], p)
        size, n_pub = p["consideration_set"], len(pub)
        sampled = n_pub > size
        extra = np.searchsorted(pub, np.flatnonzero(course_class >= 0))
        n_extra = min(len(extra), p["promoted_draws"])
        width = size + n_extra if sampled else n_pub
        dense = n_pub <= 40 * width  # one matrix product is cheaper than gathering factor rows
        step = max(1, int(4e6 // (n_pub if dense else width * x.shape[1])))
        out = []
        for lo in range(0, len(active), step):
            rows = slice(lo, lo + step)
            who, xr, groups, want = active[rows], x[rows], self.group[active[rows]], n_choice[rows]
            if not sampled:
                pos = np.broadcast_to(np.arange(n_pub), (len(who), n_pub))
                u = xr @ y.T + gm[groups]
            else:
                pos = rng.integers(0, n_pub, (len(who), size), dtype=np.int32).astype(np.int64)
                if n_extra:
                    more = extra[rng.integers(0, len(extra), (len(who), n_extra), dtype=np.int32)]
                    pos = np.hstack([pos, more])
                if dense:
                    u = (xr @ y.T).ravel()[np.arange(len(who))[:, None] * n_pub + pos]
                    u += gm.ravel()[groups[:, None] * n_pub + pos]
                else:
                    u = np.einsum("ad,ajd->aj", xr, y[pos]) + gm[groups[:, None], pos]
            e = np.maximum(rng.standard_exponential(u.shape, dtype=np.float32), 1e-30)
            z = u - np.log(e)  # + Gumbel(0, 1) noise
            if not sampled:  # small catalogue: mask completed courses everywhere
                z[self._is_done(who[:, None] * self.n_courses + pub[None, :])] = -np.inf
            # the best few (a margin for completed ones when the set is sampled), best first
            k = int(min(want.max() + (3 if sampled else 0), z.shape[1]))
            top = np.argpartition(-z, k - 1, axis=1)[:, :k] if k < z.shape[1] else np.argsort(-z, 1)
            zs = np.take_along_axis(z, top, axis=1)
            cand = pub[np.take_along_axis(pos, top, axis=1)]
            if sampled:
                zs[self._is_done(who[:, None] * self.n_courses + cand)] = -np.inf
            order = np.argsort(-zs, axis=1, kind="stable")
            zs, cand = np.take_along_axis(zs, order, 1), np.take_along_axis(cand, order, 1)
            fin = np.isfinite(zs)
            keep = fin & (np.cumsum(fin, axis=1) <= want[:, None])
            # a course drawn twice into a consideration set counts once
            out.append(np.unique((who[:, None] * self.n_courses + cand)[keep]))
        codes = np.concatenate(out) if out else np.zeros(0, np.int64)
        return codes // self.n_courses, codes % self.n_courses

    def _electives(self, i: int, rollcall_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Self-chosen courses of the month: choose, attach to open classes, learn, rate."""
        p, rng, n_courses = self.p, self.rng, self.n_courses
        ms, me = self.month_start[i], self.month_end[i]
        active = np.flatnonzero(rng.random(self.n) < self.activity)
        if self.careers:  # in service, and still when the course is completed
            active = active[self._staying(active, me + ELECTIVE_MAX_DAYS)]
        n_choice = np.minimum(
            1 + rng.poisson(p["extra_choices_mean"], len(active)), p["max_choices"]
        )
        pub = np.flatnonzero(self.k_pub <= me)
        if self.mandatory:  # 必修 courses are assigned, never chosen
            pub = pub[~self.k_mandatory[pub]]
        promoted = self._open_classes(i)
        cadres, courses = self._choose(active, n_choice, pub, promoted)
        clash = np.isin(cadres * n_courses + courses, rollcall_codes)
        cadres, courses = cadres[~clash], courses[~clash]
        n_e = len(cadres)

        course_class, course_teacher, _ = promoted
        cls = course_class[courses]
        fits = (cls >= 0) & self.b_ranks[np.maximum(cls, 0), self.c_rank[cadres]]
        idx = np.flatnonzero(fits)
        idx = idx[np.lexsort((rng.random(len(idx)), cls[idx]))]
        first = np.searchsorted(cls[idx], cls[idx], side="left")
        seats = self.b_capacity - self.b_seated
        keep = (np.arange(len(idx)) - first) < seats[cls[idx]]
        attached = np.full(n_e, NEVER)
        attached[idx[keep]] = cls[idx[keep]]
        self.b_seated += np.bincount(attached[attached >= 0], minlength=self.n_classes)
        in_class = attached >= 0
        a = np.maximum(attached, 0)

        day = rng.integers(ms, me + 1, n_e)
        lo = np.where(in_class, np.maximum(ms, self.b_start[a]), ms)
        hi = np.where(in_class, np.minimum(me, self.b_end[a]), me)
        day = np.maximum(np.clip(day, lo, hi), self.k_pub[courses])
        complete = rng.random(n_e) < p["p_complete_self"]
        prog = np.where(complete, 1.0, np.round(0.05 + 0.9 * rng.beta(2, 2, n_e), 2))
        hours = self.k_hours[courses] * prog
        dur = np.ceil(self.k_hours[courses] / 2.0).astype(np.int64) + rng.integers(0, 8, n_e)
        completed = np.where(complete, np.minimum(day + dur, self.end_day), NEVER)

        teachers = np.where(in_class, course_teacher[courses], self.k_teacher[courses])
        cohort = np.where(in_class, self.b_level[a], self.c_rank[cadres])
        expected = self._teacher_rating(teachers, courses, cohort)
        effect = np.where(
            teachers >= 0,
            effect_of_rating(np.nan_to_num(expected, nan=3.0), p),
            np.exp(p["teacher_gamma"] * self.k_quality[courses]),
        )
        rate = gain_rate(
            self.m[cadres],
            self.k_w[courses],
            hours,
            self.lr[cadres],
            effect,
            self.k_level[courses],
            p,
        )
        for k in range(N_TOPICS):
            self.acc[:, k] += np.bincount(cadres, weights=rate[:, k], minlength=self.n)

        self.enr.add(
            cadre=cadres,
            course=courses,
            cls=attached,
            src=ENROLL_SOURCES.index("self"),
            enrolled=day,
            completed=completed,
            prog=prog,
            hours=np.round(hours, 2),
        )
        self._mark_done((cadres * n_courses + courses)[complete])
        p_rate = np.where(in_class, p["p_rate_class"], p["p_rate_self"])
        rated = complete & (rng.random(n_e) < p_rate)
        self._course_rating(
            cadres[rated],
            courses[rated],
            teachers[rated],
            expected[rated],
            completed[rated],
            attached[rated],
        )
        return cadres, courses
