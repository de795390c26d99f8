"""Ids worth trying, picked from the loaded bundle: for the pages, the demo and the README.

A good example cadre shows the product well: answers to exam items on several topics (so the
reserve rests on evidence, not only on the prior) and a clear gap to what the post needs (so the
recommendations have something to close). Units and classes follow from the cadres picked.
"""

from __future__ import annotations

import numpy as np

from ganxun.serving.auth import Principal
from ganxun.serving.predictor import Predictor

MIN_GAP = 0.15  # a largest gap of at least 15 points on the 0–100 scale


def example_cadres(predictor: Predictor, n: int = 3, among: np.ndarray | None = None) -> list[dict]:
    """Up to ``n`` cadres with exam evidence and a clear gap, from different units.

    Cadres are ranked by how many topics their answers cover, then by the mean confidence of
    their reserve; those whose largest gap is below ``MIN_GAP`` come after all the others.
    ``among`` (a boolean mask over the bundle's cadres) restricts the choice.
    """
    fitted = predictor.fitted
    cat, k = fitted.catalog, fitted.knowledge
    n_cadres = len(cat.cadres.ids_)
    mask = np.ones(n_cadres, bool) if among is None else np.asarray(among, bool)
    if "in_service" in cat.cadre_info:  # a cadre who has left is no example
        mask = mask & cat.cadre_info["in_service"].to_numpy(bool)
    if not mask.any():
        return []
    segments = np.maximum(cat.cadre_info["segment"].to_numpy(), 0)
    gaps = np.maximum(0.0, cat.targets[segments] - k.reserve)
    largest = gaps.max(axis=1)
    topics_answered = (k.total > 0).sum(axis=1)
    confidence = k.confidence.mean(axis=1)
    order = np.lexsort((-confidence, -topics_answered, largest < MIN_GAP))
    order = order[mask[order]]
    units = cat.cadre_info["unit_id"].to_numpy()
    names = cat.topic_info["name_zh"].to_numpy()
    picked, seen_units = [], set()
    for i in order:
        if len(picked) == n:
            break
        if units[i] in seen_units and len(seen_units) < len(set(units[mask])):
            continue  # prefer cadres of different units
        seen_units.add(units[i])
        t = int(np.argmax(gaps[i]))
        picked.append(
            {
                "cadre_id": str(cat.cadres.ids_[i]),
                "unit_id": str(units[i]),
                "unit_name": predictor.unit_name(str(units[i])),
                "rank": str(cat.cadre_info["rank"].iat[i]),
                "topics_answered": int(topics_answered[i]),
                "largest_gap": round(100 * float(largest[i]), 1),
                "largest_gap_topic": str(names[t]),
            }
        )
    return picked


def example_classes(predictor: Predictor, n: int = 3) -> list[dict]:
    """Up to ``n`` rollcall classes (the latest first), for the roster page."""
    planning = predictor.fitted.planning
    if planning is None:
        return []
    classes = planning.tables["classes"]
    rollcall = classes[classes["kind"] == "rollcall"]
    if "start_on" in rollcall:
        rollcall = rollcall.sort_values("start_on", ascending=False, kind="stable")
    return [
        {"class_id": str(r.class_id), "name": str(r.name), "capacity": int(r.capacity)}
        for r in rollcall.head(n).itertuples()
    ]


def examples_for(predictor: Predictor, who: Principal, n: int = 3) -> dict:
    """Example cadres, units and classes that ``who`` may open (nothing outside its scope).

    Org keys get all three kinds; a unit key its own unit and cadres; a cadre key itself; an
    institution key units (it sees every unit's layout). Classes only for org keys: the roster
    page calls rollcall, which is the organisation department's.
    """
    cat = predictor.fitted.catalog
    units = cat.cadre_info["unit_id"].to_numpy().astype(str)
    ids = cat.cadres.ids_.astype(str)
    if who.role == "org":
        among = None
    elif who.role == "unit":
        among = units == who.scope
    elif who.role == "cadre":
        among = ids == who.scope
    else:
        among = np.zeros(len(ids), bool)
    cadres = example_cadres(predictor, n, among)
    if who.role == "unit":
        unit_ids = [who.scope] if predictor.unit_name(who.scope) is not None else []
    elif who.role in ("org", "institution"):
        unit_ids = list(dict.fromkeys(c["unit_id"] for c in cadres))
        if len(unit_ids) < n:
            by_size = cat.cadre_info["unit_id"].value_counts().index.astype(str)
            unit_ids += [u for u in by_size if u not in unit_ids][: n - len(unit_ids)]
    else:
        unit_ids = []
    return {
        "cadres": cadres,
        "units": [{"unit_id": u, "name": predictor.unit_name(u)} for u in unit_ids[:n]],
        "classes": example_classes(predictor, n) if who.role == "org" else [],
    }
