"""The world's people and places: units, cadres, post requirements, institutions, staff."""

from __future__ import annotations

import numpy as np

from ganxun.features.contracts import CATEGORIES, EDUCATIONS, INSTITUTION_KINDS, TEACHER_TITLES
from ganxun.simulation.common import pick_rows, sigmoid
from ganxun.simulation.names import (
    CITY,
    DEPARTMENTS,
    DISTRICTS,
    PLACE_HEAD,
    PLACE_TAIL,
    SECTOR_CATEGORY_P,
    SECTORS,
    UNIVERSITIES,
)
from ganxun.simulation.params import (
    N_CAT,
    N_FACTORS,
    N_RANK,
    N_TOPICS,
    NETWORK_SCHOOL,
    NEVER,
    RELEVANT,
    TOPIC_IDS,
)


class PopulationMixin:
    """Units, cadres, post requirements, institutions, teachers and support staff."""

    def _units(self) -> None:
        rng, n = self.rng, self.size["units"]
        n_dep, n_dis = len(DEPARTMENTS), len(DISTRICTS)
        stems = [h + t for h in PLACE_HEAD for t in PLACE_TAIL]
        n_city = min(n_dep, max(1, round(0.15 * n)))
        n_dist = min(n_dis * n_dep, round(0.4 * n))
        n_town = n - n_city - n_dist
        if n_town > n_dis * len(stems):  # pragma: no cover - sizes are static
            raise ValueError("too many units for the name pool")

        def dept(place: str, d: int) -> str:
            name, _, party = DEPARTMENTS[d]
            return f"中共{place}委{name}" if party else f"{place}{name}"

        rows = []
        for d in rng.choice(n_dep, n_city, replace=False):
            rows.append((dept(CITY, d), "市本级", 0, DEPARTMENTS[d][1]))
        for code in rng.choice(n_dis * n_dep, n_dist, replace=False):
            district, d = DISTRICTS[code // n_dep], code % n_dep
            rows.append((dept(district, d), district, 1, DEPARTMENTS[d][1]))
        for code in rng.choice(n_dis * len(stems), n_town, replace=False):
            district, s = DISTRICTS[code // len(stems)], code % len(stems)
            suffix = "镇人民政府" if s % 3 == 0 else "街道办事处"
            rows.append((f"{district}{stems[s]}{suffix}", district, 2, len(SECTORS) - 1))
        self.unit_name = [r[0] for r in rows]
        self.unit_district = [r[1] for r in rows]
        self.unit_level = np.array([r[2] for r in rows])
        self.unit_sector = np.array([r[3] for r in rows])
        self.n_units = n

        p = self.p
        offset = rng.normal(0.0, p["unit_offset_sd"], (n, N_TOPICS))
        weak = np.argsort(rng.random((n, N_TOPICS)), axis=1)[:, :3]
        n_weak = rng.integers(2, 4, n)
        shift = rng.uniform(*p["unit_weak_shift"], (n, 3)) * (
            np.arange(3)[None, :] < n_weak[:, None]
        )
        np.subtract.at(offset, (np.repeat(np.arange(n), 3), weak.ravel()), shift.ravel())
        self.unit_offset = offset
        self.unit_size = rng.lognormal(0.0, 0.5, n) * np.array([1.5, 1.0, 0.7])[self.unit_level]
        self.unit_favour = rng.lognormal(0.0, p["unit_favour_sigma"], n)

    def _cadres(self) -> None:
        rng, n, p = self.rng, self.size["cadres"], self.p
        unit = rng.choice(self.n_units, n, p=self.unit_size / self.unit_size.sum())
        rank_p = np.array(
            [
                [0.22, 0.22, 0.22, 0.18, 0.11, 0.05],  # 市级部门
                [0.30, 0.28, 0.22, 0.12, 0.06, 0.02],  # 区县
                [0.40, 0.30, 0.20, 0.08, 0.02, 0.00],  # 乡镇街道
            ]
        )
        rank = pick_rows(rng, rank_p[self.unit_level[unit]])
        cat = pick_rows(rng, SECTOR_CATEGORY_P[self.unit_sector[unit]])
        mean_age = np.array([29.0, 34.0, 39.0, 44.0, 49.0, 53.0])
        age = np.clip(np.rint(rng.normal(mean_age[rank], 4.5)), 23, 59).astype(int)
        gender = np.where(rng.random(n) < 0.55 + 0.05 * rank, 0, 1)
        education = rng.choice(len(EDUCATIONS), n, p=[0.1, 0.6, 0.27, 0.03])
        education[rng.random(n) < 0.01] = NEVER
        in_rank = rng.uniform(0.0, 1.0, n) * np.minimum(8.0, age - 23.0)
        appointed = self.end_day - np.rint(in_rank * 365.25).astype(np.int64)
        appointed[rng.random(n) < 0.02] = NEVER

        ability = rng.normal(0.0, p["ability_sd"], n)
        lr = rng.lognormal(np.log(p["lr_median"]), p["lr_sigma"], n)
        extreme = rng.random(n) < p["leniency_extreme_share"]
        leniency = (
            rng.normal(0.0, p["leniency_sd"], n)
            + extreme * rng.choice([-1.0, 1.0], n) * p["leniency_extreme_shift"]
        )
        activity = p["activity"][0] + (p["activity"][1] - p["activity"][0]) * rng.beta(2, 2, n)
        propensity = rng.lognormal(0.0, p["rollcall_sigma"], n)
        ability, lr, activity, propensity = self._shape_traits(
            rank, age, ability, lr, activity, propensity
        )
        propensity = propensity * self.unit_favour[unit]

        relevant = np.zeros((N_CAT, N_TOPICS))
        for c, ks in enumerate(RELEVANT):
            relevant[c, list(ks)] = 1.0
        logit = (
            p["mu0"]
            + ability[:, None]
            + self.unit_offset[unit]
            + p["relevance"] * relevant[cat]
            + p["rank_effect"] * rank[:, None]
            + rng.normal(0.0, p["init_noise_sd"], (n, N_TOPICS))
        )
        m0 = np.clip(sigmoid(logit), p["m_min"], p["m_max"])
        centers = rng.normal(0.0, 0.6, (N_CAT, N_FACTORS))
        prefs = 0.5 * centers[cat] + rng.normal(0.0, 0.5, (n, N_FACTORS))

        self.n = n
        self.c_unit, self.c_rank, self.c_cat, self.c_age = unit, rank, cat, age
        self.c_gender, self.c_edu, self.c_appointed = gender, education, appointed
        self.ability, self.lr, self.leniency = ability, lr, leniency
        self.activity, self.propensity = activity, propensity
        self.relevant, self.m0, self.prefs = relevant, m0, prefs

    def _post_requirements(self) -> None:
        core = np.zeros(N_TOPICS)
        core[[0, 1]] = 0.05  # 理想信念, 党性修养 matter for every post
        raw = (
            0.5
            + 0.05 * np.arange(N_RANK)[:, None, None]
            + 0.15 * self.relevant[None, :, :]
            + core[None, None, :]
            + self.rng.normal(0.0, 0.04, (N_RANK, N_CAT, N_TOPICS))
        )
        self.target = np.clip(np.round(raw, 2), 0.4, 0.95)

    def _institutions(self) -> None:
        rng, n = self.rng, self.size["institutions"]
        kind = {k: i for i, k in enumerate(INSTITUTION_KINDS)}
        fixed = [
            ("中共成都市委党校", kind["党校"]),
            ("成都干部网络学院", kind["网络学院"]),
            ("四川大学公共管理学院", kind["高校"]),
            ("成都行政学院", kind["行政学院"]),
            ("成都干部学院", kind["干部学院"]),
        ]
        pool = [(f"{u}继续教育学院", kind["高校"]) for u in UNIVERSITIES[1:]]
        for d in DISTRICTS:
            pool += [
                (f"中共{d}委党校", kind["党校"]),
                (f"{d}行政学校", kind["行政学院"]),
                (f"{d}干部学院", kind["干部学院"]),
                (f"{d}干部网络学院", kind["网络学院"]),
            ]
        rows = (fixed + [pool[i] for i in rng.permutation(len(pool))])[:n]
        self.inst_name = [r[0] for r in rows]
        self.inst_kind = np.array([r[1] for r in rows])
        self.n_inst = n
        self.inst_weight = rng.lognormal(0.0, 0.5, n)

    def _choose_inst(self, size: int, online: bool | None = None) -> np.ndarray:
        """Institutions weighted by size; ``online`` prefers (True) or avoids network schools."""
        w = self.inst_weight.copy()
        if online is not None:
            net = self.inst_kind == NETWORK_SCHOOL
            sel = net if online else ~net
            if sel.any():
                w = w * sel
        return self.rng.choice(self.n_inst, size, p=w / w.sum())

    def _teachers(self) -> None:
        rng, n = self.rng, self.size["teachers"]
        inst = self._choose_inst(n, online=False)
        title = rng.choice(len(TEACHER_TITLES), n, p=[0.35, 0.3, 0.25, 0.1])
        base = rng.normal(0.3, 0.5, n) + 0.12 * title
        off = rng.normal(0.0, 0.5, (n, N_TOPICS))
        n_decl = rng.choice([1, 2, 3], n, p=[0.35, 0.4, 0.25])
        noisy = off + rng.normal(0.0, 0.5, (n, N_TOPICS))
        place = np.argsort(np.argsort(-noisy, axis=1), axis=1)
        declared = place < n_decl[:, None]
        for k in range(N_TOPICS):  # every topic has a declared teacher
            if not declared[:, k].any():
                free = np.flatnonzero(declared.sum(axis=1) < 3)
                free = free if len(free) else np.arange(n)
                declared[free[np.argmax(off[free, k])], k] = True
        # declared weight correlates only about 0.5 with the true topic quality
        q = base[:, None] + off
        weight = sigmoid(1.1 * (q - 0.5) + rng.normal(0.0, 1.1, (n, N_TOPICS)))
        weight = np.clip(np.round(weight, 2), 0.05, 1.0)
        self.n_teachers = n
        self.t_inst, self.t_title, self.t_base = inst, title, base
        self.t_q = q
        self.t_declared, self.t_weight = declared, np.where(declared, weight, 0.0)
        self.t_pref = rng.uniform(0.0, 5.0, n)
        self.t_sens = rng.uniform(0.5, 2.5, n)

    def _declared_teacher(self, k: int) -> int:
        who = np.flatnonzero(self.t_declared[:, k])
        w = self.t_weight[who, k]
        return int(self.rng.choice(who, p=w / w.sum()))

    def _staff(self) -> None:
        rng, n = self.rng, self.size["staff"]
        self.n_staff = n
        self.s_inst = self._choose_inst(n, online=False)
        is_topic = rng.random(n) < 0.5
        topic = rng.integers(0, N_TOPICS, n)
        cat = rng.integers(0, N_CAT, n)
        self.s_background = [
            TOPIC_IDS[topic[i]] if is_topic[i] else CATEGORIES[cat[i]] for i in range(n)
        ]
        self.s_years = rng.integers(0, 31, n)
        self.s_q = rng.normal(0.4, 0.5, n) + 0.015 * (self.s_years - 10)
        self.s_pref = rng.uniform(0.0, 5.0, n)
        self.s_sens = rng.uniform(0.5, 2.5, n)
