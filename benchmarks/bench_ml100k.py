"""MovieLens-100K: the generic two-stage recommender against its own parts and published figures.

Usage: ``python benchmarks/bench_ml100k.py [--data DIR] [--tune] [--val-ablation] [--out DIR]
[--quick]``

Protocol (Microsoft Recommenders' movielens benchmark, see ../shared/datasets/README.md): the
``ms-split`` train/test files as they are (a 75/25 split stratified within each item), every
rating a positive (the ratings are kept as weights, read only by the rating-weighted EASE that
validation tried), items seen in train filtered, k = 10, users = those in the test split (all of
them receive recommendations). Metrics come from ``training.metrics.ranking_metrics``, whose MAP
is theirs (precision at each hit in the top 10, summed, divided by the user's number of relevant
test items), with binary-relevance nDCG. Items that occur only in test (each rated once) cannot
be recommended by a model fitted on train; they stay in the denominators, as in the protocol.

Every hyper-parameter below was chosen with ``--tune`` on a validation split carved from
train.csv alone (the same item-stratified 75/25 rule, seed 42); test.csv is read only to report.
The data are read from ``--data`` (default ``../shared/datasets/ml-100k`` or
``$GANXUN_DATASETS/ml-100k``) at run time and never copied into the repository.

``--quick`` runs the same steps (validation and test rows, seed spread, latency; no ablation) on a
fixed sample of ``QUICK_USERS`` users and their ``QUICK_ITEMS`` most frequent items, in seconds;
its figures are not comparable with the published table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import benchlib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import targets  # noqa: E402

ROOT = benchlib.ROOT
sys.path.insert(0, str(ROOT))

from ganxun.models.context_features import (  # noqa: E402
    FeatureSet,
    ItemAttributeFeatures,
    TimeContextFeatures,
)
from ganxun.models.ranker import LambdaRanker  # noqa: E402
from ganxun.models.recommender import FEATURE_GROUPS, TwoStageRecommender  # noqa: E402
from ganxun.models.retrieval import (  # noqa: E402
    ALSRetriever,
    CoVisitRetriever,
    DLAERetriever,
    EASERetriever,
    ItemKNNRetriever,
    PopularityRetriever,
    TimeWindowRetriever,
)
from ganxun.training.metrics import ranking_metrics  # noqa: E402

DEFAULT_DATA = benchlib.datasets_dir() / "ml-100k"
K = 10
SEED = 42
QUICK_USERS, QUICK_ITEMS = 100, 300
SPREAD_SEEDS = (0, 1)  # extra seeds of the full model on test (quick mode: the first only)
#: Figures every run promises.
FIGURES = (
    *(f"{part}.*.{m}" for part in ("test", "validation") for m in ("map", "ndcg", "precision")),
    "test.*.recall",
    "validation.*.recall",
    "seed_spread.mean",
    "seed_spread.sd",
    "timing.fit_s",
    "timing.median_ms",
    "timing.p99_ms",
)

PUBLISHED = [
    ("BiVAE (published)", 0.146, 0.475, 0.412, 0.219),
    ("BPR (published)", 0.132, 0.442, 0.388, 0.213),
    ("SAR (published)", 0.111, 0.382, 0.331, 0.176),
]

# Chosen with --tune on the validation split (see module docstring).
CONFIG = {
    "ease": {"l2": 500.0},
    "als": {
        "factors": 16,
        "regularization": 0.05,
        "alpha": 3.0,
        "iterations": 15,
        "binary": True,
    },
    "knn": {"n_neighbors": 200, "shrink": 10.0},
    "covisit": {"window": 10, "decay": 0.8},
    # n_rankers: three rankers, each on its own four label splits, averaged (session 4)
    "two_stage": {
        "n_candidates": 100,
        "n_label_splits": 4,
        "label_fraction": 0.25,
        "n_rankers": 3,
    },
    "ranker": {
        "n_estimators": 150,
        "learning_rate": 0.05,
        "num_leaves": 7,
        "min_child_samples": 500,
        "lambdarank_truncation_level": 20,
        "objective": "rank_xendcg",
    },
    # tried on validation, not kept (see ADDITIONS): they enter the ablation as "+" rows
    "time_window": {"bandwidth": 3},
    "time_features": {"bandwidths": [0, 3, 14]},
    "edlae": {"p": 0.67, "l2": 600.0, "zero_diagonal": True},
    "rating_ease": {"l2": 500.0, "binary": False},
}

# Sources and feature groups measured as additions to the full model (validation decides).
ADDITIONS = ("time-window", "time-context", "item-attributes", "edlae", "rating-ease")


# ----------------------------------------------------------------------------- data
def load(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The ms-split train and test ratings, or None when the files are absent."""
    train, test = folder / "ms-split" / "train.csv", folder / "ms-split" / "test.csv"
    if not (train.exists() and test.exists()):
        return None
    return pd.read_csv(train), pd.read_csv(test)


