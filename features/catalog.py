"""Catalogue features: cadre segments, post targets and near-duplicate course groups."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, RANKS
from ganxun.features.vocab import Vocabulary

N_SEGMENTS = len(RANKS) * len(CATEGORIES)

_EDITION = re.compile(r"[（(][^（）()]*(版|期|修订|更新)[^（）()]*[）)]|\s+")


def segment_of(rank: pd.Series | str, category: pd.Series | str) -> np.ndarray:
    """Segment index (rank × post category) of each cadre; -1 for an unknown code."""
    r = pd.Index(RANKS).get_indexer(pd.Index(np.atleast_1d(rank)))
    c = pd.Index(CATEGORIES).get_indexer(pd.Index(np.atleast_1d(category)))
    return np.where((r >= 0) & (c >= 0), r * len(CATEGORIES) + c, -1)


def post_targets(post_requirements: pd.DataFrame, topics: Vocabulary) -> np.ndarray:
    """Target reserve per segment × topic, from ``post_requirements``.

    A segment/topic the table does not mention gets the topic's mean target over the segments
    that have one (0.6 when the topic has none at all).
    """
    seg = segment_of(post_requirements["rank"], post_requirements["category"])
    ti = topics.index(post_requirements["topic_id"])
    ok = (seg >= 0) & (ti >= 0)
    out = np.full((N_SEGMENTS, len(topics)), np.nan)
    out[seg[ok], ti[ok]] = post_requirements["target"].to_numpy(float)[ok]
    has = ~np.isnan(out)
    col_mean = np.array(
        [out[has[:, k], k].mean() if has[:, k].any() else 0.6 for k in range(out.shape[1])]
    )
    return np.where(has, out, col_mean[None, :])


def normalised_title(title: str) -> str:
    """Course title without edition marks such as （第二版） and without spaces."""
    return _EDITION.sub("", str(title))


def near_duplicate_groups(courses: pd.DataFrame) -> np.ndarray:
    """Group index per course: re-issues of the same course (same normalised title) share one."""
    return pd.factorize(courses["title"].map(normalised_title))[0]
