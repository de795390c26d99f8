"""Hour rules (学时) and training obligations: what counts, what is due, what is still missing.

The rules come from ``training_rules`` (rule_id, ranks, period_years, min_hours, kind,
after_promotion_months) or, when a source has none, :data:`DEFAULT_RULES` after the 2023
干部教育培训工作条例: county-level (县处级: 副处, 正处, 副厅) and above 550 学时 of 脱产 training
in 5 years; 乡科级 and below 90 学时 of 集中 training a year; a promoted cadre who had not met
the requirement completes it within 12 months; 50 网络 hours a year as the usual local rule.

What an enrolment's hours count toward (its *hour kinds*):

* 网络 — the course is taught 网络 or 移动 (online);
* 集中 — the enrolment belongs to a class (any kind: centralised training);
* 脱产 — the class is a rollcall or elective class (off the job) and the course is taught 面授 or
  混合 (in person).

An enrolment counts its credited ``hours`` on the day they were credited: its ``completed_on``
date, else (hours of a course in progress) its ``enrolled_on`` date. Periods are calendar
windows: one-year rules run January–December, longer rules run in blocks of ``period_years``
counted from :data:`PERIOD_ANCHOR_YEAR` (the 2023–2027 national plan). The requirement of a
window is pro-rated by the share of the window the cadre held a rank the rule covers (a cadre
promoted into 县处级 mid-window owes that share of 550). A promotion into the ranks of a rule with
``after_promotion_months`` checks the rule over the ``period_years`` before the promotion; a
shortfall then is due within ``after_promotion_months`` (任职培训).

Pure functions of the validated raw tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.careers import has_posts, promotions
from ganxun.features.contracts import HOUR_KINDS, RANKS
from ganxun.features.vocab import ids_in

#: First year of the multi-year rule periods (the national cadre training plan 2023–2027).
PERIOD_ANCHOR_YEAR = 2023
#: Modes whose hours count as 网络, and modes taught in person (脱产 when in a class).
ONLINE_MODES: tuple[str, ...] = ("网络", "移动")
IN_PERSON_MODES: tuple[str, ...] = ("面授", "混合")
#: Class kinds that take cadres off the job.
OFF_JOB_CLASS_KINDS: tuple[str, ...] = ("rollcall", "elective")

#: The rules a source without ``training_rules`` gets.
DEFAULT_RULES = pd.DataFrame(
    {
        "rule_id": ["R-county-5y", "R-township-1y", "R-online-1y"],
        "ranks": [("副处", "正处", "副厅"), ("科员", "副科", "正科"), tuple(RANKS)],
        "period_years": pd.array([5, 1, 1], dtype="Int64"),
        "min_hours": [550.0, 90.0, 50.0],
        "kind": ["脱产", "集中", "网络"],
        "after_promotion_months": pd.array([12, 12, pd.NA], dtype="Int64"),
        "name": [
            "县处级五年脱产培训 550 学时",
            "乡科级每年集中培训 90 学时",
            "每年网络学习 50 学时",
        ],
    }
)


def training_rules(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The hour rules of the tables, or :data:`DEFAULT_RULES` when they have none."""
    rules = tables.get("training_rules")
    if rules is None or rules.empty:
        return DEFAULT_RULES.copy()
    rules = rules.reset_index(drop=True).copy()
    if "name" not in rules or rules["name"].isna().all():
        rules["name"] = rules["rule_id"]
    rules["name"] = rules["name"].fillna(rules["rule_id"])
    return rules


