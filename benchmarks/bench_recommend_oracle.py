"""How much of the recommender oracle is the cadres' latent tastes (synthetic city only).

Usage: ``python benchmarks/bench_recommend_oracle.py --data data/city [--set KEY=VALUE ...]
[--quick] [--out DIR]``

Fits the models at the test split of ``ganxun train`` and prints nDCG@10 / Recall@10 of

* the model (the configuration given), the model with the choice model's learned tastes
  (``recommender.choice_factors = 16``) and the model handed the generator's *true* taste
  vectors in place of the learned ones (what a ranker could do if tastes were known);
* the oracle (the generator's choice probabilities over the test window), the same oracle with
  every cadre's taste set to zero, and with the choice model's learned tastes in place of the
  true ones;

and the mean per-cadre correlation of the true taste term with the choice model's tastes and with
ALS scores (over the courses each cadre may still take, up to 1,000 sampled cadres). Writes
``recommend_oracle.json``. ``--quick``: the tiny city (written to a temporary folder unless
``--data`` is given), seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchlib  # noqa: E402

import ganxun.training.fitting as fitting  # noqa: E402
from ganxun.features.split import after, before, default_split_date  # noqa: E402
from ganxun.models.choice_model import ChoiceFactors  # noqa: E402
from ganxun.training.config import load_config  # noqa: E402
from ganxun.training.evaluate import evaluate_recommender  # noqa: E402
from ganxun.training.fitting import Fitted, build_catalog, fit_knowledge, fit_quality  # noqa: E402
from ganxun.training.pipeline import load_validated  # noqa: E402
from ganxun.training.sources import read_truth  # noqa: E402

TASTE_CADRES = 1000
#: Figures every run promises.
FIGURES = ("lists.*.ndcg@10", "lists.*.recall@10", "taste_correlation.*")


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


def run(data: Path, overrides: list[str]) -> dict:
    """The model variants, the oracles and the taste correlations on the city in ``data``."""
    config = load_config(None, overrides)
    tables = load_validated(data).tables
    truth = read_truth(data / "truth")
    if truth is None or "cadre_prefs" not in truth:
        raise SystemExit(f"{data} has no synthetic truth/ folder")
    split = default_split_date(tables, config.test_months)
    at = before(tables, split)
    future = after(tables, split)
    future["items"] = tables["items"]
    cat = build_catalog(at)
    print(f"fitting knowledge and quality at {split.date()}…", flush=True)
    knowledge = fit_knowledge(at, cat, split, config.knowledge)
    quality = fit_quality(at, cat, split)

    def fit(cfg) -> Fitted:
        rec = fitting.fit_recommender(at, cat, knowledge, quality, split, cfg)
        return Fitted(split, cat, knowledge, rec, quality, layout=None)

    with_choice = config.model_copy(deep=True)
    with_choice.recommender.choice_factors = with_choice.recommender.choice_factors or 16
    print("fitting the recommender: default, with learned tastes, with true tastes…", flush=True)
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

    print("evaluating…", flush=True)
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
    lists = [
        {
            "list": name,
            "ndcg@10": m[f"recommend.{key}.ndcg@10"],
            "recall@10": m[f"recommend.{key}.recall@10"],
        }
        for name, m, key in rows
    ]

    rng = np.random.default_rng(0)
    n = min(TASTE_CADRES, len(cat.cadres))
    users = np.sort(rng.choice(len(cat.cadres), n, replace=False))
    seen = base.recommender.seen[users]
    blocked = seen.toarray() > 0
    blocked |= ~(cat.course_info["published_on"] < split).to_numpy()[None, :]
    true = prefs[users] @ course_factors.T
    als = base.recommender.model.retrievers_["als"].score(users, seen)
    return {
        "data": str(data),
        "split": str(split.date()),
        "overrides": overrides,
        "lists": lists,
        "taste_cadres": n,
        "taste_correlation": {
            "choice model": _taste_correlation(factors.taste(users), true, blocked),
            "ALS scores": _taste_correlation(np.where(blocked, 0, als), true, blocked),
        },
    }


def table(result: dict) -> str:
    """The two tables in Markdown."""
    lines = ["| list | nDCG@10 | Recall@10 |", "|---|---|---|"]
    for r in result["lists"]:
        lines.append(f"| {r['list']} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} |")
    lines += ["", "| taste estimate | correlation with the true taste term |", "|---|---|"]
    for name, value in result["taste_correlation"].items():
        lines.append(f"| {name} | {value:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Parse the arguments, run, write ``recommend_oracle.json`` and print the tables."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, help="a city folder with truth/ (required unless --quick)")
    p.add_argument("--set", action="append", default=[], help="config override, KEY=VALUE")
    p.add_argument("--out", type=Path, default=benchlib.RESULTS)
    p.add_argument("--quick", action="store_true", help="the tiny city (seconds)")
    args = p.parse_args(argv)
    if args.data is None and not args.quick:
        p.error("--data is required (or --quick)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or benchlib.tiny_data(Path(tmp))
        result = run(data, args.set)
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "recommend_oracle", result)
    print(table(result))
    if args.quick:
        benchlib.check_figures(result, FIGURES, "recommend_oracle")
    return result


if __name__ == "__main__":
    main()
    raise SystemExit(0)
