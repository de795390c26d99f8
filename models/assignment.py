"""Assignment plans (排课): predicted ratings in, a constraint-respecting plan out.

:func:`plan_teachers` assigns at most one teacher to each topic slot (a class session) and
:func:`plan_staff` at most one staff member to each class. Both first fill as many slots as the
constraints allow, then maximise the total score among the plans that fill that many
(``scipy.optimize.milp``: the best-score plan is solved first and kept when it already fills the
most slots, else re-solved with that count as a constraint; or one ``linear_sum_assignment`` when
every candidate may take only one slot, where the constraints reduce to a bipartite matching). The
plan is checked against every constraint before it is returned, and every slot left empty is
reported with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

#: Reason codes of unfilled slots and their plain-language (Chinese) messages.
REASONS: dict[str, str] = {
    "no_eligible": "没有符合条件的人选",
    "busy_on_date": "符合条件的人选当天均已在其他班次",
    "over_load": "符合条件的人选均已达到本期上限",
    "busy_or_over_load": "符合条件的人选当天均在其他班次或已达到本期上限",
    "not_resolved": "求解在时限内未能安排该位置",
}


@dataclass(frozen=True)
class UnfilledSlot:
    """A slot the plan leaves empty, and why.

    Attributes
    ----------
    slot : int
        Row of the score matrix.
    reason : str
        One of :data:`REASONS` (``no_eligible``, ``busy_on_date``, ``over_load``,
        ``busy_or_over_load``, ``not_resolved``).
    message : str
        The reason in plain Chinese.
    """

    slot: int
    reason: str
    message: str


@dataclass
class Plan:
    """An assignment plan.

    Attributes
    ----------
    assignment : ndarray of int64, shape (n_slots,)
        Column (teacher or staff index) assigned to each slot; ``-1`` when unfilled.
    unfilled : list of UnfilledSlot
        Every unfilled slot with its reason.
    total_score : float
        Sum of the scores of the assigned pairs.
    method : str
        ``"milp"`` or ``"linear_sum_assignment"``.
    status : str
        ``"optimal"`` or ``"time_limit"`` (a feasible plan, maybe not the best).
    """

    assignment: np.ndarray
    unfilled: list[UnfilledSlot] = field(default_factory=list)
    total_score: float = 0.0
    method: str = "milp"
    status: str = "optimal"

    @property
    def n_filled(self) -> int:
        """Number of slots with an assignment."""
        return int((self.assignment >= 0).sum())


class _Rows:
    """Sparse constraint rows ``sum(coef * x[var]) <= ub`` (or with a lower bound)."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lb: list[float] = []
        self.ub: list[float] = []

    def add(self, cols, coefs, lb: float, ub: float) -> None:
        cols = np.asarray(cols, dtype=np.int64)
        self.r.append(np.full(len(cols), len(self.ub), dtype=np.int64))
        self.c.append(cols)
        self.v.append(np.broadcast_to(np.asarray(coefs, dtype=float), cols.shape))
        self.lb.append(lb)
        self.ub.append(ub)

    def add_pairs(self, first: np.ndarray, second: np.ndarray) -> None:
        """Rows ``x[first[i]] - x[second[i]] <= 0``."""
        n = len(first)
        if not n:
            return
        rows = len(self.ub) + np.arange(n, dtype=np.int64)
        self.r.append(np.concatenate([rows, rows]))
        self.c.append(np.concatenate([first, second]).astype(np.int64))
        self.v.append(np.concatenate([np.ones(n), -np.ones(n)]))
        self.lb.extend([-np.inf] * n)
        self.ub.extend([0.0] * n)

    def add_groups(self, codes: np.ndarray, cols: np.ndarray, ub: np.ndarray) -> None:
        """One row per distinct code: the sum of ``cols`` sharing it is at most its bound.

        ``ub`` is aligned with the sorted distinct codes.
        """
        if not len(cols):
            return
        uniq, inv = np.unique(codes, return_inverse=True)
        base = len(self.ub)
        self.r.append(base + inv.astype(np.int64))
        self.c.append(np.asarray(cols, dtype=np.int64))
        self.v.append(np.ones(len(cols)))
        self.lb.extend([-np.inf] * len(uniq))
        self.ub.extend(np.asarray(ub, dtype=float)[np.arange(len(uniq))].tolist())

    def constraint(self, n_vars: int) -> LinearConstraint | None:
        if not self.ub:
            return None
        a = sp.csr_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))),
            shape=(len(self.ub), n_vars),
        )
        return LinearConstraint(a, np.asarray(self.lb), np.asarray(self.ub))


