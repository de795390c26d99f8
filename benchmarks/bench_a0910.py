"""Cognitive diagnosis on ASSISTments 2009–2010 (a0910, the EduCDM split): AUC, accuracy, RMSE.

Fits the item-mean baseline, :class:`ganxun.models.diagnosis.LogisticDiagnosis` and
:class:`ganxun.models.diagnosis.StackedDiagnosis` on ``train.csv``; ``valid.csv`` only chooses the
first stage's penalty and stops the booster early; ``test.csv`` is scored once per model. Prints a
Markdown table and writes ``OUT/a0910.json``.

Usage: ``python benchmarks/bench_a0910.py [--data DIR] [--out DIR] [--quick]``. The data are read
from ``../shared/datasets/a0910`` (or ``$GANXUN_DATASETS/a0910``; never copied into the
repository); the benchmark skips with a message when the folder is absent. ``--quick``: the same
fits on the answers of a fixed sample of ``QUICK_USERS`` users (seconds; not comparable with the
published anchors).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

import benchlib
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import accuracy_score, roc_auc_score

ROOT = benchlib.ROOT
sys.path.insert(0, str(ROOT))

from ganxun.features.vocab import Vocabulary  # noqa: E402
from ganxun.models.diagnosis import LogisticDiagnosis  # noqa: E402
from ganxun.models.stacked_diagnosis import StackedDiagnosis  # noqa: E402

DEFAULT_DATA = benchlib.datasets_dir() / "a0910"
RESPONSES = ("train", "valid", "test")
SEED = 0
QUICK_USERS = 300
MODELS = ("item mean (baseline)", "LogisticDiagnosis", "StackedDiagnosis")
#: Figures every run promises (one row per model and split).
FIGURES = ("results.*.auc", "results.*.acc", "results.*.rmse", "results.*.fit_s", "n_users")
# Published on exactly this split (EduCDM example runs, test set).
ANCHORS = {"NCDM": {"auc": 0.752, "acc": 0.730}, "KaNCD": {"auc": 0.768, "acc": 0.732}}
# Penalties of the first stage tried on valid (the rest are the estimator's defaults).
L2_THETA_GRID = (1.0, 2.0, 4.0)


def to_generic(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read a0910 into the generic diagnosis tables.

    Returns ``(train, valid, test, items)``: the first three with columns user_id, item_id,
    correct (ids as strings, correct 0/1); ``items`` with item_id, topic_id, one row per distinct
    (item, topic) (``item.csv`` lists some items twice and some topics twice in one list).
    """
    frames = []
    for name in RESPONSES:
        raw = pd.read_csv(data_dir / f"{name}.csv")
        frames.append(
            pd.DataFrame(
                {
                    "user_id": raw["user_id"].astype(str),
                    "item_id": raw["item_id"].astype(str),
                    "correct": raw["score"].round().astype(np.int8),
                }
            )
        )
    raw_items = pd.read_csv(data_dir / "item.csv")
    topics = raw_items["knowledge_code"].map(ast.literal_eval)
    items = (
        pd.DataFrame({"item_id": raw_items["item_id"].astype(str), "topic_id": topics})
        .explode("topic_id")
        .dropna()
        .astype({"topic_id": int})
        .astype({"topic_id": str})
        .drop_duplicates()
        .reset_index(drop=True)
    )
    return frames[0], frames[1], frames[2], items


def index(train: pd.DataFrame, items: pd.DataFrame):
    """Vocabularies and the item → topic matrix.

    Users come from ``train`` only; items from ``train`` and the item bank (``items``), so an
    item never answered in training still has its topics. Anything else maps to ``-1``.
    """
    users = Vocabulary(train["user_id"])
    item_vocab = Vocabulary(pd.concat([train["item_id"], items["item_id"]]))
    topic_vocab = Vocabulary(items["topic_id"])
    Q = sp.csr_matrix(
        (
            np.ones(len(items)),
            (item_vocab.index(items["item_id"]), topic_vocab.index(items["topic_id"])),
        ),
        shape=(len(item_vocab), len(topic_vocab)),
    )
    return users, item_vocab, topic_vocab, Q


def metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """AUC, accuracy at 0.5 and RMSE of probabilities ``p`` against 0/1 answers ``y``."""
    return {
        "auc": round(float(roc_auc_score(y, p)), 4),
        "acc": round(float(accuracy_score(y, p >= 0.5)), 4),
        "rmse": round(float(np.sqrt(np.mean((p - y) ** 2))), 4),
    }


def item_mean(train_items: np.ndarray, y: np.ndarray, n_items: int, items: np.ndarray):
    """Trivial baseline: the item's training accuracy (2 pseudo-answers at the global mean)."""
    n = np.bincount(train_items, minlength=n_items)
    c = np.bincount(train_items, weights=y, minlength=n_items)
    p = (c + 2 * y.mean()) / (n + 2)
    return np.where(items >= 0, p[np.maximum(items, 0)], y.mean())


