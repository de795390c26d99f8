"""Careers (the ``careers`` switch): promotions, transfers, hires, leavers and one unit merger.

Every cadre starts the window in the post drawn by :meth:`PopulationMixin._cadres` (a hire: on
the hire day). Before the month loop a pre-pass, from a stream of its own
(``default_rng([seed, CAREERS_STREAM])``), draws every career event of the window month by month,
vectorised over cadres:

* promotions (rank + 1; sometimes a new unit or category) with a yearly hazard per rank, higher
  for able cadres (and reserve cadres), after at least ``min_months_in_rank`` in the rank;
* transfers (unit and/or category) at a small yearly rate, at least a year after the last move;
* hires: young 科员 whose first post starts inside the window (no records before);
* leavers: retirement on the 60th birthday, or resignation (the last post is closed);
* one merger: every cadre of a town unit moves to a neighbour on one date; no posts after it.

The month loop applies an event dated in month *i* from the start of month *i + 1* (the post a
month is simulated with is the one held on the last day of the month before); a leaver is out of
service from the start of the month they leave, and nothing is started that would end on or after
the leave day, so no record of a cadre falls outside their service. Rank targets
(``post_requirements``), rollcall eligibility, peers and gaps follow the post held each month.

任职培训: a promoted cadre is due for induction training for ``induction_months``: a share of the
rollcall classes are induction classes that call only cadres due, and a cadre due has a large
bonus in every rollcall draw, until called. ``cadre_posts`` lists every post (``to_on`` is the day
before the next post, the leave day, or empty); ``cadres`` shows the last post and ``appointed_on``
the start of the last rank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, ENROLL_SOURCES, RANKS
from ganxun.simulation.common import dates_from_days, index_of, make_ids, text_column
from ganxun.simulation.params import CAREERS_STREAM, N_CAT, N_RANK, NEVER, NO_DAY, ROLLCALL

MONTH_DAYS = 30.44
#: what a career event did (``kind`` in the event arrays and ``truth["posts_changes"]``)
KINDS = ("promotion", "transfer", "merger")


class CareersMixin:
    """Career events drawn before the month loop and applied month by month."""

    def _careers(self) -> None:
        """Draw every career event of the window (or set everyone in service when off)."""
        n = self.n
        self.careers = "careers" in self.realism
        self.serving = np.ones(n, bool)
        self.leave_day = np.full(n, NO_DAY, np.int64)
        self.hire_day = np.full(n, -NO_DAY, np.int64)
        if not self.careers:
            return
        q, rng = self.p["careers"], np.random.default_rng([self.seed, CAREERS_STREAM])
        self._leavers_and_hires(q, rng)
        self._career_events(q, rng)
        self._induction_classes(q, rng)
        self.promoted_day = np.full(n, -NO_DAY, np.int64)
        self.induction_called = np.zeros(n, bool)

    def _leavers_and_hires(self, q: dict, rng: np.random.Generator) -> None:
        n, start, end = self.n, self.start_day, self.end_day
        # retirement: some of the oldest turn 60 inside the window (their birth year moves back)
        old = (self.c_age >= q["retire_from_age"]) & (rng.random(n) < q["retire_share"])
        birthday = rng.integers(start + 31, end, n)
        birth_year = (
            birthday.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
        ) - q["retire_age"]
        self.c_age = np.where(old, self.end_year - birth_year, self.c_age)
        retire = np.where(old, birthday, NO_DAY)
        # resignation: an exponential waiting time from the window start
        wait = rng.exponential(365.25 / q["resign_rate"], n).astype(np.int64)
        resign = np.where(start + 31 + wait < end, start + 31 + wait, NO_DAY)
        self.leave_day = np.minimum(retire, resign)
        self.leave_reason = np.where(retire <= resign, 0, 1)  # 0 retirement, 1 resignation
        # hires: young 科员 (not leaving), first post inside the window, aged 22 or more
        pool = np.flatnonzero(
            (self.c_rank == 0) & (self.c_age <= q["hire_max_age"]) & (self.leave_day == NO_DAY)
        )
        k = min(len(pool), round(q["hire_rate"] * self.n_months / 12 * n))
        hires = np.sort(rng.choice(pool, k, replace=False))
        lo = np.maximum(start + 1, end - ((self.c_age[hires] - 22) * 365.25).astype(np.int64))
        hi = end - 31
        ok = lo < hi
        hires, lo = hires[ok], lo[ok]
        self.hire_day[hires] = lo + (rng.random(len(hires)) * (hi - lo)).astype(np.int64)

    def _career_events(self, q: dict, rng: np.random.Generator) -> None:
        n, n_m, ms, me = self.n, self.n_months, self.month_start, self.month_end
        rank, unit, cat = self.c_rank.copy(), self.c_unit.copy(), self.c_cat.copy()
        # start of the rank held at the window start (the drawn appointment, moved back)
        since = np.where(
            self.c_appointed == NEVER,
            self.start_day - rng.integers(*q["missing_rank_start_days"], n),
            self.c_appointed - (self.end_day - self.start_day),
        )
        since = np.where(self.hire_day > -NO_DAY, self.hire_day, since)
        self.first_from = since.copy()
        last_move = since.copy()
        # the merger: a town unit (with cadres) into another unit of its district and level
        sizes = np.bincount(unit, minlength=self.n_units)
        level = self.unit_level
        cand = np.flatnonzero((sizes >= 2) & (level == level.max()))
        merged = int(rng.choice(cand if len(cand) else np.flatnonzero(sizes >= 1)))
        district = np.asarray(self.unit_district)
        into = np.flatnonzero(
            (district == district[merged])
            & (level == level[merged])
            & (np.arange(self.n_units) != merged)
        )
        if not len(into):
            into = np.flatnonzero(np.arange(self.n_units) != merged)
        into = int(rng.choice(into))
        m_month = min(n_m - 2, max(1, round(q["merger_at"] * n_m)))
        m_day = int(rng.integers(ms[m_month], me[m_month] + 1))
        late_hire = (unit == merged) & (self.hire_day >= m_day)
        unit[late_hire] = into
        self.c_unit = unit.copy()  # a hire after the merger starts in the new unit
        self.merger = (merged, into, m_day)
        self.first_posts = (unit.copy(), rank.copy(), cat.copy())

        weight = self.unit_size / self.unit_size.sum()
        z_ability = self.ability / self.p["ability_sd"]
        log_h = q["promotion_ability"] * z_ability - 0.5 * q["promotion_ability"] ** 2
        log_h = log_h + q["promotion_reserve"] * self.reserve
        rate = np.append(q["promotion_rate"], 0.0)
        in_rank = q["min_months_in_rank"] * MONTH_DAYS
        between = q["min_months_between_moves"] * MONTH_DAYS
        events = []
        for i in range(n_m):
            here = (self.hire_day < ms[i]) & (self.leave_day > me[i] + 31)
            free = here & (ms[i] - last_move >= between)
            if i == m_month:
                free &= unit != merged
            hazard = rate[rank] / 12.0 * np.exp(log_h)
            up = np.flatnonzero(free & (ms[i] - since >= in_rank) & (rng.random(n) < hazard))
            side = np.flatnonzero(free & (rng.random(n) < q["transfer_rate"] / 12.0))
            side = np.setdiff1d(side, up)
            new_unit = rng.choice(self.n_units, n, p=weight)
            if i >= m_month:  # nobody moves into the merged unit once it is gone
                new_unit[new_unit == merged] = into
            new_cat = (cat + rng.integers(1, N_CAT, n)) % N_CAT
            moves_u = np.zeros(n, bool)
            moves_c = np.zeros(n, bool)
            moves_u[up] = rng.random(len(up)) < q["promotion_moves_unit"]
            moves_c[up] = rng.random(len(up)) < q["promotion_moves_category"]
            by_cat = rng.random(len(side)) < q["transfer_moves_category"]
            moves_c[side] = by_cat
            moves_u[side] = ~by_cat | (rng.random(len(side)) < q["transfer_moves_both"])
            new_unit = np.where(moves_u, new_unit, unit)
            new_cat = np.where(moves_c, new_cat, cat)
            side = side[(new_unit[side] != unit[side]) | (new_cat[side] != cat[side])]
            rank[up] += 1
            since[up] = ms[i] + rng.integers(0, me[i] - ms[i] + 1, len(up))
            moved = np.concatenate([up, side])
            day = np.concatenate([since[up], rng.integers(ms[i], me[i] + 1, len(side))])
            unit[moved], cat[moved] = new_unit[moved], new_cat[moved]
            last_move[moved] = day
            kind = np.repeat([0, 1], [len(up), len(side)])
            if i == m_month:
                who = np.flatnonzero(
                    (unit == merged) & (self.hire_day < m_day) & (self.leave_day > m_day)
                )
                unit[who] = into
                moved = np.concatenate([moved, who])
                day = np.concatenate([day, np.full(len(who), m_day)])
                kind = np.concatenate([kind, np.full(len(who), 2)])
            events.append((moved, day, kind, unit[moved], rank[moved], cat[moved]))
        cols = [np.concatenate([e[j] for e in events]) for j in range(6)]
        order = np.lexsort((cols[1], cols[0]))  # by cadre, then day
        c, day, kind, u, r, k = (col[order] for col in cols)
        self.moves = {"cadre": c, "day": day, "kind": kind, "unit": u, "rank": r, "cat": k}
        # applied from the month after the event's month
        self.moves["month"] = np.searchsorted(self.month_start, day, side="right")
        self.final_since = since

    def _induction_classes(self, q: dict, rng: np.random.Generator) -> None:
        """Mark a share of the rollcall classes open to 副科 and above as 任职培训 classes."""
        fits = (self.b_kind == ROLLCALL) & self.b_ranks[:, 1:].any(axis=1)
        self.b_induction = fits & (rng.random(self.n_classes) < q["induction_share"])
        for c in np.flatnonzero(self.b_induction):
            self.b_name[c] = self.b_name[c].replace("专题培训班", "任职培训班")

    def _career_month(self, i: int) -> None:
        """Apply the moves dated in the month before ``i``; update who serves and the pools."""
        if not self.careers:
            return
        mv = self.moves
        now = np.flatnonzero(mv["month"] == i)
        c = mv["cadre"][now]
        self.c_unit[c], self.c_rank[c], self.c_cat[c] = (
            mv[k][now] for k in ("unit", "rank", "cat")
        )
        up = now[mv["kind"][now] == 0]
        self.promoted_day[mv["cadre"][up]] = mv["day"][up]
        self.induction_called[mv["cadre"][up]] = False
        if i == self.n_months:
            return
        self.serving = (self.hire_day < self.month_start[i]) & (self.leave_day > self.month_end[i])
        self.group = self.c_rank * N_CAT + self.c_cat
        self.group_size = np.bincount(self.group[self.serving], minlength=N_RANK * N_CAT)
        self.rank_pool = [np.flatnonzero(self.serving & (self.c_rank == r)) for r in range(N_RANK)]

    def _staying(self, cadres: np.ndarray, last_day) -> np.ndarray:
        """Mask of ``cadres`` in service now and still in service after ``last_day``."""
        return self.serving[cadres] & (self.leave_day[cadres] > last_day)

    def _career_finish(self) -> None:
        """Apply the moves of the last month and set the appointment dates of the last rank."""
        if not self.careers:
            return
        self._career_month(self.n_months)
        promoted = np.zeros(self.n, bool)
        promoted[self.moves["cadre"][self.moves["kind"] == 0]] = True
        keep = (self.c_appointed == NEVER) & ~promoted & (self.hire_day == -NO_DAY)
        self.c_appointed = np.where(keep, NEVER, self.final_since)

    def _posts_table(self, cadre_ids, unit_ids) -> pd.DataFrame:
        """``cadre_posts``: the post held at the window start (or the hire), then one per move."""
        n, mv = self.n, self.moves
        c = np.concatenate([np.arange(n), mv["cadre"]])
        day = np.concatenate([self.first_from, mv["day"]])
        order = np.lexsort((day, c))
        c, day = c[order], day[order]
        unit, rank, cat = (
            np.concatenate([first, mv[key]])[order]
            for first, key in zip(self.first_posts, ("unit", "rank", "cat"), strict=True)
        )
        last = np.append(c[1:] != c[:-1], True)
        to = np.where(last, self.leave_day[c], np.append(day[1:], 0) - 1)
        return pd.DataFrame(
            {
                "cadre_id": text_column(cadre_ids, c),
                "unit_id": text_column(unit_ids, unit),
                "rank": text_column(RANKS, rank),
                "category": text_column(CATEGORIES, cat),
                "from_on": dates_from_days(day),
                "to_on": dates_from_days(np.where(to >= NO_DAY, NEVER, to)),
            }
        )

    def _careers_truth(self) -> dict[str, object]:
        """Truth of the careers: promotions (with the first rollcall after), leavers, the merger.

        ``first_rollcall_on`` is the first ordinary rollcall class after the promotion (the
        plan's classes of ``mandatory`` call every cadre and are left out).
        """
        mv = self.moves
        cadre_ids = np.array(make_ids("C", 6, self.n), dtype=object)
        unit_ids = make_ids("U", 4, self.n_units)
        up = mv["kind"] == 0
        c, day = mv["cadre"][up], mv["day"][up]
        enr = self.enr.get()
        rollcall = enr["src"] == ENROLL_SOURCES.index("rollcall")
        # the plan's classes (轮训, 网络专题班: mandatory) call everyone: not a 任职培训 call
        rollcall &= self.b_tier[np.maximum(enr["cls"], 0)] < 0
        e = np.unique(enr["cadre"][rollcall].astype(np.int64) * 2**32 + enr["enrolled"][rollcall])
        pos = np.searchsorted(e, c.astype(np.int64) * 2**32 + day)
        nxt = np.where(pos < len(e), e[np.minimum(pos, len(e) - 1)], -1)
        called = np.where((nxt >> 32) == c, nxt & (2**32 - 1), NEVER)
        merged, into, m_day = self.merger
        return {
            "promotions": pd.DataFrame(
                {
                    "cadre_id": cadre_ids[c],
                    "promoted_on": dates_from_days(day),
                    "from_rank": np.array(RANKS, dtype=object)[mv["rank"][up] - 1],
                    "to_rank": np.array(RANKS, dtype=object)[mv["rank"][up]],
                    "first_rollcall_on": dates_from_days(called),
                }
            ),
            "merger": pd.DataFrame(
                {
                    "unit_id": [unit_ids[merged]],
                    "into_unit_id": [unit_ids[into]],
                    "merged_on": dates_from_days(np.array([m_day])),
                }
            ),
            "cadre_columns": {
                "hired_on": dates_from_days(
                    np.where(self.hire_day > -NO_DAY, self.hire_day, NEVER)
                ),
                "left_on": dates_from_days(
                    np.where(self.leave_day < NO_DAY, self.leave_day, NEVER)
                ),
                "leave_reason": np.where(
                    self.leave_day < NO_DAY,
                    np.array(["retirement", "resignation"], dtype=object)[self.leave_reason],
                    None,
                ),
            },
        }


def posts_on(posts: pd.DataFrame, cadre_ids, dates) -> pd.DataFrame:
    """The post each cadre held on a date, from a ``cadre_posts`` table.

    Parameters
    ----------
    posts : DataFrame
        ``cadre_posts`` (cadre_id, unit_id, rank, category, from_on, to_on).
    cadre_ids : array-like of str
        Cadres (every one must have a post).
    dates : date-like or array-like of date-like
        One date, or one per cadre.

    Returns
    -------
    DataFrame
        One row per cadre, in order: unit_id, rank, category of the latest post that started on
        or before the date (the first post when none did), ``started`` (some post had started by
        then) and ``left_on`` (the end of the cadre's last post: the leave day, NaT if serving).
    """
    ids = pd.Series(np.asarray(cadre_ids).astype(str))
    when = np.broadcast_to(pd.to_datetime(dates).to_numpy().astype("datetime64[ns]"), ids.shape)
    left = pd.DataFrame({"cadre_id": ids, "at": when, "row": ids.index})
    p = posts.assign(cadre_id=posts["cadre_id"].astype(str))
    p = p.assign(
        from_on=pd.to_datetime(p["from_on"]).astype("datetime64[ns]"),
        to_on=pd.to_datetime(p["to_on"]).astype("datetime64[ns]"),
    )
    p = p.sort_values(["cadre_id", "from_on"])
    first = p.drop_duplicates("cadre_id", keep="first").set_index("cadre_id")
    last = p.drop_duplicates("cadre_id", keep="last").set_index("cadre_id")
    found = (
        pd.merge_asof(
            left.sort_values("at"),
            p.sort_values("from_on")[["cadre_id", "from_on", "unit_id", "rank", "category"]],
            left_on="at",
            right_on="from_on",
            by="cadre_id",
        )
        .set_index("row")
        .sort_index()
    )
    started = found["from_on"].notna().to_numpy()
    out = pd.DataFrame(index=ids.index)
    for col in ("unit_id", "rank", "category"):
        out[col] = np.where(started, found[col], first[col].reindex(ids).to_numpy())
    out["started"] = started
    out["left_on"] = last["to_on"].reindex(ids).to_numpy()
    return out


def month_groups(posts: pd.DataFrame, cadre_ids, dates) -> tuple[np.ndarray, np.ndarray]:
    """Rank × category group (``rank * n_categories + category``) and service in a month.

    The simulation runs a month with the posts held on the day before it starts, and with the
    cadres hired before it starts who do not leave within it (see the module docstring); this
    gives both for the month of each date (one date, or one per cadre).
    """
    month = pd.to_datetime(pd.Series(np.broadcast_to(pd.to_datetime(dates), np.shape(cadre_ids))))
    month = month.dt.to_period("M").dt.start_time
    held = posts_on(posts, cadre_ids, month - pd.Timedelta(days=1))
    group = index_of(held["rank"], RANKS) * N_CAT + index_of(held["category"], CATEGORIES)
    left = pd.to_datetime(held["left_on"]).to_numpy()
    ends = (month + pd.offsets.MonthEnd(0)).to_numpy()
    return group, held["started"].to_numpy() & ~(left <= ends)
