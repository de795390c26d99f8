"""Careers: the post each cadre held at a date, promotions, hires and leavers.

Real exports keep a post history (``cadre_posts``: unit, rank and post category from a date to a
date). Features, post targets and segments use the post held at each date; a cadre whose last post
is closed has left (their records stay; they are not recommended or called). Without a post
history the ``cadres`` table is taken as every cadre's post at every date, and nobody has left.

Pure functions of the validated raw tables; dates are ``datetime64[ns]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganxun.features.contracts import RANKS
from ganxun.features.vocab import ids_in

#: The post columns of ``cadres`` that a post history overrides.
POST_COLUMNS: tuple[str, ...] = ("unit_id", "rank", "category")


def has_posts(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether the tables carry a post history."""
    posts = tables.get("cadre_posts")
    return posts is not None and len(posts) > 0


def posts_at(tables: dict[str, pd.DataFrame], at, cadre_ids=None) -> pd.DataFrame:
    """The post each cadre held at ``at``, and whether they were in service then.

    A cadre is *in service* at ``at`` when a post of theirs started on or before ``at`` and had
    not ended before it. Out of service, the row shows their last post before ``at`` (a leaver)
    or, for a cadre not yet hired, the ``cadres`` row.

    Parameters
    ----------
    tables : dict of str to DataFrame
        cadres, and cadre_posts when there is one.
    at : date-like
        The date.
    cadre_ids : array-like of str, optional
        Cadres to look up (default: every row of ``cadres``, in its order).

    Returns
    -------
    DataFrame
        cadre_id, unit_id, rank, category, in_service (bool), one row per cadre asked.
    """
    at = pd.Timestamp(at)
    cadres = tables["cadres"]
    ids = cadres["cadre_id"] if cadre_ids is None else pd.Series(cadre_ids, dtype=object)
    base = cadres.set_index("cadre_id")[list(POST_COLUMNS)].reindex(ids.to_numpy())
    out = base.reset_index().rename(columns={"index": "cadre_id"})
    out.columns = ["cadre_id", *POST_COLUMNS]
    out["in_service"] = True
    if not has_posts(tables):
        return out
    posts = tables["cadre_posts"]
    started = posts[posts["from_on"] <= at].sort_values(["cadre_id", "from_on"], kind="stable")
    last = started.drop_duplicates("cadre_id", keep="last").set_index("cadre_id")
    last = last.reindex(out["cadre_id"].to_numpy())
    known = last["from_on"].notna().to_numpy()
    for c in POST_COLUMNS:
        out.loc[known, c] = last[c].to_numpy()[known]
    open_ = known & ~(last["to_on"].notna() & (last["to_on"] < at)).to_numpy()
    with_history = ids_in(out["cadre_id"], posts["cadre_id"])
    # a cadre the post history does not mention keeps the cadres row and stays in service
    out["in_service"] = np.where(with_history, open_, True)
    return out


def service_dates(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """First and last day of service per cadre with a post history.

    Returns
    -------
    DataFrame indexed by cadre_id
        hired_on (first ``from_on``), left_on (the last ``to_on`` when every post is closed,
        else NaT).
    """
    if not has_posts(tables):
        return pd.DataFrame(
            {
                "hired_on": pd.Series(dtype="datetime64[ns]"),
                "left_on": pd.Series(dtype="datetime64[ns]"),
            }
        )
    posts = tables["cadre_posts"]
    g = posts.groupby("cadre_id")
    open_any = posts["to_on"].isna().groupby(posts["cadre_id"]).any()
    left = g["to_on"].max().where(~open_any)
    return pd.DataFrame({"hired_on": g["from_on"].min(), "left_on": left})


def promotions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every move to a higher rank in the post history.

    Returns
    -------
    DataFrame
        cadre_id, promoted_on (the new post's ``from_on``), from_rank, to_rank, unit_id (of the
        new post); empty without a post history.
    """
    cols = ["cadre_id", "promoted_on", "from_rank", "to_rank", "unit_id"]
    if not has_posts(tables):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    p = tables["cadre_posts"].sort_values(["cadre_id", "from_on"], kind="stable")
    level = pd.Index(RANKS).get_indexer(p["rank"])
    prev_level = pd.Series(level, index=p.index).groupby(p["cadre_id"]).shift()
    prev_rank = p.groupby("cadre_id")["rank"].shift()
    up = prev_level.notna() & (level > prev_level.fillna(np.inf))
    out = pd.DataFrame(
        {
            "cadre_id": p["cadre_id"][up],
            "promoted_on": p["from_on"][up],
            "from_rank": prev_rank[up],
            "to_rank": p["rank"][up],
            "unit_id": p["unit_id"][up],
        }
    )
    return out.reset_index(drop=True)


def posts_as_of(tables: dict[str, pd.DataFrame], at) -> dict[str, pd.DataFrame]:
    """The tables as a post history stood just before ``at``.

    ``cadre_posts`` keeps the posts started before ``at`` (a post ending on or after ``at`` is
    still open then), ``cadres`` shows each cadre's post at ``at`` and leaves out the cadres
    hired on or after it. Without a post history the tables are returned unchanged.
    """
    if not has_posts(tables):
        return tables
    at = pd.Timestamp(at)
    out = dict(tables)
    posts = tables["cadre_posts"]
    posts = posts[posts["from_on"] < at].copy()
    posts.loc[posts["to_on"] >= at, "to_on"] = pd.NaT
    out["cadre_posts"] = posts
    cadres = tables["cadres"]
    hired = service_dates(tables)["hired_on"]
    later = cadres["cadre_id"].map(hired) >= at
    cadres = cadres[~later.fillna(False).to_numpy()].copy()
    now = posts_at({"cadres": cadres, "cadre_posts": posts}, at - pd.Timedelta(days=1))
    for c in POST_COLUMNS:
        cadres[c] = now[c].to_numpy()
    out["cadres"] = cadres
    return out