def _check_scores(scores, eligible) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"scores must be 2-D (slots × candidates), got shape {s.shape}")
    ok = np.isfinite(s)
    if eligible is not None:
        e = np.asarray(eligible, dtype=bool)
        if e.shape != s.shape:
            raise ValueError(f"eligible has shape {e.shape}, scores {s.shape}")
        ok &= e
    return s, ok


def _caps(value, n: int, name: str) -> np.ndarray:
    caps = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    if (caps < 0).any() or np.isnan(caps).any():
        raise ValueError(f"{name} must be non-negative")
    return np.floor(caps)


def _solve_milp(values, n_x, rows_fn, time_limit, n_vars, mip_rel_gap, n_upper, slots=None):
    """:func:`_solve_plan`, and a plan cut short by the time limit improved by :func:`_repair`.

    A solve stopped at the time limit may hold a poor incumbent (the solver's first feasible
    plan, or the count-only plan, which does not read the scores): it is repaired on the scores
    (``slots``: the slot of each pair variable).
    """
    x, status = _solve_plan(values, n_x, rows_fn, time_limit, n_vars, mip_rel_gap, n_upper)
    if status == "time_limit":
        x = _repair(x, values, n_x, rows_fn(), slots)
    return x, status


def _solve_plan(values, n_x, rows_fn, time_limit, n_vars, mip_rel_gap, n_upper):
    """Fill as many slots as possible, then maximise the total score given that count.

    The score-only optimum is tried first: when it fills as many slots as the count-only optimum
    it is also the best plan of that count, and the (slow) count-constrained solve is skipped;
    ``n_upper`` (slots with any eligible candidate) bounds the count, so reaching it ends early.
    """
    integrality = np.ones(n_vars)
    bounds = Bounds(np.zeros(n_vars), np.ones(n_vars))
    opts = {"time_limit": time_limit, "mip_rel_gap": mip_rel_gap}
    c = np.zeros(n_vars)
    c[:n_x] = -np.asarray(values, dtype=float)
    best = milp(c, integrality=integrality, bounds=bounds, constraints=[rows_fn()], options=opts)
    if best.x is not None and int((best.x[:n_x] > 0.5).sum()) >= n_upper:
        return best.x, "optimal" if best.status == 0 else "time_limit"
    count = np.zeros(n_vars)
    count[:n_x] = -1.0
    most = milp(
        count, integrality=integrality, bounds=bounds, constraints=[rows_fn()], options=opts
    )
    if most.x is None:
        return (best.x if best.x is not None else np.zeros(n_vars)), "time_limit"
    status = "optimal" if best.status == 0 and most.status == 0 else "time_limit"
    n_most = int(round(-most.fun))
    if best.x is not None and int((best.x[:n_x] > 0.5).sum()) >= n_most:
        return best.x, status
    both = milp(
        c,
        integrality=integrality,
        bounds=bounds,
        constraints=[rows_fn(extra_count=n_most)],
        options=opts,
    )
    if both.x is None:
        return most.x, "time_limit"
    return both.x, status if both.status == 0 else "time_limit"


