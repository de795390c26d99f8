"""How much of the recommender oracle is the cadres' latent tastes (synthetic city only).

Usage: ``python benchmarks/bench_recommend_oracle.py --data data/city [--set KEY=VALUE ...]``

Fits the models at the test split of ``ganxun train`` and prints nDCG@10 / Recall@10 of

* the model (the configuration given), the model with the choice model's learned tastes
  (``recommender.choice_factors = 16``) and the model handed the generator's *true* taste
  vectors in place of the learned ones (what a ranker could do if tastes were known);
* the oracle (the generator's choice probabilities over the test window), the same oracle with
  every cadre's taste set to zero, and with the choice model's learned tastes in place of the
  true ones;

and the mean per-cadre correlation of the true taste term with the choice model's tastes and with
ALS scores (over the courses each cadre may still take, 1,000 sampled cadres).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ganxun.training.fitting as fitting  # noqa: E402
from ganxun.features.split import after, before, default_split_date  # noqa: E402
from ganxun.models.choice_model import ChoiceFactors  # noqa: E402
from ganxun.training.config import load_config  # noqa: E402
from ganxun.training.evaluate import evaluate_recommender  # noqa: E402
from ganxun.training.fitting import Fitted, build_catalog, fit_knowledge, fit_quality  # noqa: E402
from ganxun.training.pipeline import load_validated  # noqa: E402
from ganxun.training.sources import read_truth  # noqa: E402


def _aligned(truth: dict, cat) -> tuple[np.ndarray, np.ndarray]:
    """True taste vectors of the catalogue's cadres and factors of its courses, in its order."""
    cadres = pd.Index(np.asarray(truth["cadre_ids"]).astype(str)).get_indexer(cat.cadres.ids_)
    courses = pd.Index(np.asarray(truth["courses"]["course_id"]).astype(str))
    ki = courses.get_indexer(cat.courses.ids_)
    prefs = np.asarray(truth["cadre_prefs"], np.float32)[cadres]
    return prefs, np.asarray(truth["course_factors"], np.float32)[ki]


def _as_truth(truth: dict, cat, factors: ChoiceFactors) -> dict:
    """``truth`` with the learned user/item factors in place of the true taste vectors."""
    ids = np.asarray(truth["cadre_ids"]).astype(str)
    ci = cat.cadres.index(ids)
    x = np.zeros((len(ids), factors.user_factors.shape[1]))
    x[ci >= 0] = factors.user_factors[ci[ci >= 0]]
    courses = np.asarray(truth["courses"]["course_id"]).astype(str)
    ki = cat.courses.index(courses)
    y = np.zeros((len(courses), x.shape[1]))
    y[ki >= 0] = factors.item_factors[ki[ki >= 0]]
    return {**truth, "cadre_prefs": x, "course_factors": y}


def _taste_correlation(scores: np.ndarray, true: np.ndarray, blocked: np.ndarray) -> float:
    """Mean over rows of the correlation of two score rows over the items not blocked."""
    out = [np.corrcoef(s[~b], t[~b])[0, 1] for s, t, b in zip(scores, true, blocked, strict=True)]
    return float(np.nanmean(out))


def main() -> int:
    """Print the model variants, the oracles and the taste correlations."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--set", action="append", default=[], help="config override, KEY=VALUE")
    args = p.parse_args()
    config = load_config(None, args.set)
    tables = load_validated(args.data).tables
    truth = read_truth(args.data / "truth")
    if truth is None or "cadre_prefs" not in truth:
        raise SystemExit(f"{args.data} has no synthetic truth/ folder")
    split = default_split_date(tables, config.test_months)
    at = before(tables, split)
    future = after(tables, split)
    future["items"] = tables["items"]
    cat = build_catalog(at)
    knowledge = fit_knowledge(at, cat, split, config.knowledge)
    quality = fit_quality(at, cat, split)

    def fit(cfg) -> Fitted:
        rec = fitting.fit_recommender(at, cat, knowledge, quality, split, cfg)
        return Fitted(split, cat, knowledge, rec, quality, layout=None)

    with_choice = config.model_copy(deep=True)
    with_choice.recommender.choice_factors = with_choice.recommender.choice_factors or 16
    base, learned = fit(config), fit(with_choice)
    factors = learned.recommender.model.retrievers_["taste"].factors_
    prefs, course_factors = _aligned(truth, cat)
    learned_fit = fitting._choice_factors
    fitting._choice_factors = lambda *a, **k: ChoiceFactors(  # the truth, for this row only
        prefs, course_factors, np.zeros(len(course_factors), np.float32)
    )
    try:
        told = fit(with_choice)
    finally:
        fitting._choice_factors = learned_fit

    def metrics(fitted, t):
        return evaluate_recommender(fitted, future, 10, t, tables)

    no_taste = {**truth, "cadre_prefs": np.zeros_like(np.asarray(truth["cadre_prefs"], float))}
    full = metrics(base, truth)
    rows = (
        ("model", full, "model"),
        ("model + choice model (learned tastes)", metrics(learned, truth), "model"),
        ("model handed the true taste vectors", metrics(told, truth), "model"),
        ("oracle", full, "oracle"),
        ("oracle without tastes", metrics(base, no_taste), "oracle"),
        ("oracle with the learned tastes", metrics(base, _as_truth(truth, cat, factors)), "oracle"),
    )
    print("| list | nDCG@10 | Recall@10 |\n|---|---|---|")
    for name, m, key in rows:
        ndcg, recall = m[f"recommend.{key}.ndcg@10"], m[f"recommend.{key}.recall@10"]
        print(f"| {name} | {ndcg:.4f} | {recall:.4f} |")

    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(len(cat.cadres), 1000, replace=False))
    seen = base.recommender.seen[users]
    blocked = seen.toarray() > 0
    blocked |= ~(cat.course_info["published_on"] < split).to_numpy()[None, :]
    true = prefs[users] @ course_factors.T
    als = base.recommender.model.retrievers_["als"].score(users, seen)
    print("\n| taste estimate | correlation with the true taste term |\n|---|---|")
    print(f"| choice model | {_taste_correlation(factors.taste(users), true, blocked):.3f} |")
    print(f"| ALS scores | {_taste_correlation(np.where(blocked, 0, als), true, blocked):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
