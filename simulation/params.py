"""Sizes, process constants and shape constants of the synthetic city."""

from __future__ import annotations

import math

from ganxun.features.contracts import (
    CATEGORIES,
    CLASS_KINDS,
    INSTITUTION_KINDS,
    MODES,
    RANKS,
    TOPICS,
)

# --- sizes and constants -------------------------------------------------------------------------

#: Sizes of each scale. ``units``, ``institutions`` and ``items_per_topic`` complete the table of
#: the design (cadres, courses, teachers, staff, classes, years).
SCALES: dict[str, dict] = {
    "tiny": {
        "cadres": 300,
        "courses": 120,
        "teachers": 30,
        "staff": 10,
        "classes": 40,
        "years": 2,
        "units": 12,
        "institutions": 3,
        "items_per_topic": 20,
    },
    "city": {
        "cadres": 20_000,
        "courses": 2_000,
        "teachers": 300,
        "staff": 80,
        "classes": 800,
        "years": 5,
        "units": 120,
        "institutions": 12,
        "items_per_topic": 60,
    },
    "province": {
        "cadres": 500_000,
        "courses": 20_000,
        "teachers": 3_000,
        "staff": 600,
        "classes": 15_000,
        "years": 5,
        "units": 1_500,
        "institutions": 60,
        "items_per_topic": 80,
    },
}

#: The last simulated month; the simulation ends on its last day.
END_MONTH = "2026-10"
#: Dimension of the latent preference factors of cadres and courses.
N_FACTORS = 8

TOPIC_IDS: tuple[str, ...] = tuple(TOPICS)
N_TOPICS = len(TOPIC_IDS)
N_RANK = len(RANKS)
N_CAT = len(CATEGORIES)
N_MODE = len(MODES)
NEVER = -1  # "no date" / "no id" in the integer arrays of the simulation

#: Every constant of the gain, decay, exam, choice and rating processes (copied into
#: ``truth["params"]``; lists, not tuples, so that it survives a JSON round trip).
PARAMS: dict = {
    # mastery gain: m += (1 - m) * (1 - exp(-lr * hours * teacher_effect * level_fit * weight))
    "lr_median": 0.02,
    "lr_sigma": 0.5,
    "level_fit_floor": 0.3,
    "level_fit_width": 0.7,
    "teacher_gamma": 0.3,
    # monthly forgetting toward floor = floor_frac * initial mastery
    "decay": 0.015,
    "floor_frac": 0.8,
    "m_min": 0.01,
    "m_max": 0.99,
    # initial mastery: sigmoid(mu0 + ability + unit offset + relevance + rank effect + noise)
    "mu0": -0.25,
    "ability_sd": 0.6,
    "relevance": 0.4,
    "rank_effect": 0.08,
    "init_noise_sd": 0.3,
    "unit_offset_sd": 0.2,
    "unit_weak_shift": [0.8, 1.2],
    # exams: P(correct) = sigmoid(a * (scale * mean_k logit(m_k) + shift - b))
    "exam_scale": 1.7,
    "exam_shift": 0.55,
    "exam_items": [8, 12],
    "self_test_rate": 0.05,
    "self_test_items": 10,
    "discrimination_median": 1.2,
    "discrimination_sigma": 0.25,
    # elective choice: Gumbel-max over u = p.f + beta_gap gap.topics + beta_q quality
    #   + beta_pop log1p(pop) + beta_peer log1p(peer) + mode_base + mode_age (age - 40) / 10
    #   + beta_hours log1p(hours) + beta_class [course of an open elective/online class for my rank]
    # popularity = enrollments per 1000 cadres (peer: per 1000 cadres of the same rank & category)
    "beta_gap": 3.0,
    "beta_q": 0.8,
    "beta_pop": 0.3,
    "beta_peer": 0.5,
    "beta_hours": -0.3,
    "beta_class": 1.5,
    "mode_base": [-0.3, 0.2, 0.2, 0.0],
    "mode_age": [0.3, 0.0, -0.3, 0.0],
    "consideration_set": 300,  # courses drawn at random per choice when the catalogue is larger
    "promoted_draws": 60,  # plus this many draws among courses of open elective/online classes
    "activity": [0.15, 0.4],
    "extra_choices_mean": 2.5,
    "max_choices": 8,
    "p_complete_self": 0.7,
    "rollcall_partial": 0.03,
    "rollcall_sigma": 1.3,
    "unit_favour_sigma": 0.5,
    # ratings: score = round(expected + leniency + N(0, noise_sd)), clipped to 1..5
    "p_rate_class": 0.6,
    "p_rate_self": 0.25,
    "p_rate_staff": 0.6,
    "course_quality_coef": 0.8,
    "course_teacher_coef": 0.4,
    "rating_noise_sd": 0.5,
    "leniency_sd": 0.6,
    "leniency_extreme_share": 0.1,
    "leniency_extreme_shift": 1.2,
}

