"""Figures people would rather look at than tables: radar, layout heat map, rollcall concentration.

Matplotlib, headless (Agg). Chinese labels are used when a CJK font is installed (Debian:
``fonts-noto-cjk``), English otherwise, so a figure never shows empty boxes.
"""

from __future__ import annotations

from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """Name of an installed font that can draw Chinese, or None."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in _CJK_FONTS if f in installed), None)


def labels(topics: pd.DataFrame) -> list[str]:
    """Topic labels: Chinese names when a CJK font exists, else English names."""
    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        return list(topics["name_zh"])
    return list(topics["name_en"])


def radar(profile: pd.DataFrame, title: str = "") -> plt.Figure:
    """Knowledge radar of one cadre: reserve vs what the post requires (0–100).

    ``profile`` has columns name_zh, name_en, reserve and required (as served by the API).
    """
    names = labels(profile)
    angles = np.linspace(0, 2 * np.pi, len(names), endpoint=False)
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"projection": "polar"})
    for column, style, label in (("required", "--", "post target"), ("reserve", "-", "reserve")):
        values = profile[column].to_numpy(float)
        ax.plot(np.append(angles, angles[0]), np.append(values, values[0]), style, label=label)
        if column == "reserve":
            ax.fill(np.append(angles, angles[0]), np.append(values, values[0]), alpha=0.25)
    ax.set_xticks(angles, names, fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="lower right", bbox_to_anchor=(1.15, -0.05))
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, title: str = "", cmap: str = "YlOrRd") -> plt.Figure:
    """Heat map of a topic × year (or unit × topic) table, values written in each cell."""
    label_width = 0.09 * max((len(str(i)) for i in matrix.index), default=0)  # room for row labels
    fig, ax = plt.subplots(
        figsize=(2.0 + label_width + 0.8 * matrix.shape[1], 1.2 + 0.4 * matrix.shape[0])
    )
    image = ax.imshow(matrix.to_numpy(float), aspect="auto", cmap=cmap)
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
    for (i, j), v in np.ndenumerate(matrix.to_numpy(float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def concentration(hours: np.ndarray, title: str = "") -> plt.Figure:
    """Lorenz curve of training hours over cadres, with the top-10% share marked."""
    h = np.sort(np.asarray(hours, float))[::-1]
    share = np.cumsum(h) / max(h.sum(), 1e-9)
    x = np.arange(1, len(h) + 1) / len(h)
    top10 = share[max(0, int(np.ceil(0.1 * len(h))) - 1)]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(x, share, label="cadres sorted by hours")
    ax.plot([0, 1], [0, 1], ":", label="equal share")
    ax.axvline(0.1, color="grey", lw=0.8)
    ax.annotate(
        f"top 10% hold {top10:.0%}",
        (0.1, top10),
        xytext=(0.25, top10 - 0.15),
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xlabel("share of cadres")
    ax.set_ylabel("share of hours")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
