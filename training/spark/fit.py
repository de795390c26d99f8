"""Fit every model on Spark tables: global parts on a driver sample, per-cadre parts in Spark.

What runs where (see docs/ARCHITECTURE.md, "Engines"):

- on the executors: exposure hours, answer counts, interactions, compulsory shares and layout
  hours (Spark SQL, :mod:`ganxun.training.spark.features`), every cadre's knowledge given the
  item parameters (:mod:`ganxun.training.spark.persons`, grouped pandas UDFs), ALS (MLlib), and
  every cadre's default list (:mod:`ganxun.training.spark.lists`);
- on the driver, from the rows of a stratified sample of cadres (rank × unit level, at most
  ``config.spark.sample_cadres``; every cadre below that): the item parameters and levels of the
  diagnosis model, rating quality, the recommender's retrievers and LightGBM ranker, and the
  matchers and rollcall ranker — each by the default engine's own function in
  :mod:`ganxun.training.fitting`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.careers import posts_as_of
from ganxun.features.exposure import total_score_answers
from ganxun.features.ratings import rescale_ratings
from ganxun.features.split import EVENT_DATES
from ganxun.training.config import TrainConfig
from ganxun.training.fitting import (
    Fitted,
    KnowledgeState,
    RecommenderState,
    build_catalog,
    build_layout,
    exposure_logit,
    fit_knowledge,
    fit_planning,
    fit_quality,
    fit_recommender,
    knowledge_groups,
)
from ganxun.training.spark import features as sf
from ganxun.training.spark.persons import PersonInputs, base_theta, solve_batch, strip
from ganxun.training.spark.read import ROW

log = logging.getLogger(__name__)

#: Event tables that stay in Spark (one row per answer, enrolment or rating: the large ones).
SPARK_TABLES = ("enrollments", "responses", "course_ratings", "staff_ratings")


@dataclass
class SparkTables:
    """The clean tables: large event tables in Spark, every other table on the driver."""

    driver: dict[str, pd.DataFrame]
    events: dict  # name -> Spark DataFrame

    def before(self, split: pd.Timestamp) -> SparkTables:
        """The tables as they stood before ``split`` (``ganxun.features.split.before``)."""
        from pyspark.sql import functions as F

        driver = posts_as_of(dict(self.driver), split)
        for t, c in EVENT_DATES.items():
            if t in driver:
                driver[t] = driver[t][driver[t][c] < split]
        driver["courses"] = self.driver["courses"][self.driver["courses"]["published_on"] < split]
        day = F.lit(split.to_pydatetime()).cast("timestamp_ntz")
        events = {t: df.where(F.col(EVENT_DATES[t]) < day) for t, df in self.events.items()}
        return SparkTables(driver, events)


def to_driver(df) -> pd.DataFrame:
    """A clean Spark table as the default engine holds it: contract dtypes, index = source row."""
    frame = df.toPandas().sort_values(ROW)
    frame.index = pd.Index(frame.pop(ROW).to_numpy(np.int64))
    for c in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c]):
            frame[c] = frame[c].astype("datetime64[ns]")
        elif frame[c].dtype == object and frame[c].map(lambda v: isinstance(v, np.ndarray)).any():
            frame[c] = frame[c].map(lambda v: None if v is None else tuple(v))
    return frame


def split_tables(clean: dict) -> SparkTables:
    """Collect the small tables to the driver; keep the event tables in Spark."""
    from ganxun.features.contracts import TABLES, _dtype

    driver = {}
    for name, df in clean.items():
        if name in SPARK_TABLES:
            continue
        frame = to_driver(df)
        for c, col in TABLES[name].columns.items():
            if col.kind in ("int", "bool"):
                frame[c] = frame[c].astype(_dtype(col))
        driver[name] = frame
    return SparkTables(driver, {n: clean[n] for n in SPARK_TABLES if n in clean})


def stratified_sample(
    cadres: pd.DataFrame, units: pd.DataFrame, size: int, seed: int
) -> np.ndarray:
    """Cadre ids of a sample stratified by rank × unit level (proportional allocation).

    Every stratum keeps ``ceil(size × share)`` of its cadres (at least one), drawn at random
    with ``seed``; with ``size`` ≥ the number of cadres the sample is every cadre.
    """
    ids = cadres["cadre_id"].to_numpy()
    if size >= len(ids):
        return ids
    level = cadres["unit_id"].map(units.set_index("unit_id")["level"])
    stratum = cadres["rank"].astype(str) + "|" + level.fillna("?").astype(str)
    rng = np.random.default_rng(seed)
    keep = []
    for _, members in pd.Series(ids).groupby(stratum.to_numpy()):
        n = max(1, int(np.ceil(size * len(members) / len(ids))))
        keep.append(rng.choice(members.to_numpy(), size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(keep))


def sample_tables(spark, tables: SparkTables, ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """Driver tables plus the sampled cadres' event rows (all rows when the sample is everyone)."""
    from pyspark.sql import functions as F

    everyone = len(ids) == len(tables.driver["cadres"])
    chosen = None if everyone else spark.createDataFrame(pd.DataFrame({"cadre_id": ids}))
    out = dict(tables.driver)
    for name, df in tables.events.items():
        part = df if chosen is None else df.join(F.broadcast(chosen), "cadre_id", "left_semi")
        out[name] = to_driver(part)
    return out


