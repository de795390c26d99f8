"""How much of the recommender oracle is the cadres' latent tastes (synthetic city only).

Usage: ``python benchmarks/bench_recommend_oracle.py --data data/city``

Fits the models at the test split of ``ganxun train`` and prints nDCG@10 / Recall@10 of the model,
of the oracle (the generator's choice probabilities over the test window) and of the same oracle
with every cadre's latent taste vector set to zero — what a recommender that knew everything but
the personal taste term could reach.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from features.split import after, before, default_split_date  # noqa: E402
from training.config import load_config  # noqa: E402
from training.evaluate import evaluate_recommender  # noqa: E402
from training.fitting import fit_all  # noqa: E402
from training.pipeline import load_validated  # noqa: E402
from training.sources import read_truth  # noqa: E402


def main() -> int:
    """Print the model, the oracle and the oracle without latent tastes."""
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
    fitted = fit_all(before(tables, split), split, config, planning=False)
    future = after(tables, split)
    future["items"] = tables["items"]
    no_taste = {**truth, "cadre_prefs": np.zeros_like(np.asarray(truth["cadre_prefs"], float))}
    full = evaluate_recommender(fitted, future, 10, truth, tables)
    blind = evaluate_recommender(fitted, future, 10, no_taste, tables)
    rows = (
        ("model", full, "model"),
        ("oracle", full, "oracle"),
        ("oracle without latent tastes", blind, "oracle"),
    )
    print("| list | nDCG@10 | Recall@10 |\n|---|---|---|")
    for name, m, key in rows:
        ndcg, recall = m[f"recommend.{key}.ndcg@10"], m[f"recommend.{key}.recall@10"]
        print(f"| {name} | {ndcg:.4f} | {recall:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