def _repair(x, values, n_x, constraint, slots) -> np.ndarray:
    """The better of ``x`` improved and a greedy plan, after a solver time-out.

    Only for plans whose rows are all "at most" rows with non-negative coefficients over the
    pair variables (the staff plan; the teacher plan's auxiliaries make it return ``x`` as it
    is). Two starts: ``x`` (often the count-only plan, which ignores the scores) and the global
    greedy plan (every pair best score first, taken when it fits). Each is then improved by one
    pass over the slots — a filled slot swaps to its best candidate that fits once its own is
    taken out, an empty slot takes its best candidate that fits — and the plan filling more
    slots wins, then the one of higher score.
    """
    a = sp.csc_matrix(constraint.A)
    if slots is None or a.shape[1] != n_x or (a.data < 0).any() or np.isfinite(constraint.lb).any():
        return x
    values = np.asarray(values, dtype=float)
    ub = np.asarray(constraint.ub, dtype=float) + 1e-9
    plans = []
    greedy = np.zeros(n_x)
    use = np.zeros(a.shape[0])
    for j in np.argsort(-values, kind="stable"):
        rows, coef = a.indices[a.indptr[j] : a.indptr[j + 1]], a.data[a.indptr[j] : a.indptr[j + 1]]
        if (use[rows] + coef <= ub[rows]).all():
            use[rows] += coef
            greedy[j] = 1.0
    for start in (np.asarray(x, dtype=float)[:n_x], greedy):
        plan = _improve((start > 0.5).astype(float), values, a, ub, slots)
        plans.append(((plan > 0.5).sum(), float(values @ plan), plan))
    return max(plans, key=lambda p: (p[0], p[1]))[2]


def _improve(x, values, a, ub, slots) -> np.ndarray:
    """One pass over the slots of a feasible packing plan ``x``, best candidate that fits."""
    use = a @ x

    def fits(j: int) -> bool:
        rows = a.indices[a.indptr[j] : a.indptr[j + 1]]
        return bool((use[rows] + a.data[a.indptr[j] : a.indptr[j + 1]] <= ub[rows]).all())

    def put(j: int, sign: float) -> None:
        rows = a.indices[a.indptr[j] : a.indptr[j + 1]]
        use[rows] += sign * a.data[a.indptr[j] : a.indptr[j + 1]]
        x[j] = 1.0 if sign > 0 else 0.0

    order = np.lexsort((-values, slots))  # per slot, best candidate first
    first = np.searchsorted(slots[order], np.unique(slots))
    for group in np.split(order, first[1:]):
        held = group[x[group] > 0.5]
        if len(held):
            put(int(held[0]), -1.0)
        for j in group:  # the best candidate that fits (the one held fits again at worst)
            if fits(int(j)) and (not len(held) or values[j] >= values[held[0]]):
                put(int(j), 1.0)
                break
        else:
            if len(held):
                put(int(held[0]), 1.0)
    return x


def _milp_assignment(s, ok, constraints, time_limit, mip_rel_gap):
    """A plan as a MILP over the eligible pairs of ``ok``: assignment per slot and solver status.

    ``constraints(pair_slots, pair_cols)`` returns ``(add_rows, n_vars)``: a function adding the
    plan's own rows to a :class:`_Rows`, and the variable count (one per pair first, then any
    auxiliaries). The rows "at most one candidate per slot" come first and the fill-count row
    of :func:`_solve_milp` last.
    """
    n_slots = s.shape[0]
    ps, pt = np.nonzero(ok)
    n_x = len(ps)
    assignment = np.full(n_slots, -1, dtype=np.int64)
    if n_x == 0:
        return assignment, "optimal"
    add_rows, n_vars = constraints(ps, pt)

    def rows_fn(extra_count: int | None = None) -> LinearConstraint:
        rows = _Rows()
        rows.add_groups(ps, np.arange(n_x), np.ones(n_slots))
        add_rows(rows)
        if extra_count is not None:
            rows.add(np.arange(n_x), 1.0, float(extra_count), np.inf)
        return rows.constraint(n_vars)

    x, status = _solve_milp(
        s[ps, pt], n_x, rows_fn, time_limit, n_vars, mip_rel_gap, len(np.unique(ps)), slots=ps
    )
    chosen = x[:n_x] > 0.5
    assignment[ps[chosen]] = pt[chosen]
    return assignment, status


def _unfilled(assignment, listed, blocked) -> list[UnfilledSlot]:
    """Every empty slot and why: nobody eligible (``listed``), else ``blocked(slot, cands)``.

    ``blocked`` returns, per eligible candidate, whether it is busy and whether it is full.
    """
    out = []
    for sl in np.flatnonzero(assignment < 0):
        cands = np.flatnonzero(listed[sl])
        if not len(cands):
            out.append(UnfilledSlot(int(sl), "no_eligible", REASONS["no_eligible"]))
            continue
        is_busy, is_full = blocked(sl, cands)
        out.append(_reason(int(sl), np.array(is_busy), np.array(is_full)))
    return out


