"""Figures logged with every training run: reserve calibration, nDCG by rank, a unit's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganxun.features.contracts import RANKS
from ganxun.features.split import after
from ganxun.training import plots
from ganxun.training.fitting import Fitted


def calibration_table(
    fitted: Fitted, tables: dict[str, pd.DataFrame], bins: int = 10
) -> pd.DataFrame:
    """Predicted P(correct) vs the observed rate on answers after ``fitted.asof``, by decile.

    Returns one row per bin with columns ``predicted`` (mean prediction), ``observed`` (share
    correct) and ``answers``; empty when no answer after the split is known to the model.
    """
    resp = after(tables, fitted.asof)["responses"]
    cat = fitted.catalog
    ci, ii = cat.cadres.index(resp["cadre_id"]), cat.items.index(resp["item_id"])
    keep = (ci >= 0) & (ii >= 0)
    if not keep.any():
        return pd.DataFrame(columns=["predicted", "observed", "answers"])
    p = fitted.knowledge.model.predict_proba(ci[keep], ii[keep])
    frame = pd.DataFrame({"p": p, "y": resp["correct"].to_numpy(float)[keep]})
    frame["bin"] = pd.qcut(frame["p"], q=bins, labels=False, duplicates="drop")
    out = frame.groupby("bin").agg(
        predicted=("p", "mean"), observed=("y", "mean"), answers=("y", "size")
    )
    return out.reset_index(drop=True)


def ndcg_by_rank(metrics: dict[str, float], k: int = 10) -> pd.DataFrame:
    """Per-rank nDCG@k of the model and of ALS alone as a rank × model table, in rank order."""
    rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if (
            len(parts) == 5
            and parts[0] == "recommend"
            and parts[2] == f"ndcg@{k}"
            and parts[3] == "rank"
        ):
            rows.setdefault(parts[4], {})[parts[1]] = value
    order = [r for r in RANKS if r in rows] + sorted(r for r in rows if r not in RANKS)
    return pd.DataFrame.from_dict(rows, orient="index").reindex(order)


def compliance_calibration(metrics: dict[str, float]) -> pd.DataFrame:
    """The hour-rule forecast's calibration bins from the run's metrics (predicted, observed)."""
    rows = {}
    for key, value in metrics.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[:2] == ["compliance", "calibration"]:
            rows.setdefault(int(parts[2]), {})[parts[3]] = value
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def largest_unit_layout(fitted: Fitted) -> tuple[str, pd.DataFrame]:
    """Topic × year training hours of the unit with the most cadres (id, table)."""
    lay, cat = fitted.layout, fitted.catalog
    unit = int(np.argmax(lay.unit_sizes))
    cells = lay.hours[lay.hours["unit"] == unit]
    table = cells.pivot_table(
        index="topic", columns="year", values="hours", aggfunc="sum", fill_value=0
    )
    names = plots.labels(cat.topic_info)  # Chinese names when a CJK font is installed
    table.index = [f"{cat.topics.ids_[t]} {names[t]}" for t in table.index]
    return str(cat.units.ids_[unit]), table


def write_figures(
    at_split: Fitted, fitted: Fitted, tables: dict, metrics: dict, folder: Path
) -> list[Path]:
    """Draw the run's figures as PNG files in ``folder`` and return their paths."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    cal = calibration_table(at_split, tables)
    if len(cal):
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
        ax.plot(cal["predicted"], cal["observed"], "o-", label="model")
        ax.set_xlabel("predicted P(correct)")
        ax.set_ylabel("observed share correct")
        ax.set_title("Reserve calibration, answers after the split")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, folder / "reserve_calibration.png"))

    by_rank = ndcg_by_rank(metrics)
    if len(by_rank):
        font = plots.cjk_font()
        if font:
            plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        else:  # no CJK font: number the ranks in their contract order instead of empty boxes
            by_rank.index = [f"rank {RANKS.index(r)}" if r in RANKS else r for r in by_rank.index]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        by_rank.plot.bar(ax=ax, rot=0)
        ax.set_ylabel("nDCG@10")
        ax.set_xlabel("cadre rank")
        ax.set_title("nDCG@10 by cadre rank: model vs ALS alone")
        fig.tight_layout()
        paths.append(_save(fig, folder / "ndcg_by_rank.png"))

    forecast = compliance_calibration(metrics)
    if len(forecast):
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
        ax.plot(forecast["predicted"], forecast["observed"], "o-", label="forecast")
        ax.set_xlabel("forecast P(meets the hour rule)")
        ax.set_ylabel("observed share that met it")
        ax.set_title("Hour-rule forecast calibration,\nlast full year, 6 months out")
        ax.legend()
        fig.tight_layout()
        paths.append(_save(fig, folder / "compliance_calibration.png"))

    unit, table = largest_unit_layout(fitted)
    if table.size:
        fig = plots.heatmap(table, title=f"Training hours by topic × year\nunit {unit}")
        paths.append(_save(fig, folder / "unit_layout.png"))
    return paths


def _save(fig, path: Path) -> Path:  # noqa: ANN001 - a matplotlib figure
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