def item_side(folder: Path, item_ids: np.ndarray) -> dict | None:
    """Item attributes from ``u.item`` (19 genre flags, release year) in the order of
    ``item_ids``; user attributes (u.user) are never read."""
    path = folder / "u.item"
    if not path.exists():
        return None
    raw = pd.read_csv(path, sep="|", header=None, encoding="latin-1").set_index(0)
    raw = raw.reindex(item_ids)
    year = pd.to_datetime(raw[2], format="%d-%b-%Y", errors="coerce").dt.year
    return {
        "flags": raw[list(range(5, 24))].fillna(0).to_numpy(float),
        "numbers": year.to_numpy(float)[:, None],
        "number_names": ["release_year"],
    }


def index(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Internal indices over the train users and items (test-only items cannot be recommended)."""
    users = np.sort(train.user_id.unique())
    items = np.sort(train.item_id.unique())
    u_of = pd.Series(np.arange(len(users)), index=users)
    i_of = pd.Series(np.arange(len(items)), index=items)
    shape = (len(users), len(items))

    def matrix(values, df):
        return sp.csr_matrix(
            (values, (u_of[df.user_id].to_numpy(), i_of[df.item_id].to_numpy())), shape=shape
        )

    # every rating is a positive; the rating is kept as the weight (retrievers binarize it,
    # except the rating-weighted EASE addition)
    x = matrix(train.rating.to_numpy(np.float64), train)
    stamps = matrix(train.timestamp.to_numpy(np.float64), train)
    relevant = [set() for _ in range(shape[0])]
    known = test.user_id.isin(u_of.index)
    for u, i in zip(test.user_id[known], test.item_id[known], strict=True):
        relevant[u_of[u]].add(int(i_of[i]) if i in i_of.index else -10 - int(i))
    return {
        "x": x,
        "stamps": stamps,
        "relevant": relevant,
        "n_test_users": test.user_id.nunique(),
        "item_ids": items,
    }


def stratified_split(x: sp.csr_matrix, fraction: float, seed: int):
    """Recommenders' ``python_stratified_split(filter_by="item")``: per item, a random
    ``floor((1 - fraction) * n)`` of its interactions stay in train, the rest are held out."""
    coo = x.tocoo()
    rng = np.random.RandomState(seed)
    order = np.lexsort((rng.random_sample(x.nnz), coo.col))
    counts = np.bincount(coo.col, minlength=x.shape[1])
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(x.nnz, np.int64)
    position[order] = np.arange(x.nnz) - np.repeat(start, counts)
    keep = np.floor((1 - fraction) * counts + 1e-9).astype(np.int64)
    held = position >= keep[coo.col]

    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=x.shape)

    return part(~held), part(held)


# --------------------------------------------------------------------------- models
def retrievers(
    config: dict, seed: int = SEED, drop: str | None = None, add: tuple[str, ...] = ()
) -> list[tuple]:
    named = [
        ("ease", EASERetriever(**config["ease"])),
        ("als", ALSRetriever(**config["als"], random_state=seed)),
        ("knn", ItemKNNRetriever(**config["knn"])),
        ("popularity", PopularityRetriever()),
        ("covisit", CoVisitRetriever(**config["covisit"])),
    ]
    if "time-window" in add:
        named.append(("time-window", TimeWindowRetriever(**config["time_window"])))
    if "edlae" in add:
        named.append(("edlae", DLAERetriever(**config["edlae"])))
    if "rating-ease" in add:
        named.append(("rating-ease", EASERetriever(**config["rating_ease"])))
    return [(n, r) for n, r in named if n != drop]


def two_stage(
    config: dict,
    *,
    drop_retriever=None,
    drop_group=None,
    add=(),
    stamps=None,
    side=None,
    seed: int = SEED,
) -> TwoStageRecommender:
    """The two-stage model; ``add`` names members of ADDITIONS to include (the time context
    reads ``stamps``, the timestamps of the interactions it is fitted on; the attributes
    ``side``, see :func:`item_side`)."""
    parts = []
    if "time-context" in add:
        parts.append(TimeContextFeatures(stamps, **config["time_features"]))
    if "item-attributes" in add:
        parts.append(ItemAttributeFeatures(**side))
    extra = FeatureSet(parts) if parts else None
    groups = [g for g in FEATURE_GROUPS if g not in ("extra", drop_group)]
    return TwoStageRecommender(
        retrievers=retrievers(
            config,
            seed=seed,
            drop=drop_retriever,
            add=tuple(add),
        ),
        ranker=LambdaRanker(**config["ranker"], n_jobs=1, random_state=seed),
        feature_groups=(*groups, "extra") if extra else tuple(groups),
        extra_features=extra,
        extra_feature_names=extra.names if extra else (),
        random_state=seed,
        **config["two_stage"],
    )


def ablations(config: dict, side: dict | None) -> list[tuple[str, dict]]:
    """The full model without each retriever, without each built-in feature group, then with
    each addition that validation did not keep."""
    out = [(f"− retriever {r}", {"drop_retriever": r}) for r, _ in retrievers(config)]
    out += [(f"− features {g}", {"drop_group": g}) for g in FEATURE_GROUPS if g != "extra"]
    labels = {
        "time-window": "+ retriever time-window (popular around the user's active days)",
        "time-context": "+ features time context (lift around active days, gaps, age)",
        "item-attributes": "+ features item attributes (genres, release year; u.item)",
        "edlae": "+ retriever EDLAE (denoising linear autoencoder, Steck 2020)",
        "rating-ease": "+ retriever EASE fitted on the ratings (not presence)",
    }
    for a in ADDITIONS:
        if a != "item-attributes" or side is not None:
            out.append((labels[a], {"add": (a,)}))
    return out


def fit(model, x, stamps):
    if isinstance(model, TwoStageRecommender):
        return model.fit(x, timestamps=stamps, label_split="random")
    if isinstance(model, CoVisitRetriever):
        return model.fit(x, timestamps=stamps)
    return model.fit(x)


def evaluate(model, x, stamps, relevant) -> dict:
    t0 = time.perf_counter()
    fit(model, x, stamps)
    fit_s = time.perf_counter() - t0
    users = np.flatnonzero([len(r) > 0 for r in relevant])
    ids, _ = model.recommend(users, x[users], N=K)
    out = ranking_metrics(ids, [relevant[u] for u in users], K)
    out["fit_s"] = round(fit_s, 2)
    return out


def latency(model, x, n_calls: int = 1000) -> dict:
    rng = np.random.RandomState(0)
    users = rng.randint(0, x.shape[0], size=n_calls)
    model.recommend(users[:5], x[users[:5]], N=K)  # warm-up
    ms = []
    for u in users:
        t0 = time.perf_counter()
        model.recommend([u], x[[u]], N=K)
        ms.append((time.perf_counter() - t0) * 1000)
    return {
        "calls": n_calls,
        "median_ms": round(statistics.median(ms), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


# ----------------------------------------------------------------------------- tune
def tune(x, stamps) -> dict:
    """Grid over each part on the validation split carved from train (never test)."""
    tr, va = stratified_split(x, 0.25, SEED)
    tr_stamps = stamps.multiply(tr > 0).tocsr()
    rel = [set(va[u].indices.tolist()) for u in range(x.shape[0])]
    config = json.loads(json.dumps(CONFIG))

    def score(model):
        return evaluate(model, tr, tr_stamps, rel)[f"ndcg@{K}"]

    def pick(name, grid, make):
        results = [(score(make(g)), g) for g in grid]
        for s, g in results:
            print(f"  {name} {g}: nDCG@{K} {s:.4f}", flush=True)
        best = max(results, key=lambda r: r[0])[1]
        config[name].update(best)
        return best

    pick("ease", [{"l2": v} for v in (150.0, 300.0, 500.0, 800.0)], lambda g: EASERetriever(**g))
    pick(
        "als",
        [
            {"factors": f, "regularization": r, "alpha": a}
            for f, r, a in ((32, 0.1, 5.0), (64, 0.1, 5.0), (32, 0.5, 10.0), (16, 0.05, 3.0))
        ],
        lambda g: ALSRetriever(**{**config["als"], **g}, random_state=SEED),
    )
    pick("knn", [{"n_neighbors": k} for k in (50, 100, 200)], lambda g: ItemKNNRetriever(**g))
    pick(
        "covisit",
        [{"window": w, "decay": d} for w, d in ((3, 1.0), (5, 0.8), (10, 0.8))],
        lambda g: CoVisitRetriever(**g),
    )

    def ts_with(**changes):
        c = json.loads(json.dumps(config))
        for part, values in changes.items():
            c[part].update(values)
        return two_stage(c)

    pick(
        "two_stage",
        [{"n_candidates": n, "n_label_splits": 2} for n in (30, 50, 100)],
        lambda g: ts_with(two_stage=g),
    )
    pick(
        "ranker",
        [
            {"n_estimators": 150, "num_leaves": 7, "min_child_samples": 500},
            {"n_estimators": 300, "num_leaves": 15, "min_child_samples": 200},
            {
                "n_estimators": 150,
                "num_leaves": 7,
                "min_child_samples": 500,
                "objective": "rank_xendcg",
            },
        ],
        lambda g: ts_with(ranker=g),
    )
    # more label splits: more (and steadier) ranker training queries for a longer fit
    pick("two_stage", [{"n_label_splits": n} for n in (2, 4)], lambda g: ts_with(two_stage=g))
    # bagging: rankers on their own label splits, scores averaged (n_rankers × the fit time)
    pick("two_stage", [{"n_rankers": n} for n in (1, 3)], lambda g: ts_with(two_stage=g))
    return config


# ----------------------------------------------------------------------------- main
def table(rows: list[dict], title: str) -> str:
    lines = [
        f"\n### {title}\n",
        f"| model | MAP | nDCG@{K} | Precision@{K} | Recall@{K} | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        fit_s = r.get("fit_s", "")
        lines.append(
            f"| {r['model']} | {r['map']:.3f} | {r['ndcg']:.3f} | {r['precision']:.3f} | "
            f"{r['recall']:.3f} | {fit_s} |"
        )
    return "\n".join(lines)


def row(name: str, m: dict) -> dict:
    return {
        "model": name,
        "map": m[f"map@{K}"],
        "ndcg": m[f"ndcg@{K}"],
        "precision": m[f"precision@{K}"],
        "recall": m[f"recall@{K}"],
        "users": m["users"],
        "fit_s": m.get("fit_s"),
    }


def sample(train: pd.DataFrame, test: pd.DataFrame, users: int, items: int, seed: int = SEED):
    """``users`` random train users and, of their items, the ``items`` most frequent in train."""
    rng = np.random.RandomState(seed)
    chosen = rng.choice(np.sort(train.user_id.unique()), size=users, replace=False)
    train = train[train.user_id.isin(chosen)]
    top = train.item_id.value_counts().index[:items]
    keep = test.user_id.isin(chosen) & test.item_id.isin(top)
    return train[train.item_id.isin(top)].reset_index(drop=True), test[keep].reset_index(drop=True)


def run(
    data_dir: Path = DEFAULT_DATA,
    *,
    tune_first: bool = False,
    ablation: bool = True,
    val_ablation: bool = False,
    quick: bool = False,
) -> dict | None:
    """The validation, test, seed-spread, ablation and timing figures; None without the data."""
    data = load(data_dir)
    if data is None:
        print(f"ml-100k benchmark skipped: {data_dir}/ms-split/{{train,test}}.csv not found")
        return None
    started = time.perf_counter()
    if quick:
        data = sample(*data, QUICK_USERS, QUICK_ITEMS)
        ablation = val_ablation = False
    d = index(*data)
    x, stamps, relevant = d["x"], d["stamps"], d["relevant"]
    side = item_side(data_dir, d["item_ids"])
    print(
        f"train {x.nnz} ratings, {x.shape[0]} users × {x.shape[1]} items; "
        f"test users {d['n_test_users']}",
        flush=True,
    )

    config = tune(x, stamps) if tune_first else CONFIG
    if tune_first:
        print("tuned config:", json.dumps(config), flush=True)

    # validation figures of the chosen configuration (what the choices were made on)
    tr, va = stratified_split(x, 0.25, SEED)
    tr_stamps = stamps.multiply(tr > 0).tocsr()
    va_rel = [set(va[u].indices.tolist()) for u in range(x.shape[0])]
    singles = {
        "popularity": lambda: PopularityRetriever(),
        "ALS": lambda: ALSRetriever(**config["als"], random_state=SEED),
        "EASE": lambda: EASERetriever(**config["ease"]),
        "item-kNN": lambda: ItemKNNRetriever(**config["knn"]),
        "co-visit": lambda: CoVisitRetriever(**config["covisit"]),
        "two-stage (full)": lambda: two_stage(config),
    }
    val_rows = []
    for name, make in singles.items():
        val_rows.append(row(name, evaluate(make(), tr, tr_stamps, va_rel)))
        print(f"validation {name}: nDCG {val_rows[-1]['ndcg']:.4f}", flush=True)

    main_rows = []
    full = None
    for name, make in singles.items():
        model = make()
        main_rows.append(row(name, evaluate(model, x, stamps, relevant)))
        print(f"test {name}: nDCG {main_rows[-1]['ndcg']:.4f}", flush=True)
        if name == "two-stage (full)":
            full = model

    # run-to-run spread of the full model (seeds of label split, ALS and ranker) on test
    spread = [main_rows[-1]["ndcg"]]
    seeds = SPREAD_SEEDS[:1] if quick else SPREAD_SEEDS
    for seed in seeds:
        print(f"full model with seed {seed}…", flush=True)
        spread.append(row("", evaluate(two_stage(config, seed=seed), x, stamps, relevant))["ndcg"])
    seed_spread = {
        "seeds": [SEED, *seeds],
        "ndcg": [round(v, 4) for v in spread],
        "mean": round(float(np.mean(spread)), 4),
        "sd": round(float(np.std(spread, ddof=1)), 4),
    }
    print(f"full model nDCG over seeds: {seed_spread}", flush=True)

    ablation_rows = [dict(main_rows[-1], model="full")]
    val_ablation_rows = [dict(val_rows[-1], model="full")]
    if ablation:
        for name, drop in ablations(config, side):
            test = evaluate(
                two_stage(config, **drop, stamps=stamps, side=side), x, stamps, relevant
            )
            ablation_rows.append(row(name, test))
            print(f"ablation {name}: test nDCG {ablation_rows[-1]['ndcg']:.4f}", flush=True)
            if val_ablation:
                val = evaluate(
                    two_stage(config, **drop, stamps=tr_stamps, side=side), tr, tr_stamps, va_rel
                )
                val_ablation_rows.append(row(name, val))
                print(f"  validation nDCG {val_ablation_rows[-1]['ndcg']:.4f}", flush=True)

    timing = latency(full, x, n_calls=50 if quick else 1000)
    timing["fit_s"] = main_rows[-1]["fit_s"]
    published = [
        {"model": n, "map": a, "ndcg": b, "precision": c, "recall": r}
        for n, a, b, c, r in PUBLISHED
    ]
    target = {k: targets.threshold(f"ml100k.{k}") for k in ("ndcg", "precision")}
    met = {k: main_rows[-1][k] >= v for k, v in target.items()}
    return {
        "dataset": "ml-100k ms-split",
        "data_dir": str(data_dir),
        "sample": {"users": QUICK_USERS, "items": QUICK_ITEMS} if quick else None,
        "k": K,
        "config": config,
        "test": main_rows,
        "validation": val_rows,
        "ablation": ablation_rows,
        "ablation_validation": val_ablation_rows,
        "seed_spread": seed_spread,
        "published": published,
        "timing": timing,
        "target": target,
        "target_met": met,
        "train_summary": full.train_summary_,
        "ranker_importance": full.ranker_.importance_table(),
        "runtime_s": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


def report(result: dict) -> str:
    """The tables of a result, in Markdown."""
    published = [dict(p) for p in result["published"]]
    out = [
        table(result["test"] + published, "ml-100k test (ms-split), k = 10"),
        table(result["validation"], "validation split carved from train.csv (tuning data)"),
        table(result["ablation"], "ablation of the two-stage model (test)"),
    ]
    if len(result["ablation_validation"]) > 1:
        out.append(
            table(result["ablation_validation"], "ablation of the two-stage model (validation)")
        )
    spread, timing, met = result["seed_spread"], result["timing"], result["target_met"]
    out += [
        f"\nfull model nDCG@{K} on test over seeds {spread['seeds']}: "
        f"{spread['mean']} ± {spread['sd']} (sd); ablation gaps below ~2 sd are noise",
        "\n### timings (2-core machine, one thread per model)\n",
        "| fit s (full model) | recommend median ms (1 user) | p99 ms | calls |",
        "|---|---|---|---|",
        f"| {timing['fit_s']} | {timing['median_ms']} | {timing['p99_ms']} | {timing['calls']} |",
        f"\ntarget nDCG@10 ≥ {result['target']['ndcg']}: {met['ndcg']}; "
        f"Precision@10 ≥ {result['target']['precision']}: {met['precision']}",
        "ranker gain importance: "
        + ", ".join(f"{k} {v:.3f}" for k, v in result["ranker_importance"].items()),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict | None:
    """Parse the arguments, run, write ``ml100k.json`` and print the tables; the result."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding ms-split/")
    p.add_argument("--out", type=Path, default=benchlib.RESULTS)
    p.add_argument("--tune", action="store_true", help="re-run the validation grid first")
    p.add_argument("--no-ablation", action="store_true", help="skip the ablation table")
    p.add_argument(
        "--val-ablation",
        action="store_true",
        help="also run the ablation on the validation split (doubles the ablation time)",
    )
    p.add_argument("--quick", action="store_true", help="a small sample, no ablation (seconds)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    result = run(
        args.data,
        tune_first=args.tune,
        ablation=not args.no_ablation,
        val_ablation=args.val_ablation,
        quick=args.quick,
    )
    if result is None:
        return None
    benchlib.finish(result, args.quick, started)
    path = benchlib.write(args.out, "ml100k", result)
    print(report(result))
    print(f"\nwrote {path} in {result['runtime_s']} s")
    if args.quick:
        benchlib.check_figures(result, FIGURES, "ml100k")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
