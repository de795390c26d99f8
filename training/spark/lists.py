"""Every cadre's default recommendation list, computed in batches on the executors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ganxun.training.fitting import DefaultListArrays, Fitted, default_list_rows, list_length


def default_lists_spark(spark, fitted: Fitted, cadres_per_batch: int) -> DefaultListArrays:
    """What :func:`ganxun.training.fitting.default_lists` computes, one grouped UDF per batch.

    The fitted models (without the planners) are broadcast once; each batch calls
    :func:`~ganxun.training.fitting.default_list_rows` for its cadres.
    """
    from pyspark.sql import functions as F

    n_cadres, n = len(fitted.catalog.cadres.ids_), list_length(fitted)
    ids = np.full((n_cadres, n), -1, np.int32)
    scores = np.full((n_cadres, n), -np.inf)
    if not n or not n_cadres:
        return DefaultListArrays(ids, scores)
    slim = dataclasses.replace(fitted, planning=None, lists=None)
    shared = spark.sparkContext.broadcast(slim)
    n_buckets = max(1, int(np.ceil(n_cadres / cadres_per_batch)))

    def batch(frame: pd.DataFrame) -> pd.DataFrame:
        rows = np.sort(frame["ci"].to_numpy(np.int64))
        got_ids, got = default_list_rows(shared.value, rows, n)
        return pd.DataFrame(
            {"ci": rows, "ids": list(got_ids.astype(np.int64)), "scores": list(got.astype(float))}
        )

    cadres = spark.range(n_cadres).withColumnRenamed("id", "ci")
    out = (
        cadres.withColumn("bucket", F.col("ci") % n_buckets)
        .groupBy("bucket")
        .applyInPandas(batch, "ci long, ids array<long>, scores array<double>")
        .toPandas()
    )
    shared.unpersist()
    for ci, row_ids, row_scores in zip(out["ci"], out["ids"], out["scores"], strict=True):
        ids[ci, : len(row_ids)] = row_ids
        scores[ci, : len(row_scores)] = row_scores
    return DefaultListArrays(ids, scores)


def per_cadre_frames(fitted: Fitted) -> dict[str, pd.DataFrame]:
    """The per-cadre outputs as tables: reserve and confidence per topic, default lists.

    ``reserve``: cadre_id, topic_id, reserve, confidence (one row per cell); ``lists``:
    cadre_id, rank (1-based), course_id, score (one row per listed course).
    """
    cat, k = fitted.catalog, fitted.knowledge
    n_cadres, n_topics = k.reserve.shape
    reserve = pd.DataFrame(
        {
            "cadre_id": np.repeat(cat.cadres.ids_, n_topics),
            "topic_id": np.tile(cat.topics.ids_, n_cadres),
            "reserve": k.reserve.ravel().astype(float),
            "confidence": k.confidence.ravel().astype(float),
        }
    )
    frames = {"reserve": reserve}
    if fitted.lists is not None:
        ids = fitted.lists.ids
        row, rank = np.nonzero(ids >= 0)
        frames["lists"] = pd.DataFrame(
            {
                "cadre_id": cat.cadres.ids_[row],
                "rank": rank + 1,
                "course_id": cat.courses.ids_[ids[row, rank]],
                "score": fitted.lists.scores[row, rank],
            }
        )
    return frames
