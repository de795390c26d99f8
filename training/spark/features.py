"""Features in Spark SQL: decayed hours per cadre × topic, answer counts, interactions.

The same quantities as :mod:`ganxun.features.exposure` (and the same formulas), computed where
the rows are; results are long tables (one row per non-zero cell) that :func:`dense` and
:func:`sparse` turn into the arrays the models hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ganxun.features.exposure import ONLINE_MODES
from ganxun.features.vocab import Vocabulary


def _day(ts: pd.Timestamp):
    from pyspark.sql import functions as F

    return F.lit(pd.Timestamp(ts).to_pydatetime()).cast("timestamp_ntz")


def course_topic_weights(course_topics):
    """Course × topic weights, each course's weights summing to one (``course_topic_matrix``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    total = F.sum("weight").over(Window.partitionBy("course_id"))
    return course_topics.select(
        "course_id",
        "topic_id",
        (F.col("weight") / F.when(total == 0, 1.0).otherwise(total)).alias("w"),
    )


def exposure_hours(
    enrollments,
    courses,
    asof: pd.Timestamp,
    online_weight: float = 1.0,
    mandatory_weight: float = 1.0,
):
    """Each enrolment before ``asof`` with its exposure hours (``with_exposure_hours``)."""
    from pyspark.sql import functions as F

    e = enrollments.where(F.col("enrolled_on") < _day(asof))
    mode = courses.select("course_id", F.col("mode").isin(list(ONLINE_MODES)).alias("_online"))
    e = e.join(mode, "course_id", "left")
    weight = F.when(F.col("_online"), F.lit(online_weight)).otherwise(F.lit(1.0)) * F.when(
        F.col("source") == "mandatory", F.lit(mandatory_weight)
    ).otherwise(F.lit(1.0))
    return e.withColumn("exposure_hours", F.col("hours") * F.col("progress") * weight).drop(
        "_online"
    )


def decayed_hours(exposure, course_topics, asof: pd.Timestamp, half_life_days: float):
    """Decayed training hours per cadre × topic (``decayed_topic_hours``): cadre_id, topic_id, v."""
    from pyspark.sql import functions as F

    asof_col = _day(asof)
    when = F.coalesce(F.col("completed_on"), F.col("enrolled_on"))
    when = F.when(when > asof_col, asof_col).otherwise(when)
    age = F.datediff(asof_col.cast("date"), when.cast("date")).cast("double")
    w = F.col("exposure_hours") * F.pow(F.lit(0.5), age / F.lit(half_life_days))
    per_course = exposure.where(F.col("enrolled_on") < asof_col).select(
        "cadre_id", "course_id", w.alias("h")
    )
    return (
        per_course.join(course_topic_weights(course_topics), "course_id")
        .groupBy("cadre_id", "topic_id")
        .agg(F.sum(F.col("h") * F.col("w")).alias("v"))
    )


def answer_counts(responses, items, asof: pd.Timestamp | None = None):
    """Correct and total answers per cadre × topic (``topic_answer_counts``)."""
    from pyspark.sql import functions as F

    r = responses if asof is None else responses.where(F.col("answered_on") < _day(asof))
    return (
        r.join(items.select("item_id", "topic_id").distinct(), "item_id")
        .groupBy("cadre_id", "topic_id")
        .agg(
            F.sum(F.col("correct").cast("double")).alias("correct"),
            F.count("*").cast("double").alias("total"),
        )
    )


def interactions(enrollments, asof: pd.Timestamp | None = None, exclude_source=None):
    """Largest progress per cadre × course (``interaction_matrix``): cadre_id, course_id, v."""
    from pyspark.sql import functions as F

    e = enrollments if asof is None else enrollments.where(F.col("enrolled_on") < _day(asof))
    if exclude_source is not None:
        e = e.where(F.col("source") != exclude_source)
    return e.groupBy("cadre_id", "course_id").agg(
        F.greatest(F.max("progress"), F.lit(1e-3)).alias("v")
    )


def mandatory_share(enrollments):
    """Share of each course's enrolments that are compulsory (``mandatory_courses``' rule)."""
    from pyspark.sql import functions as F

    return enrollments.groupBy("course_id").agg(
        F.avg((F.col("source") == "mandatory").cast("double")).alias("share")
    )


def unit_year_hours(enrollments, asof: pd.Timestamp):
    """Hours × progress per cadre × course × calendar year before ``asof`` (for the layout)."""
    from pyspark.sql import functions as F

    return (
        enrollments.where(F.col("enrolled_on") < _day(asof))
        .groupBy("cadre_id", "course_id", F.year("enrolled_on").alias("year"))
        .agg(F.sum(F.col("hours") * F.col("progress")).alias("hours"))
    )


def collect(frame) -> pd.DataFrame:
    """A long feature table on the driver (Arrow); the only place features leave Spark."""
    return frame.toPandas()


def dense(
    long: pd.DataFrame, rows: Vocabulary, cols: Vocabulary, row: str, col: str, value: str = "v"
) -> np.ndarray:
    """A dense (rows × cols) array from a long table; unknown ids are left out."""
    out = np.zeros((len(rows), len(cols)))
    if len(long):
        ri, ci = rows.index(long[row]), cols.index(long[col])
        ok = (ri >= 0) & (ci >= 0)
        np.add.at(out, (ri[ok], ci[ok]), long[value].to_numpy(float)[ok])
    return out


def sparse(
    long: pd.DataFrame, rows: Vocabulary, cols: Vocabulary, row: str, col: str, value: str = "v"
) -> sp.csr_matrix:
    """A CSR (rows × cols) matrix from a long table; unknown ids are left out."""
    if not len(long):
        return sp.csr_matrix((len(rows), len(cols)))
    ri, ci = rows.index(long[row]), cols.index(long[col])
    ok = (ri >= 0) & (ci >= 0)
    return sp.csr_matrix(
        (long[value].to_numpy(float)[ok], (ri[ok], ci[ok])), shape=(len(rows), len(cols))
    )