def _clock():
    """Start a stopwatch; calling the result gives (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall, time.process_time() - cpu)


def sample_users(frames, n: int, seed: int = SEED):
    """The rows of ``frames`` that belong to ``n`` users drawn from the first frame (train)."""
    users = frames[0]["user_id"].unique()
    chosen = np.random.default_rng(seed).choice(users, size=min(n, len(users)), replace=False)
    return [f[f["user_id"].isin(chosen)].reset_index(drop=True) for f in frames]


def run(data_dir: Path = DEFAULT_DATA, sample: int | None = None) -> dict | None:
    """Fit every model on train, choose on valid, score valid and test; None without the data.

    ``sample``: keep only the answers of that many users drawn from train (the quick mode).
    """
    data_dir = Path(data_dir)
    if not all((data_dir / f"{n}.csv").exists() for n in (*RESPONSES, "item")):
        print(f"a0910 benchmark skipped: no a0910 data in {data_dir} (see shared/datasets/README).")
        return None
    train, valid, test, items = to_generic(data_dir)
    if sample:
        train, valid, test = sample_users((train, valid, test), sample)
    users, item_vocab, topics, Q = index(train, items)
    sets = {}
    for name, frame in zip(RESPONSES, (train, valid, test), strict=True):
        sets[name] = (
            users.index(frame["user_id"]),
            item_vocab.index(frame["item_id"]),
            frame["correct"].to_numpy(np.float64),
        )
    u, i, y = sets["train"]
    n_users = len(users)
    print(
        f"a0910: {len(train):,} train / {len(valid):,} valid / {len(test):,} test responses, "
        f"{n_users:,} users, {len(item_vocab):,} items, {len(topics)} topics",
        flush=True,
    )

    rows, chosen = [], {}

    def report(model: str, fit: tuple[float, float], predict) -> None:
        for split in ("valid", "test"):
            su, si, sy = sets[split]
            rows.append({"model": model, "split": split, **metrics(sy, predict(su, si))})
            rows[-1].update(fit_s=round(fit[0], 1), fit_cpu_s=round(fit[1], 1))
            print(json.dumps(rows[-1]), flush=True)

    report(MODELS[0], (0.0, 0.0), lambda su, si: item_mean(i, y, len(item_vocab), si))

    # First stage: choose the theta penalty on valid.
    best = None
    for l2_theta in L2_THETA_GRID:
        clock = _clock()
        model = LogisticDiagnosis(l2_theta=l2_theta).fit(u, i, y, Q, n_users)
        fit = clock()
        vu, vi, vy = sets["valid"]
        auc = roc_auc_score(vy, model.predict_proba(vu, vi))
        print(f"  LogisticDiagnosis l2_theta={l2_theta}: valid AUC {auc:.4f} ({fit[0]:.1f} s)")
        if best is None or auc > best[0]:
            best = (auc, model, fit)
    _, logistic, fit = best
    chosen["LogisticDiagnosis"] = logistic.get_params()
    report(MODELS[1], fit, logistic.predict_proba)

    print("  StackedDiagnosis: fitting the out-of-fold booster…", flush=True)
    clock = _clock()
    stacked = StackedDiagnosis(
        first_stage=LogisticDiagnosis(**chosen["LogisticDiagnosis"]), random_state=SEED
    ).fit(u, i, y, Q, n_users, eval_set=sets["valid"])
    fit = clock()
    chosen["StackedDiagnosis"] = {
        k: v for k, v in stacked.get_params(deep=False).items() if k != "first_stage"
    }
    chosen["StackedDiagnosis"]["best_iteration"] = stacked.best_iteration_
    report(MODELS[2], fit, stacked.predict_proba)
    return {
        "dataset": "a0910",
        "data_dir": str(data_dir),
        "n_users": n_users,
        "sampled_users": sample,
        "results": rows,
        "chosen_on_valid": chosen,
        "anchors_test": ANCHORS,
    }


def table(result: dict) -> str:
    """The results and the published anchors as a Markdown table."""
    lines = [
        "| model | split | AUC | ACC | RMSE | fit wall s | fit CPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        lines.append(
            f"| {r['model']} | {r['split']} | {r['auc']:.4f} | {r['acc']:.4f} | {r['rmse']:.4f} | "
            f"{r['fit_s']} | {r['fit_cpu_s']} |"
        )
    for name, anchor in ANCHORS.items():
        lines.append(
            f"| {name} (published) | test | {anchor['auc']:.3f} | {anchor['acc']:.3f} | | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict | None:
    """Parse the arguments, run, write ``a0910.json`` and print the table; the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a0910 folder")
    parser.add_argument("--out", type=Path, default=benchlib.RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help=f"a sample of {QUICK_USERS} users (seconds)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.data, QUICK_USERS if args.quick else None)
    if result is None:
        return None
    benchlib.finish(result, args.quick, started)
    benchlib.write(args.out, "a0910", result)
    print("\n" + table(result))
    if args.quick:
        benchlib.check_figures(result, FIGURES, "a0910")
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