def _lsa(s: np.ndarray, ok: np.ndarray, cols_cap: np.ndarray) -> np.ndarray:
    """Max count, then max score, when every column takes at most one row."""
    use = cols_cap >= 1
    assignment = np.full(s.shape[0], -1, dtype=np.int64)
    if not use.any() or not ok[:, use].any():
        return assignment
    cols = np.flatnonzero(use)
    sub_ok = ok[:, cols]
    vals = np.where(sub_ok, s[:, cols], 0.0)
    lo, hi = vals[sub_ok].min(), vals[sub_ok].max()
    big = (hi - lo) * min(s.shape[0], len(cols)) + 1.0
    gain = np.where(sub_ok, big + vals - lo, 0.0)
    r, c = linear_sum_assignment(gain, maximize=True)
    keep = sub_ok[r, c]
    assignment[r[keep]] = cols[c[keep]]
    return assignment


def plan_teachers(
    scores,
    slot_dates,
    slot_classes,
    max_sessions,
    eligible=None,
    slot_periods=None,
    time_limit: float = 30.0,
    mip_rel_gap: float = 1e-4,
) -> Plan:
    """Assign teachers to topic slots, maximising the total predicted rating.

    Constraints: each slot gets at most one teacher; each teacher teaches at most
    ``max_sessions`` slots per period; no teacher teaches two different classes on the same date
    (two sessions of one class on one day are allowed). As many slots as possible are filled
    first; among those plans the total score is maximised.

    Parameters
    ----------
    scores : ndarray of shape (n_slots, n_teachers)
        Predicted rating of each teacher on each slot; non-finite cells are not eligible.
    slot_dates : array-like of shape (n_slots,)
        Date of each slot (any comparable values, e.g. ``datetime64``).
    slot_classes : array-like of shape (n_slots,)
        Class of each slot.
    max_sessions : int or array-like of shape (n_teachers,)
        Most slots per teacher per period.
    eligible : ndarray of bool, shape (n_slots, n_teachers), optional
        Which teachers may take which slot (e.g. declared the slot's topic).
    slot_periods : array-like of shape (n_slots,), optional
        Period of each slot for the load limit (e.g. the month); default one period for all.
    time_limit : float
        Seconds per solver call; a plan found by then is returned with ``status="time_limit"``.
    mip_rel_gap : float
        Relative optimality gap at which the solver stops.

    Returns
    -------
    Plan
        ``assignment`` gives the teacher column per slot; ``unfilled`` the empty slots with
        their reasons (``no_eligible``, ``busy_on_date``, ``over_load``, ``busy_or_over_load``).

    Raises
    ------
    ValueError
        If the shapes disagree or a limit is negative.
    """
    s, ok = _check_scores(scores, eligible)
    n_slots, n_t = s.shape
    dates = pd.factorize(pd.Series(np.asarray(slot_dates)))[0]
    classes = pd.factorize(pd.Series(np.asarray(slot_classes, dtype=object)))[0]
    periods = (
        np.zeros(n_slots, dtype=np.int64)
        if slot_periods is None
        else pd.factorize(pd.Series(np.asarray(slot_periods)))[0]
    )
    if not (len(dates) == len(classes) == len(periods) == n_slots):
        raise ValueError("slot_dates, slot_classes and slot_periods need one value per slot")
    caps = _caps(max_sessions, n_t, "max_sessions")
    listed = ok.copy()  # eligible before load limits: what the reasons speak about
    ok &= (caps >= 1)[None, :]
    if n_slots == 0:
        return Plan(np.zeros(0, dtype=np.int64))
    if (caps <= 1).all() and len(np.unique(periods)) == 1:
        assignment = _lsa(s, ok, caps)
        method, status = "linear_sum_assignment", "optimal"
    else:
        assignment, status = _teacher_milp(
            s, ok, dates, classes, periods, caps, time_limit, mip_rel_gap
        )
        method = "milp"
    _check_teacher_plan(assignment, ok, dates, classes, periods, caps)
    unfilled = _teacher_reasons(assignment, listed, dates, classes, periods, caps)
    return Plan(assignment, unfilled, _total(s, assignment), method, status)