# category -> relevant topic indices (理想信念 0, 党性修养 1, 法治素养 2, 经济发展 3, 科技创新 4,
# 数字治理 5, 乡村振兴 6, 生态文明 7, 应急管理 8, 基层治理 9, 文化建设 10, 领导能力 11)
RELEVANT = ((0, 1, 11, 5), (3, 4, 5), (2, 8, 9), (9, 10, 8), (7, 6, 8), (0, 1, 10))
# per contracts.MODES (面授, 网络, 移动, 混合): hour choices and sampling probability
MODE_HOURS = (
    (3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0),
    (1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
    (0.5, 1.0, 1.5, 2.0),
    (2.0, 3.0, 4.0, 6.0, 8.0),
)
MODE_P = (0.35, 0.3, 0.15, 0.2)
#: An elective is completed ``ceil(hours / 2) + U{0..7}`` days after it starts: at most this many.
ELECTIVE_MAX_DAYS = math.ceil(max(map(max, MODE_HOURS)) / 2) + 7
ONLINE_MODES = (1, 2)  # 网络, 移动: a fifth of them have no teacher
FACE_MODES = (0, 3)  # 面授, 混合
# per contracts.CLASS_KINDS (rollcall, elective, online): share, days, capacity, name suffix
KIND_SHARE = (0.55, 0.25, 0.20)
KIND_DAYS = ((3, 10), (7, 31), (14, 61))
KIND_CAPACITY = ((30, 60), (20, 40), (100, 500))
KIND_SUFFIX = ("专题培训班", "专题选学班", "网络专题班")
#: Publication of classes: the share of each kind in the annual training plan (年度培训计划,
#: published once a year between 15 December and 10 January), the others announced 2–8 weeks
#: before they start. Drawn from a stream of its own (``default_rng([seed, PUBLICATION_STREAM])``)
#: so that adding it left every other table and truth value of a seed unchanged.
PLAN_SHARE = (0.8, 0.7, 0.5)
PLAN_WINDOW_DAYS = (-17, 9)  # plan date relative to 1 January of its year
AD_HOC_NOTICE_DAYS = (14, 56)
PUBLICATION_STREAM = 20_260_501
ROLLCALL = CLASS_KINDS.index("rollcall")
ELECTIVE = CLASS_KINDS.index("elective")
ONLINE = CLASS_KINDS.index("online")
NETWORK_SCHOOL = INSTITUTION_KINDS.index("网络学院")

# --- realism switches ----------------------------------------------------------------------------

#: Constants of each realism switch (:data:`ganxun.simulation.realism.REALISM_SWITCHES`), copied
#: into ``truth["params"][switch]`` for the switches that are on (a city with every switch off has
#: exactly the parameters of the clean city, plus ``truth["params"]["realism"] == []``).
REALISM_PARAMS: dict[str, dict] = {
    "careers": {
        # yearly promotion hazard from rank r to r + 1 (科员→副科 … 正处→副厅)
        "promotion_rate": [0.10, 0.08, 0.06, 0.045, 0.03],
        "promotion_ability": 0.5,  # log-hazard per ability standard deviation
        "promotion_reserve": 0.8,  # log-hazard of a reserve cadre (with concentrated_rollcall)
        "min_months_in_rank": 24,
        "promotion_moves_unit": 0.35,
        "promotion_moves_category": 0.1,
        "transfer_rate": 0.03,  # yearly lateral moves (unit and/or category)
        "transfer_moves_category": 0.35,
        "min_months_between_moves": 12,
        "transfer_moves_both": 0.3,  # a transfer by category that also changes the unit
        "missing_rank_start_days": [30, 1825],  # rank start when appointed_on is missing
        "hire_rate": 0.015,  # yearly hires per cadre of the city: young 科员, no records before
        "hire_max_age": 33,  # age at the end of the window
        "resign_rate": 0.006,  # yearly
        "retire_age": 60,
        "retire_from_age": 52,  # cadres this old (drawn age at the end) may reach 60 in the window
        "retire_share": 0.6,
        "merger_at": 0.5,  # the merger date, as a share of the window
        # 任职培训: a share of rollcall classes are induction classes for the newly promoted, and
        # every promoted cadre not yet called has this log-propensity bonus for 12 months
        "induction_share": 0.15,
        "induction_boost": 2.0,
        "induction_months": 12,
    },
    "mandatory": {
        "package_courses": [3, 6],  # 必修 online courses published each January (at most)
        "package_total": 22.0,  # hours of the yearly package (courses added until reached)
        "package_core_topics": [0, 1],  # 理想信念, 党性修养 (plus one other topic)
        "package_mode_share": [0.7, 0.3],  # 网络, 移动
        "package_teacher_share": 0.7,  # the others are recorded lectures without a teacher
        "publish_days": [1, 15],  # day of January
        "network_hours": 50.0,  # local rule: 网络 hours a year, every rank
        "county_hours": 550.0,  # 县处级: 脱产 hours in 5 years
        "county_years": 5,
        "township_hours": 90.0,  # 乡科级 and below: 集中 hours a year
        "after_promotion_months": 12,
        # diligence = sigmoid(mean + activity_coef * z(activity) + N(0, sd)): completion chance
        "diligence_mean": 1.6,
        "diligence_activity": 0.8,
        "diligence_sd": 0.8,
        "study_days": [0, 14],  # days from starting to completing a package course
        "partial_zero_share": 0.3,  # of non-completers: never opened it (progress 0)
        "effective_beta": [3.0, 2.5],  # effective learning share of package hours
        "mandatory_class_share": 0.25,  # other rollcall classes marked 必修 (主体班)
        # year-end rush: on 1 November a cadre decides to rush this year (P(engaged), rush_base);
        # one who did and is short of network hours on 1 November / 1 December rushes with
        # probability rush_p[month] and takes online courses to cover the deficit
        "rush_p": [0.3, 1.0],
        "rush_cover": [1.0, 1.0],  # share of the deficit covered in November, December
        "rush_effective": [0.03, 0.2],
        "rush_max_courses": 10,
        "rush_margin": 4.0,  # hours a rushing cadre takes beyond the deficit (to be safe)
        "rush_last_days": 16,  # December's rush falls in the last days of the year
        "rush_base": 4.5,
        "rush_hours_power": 2.0,  # rushing cadres pick long courses: weight hours ** power
        # 必修 package courses are 专题 of a few hours: hour choices per mode (网络, 移动)
        "package_hours": [[4.0, 6.0, 8.0], [2.0, 3.0, 4.0]],
        # --- the training plan (plan.py) ---
        # engagement = logit(diligence) - diligence_mean + unit culture + the year's workload
        #   - move_disruption for move_disruption_days after a promotion or transfer;
        # P(engaged) in one decision = sigmoid(its base + engagement_slope * engagement)
        "engagement_slope": 3.0,
        "habit": 0.95,  # correlation of a cadre's draws to attend a class or rush, across events
        "procrastination": 2.0,  # the less engaged study assigned courses later
        "package_base": 2.5,  # completing a package course
        "culture_sd": 0.6,
        "workload_sd": 0.2,
        "heavy_year_share": 0.1,  # cadre-years of heavy workload
        "heavy_year_shift": 1.0,
        "move_disruption": 1.0,
        "move_disruption_days": 180,
        "attend_base": 4.5,  # coming to a plan class when called
        "plan_partial": 0.3,  # P(miss part of a session) = plan_partial * (1 - P(engaged))
        "plan_rate": 0.3,  # completed sessions of plan classes rated
        "plan_propensity": 0.5,  # weight of the rollcall log-propensity in the plan's calls
        "plan_behind": 8.0,  # weight of the share of the rule's hours behind pace
        "hours_per_day": 8.0,  # in-person class hours a day
        "session_hours_power": 3.0,  # a plan class picks courses with weight hours ** power
        # 网络专题班: every cadre in service, one a year, a few of the year's online 专题 courses
        "online_courses_per_year": 10,
        "online_course_hours": [4.0, 6.0, 8.0],
        "online_class_cadres": 2500,  # cadres of the units of one class
        "online_class_hours": 18.0,  # courses are added until a class holds this many hours
        "online_start": [3, 1],  # (month, day): first and last start of the year's classes
        "online_last_start": [9, 1],
        "online_days": [45, 91],
        "online_base": 3.0,  # completing a course of a 网络专题班
        # 乡科级 unit 集中轮训班 and 县处级 classes: seats per cadre a year, hours, capacity
        "township_seats": 1.3,
        "township_capacity": [50, 100],
        "township_class_hours": [64.0, 96.0],
        "county_seats": 2.3,
        "county_capacity": [40, 60],
        "county_long_share": 0.3,  # of the seats: 进修班 (with exams)
        "county_long_hours": [100.0, 180.0],
        "county_short_hours": [24.0, 60.0],
        "county_long_days": 10,  # a county class this long or longer is a 进修班
        "county_anchor_year": 2023,  # the 5-year periods: 2023-2027, ...
    },
    "inflated_ratings": {
        # score = 1 + number of thresholds below the latent score (3 + truth + leniency + noise)
        "thresholds": [0.7, 1.2, 1.7, 2.7],
    },
    "guessing": {
        # item formats: multiple choice, true/false, open (fill-in): share and guessing floor
        "format_share": [0.7, 0.15, 0.15],
        "floor": [[0.15, 0.3], [0.45, 0.55], [0.0, 0.05]],
    },
    "selective_self_tests": {
        # self-test rate ∝ exp(mastery * z(mean logit mastery) + activity * z(activity))
        "mastery": 0.8,
        "activity": 0.6,
        "max_rate": 0.5,
    },
    "exam_formats": {
        "no_pre_share": 0.2,
        "pre_days": [-7, 1],  # pre-test relative to the class start (never 0)
        "post_days": [-1, 10],  # post-test relative to the class end (never 0)
        "labelled_share": 0.6,  # classes whose answers carry pre/post (final when no pre-test)
        "self_labelled_share": 0.5,  # self-tests labelled "self"
        "totals_share": 0.25,  # classes that keep exam totals only (exam_scores)
        "by_topic_share": 0.3,  # of those: one score per class topic
        "max_score": 100.0,
    },
    "concentrated_rollcall": {
        # 后备干部: chosen by ability and youth; log propensity = shrink * log(drawn propensity)
        #   + reserve_boost * reserve + ability_boost * ability / ability_sd
        "reserve_share": 0.1,
        "reserve_ability": 1.0,
        "reserve_age": -0.08,  # per year of age
        "reserve_rank": 0.2,  # per rank level
        "shrink": 0.7,
        "reserve_boost": 1.8,
        "ability_boost": 0.5,
    },
    "correlated_traits": {
        # Gaussian-copula correlation of the traits' ranks (marginals unchanged)
        "traits": ["ability", "learning_rate", "activity", "rollcall_propensity"],
        "correlation": [
            [1.0, 0.5, 0.3, 0.4],
            [0.5, 1.0, 0.3, 0.2],
            [0.3, 0.3, 1.0, 0.1],
            [0.4, 0.2, 0.1, 1.0],
        ],
    },
    "dirt": {"duplicate_share": 0.003, "renamed_reissues": 1},
    "aliases": {
        # source system -> id prefix; every cadre has an id in each (the cadre id is the 干部信息
        # 系统's own), and a share of the rows of these tables carries the other system's id
        "systems": {"lms": "XX", "exam": "KS", "eval": "PJ"},
        "rows": {
            "responses": ["exam", 0.4],
            "exam_scores": ["exam", 0.4],
            "course_ratings": ["eval", 0.4],
            "staff_ratings": ["eval", 0.3],
        },
    },
}

#: Seeds of the random streams of the realism processes: ``default_rng([seed, STREAM])``, one per
#: process, so that switching one on leaves the draws of the others unchanged where it can.
CAREERS_STREAM = 20_260_601
TRAITS_STREAM = 20_260_602
OBLIGATIONS_STREAM = 20_260_603
EXAM_FORMATS_STREAM = 20_260_604
GUESSING_STREAM = 20_260_605
RECORDS_STREAM = 20_260_606
PLAN_STREAM = 20_260_607
NO_DAY = 2**40  # "never" as a day number that compares after every date (leave day, hire day)
