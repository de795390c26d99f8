import numpy as np
import pandas as pd
import pytest

from ganxun.models.equity import (
    fairness_quotas,
    gini,
    need_shares,
    rollcall_concentration,
    seat_report,
)
from ganxun.models.rollcall import InfeasibleRoster, propose_roster


def _candidates(seed=0, n=200):
    rng = np.random.default_rng(seed)
    unit = rng.choice(["U1", "U2", "U3", "U4"], n, p=[0.55, 0.25, 0.15, 0.05])
    gap = rng.uniform(0, 0.3, n)
    # U1's cadres gain most: an unconstrained roster fills up with them
    benefit = gap + np.where(unit == "U1", 0.5, 0.0)
    return pd.DataFrame(
        {
            "cadre_id": [f"C{i}" for i in range(n)],
            "unit_id": unit,
            "rank": "科员",
            "benefit": benefit,
            "recent_hours": 0.0,
            "gap": gap,
        }
    )


def test_need_shares_count_cadres_short_on_the_topics():
    c = pd.DataFrame({"unit_id": ["A", "A", "B", "B"], "gap": [0.2, 0.0, 0.1, 0.3]})
    assert need_shares(c).to_dict() == {"A": pytest.approx(1 / 3), "B": pytest.approx(2 / 3)}
    assert fairness_quotas(c, capacity=6, bound=1.0) == {"A": 2, "B": 4}


def test_a_fairness_bound_keeps_every_unit_near_its_need_and_is_reported():
    cand = _candidates()
    free, _ = propose_roster(cand, capacity=40)
    fair, report = propose_roster(cand, capacity=40, fairness_bound=1.2)
    shares = need_shares(cand)
    seats = fair.groupby("unit_id").size()
    for unit, n in seats.items():
        assert n <= max(1, np.floor(1.2 * shares[unit] * 40 + 1e-9))
    assert free.groupby("unit_id").size()["U1"] > seats["U1"]
    entry = next(r for r in report if r["constraint"] == "fairness")
    assert entry["limit"] == 1.2 and entry["used"] <= 1.2 + 1 / (40 * shares.min())
    # fairness gives up some benefit, never more than it must
    assert fair["benefit"].sum() <= free["benefit"].sum()
    table = seat_report(fair, cand)
    assert table["seats"].sum() == 40 and table["need_share"].sum() == pytest.approx(1.0)


def test_a_bound_too_tight_to_fill_the_class_names_fairness():
    cand = _candidates()
    with pytest.raises(InfeasibleRoster) as err:
        propose_roster(
            cand.assign(gap=np.where(cand["unit_id"] == "U4", 0.2, 0.0)), 40, fairness_bound=1.0
        )
    assert err.value.constraint == "fairness"


def test_gini_and_concentration():
    assert gini([1, 1, 1, 1]) == 0.0
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    e = pd.DataFrame(
        {
            "cadre_id": ["A", "A", "A", "B"],
            "class_id": ["B1", "B2", "B3", "B1"],
            "source": ["rollcall"] * 4,
            "enrolled_on": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-05-01", "2025-01-01"]),
        }
    )
    got = rollcall_concentration(e, ["A", "B", "C", "D"], "2024-06-01", "2026-01-01")
    assert got["never_called"] == 0.5 and got["gini"] > 0.5


def test_allocation_report_and_districts():
    from ganxun.models.equity import allocation_report, by_district

    units = pd.DataFrame(
        {"unit_id": ["U1", "U2", "U3"], "name": ["甲", "乙", "丙"], "district": ["A", "A", "B"]}
    )
    seats = pd.Series({"U1": 6, "U2": 2})
    need = pd.Series({"U1": 2.0, "U2": 2.0, "U3": 4.0})
    r = allocation_report(seats, need, units).set_index("unit_id")
    assert r.loc["U1", "ratio"] == pytest.approx(0.75 / 0.25)
    assert r.loc["U3", "seats"] == 0 and r.loc["U3", "ratio"] == 0
    d = by_district(r.reset_index()).set_index("district")
    assert d.loc["A", "seat_share"] == 1.0 and d.loc["B", "need_share"] == 0.5


def test_period_need_gives_each_class_s_seats_in_proportion_to_need():
    from ganxun.models.equity import period_need

    gaps = np.array([[0.2, 0.0], [0.2, 0.0], [0.0, 0.3], [0.0, 0.0]])
    units = np.array(["U1", "U1", "U2", "U2"])
    weights = np.array([[1.0, 0.0], [0.5, 0.5]])
    eligible = np.ones((4, 2), bool)
    need = period_need(gaps, eligible, units, weights, np.array([10, 9]))
    # class 1: only U1's two cadres are short → 10 seats; class 2: all three short → 6 / 3
    assert need["U1"] == pytest.approx(16.0) and need["U2"] == pytest.approx(3.0)