def _teacher_milp(s, ok, dates, classes, periods, caps, time_limit, mip_rel_gap):
    def constraints(ps, pt):
        n_x = len(ps)
        # auxiliary y[t, date, class] where a teacher could meet two classes on one date
        td = pt.astype(np.int64) * (dates.max() + 1) + dates[ps]
        frame = pd.DataFrame({"td": td, "cls": classes[ps]})
        n_cls = frame.groupby("td")["cls"].transform("nunique").to_numpy()
        conflict = np.flatnonzero(n_cls > 1)
        tdc_codes, tdc_uniq = pd.factorize(
            pd.Series(td[conflict] * (classes.max() + 1) + classes[ps][conflict])
        )
        n_y = len(tdc_uniq)
        y_td = np.asarray(tdc_uniq) // (classes.max() + 1)

        def add_rows(rows: _Rows) -> None:
            load = pt.astype(np.int64) * (periods.max() + 1) + periods[ps]
            uniq = np.unique(load)
            rows.add_groups(load, np.arange(n_x), caps[uniq // (periods.max() + 1)])
            rows.add_pairs(conflict, n_x + tdc_codes)  # x <= y: teaching means meeting that class
            if n_y:
                rows.add_groups(y_td, n_x + np.arange(n_y), np.ones(len(np.unique(y_td))))

        return add_rows, n_x + n_y

    return _milp_assignment(s, ok, constraints, time_limit, mip_rel_gap)


def _busy_and_load(assignment, dates, classes, periods, n_t):
    on = assignment >= 0
    busy = {}
    for sl in np.flatnonzero(on):
        busy.setdefault((assignment[sl], dates[sl]), set()).add(classes[sl])
    load = {}
    for sl in np.flatnonzero(on):
        key = (assignment[sl], periods[sl])
        load[key] = load.get(key, 0) + 1
    return busy, load


def _check_teacher_plan(assignment, ok, dates, classes, periods, caps) -> None:
    """Raise if the plan breaks a constraint (guards against solver tolerances)."""
    on = assignment >= 0
    if (~ok[np.flatnonzero(on), assignment[on]]).any():
        raise RuntimeError("plan assigns an ineligible teacher")
    busy, load = _busy_and_load(assignment, dates, classes, periods, ok.shape[1])
    if any(len(v) > 1 for v in busy.values()):
        raise RuntimeError("plan books a teacher in two classes on one date")
    if any(n > caps[t] for (t, _), n in load.items()):
        raise RuntimeError("plan exceeds a teacher's session limit")


def _teacher_reasons(assignment, ok, dates, classes, periods, caps) -> list[UnfilledSlot]:
    busy, load = _busy_and_load(assignment, dates, classes, periods, ok.shape[1])

    def blocked(sl, cands):
        is_busy = [bool(busy.get((t, dates[sl]), set()) - {classes[sl]}) for t in cands]
        return is_busy, [load.get((t, periods[sl]), 0) >= caps[t] for t in cands]

    return _unfilled(assignment, ok, blocked)


def _reason(slot: int, is_busy: np.ndarray, is_full: np.ndarray) -> UnfilledSlot:
    if is_busy.all():
        code = "busy_on_date"
    elif is_full.all():
        code = "over_load"
    elif (is_busy | is_full).all():
        code = "busy_or_over_load"
    else:
        code = "not_resolved"
    return UnfilledSlot(slot, code, REASONS[code])


def _total(s: np.ndarray, assignment: np.ndarray) -> float:
    on = np.flatnonzero(assignment >= 0)
    return float(s[on, assignment[on]].sum())


def plan_staff(
    scores,
    class_start,
    class_end,
    max_concurrent: int | np.ndarray = 1,
    max_classes: int | np.ndarray | None = None,
    eligible=None,
    time_limit: float = 30.0,
    mip_rel_gap: float = 1e-4,
) -> Plan:
    """Assign one support staff member to each class, maximising the total predicted rating.

    Constraints: each class gets at most one staff member; at no date does a staff member run
    more than ``max_concurrent`` classes whose dates overlap (start and end inclusive); and, if
    given, no staff member runs more than ``max_classes`` classes in the plan.

    Parameters
    ----------
    scores : ndarray of shape (n_classes, n_staff)
        Predicted rating of each staff member for each class; non-finite cells are not eligible.
    class_start, class_end : array-like of dates, shape (n_classes,)
        First and last day of each class.
    max_concurrent : int or array-like of shape (n_staff,)
        Overlapping classes a staff member may run at once.
    max_classes : int or array-like of shape (n_staff,), optional
        Classes per staff member over the whole plan.
    eligible : ndarray of bool, shape (n_classes, n_staff), optional
        Which staff may take which class.
    time_limit : float
        Seconds per solver call; a plan found by then is returned with ``status="time_limit"``.
    mip_rel_gap : float
        Relative optimality gap at which the solver stops.

    Returns
    -------
    Plan
        ``assignment`` gives the staff column per class; ``unfilled`` the classes left without
        staff and why (``busy_on_date`` = every eligible member already runs overlapping classes).

    Raises
    ------
    ValueError
        If the shapes disagree, a limit is negative or a class ends before it starts.
    """
    s, ok = _check_scores(scores, eligible)
    n_c, n_s = s.shape
    start = pd.to_datetime(pd.Series(np.asarray(class_start))).to_numpy("datetime64[D]")
    end = pd.to_datetime(pd.Series(np.asarray(class_end))).to_numpy("datetime64[D]")
    if not (len(start) == len(end) == n_c):
        raise ValueError("class_start and class_end need one date per class")
    if (end < start).any():
        raise ValueError("a class ends before it starts")
    conc = _caps(max_concurrent, n_s, "max_concurrent")
    total = np.full(n_s, np.inf) if max_classes is None else _caps(max_classes, n_s, "max_classes")
    listed = ok.copy()
    ok &= ((conc >= 1) & (total >= 1))[None, :]
    if n_c == 0:
        return Plan(np.zeros(0, dtype=np.int64))
    # classes running on each class's first day: the cliques of an interval graph
    active = (start[None, :] <= start[:, None]) & (end[None, :] >= start[:, None])
    if (total <= 1).all():
        assignment = _lsa(s, ok, total)
        method, status = "linear_sum_assignment", "optimal"
    else:
        assignment, status = _staff_milp(s, ok, active, conc, total, time_limit, mip_rel_gap)
        method = "milp"
    _check_staff_plan(assignment, ok, active, conc, total)

    def blocked(c, cands):
        # overlap peaks at the start of c or of a class starting while c runs
        points = np.flatnonzero(active[:, c])
        is_busy, is_full = [], []
        for t in cands:
            mine = assignment == t
            is_busy.append(active[np.ix_(points, mine)].sum(axis=1).max() >= conc[t])
            is_full.append(mine.sum() >= total[t])
        return is_busy, is_full

    unfilled = _unfilled(assignment, listed, blocked)
    return Plan(assignment, unfilled, _total(s, assignment), method, status)


def _staff_milp(s, ok, active, conc, total, time_limit, mip_rel_gap):
    n_c, n_s = s.shape

    def constraints(pc, pt):
        var = -np.ones((n_c, n_s), dtype=np.int64)
        var[pc, pt] = np.arange(len(pc))

        def add_rows(rows: _Rows) -> None:
            for t in range(n_s):
                mine = var[:, t]
                for p in range(n_c):  # classes running on class p's first day
                    cols = mine[active[p] & (mine >= 0)]
                    if len(cols) > conc[t]:
                        rows.add(cols, 1.0, -np.inf, conc[t])
                if np.isfinite(total[t]) and (mine >= 0).sum() > total[t]:
                    rows.add(mine[mine >= 0], 1.0, -np.inf, total[t])

        return add_rows, len(pc)

    return _milp_assignment(s, ok, constraints, time_limit, mip_rel_gap)


def _check_staff_plan(assignment, ok, active, conc, total) -> None:
    on = assignment >= 0
    if (~ok[np.flatnonzero(on), assignment[on]]).any():
        raise RuntimeError("plan assigns an ineligible staff member")
    for t in np.unique(assignment[on]):
        mine = assignment == t
        if mine.sum() > total[t]:
            raise RuntimeError("plan exceeds a staff member's class limit")
        if (active[:, mine].sum(axis=1)[mine] > conc[t]).any():
            raise RuntimeError("plan gives a staff member too many overlapping classes")