def _index_frame(spark, vocab, name: str, index: str):
    return spark.createDataFrame(
        pd.DataFrame({name: vocab.ids_, index: np.arange(len(vocab.ids_), dtype=np.int64)})
    )


def fit_spark(
    spark, tables: SparkTables, asof: pd.Timestamp, config: TrainConfig, planning: bool = True
) -> Fitted:
    """Fit every model on ``tables`` as of ``asof`` (the Spark engine's ``fit_all``)."""
    from pyspark.sql import functions as F

    sc, kc = config.spark, config.knowledge
    ids = stratified_sample(
        tables.driver["cadres"], tables.driver["units"], sc.sample_cadres, config.seed
    )
    log.info("driver sample: %d of %d cadres", len(ids), len(tables.driver["cadres"]))
    small = sample_tables(spark, tables, ids)
    cat = build_catalog(small, asof)
    ev = tables.events
    courses = spark.createDataFrame(tables.driver["courses"][["course_id", "mode"]])
    course_topics = spark.createDataFrame(tables.driver["course_topics"])
    items = spark.createDataFrame(tables.driver["items"][["item_id", "topic_id"]])
    # compulsory courses by the default rule, over every enrolment (not just the sample)
    share = sf.collect(sf.mandatory_share(ev["enrollments"])).set_index("course_id")["share"]
    flag = cat.course_info["mandatory"].to_numpy(bool)
    cat.course_info["mandatory"] = (
        flag | (share.reindex(cat.courses.ids_).fillna(0.0) > 0.5).to_numpy()
    )

    # global: item parameters, levels, group effects, coefficients (driver sample)
    k0 = fit_knowledge(small, cat, asof, kc)
    # per cadre, every cadre: features in Spark SQL, then the person step in batches
    exposure = sf.exposure_hours(
        ev["enrollments"], courses, asof, kc.online_weight, kc.mandatory_weight
    )
    hours = sf.dense(
        sf.collect(sf.decayed_hours(exposure, course_topics, asof, kc.half_life_days)),
        cat.cadres,
        cat.topics,
        "cadre_id",
        "topic_id",
    )
    counts = sf.collect(sf.answer_counts(ev["responses"], items, asof))
    correct = sf.dense(counts, cat.cadres, cat.topics, "cadre_id", "topic_id", "correct")
    total = sf.dense(counts, cat.cadres, cat.topics, "cadre_id", "topic_id", "total")
    model = k0.model
    groups = knowledge_groups(cat, kc.groups)
    C = exposure_logit(k0.exposure, hours)[:, :, None]
    theta = base_theta(model, groups, C)
    fisher = np.zeros_like(theta)
    ability = np.zeros(len(theta))
    inputs = PersonInputs(
        model=strip(model),
        exposure=k0.exposure,
        course_topics=cat.course_topics,
        item_topics=model.Q_,
        groups=groups,
        asof=asof,
        half_life_days=kc.half_life_days,
        response_half_life_days=kc.response_half_life_days,
    )
    cadre_index = _index_frame(spark, cat.cadres, "cadre_id", "ci")
    answers = _answer_rows(spark, ev, tables.driver, cat, cadre_index, asof, kc)
    enrol = (
        exposure.join(cadre_index, "cadre_id")
        .join(_index_frame(spark, cat.courses, "course_id", "a"), "course_id")
        .join(answers.select("ci").distinct(), "ci", "left_semi")
        .select(
            F.lit("e").alias("kind"),
            "ci",
            "a",
            F.unix_date(F.col("enrolled_on").cast("date")).cast("long").alias("day"),
            F.coalesce(F.unix_date(F.col("completed_on").cast("date")), F.lit(-1))
            .cast("long")
            .alias("day2"),
            F.col("exposure_hours").alias("value"),
            F.lit(1.0).alias("weight"),
        )
    )
    n_buckets = max(1, int(np.ceil(len(cat.cadres) / sc.cadres_per_batch)))
    rows = answers.unionByName(enrol).withColumn("bucket", F.col("ci") % n_buckets)
    shared = spark.sparkContext.broadcast(inputs)

    def solve(batch: pd.DataFrame) -> pd.DataFrame:
        return solve_batch(batch, shared.value)

    solved = (
        rows.groupBy("bucket")
        .applyInPandas(solve, "ci long, ability double, theta array<double>, fisher array<double>")
        .toPandas()
    )
    shared.unpersist()
    if len(solved):
        at = solved["ci"].to_numpy(np.int64)
        theta[at] = np.stack(solved["theta"].to_numpy())
        fisher[at] = np.stack(solved["fisher"].to_numpy())
        ability[at] = solved["ability"].to_numpy(float)
    model.theta_, model.fisher_, model.user_ability_ = theta, fisher, ability
    model.n_users_ = len(theta)
    knowledge = KnowledgeState(
        model=model,
        exposure=k0.exposure,
        hours=hours.astype(np.float32),
        correct=correct.astype(np.float32),
        total=total.astype(np.float32),
        reserve=model.mastery().astype(np.float32),
        confidence=model.confidence().astype(np.float32),
        online_weight=kc.online_weight,
        mandatory_weight=kc.mandatory_weight,
    )
    quality = fit_quality(small, cat, asof, config.quality)
    rec = fit_recommender(small, cat, knowledge, quality, asof, config)
    seen = sf.sparse(
        sf.collect(sf.interactions(ev["enrollments"], asof)),
        cat.cadres,
        cat.courses,
        "cadre_id",
        "course_id",
    )
    rec = RecommenderState(model=rec.model, peer=rec.peer, seen=seen)
    _mllib_als(spark, rec, cadre_index, cat, ev["enrollments"], asof, config)
    layout_rows = sf.collect(sf.unit_year_hours(ev["enrollments"], asof))
    layout_rows = layout_rows.assign(
        enrolled_on=pd.to_datetime(layout_rows["year"].astype(str) + "-01-01"), progress=1.0
    )
    layout = build_layout({"enrollments": layout_rows}, cat, knowledge.reserve, asof)
    plans = None
    if planning:
        rated = (
            rescale_ratings(small, config.quality.ridit_prior)
            if config.quality.rating_scale == "ridit"
            else small
        )
        plans = fit_planning(rated, cat, knowledge.reserve, asof, config.seed, config.rollcall)
    return Fitted(
        asof=asof,
        catalog=cat,
        knowledge=knowledge,
        recommender=rec,
        quality=quality,
        layout=layout,
        planning=plans,
    )