def hour_kinds(tables: dict[str, pd.DataFrame], enrollments: pd.DataFrame | None = None):
    """What each enrolment's hours count toward: one boolean column per :data:`HOUR_KINDS`.

    Parameters
    ----------
    tables : dict of str to DataFrame
        courses and classes.
    enrollments : DataFrame, optional
        Default ``tables["enrollments"]``.

    Returns
    -------
    DataFrame
        Indexed like ``enrollments``; columns 脱产, 集中, 网络.
    """
    e = tables["enrollments"] if enrollments is None else enrollments
    mode = e["course_id"].map(tables["courses"].set_index("course_id")["mode"])
    kind = e["class_id"].map(tables["classes"].set_index("class_id")["kind"])
    in_class = e["class_id"].notna() & kind.notna()
    return pd.DataFrame(
        {
            "脱产": (in_class & kind.isin(OFF_JOB_CLASS_KINDS) & mode.isin(IN_PERSON_MODES)),
            "集中": in_class,
            "网络": mode.isin(ONLINE_MODES),
        },
        index=e.index,
    )[list(HOUR_KINDS)]


def period_window(at, period_years: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The rule window holding ``at``: (first day, first day after it)."""
    at = pd.Timestamp(at)
    years = int(period_years)
    first = at.year if years == 1 else at.year - (at.year - PERIOD_ANCHOR_YEAR) % years
    return pd.Timestamp(year=first, month=1, day=1), pd.Timestamp(
        year=first + years, month=1, day=1
    )


def _rank_share(tables, cadre_ids: pd.Series, ranks: tuple, start, end) -> np.ndarray:
    """Share of [start, end) each cadre held a rank in ``ranks`` (posts, else the cadres row)."""
    if not has_posts(tables):
        rank = cadre_ids.map(tables["cadres"].set_index("cadre_id")["rank"])
        return rank.isin(ranks).to_numpy(float)
    p = tables["cadre_posts"]
    p = p[ids_in(p["cadre_id"], cadre_ids) & p["rank"].isin(ranks).to_numpy()]
    lo = p["from_on"].clip(lower=start)
    hi = p["to_on"].fillna(end).clip(upper=end)
    days = (hi - lo).dt.days.clip(lower=0)
    held = days.groupby(p["cadre_id"]).sum()
    total = max((end - start).days, 1)
    share = cadre_ids.map(held).fillna(0.0).to_numpy(float) / total
    # cadres the history does not mention: the cadres row decides
    missing = ~ids_in(cadre_ids, tables["cadre_posts"]["cadre_id"])
    if missing.any():
        rank = cadre_ids[missing].map(tables["cadres"].set_index("cadre_id")["rank"])
        share[missing] = rank.isin(ranks).to_numpy(float)
    return np.clip(share, 0.0, 1.0)


def kind_hours(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Credited hours of each enrolment per hour kind: cadre_id, credited_on, 脱产, 集中, 网络.

    ``cadre_id`` is categorical (group with ``observed=True``, the default).
    """
    e = tables["enrollments"]
    kinds = hour_kinds(tables, e)
    hours = e["hours"].astype(float).fillna(0.0)
    credited = e["completed_on"].fillna(e["enrolled_on"])
    # categorical ids: the hour rules group these rows by cadre hundreds of times per training,
    # and grouping by codes skips re-hashing two million strings each time
    ids = pd.Categorical(e["cadre_id"])
    out = pd.DataFrame({"cadre_id": ids, "credited_on": credited}, index=e.index)
    for k in HOUR_KINDS:
        out[k] = np.where(kinds[k], hours, 0.0)
    counts = kinds.any(axis=1).to_numpy() & (hours.to_numpy() > 0)
    return out[counts]


def compliance(
    tables: dict[str, pd.DataFrame], at, cadre_ids=None, hours: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every cadre's standing on every rule that covers their rank at ``at``.

    Parameters
    ----------
    tables : dict of str to DataFrame
        cadres, courses, classes, enrollments (cadre_posts, training_rules when present).
    at : date-like
        The date of the standing (hours dated before it count).
    cadre_ids : array-like of str, optional
        Default: every cadre.
    hours : DataFrame, optional
        :func:`kind_hours` of the tables, when the caller has it already.

    Returns
    -------
    DataFrame
        cadre_id, rule_id, rule_name, kind, window_start, window_end, required (pro-rated
        min_hours), hours (counted so far in the window), due (required - hours, at least 0),
        elapsed (share of the window gone), met (bool).
    """
    from ganxun.features.careers import posts_at

    at = pd.Timestamp(at)
    now = posts_at(tables, at, cadre_ids)
    now = now[now["in_service"]]
    hours = kind_hours(tables) if hours is None else hours
    hours = hours[hours["credited_on"] < at]
    frames = []
    for rule in training_rules(tables).itertuples(index=False):
        who = now[now["rank"].isin(tuple(rule.ranks))]
        if who.empty:
            continue
        start, end = period_window(at, int(rule.period_years))
        in_win = hours[(hours["credited_on"] >= start)]
        done = in_win.groupby("cadre_id")[rule.kind].sum()
        share = _rank_share(tables, who["cadre_id"], tuple(rule.ranks), start, end)
        required = np.round(float(rule.min_hours) * share, 1)
        got = who["cadre_id"].map(done).fillna(0.0).to_numpy(float)
        frames.append(
            pd.DataFrame(
                {
                    "cadre_id": who["cadre_id"].to_numpy(),
                    "rule_id": rule.rule_id,
                    "rule_name": rule.name,
                    "kind": rule.kind,
                    "window_start": start,
                    "window_end": end,
                    "required": required,
                    "hours": np.round(got, 1),
                    "due": np.round(np.maximum(required - got, 0.0), 1),
                    "elapsed": min(max((at - start) / (end - start), 0.0), 1.0),
                    "met": got >= required,
                }
            )
        )
    cols = [
        "cadre_id",
        "rule_id",
        "rule_name",
        "kind",
        "window_start",
        "window_end",
        "required",
        "hours",
        "due",
        "elapsed",
        "met",
    ]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(frames, ignore_index=True)[cols]


def appointment_training(
    tables: dict[str, pd.DataFrame], at, hours: pd.DataFrame | None = None
) -> pd.DataFrame:
    """任职培训: promotions whose rule was not met at promotion, with the deadline and progress.

    A promotion on ``p`` into the ranks of a rule with ``after_promotion_months`` checks that
    rule's hours over the ``period_years`` before ``p``; a shortfall is due by
    ``p + after_promotion_months``, and hours of the rule's kind from ``p`` on count toward it.

    Returns
    -------
    DataFrame
        cadre_id, rule_id, rule_name, kind, promoted_on, to_rank, missing (hours short at
        promotion), done (hours since, before ``at``), remaining, due_on, status (met / open /
        overdue), for promotions before ``at``.
    """
    at = pd.Timestamp(at)
    promo = promotions(tables)
    promo = promo[promo["promoted_on"] < at]
    cols = [
        "cadre_id",
        "rule_id",
        "rule_name",
        "kind",
        "promoted_on",
        "to_rank",
        "missing",
        "done",
        "remaining",
        "due_on",
        "status",
    ]
    rules = training_rules(tables)
    rules = rules[rules["after_promotion_months"].notna()]
    if promo.empty or rules.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    hours = kind_hours(tables) if hours is None else hours
    hours = hours[ids_in(hours["cadre_id"], promo["cadre_id"])]
    frames = []
    for rule in rules.itertuples(index=False):
        pr = promo[promo["to_rank"].isin(tuple(rule.ranks))]
        if pr.empty:
            continue
        h = hours[["cadre_id", "credited_on", rule.kind]].merge(
            pr[["cadre_id", "promoted_on"]], on="cadre_id"
        )
        back = h["promoted_on"] - pd.DateOffset(years=int(rule.period_years))
        due_on = h["promoted_on"] + pd.DateOffset(months=int(rule.after_promotion_months))
        before = (h["credited_on"] >= back) & (h["credited_on"] < h["promoted_on"])
        since = (h["credited_on"] >= h["promoted_on"]) & (h["credited_on"] < due_on)
        since &= h["credited_on"] < at
        key = ["cadre_id", "promoted_on"]
        had = h[rule.kind].where(before, 0.0).groupby([h[k] for k in key]).sum()
        got = h[rule.kind].where(since, 0.0).groupby([h[k] for k in key]).sum()
        idx = pd.MultiIndex.from_frame(pr[key])
        missing = np.maximum(float(rule.min_hours) - had.reindex(idx).fillna(0.0).to_numpy(), 0)
        done = got.reindex(idx).fillna(0.0).to_numpy()
        out = pr[key + ["to_rank"]].copy()
        out["rule_id"], out["rule_name"], out["kind"] = rule.rule_id, rule.name, rule.kind
        out["missing"] = np.round(missing, 1)
        out["done"] = np.round(done, 1)
        out["remaining"] = np.round(np.maximum(missing - done, 0.0), 1)
        out["due_on"] = pr["promoted_on"] + pd.DateOffset(months=int(rule.after_promotion_months))
        out["status"] = np.where(
            out["remaining"] <= 0, "met", np.where(out["due_on"] < at, "overdue", "open")
        )
        frames.append(out[out["missing"] > 0])
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    return pd.concat(frames, ignore_index=True)[cols]


def mandatory_courses(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Whether each course is compulsory (必修), indexed by course_id.

    A course is compulsory when ``courses.mandatory`` says so, or when most of its enrolments
    have the source ``mandatory`` (an export that flags enrolments but not courses).
    """
    courses = tables["courses"]
    flag = courses.set_index("course_id")["mandatory"] if "mandatory" in courses else None
    flag = (
        pd.Series(False, index=courses["course_id"])
        if flag is None
        else flag.astype("boolean").fillna(False).astype(bool)
    )
    e = tables["enrollments"]
    if len(e):
        share = (e["source"] == "mandatory").groupby(e["course_id"]).mean()
        flag |= share.reindex(flag.index).fillna(0.0) > 0.5
    return flag


def mandatory_due(tables: dict[str, pd.DataFrame], at, cadre_ids=None) -> pd.DataFrame:
    """The compulsory courses each cadre in service still has to complete this year.

    This year's package is the compulsory courses published in the calendar year of ``at`` (and
    not after ``at``); a course counts as done when the cadre completed it (any enrolment with a
    completion date before ``at``) or a re-issue of it.

    Returns
    -------
    DataFrame
        cadre_id, course_id, published_on, hours, one row per course still due.
    """
    from ganxun.features.careers import posts_at
    from ganxun.features.catalog import near_duplicate_groups

    at = pd.Timestamp(at)
    courses = tables["courses"].reset_index(drop=True)
    must = mandatory_courses(tables).reindex(courses["course_id"]).fillna(False).to_numpy()
    year_start = pd.Timestamp(year=at.year, month=1, day=1)
    pub = courses["published_on"]
    package = courses[must & (pub >= year_start) & (pub <= at)]
    cols = ["cadre_id", "course_id", "published_on", "hours"]
    now = posts_at(tables, at, cadre_ids)
    who = now["cadre_id"][now["in_service"]]
    if package.empty or who.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    group = pd.Series(near_duplicate_groups(courses), index=courses["course_id"])
    # one entry per course: a re-issue of a course already in the package is the same course
    package = package[~package["course_id"].map(group).duplicated()]
    e = tables["enrollments"]
    done = e[
        (e["completed_on"].notna() & (e["completed_on"] < at)).to_numpy()
        & ids_in(e["cadre_id"], who)
    ]
    done_pairs = pd.DataFrame(
        {"cadre_id": done["cadre_id"], "group": done["course_id"].map(group)}
    ).drop_duplicates()
    grid = pd.MultiIndex.from_product([who.to_numpy(), package["course_id"].to_numpy()])
    frame = grid.to_frame(index=False, name=["cadre_id", "course_id"])
    frame["group"] = frame["course_id"].map(group)
    frame = frame.merge(done_pairs, on=["cadre_id", "group"], how="left", indicator=True)
    frame = frame[frame["_merge"] == "left_only"]
    info = package.set_index("course_id")[["published_on", "hours"]]
    return frame.join(info, on="course_id").reset_index(drop=True)[cols]


#: Features of a (cadre, rule, date) row of the compliance forecast, in model order.
FORECAST_FEATURES: tuple[str, ...] = (
    "share_done",
    "remaining_need",
    "elapsed",
    "pace_ratio",
    "unit_pace_ratio",
    "offer_ratio",
    "last_window_met",
    "rank_level",
    "completion_rate",
    "open_share",
    "pace90_ratio",
    "last_window_ratio",
    "same_point_last",
)


def _offered_hours(tables, at, end, kinds_of_class: pd.Series) -> pd.DataFrame:
    """Hours of classes published by ``at`` and starting in [at, end), per target rank and kind."""
    from ganxun.features.contracts import class_published_on

    cl = tables["classes"]
    pub = class_published_on(cl)
    open_ = (pub <= at) & (cl["start_on"] >= at) & (cl["start_on"] < end)
    sess = tables["class_sessions"]
    hours = sess.merge(tables["courses"][["course_id", "hours"]], on="course_id")
    per_class = hours.groupby("class_id")["hours"].sum()
    rows = []
    for cid, ranks in zip(cl["class_id"][open_], cl["target_ranks"][open_], strict=True):
        h = float(per_class.get(cid, 0.0))
        for r in ranks or RANKS:
            for k in kinds_of_class.get(cid, ()):
                rows.append((r, k, h))
    frame = pd.DataFrame(rows, columns=["rank", "kind", "hours"])
    return frame.groupby(["rank", "kind"])["hours"].sum()


def _class_kinds(tables) -> pd.Series:
    """Hour kinds each class counts toward (from its kind and its sessions' modes)."""
    sess = tables["class_sessions"][["class_id", "course_id"]]
    if sess.empty:
        return pd.Series(dtype=object)
    kinds = hour_kinds(tables, sess)
    any_kind = kinds.groupby(sess["class_id"]).any()
    return any_kind.apply(lambda r: tuple(k for k in HOUR_KINDS if r[k]), axis=1)


def forecast_rows(
    tables: dict[str, pd.DataFrame], at, cadre_ids=None, hours: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Features of the compliance forecast for every cadre and rule standing at ``at``.

    Each row of :func:`compliance` gains :data:`FORECAST_FEATURES`: how much is done and still
    needed, how much of the window is gone, the cadre's own pace over the last 365 days
    projected over the rest of the window against what is still needed (``pace_ratio``), the
    same for their unit's cadres on the rule (``unit_pace_ratio``, a median), the hours of
    classes already published for the rest of the window that the cadre's rank may attend and
    that count toward the rule (``offer_ratio``), whether the previous window was met, the
    rank level, and the share of the cadre's enrolments of the last 365 days completed by ``at``
    (``completion_rate``, 0.5 with none: engagement, which pace alone misses when a cadre's hours
    come in a few large blocks). The rest read habits a real platform's records show: the share
    of the last 180 days' enrolments still open at ``at`` (``open_share``, 0.5 with none: a
    backlog of started courses), the last 90 days' pace projected like ``pace_ratio``
    (``pace90_ratio``: momentum), and the hours of the previous window of the same length
    against the requirement, over all of it (``last_window_ratio``) and up to the same point of
    it (``same_point_last``: a cadre who leaves the hours to the year end did so last year too),
    both capped at 3.
    """
    from ganxun.features.careers import posts_at

    at = pd.Timestamp(at)
    hours = kind_hours(tables) if hours is None else hours
    base = compliance(tables, at, cadre_ids, hours)
    if base.empty:
        return base.assign(**{c: pd.Series(dtype=float) for c in FORECAST_FEATURES})
    recent = hours[
        (hours["credited_on"] < at) & (hours["credited_on"] >= at - pd.Timedelta(days=365))
    ]
    recent90 = recent[recent["credited_on"] >= at - pd.Timedelta(days=90)]
    post = posts_at(tables, at, base["cadre_id"].unique())
    unit = base["cadre_id"].map(post.set_index("cadre_id")["unit_id"])
    rank = base["cadre_id"].map(post.set_index("cadre_id")["rank"])
    class_kinds = _class_kinds(tables)
    kinds = list(HOUR_KINDS)
    by_cadre = recent.groupby("cadre_id")[kinds].sum()
    by_cadre90 = recent90.groupby("cadre_id")[kinds].sum()
    offered_by_end: dict = {}  # rules with one window share these (the two one-year rules)
    previous_by_start: dict = {}
    out = []
    for (rule_id, kind), rows in base.groupby(["rule_id", "kind"], sort=False):
        end = rows["window_end"].iloc[0]
        left_days = max((end - at).days, 0)
        pace = rows["cadre_id"].map(by_cadre[kind]).fillna(0.0)
        need = np.maximum(rows["due"].to_numpy(float), 1.0)
        projected = pace.to_numpy(float) * left_days / 365.0
        r = rows.copy()
        r["share_done"] = rows["hours"] / np.maximum(rows["required"], 1.0)
        r["remaining_need"] = rows["due"] / np.maximum(rows["required"], 1.0)
        r["pace_ratio"] = np.minimum(projected / need, 5.0)
        pace90 = rows["cadre_id"].map(by_cadre90[kind]).fillna(0.0)
        r["pace90_ratio"] = np.minimum(pace90.to_numpy(float) * left_days / 90.0 / need, 5.0)
        r["unit_pace_ratio"] = r["pace_ratio"].groupby(unit[rows.index]).transform("median")
        if end not in offered_by_end:
            offered_by_end[end] = _offered_hours(tables, at, end, class_kinds)
        offered = offered_by_end[end]
        key = pd.MultiIndex.from_arrays([rank[rows.index], pd.Series(kind, index=rows.index)])
        r["offer_ratio"] = np.minimum(offered.reindex(key).fillna(0.0).to_numpy() / need, 5.0)
        start = rows["window_start"].iloc[0]
        # the standing at the last moment of the previous window (at ``start`` itself the
        # current window holds nothing yet: every cadre would look unmet)
        if start not in previous_by_start:
            last_moment = start - pd.Timedelta(seconds=1)
            ids = base["cadre_id"].unique()
            previous_by_start[start] = compliance(tables, last_moment, ids, hours)
        previous = previous_by_start[start]
        prev = previous[previous["rule_id"] == rule_id].set_index("cadre_id")["met"]
        r["last_window_met"] = rows["cadre_id"].map(prev).astype(float)
        span = end - start
        required = np.maximum(rows["required"].to_numpy(float), 1.0)
        for col, upto in (("last_window_ratio", start), ("same_point_last", at - span)):
            past = hours[(hours["credited_on"] >= start - span) & (hours["credited_on"] < upto)]
            done = rows["cadre_id"].map(past.groupby("cadre_id")[kind].sum()).fillna(0.0)
            r[col] = np.minimum(done.to_numpy(float) / required, 3.0)
        out.append(r)
    frame = pd.concat(out).sort_index()
    frame["rank_level"] = rank.map({r: i for i, r in enumerate(RANKS)}).astype(float)
    frame["completion_rate"] = frame["cadre_id"].map(_completion_rate(tables, at)).fillna(0.5)
    frame["open_share"] = frame["cadre_id"].map(_open_share(tables, at)).fillna(0.5)
    return frame.reset_index(drop=True)


def _completion_rate(tables: dict[str, pd.DataFrame], at: pd.Timestamp) -> pd.Series:
    """Per cadre: share of the enrolments of the 365 days before ``at`` completed before ``at``."""
    e = tables["enrollments"]
    recent = e[(e["enrolled_on"] < at) & (e["enrolled_on"] >= at - pd.Timedelta(days=365))]
    done = recent["completed_on"].notna() & (recent["completed_on"] < at)
    return done.groupby(recent["cadre_id"]).mean().astype(float)


def _open_share(tables: dict[str, pd.DataFrame], at: pd.Timestamp) -> pd.Series:
    """Per cadre: share of the enrolments of the 180 days before ``at`` not completed by ``at``."""
    e = tables["enrollments"]
    recent = e[(e["enrolled_on"] < at) & (e["enrolled_on"] >= at - pd.Timedelta(days=180))]
    still_open = recent["completed_on"].isna() | (recent["completed_on"] >= at)
    return still_open.groupby(recent["cadre_id"]).mean().astype(float)


def forecast_training_rows(
    tables: dict[str, pd.DataFrame], asof, points=(0.25, 0.5, 0.75), cadre_ids=None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of past windows that ended before ``asof``, with whether each rule was met.

    For every rule window that closed before ``asof``, the standing is taken at several points
    of the window (``points``: shares of it gone) with :func:`forecast_rows`, and labelled with
    whether the cadre had the required hours by the window's end. ``cadre_ids`` restricts the
    rows to some cadres (a sample, at scale).
    """
    asof = pd.Timestamp(asof)
    rules = training_rules(tables)
    hours = kind_hours(tables)
    frames, labels = [], []
    for years in sorted(set(rules["period_years"].astype(int))):
        start, end = period_window(asof, years)
        while True:
            start, end = period_window(start - pd.Timedelta(days=1), years)
            if start < _first_event(tables):
                break
            # the standing at the window's last moment: every hour of the window counted
            final = compliance(tables, end - pd.Timedelta(seconds=1), cadre_ids, hours)
            final = final[final["rule_id"].isin(rules["rule_id"][rules["period_years"] == years])]
            met = final.set_index(["cadre_id", "rule_id"])
            for share in points:
                at = (start + (end - start) * share).normalize()
                rows = forecast_rows(tables, at, cadre_ids, hours)
                rows = rows[rows["rule_id"].isin(final["rule_id"])]
                got = met.reindex(pd.MultiIndex.from_frame(rows[["cadre_id", "rule_id"]]))
                ok = got["hours"].notna().to_numpy()
                frames.append(rows[ok])
                labels.append(got["met"].to_numpy(bool, na_value=False)[ok])
    if not frames:
        return forecast_rows(tables, asof).iloc[0:0], np.zeros(0, bool)
    return pd.concat(frames, ignore_index=True), np.concatenate(labels).astype(bool)


def _first_event(tables) -> pd.Timestamp:
    e = tables["enrollments"]["enrolled_on"]
    return e.min() if len(e) else pd.Timestamp("today")


def published_classes(tables: dict[str, pd.DataFrame], at, end=None) -> pd.DataFrame:
    """Classes announced by ``at`` that start on or after it (and before ``end`` when given).

    What a cadre could still attend in a rule's period: the calendar as published at ``at``
    (``published_on``, else the default notice, see
    :func:`ganxun.features.contracts.class_published_on`).

    Returns
    -------
    DataFrame
        class_id, name, kind, start_on, end_on, target_ranks (tuple; empty: every rank), hours
        (the class's sessions' course hours), kinds (tuple of the hour kinds it counts toward),
        soonest first.
    """
    from ganxun.features.contracts import class_published_on

    at = pd.Timestamp(at)
    cl = tables["classes"]
    keep = (class_published_on(cl) <= at).to_numpy() & (cl["start_on"] >= at).to_numpy()
    if end is not None:
        keep &= (cl["start_on"] < pd.Timestamp(end)).to_numpy()
    cols = ["class_id", "name", "kind", "start_on", "end_on", "target_ranks", "hours", "kinds"]
    out = cl[keep][["class_id", "name", "kind", "start_on", "end_on", "target_ranks"]].copy()
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    sess = tables["class_sessions"]
    sess = sess[ids_in(sess["class_id"], out["class_id"])]
    hours = sess.merge(tables["courses"][["course_id", "hours"]], on="course_id")
    out["hours"] = out["class_id"].map(hours.groupby("class_id")["hours"].sum()).fillna(0.0)
    kinds = _class_kinds({**tables, "class_sessions": sess})
    out["kinds"] = [tuple(kinds.get(c, ())) for c in out["class_id"]]
    out["target_ranks"] = [
        tuple(r) if isinstance(r, list | tuple | np.ndarray) else () for r in out["target_ranks"]
    ]
    return out.sort_values("start_on", kind="stable").reset_index(drop=True)[cols]
