"""Knowledge-reserve settings chosen on the validation cut-off (no truth, no test window).

``python benchmarks/bench_knowledge_settings.py [--scale tiny|city] [--seeds 0 1]
[--variant NAME=KEY=VALUE[,KEY=VALUE] ...] [--quick] [--out DIR]``

For each city (realism on) the validation cut-off is ``V = T - 6 months`` (``T`` the test split):
the diagnosis model alone is fitted on the events before ``V`` with each variant of the
``knowledge.*`` settings, and scored by the AUC of the answers given in ``[V, T)`` — what an
analyst could do with a real export. Cheaper than ``bench_realistic.py`` (one knowledge fit per
variant, not the whole pipeline), so a grid fits in minutes. Without ``--variant`` the grid
below runs (one setting moved at a time around the defaults, and the defaults' neighbours).

``--quick``: the tiny city, one seed, two variants. Writes ``OUT/knowledge_settings.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd

from ganxun.features.contracts import validate
from ganxun.features.split import before
from ganxun.simulation import generate
from ganxun.training.config import load_config
from ganxun.training.fitting import build_catalog, fit_knowledge
from ganxun.training.metrics import auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

#: The variants judged by default: (name, overrides of the training config).
GRID: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("defaults", ()),
    ("prior_strength=3", ("knowledge.prior_strength=3",)),
    ("prior_strength=12", ("knowledge.prior_strength=12",)),
    ("hours_scale=30", ("knowledge.hours_scale=30",)),
    ("hours_scale=120", ("knowledge.hours_scale=120",)),
    ("l2_theta=4", ("knowledge.l2_theta=4",)),
    ("l2_theta=16", ("knowledge.l2_theta=16",)),
    ("l2_group=2", ("knowledge.l2_group=2",)),
    ("l2_group=8", ("knowledge.l2_group=8",)),
    ("total_score_answers=10", ("knowledge.total_score_answers=10",)),
    ("total_score_answers=40", ("knowledge.total_score_answers=40",)),
    ("guessing=0.1", ("knowledge.guessing=0.1",)),
)

#: Figures every run yields (the quick mode checks them).
FIGURES = ("variants.defaults.mean_auc", "variants.*.mean_auc", "variants.*.auc.0")


def parse_variant(text: str) -> tuple[str, tuple[str, ...]]:
    """``NAME=KEY=VALUE[,KEY=VALUE]`` → (name, overrides)."""
    name, sep, rest = text.partition("=")
    if not sep or not rest:
        raise ValueError(f"variant {text!r} is not NAME=KEY=VALUE[,KEY=VALUE]")
    return name, tuple(s.strip() for s in rest.split(",") if s.strip())


def score_city(scale: str, seed: int, variants) -> dict[str, float]:
    """AUC in the validation window of each variant's knowledge model, for one city."""
    city = generate(scale, seed, realism=True)
    tables = validate(city.tables).tables
    T = pd.Timestamp(city.truth["params"]["split_date"])  # the split date only, never the truth
    V = T - pd.DateOffset(months=6)
    known = before(tables, V)
    cat = build_catalog(known, V)
    r = tables["responses"]
    window = r[(r["answered_on"] >= V) & (r["answered_on"] < T)]
    ci, ii = cat.cadres.index(window["cadre_id"]), cat.items.index(window["item_id"])
    keep = (ci >= 0) & (ii >= 0)
    y = window["correct"].to_numpy()[keep]
    out = {}
    for name, overrides in variants:
        t0 = time.perf_counter()
        model = fit_knowledge(known, cat, V, load_config(overrides=list(overrides)).knowledge)
        out[name] = auc(y, model.model.predict_proba(ci[keep], ii[keep]))
        print(
            f"seed {seed} {name}: AUC {out[name]:.5f} ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return out


def main(argv: list[str] | None = None) -> dict:
    """Run the sweep; return (and write) its result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="city", choices=["tiny", "city"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variant", action="append", default=[], help="NAME=KEY=VALUE[,…]")
    parser.add_argument("--quick", action="store_true", help="tiny city, one seed, two variants")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    variants = [("defaults", ())] + [parse_variant(v) for v in args.variant]
    if not args.variant:
        variants = list(GRID)
    if args.quick:
        args.scale, args.seeds, variants = "tiny", [0], list(GRID[:2])
    per_seed = {seed: score_city(args.scale, seed, variants) for seed in args.seeds}
    result: dict = {"scale": args.scale, "seeds": args.seeds, "variants": {}}
    for name, overrides in variants:
        aucs = [per_seed[s][name] for s in args.seeds]
        result["variants"][name] = {
            "overrides": list(overrides),
            "auc": aucs,
            "mean_auc": sum(aucs) / len(aucs),
        }
    result["best"] = max(result["variants"], key=lambda n: result["variants"][n]["mean_auc"])
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "knowledge_settings", result)
    print(f"| variant | AUC ({' / '.join(f'seed {s}' for s in args.seeds)}) | mean |")
    print("|---|---|---|")
    for name, v in result["variants"].items():
        print(f"| {name} | {' / '.join(f'{a:.4f}' for a in v['auc'])} | {v['mean_auc']:.4f} |")
    if args.quick:
        benchlib.check_figures(result, FIGURES, "knowledge_settings")
    return result


if __name__ == "__main__":
    main()