def _answer_rows(spark, ev, driver, cat, cadre_index, asof, kc):
    """Every answer before ``asof`` as a row of the person step (exam totals as pseudo-items)."""
    from pyspark.sql import functions as F

    day = F.lit(asof.to_pydatetime()).cast("timestamp_ntz")
    item_index = _index_frame(spark, cat.items, "item_id", "a")
    answers = (
        ev["responses"]
        .where(F.col("answered_on") < day)
        .join(cadre_index, "cadre_id")
        .join(item_index, "item_id")
        .select(
            F.lit("r").alias("kind"),
            "ci",
            "a",
            F.unix_date(F.col("answered_on").cast("date")).cast("long").alias("day"),
            F.lit(-1).cast("long").alias("day2"),
            F.col("correct").cast("double").alias("value"),
            F.lit(1.0).alias("weight"),
        )
    )
    exams = driver.get("exam_scores")
    if exams is not None and len(exams):
        totals, _ = total_score_answers(
            exams[exams["taken_on"] < asof],
            driver["class_topics"],
            cat.topics,
            kc.total_score_answers,
        )
        ci = cat.cadres.index(totals["cadre_id"])
        keep = ci >= 0
        if keep.any():
            epoch = pd.Timestamp("1970-01-01")
            extra = pd.DataFrame(
                {
                    "kind": "r",
                    "ci": ci[keep].astype(np.int64),
                    "a": len(cat.items) + totals["item"].to_numpy(np.int64)[keep],
                    "day": (pd.to_datetime(totals["answered_on"][keep]) - epoch).dt.days.to_numpy(
                        np.int64
                    ),
                    "day2": np.int64(-1),
                    "value": totals["correct"].to_numpy(float)[keep],
                    "weight": totals["weight"].to_numpy(float)[keep],
                }
            )
            answers = answers.unionByName(spark.createDataFrame(extra, answers.schema))
    return answers


def _mllib_als(spark, rec: RecommenderState, cadre_index, cat, enrollments, asof, config) -> None:
    """Refit the ALS reference retriever with Spark MLlib on every cadre's choices.

    Same settings as the default engine's (factors, regularisation 0.1, confidence alpha 5,
    15 sweeps, implicit feedback on the largest progress of non-compulsory enrolments); the
    factors replace those of the driver's ALS, whose solver still folds in unseen cadres.
    """
    from pyspark.ml.recommendation import ALS

    als = rec.model.retrievers_.get("als")
    if als is None:
        return
    choices = sf.interactions(enrollments, asof, exclude_source="mandatory")
    course_index = _index_frame(spark, cat.courses, "course_id", "ki")
    data = choices.join(cadre_index, "cadre_id").join(course_index, "course_id")
    model = ALS(
        rank=als.factors,
        maxIter=als.iterations,
        regParam=als.regularization,
        alpha=als.alpha,
        implicitPrefs=True,
        userCol="ci",
        itemCol="ki",
        ratingCol="v",
        seed=config.seed,
    ).fit(data)
    users = np.zeros((len(cat.cadres), als.factors))
    items = np.zeros((len(cat.courses), als.factors))
    for frame, target in ((model.userFactors, users), (model.itemFactors, items)):
        got = frame.toPandas()
        if len(got):
            target[got["id"].to_numpy(np.int64)] = np.stack(got["features"].to_numpy())
    als.user_factors_, als.item_factors_ = users, items
    inner = getattr(als, "model_", None)
    if inner is not None:
        inner.user_factors = users.astype(np.float32)
        inner.item_factors = items.astype(np.float32)
