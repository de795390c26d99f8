"""The typed training configuration (one object, built in ``main()`` and passed down)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeConfig(BaseModel):
    """Hyper-parameters of the knowledge-reserve model."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a no-op

    half_life_days: float = Field(730.0, gt=0, description="forgetting half-life of training hours")
    prior_strength: float = Field(6.0, gt=0, description="answers the exposure prior is worth")
    # hours_scale, l2_theta and total_score_answers: chosen on the realistic city's validation
    # cut-off (answers in the six months before the test split, seeds 0 / 1; docs/BENCHMARKS.md
    # §8): AUC 0.8246 / 0.8242 with the earlier 30 / 4 / 10, 0.8268 / 0.8266 with 60 / 8 / 20
    hours_scale: float = Field(60.0, gt=0, description="hours at which exposure has 63% effect")
    l2_theta: float = Field(8.0, gt=0, description="pull of each cell to its peers, exposure")
    response_half_life_days: float = Field(
        720.0,
        gt=0,
        description="an answer this old counts half (the training since is modelled explicitly)",
    )
    l2_item: float = Field(1.0, gt=0, description="shrinkage of item difficulty to its topics'")
    groups: list[Literal["unit", "category", "rank"]] = Field(
        ["unit", "category", "rank"],
        description="groupings whose members share a mastery effect per topic",
    )
    l2_group: float = Field(4.0, gt=0, description="shrinkage of the group × topic effects")
    l2_disc_mean: float = Field(
        100.0, ge=0, description="pins the mean log item discrimination to zero (0 = free)"
    )
    guessing: float = Field(
        0.0, ge=0, lt=1, description="guessing floor of exam items (0 = two-parameter model)"
    )
    total_score_answers: float = Field(
        20.0, gt=0, description="answers a total-score exam (exam_scores row) is worth"
    )
    online_weight: float = Field(
        1.0, ge=0, le=1, description="weight of online hours in the exposure (credited ≠ learned)"
    )
    mandatory_weight: float = Field(
        1.0, ge=0, le=1, description="weight of compulsory enrolments' hours in the exposure"
    )
    engagement_covariate: bool = Field(
        False, description="the number of answers a cadre gave as a covariate of the reserve"
    )
    max_iter: int = Field(300, ge=10, description="L-BFGS iterations of the diagnosis model")


class RecommenderConfig(BaseModel):
    """Hyper-parameters of the course recommender."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a no-op

    global_weight: float = Field(20.0, ge=0, description="pseudo-count of global popularity")
    k: int = Field(10, ge=1, description="list length evaluated offline")
    n_candidates: int = Field(50, ge=10, description="candidates per retriever per cadre")
    ease_l2: float = Field(300.0, gt=0, description="EASE ridge penalty")
    als_factors: int = Field(32, ge=2, description="ALS latent factors (the offline baseline)")
    als_in_ranker: bool = Field(
        False, description="ALS also proposes candidates and gives the ranker its rank/z-score"
    )
    # the choice model (models/choice_model.py) learns tastes 2.6x closer to the city's truth
    # than ALS (correlation 0.61 vs 0.23) but did not lift the ranked lists on validation
    # (cut-off 2025-11-01, seeds 0/1 and negative_fraction 0.5: mean nDCG@10 0.1298 vs 0.1301
    # without it), so it is off by default; see docs/BENCHMARKS.md §3
    choice_factors: int = Field(
        0, ge=0, description="taste dimensions of the choice model retriever (0 = off)"
    )
    choice_epochs: int = Field(5, ge=1, description="passes of the choice model over the choices")
    # 3 rankers: validation (cut-off 2025-11-01) nDCG@10 0.1338 / 0.1302 vs 0.1325 / 0.1287 with
    # one (seeds 0 / 1) for ~35 s more per fit (each ranker rebuilds its training rows): not worth
    # the training time at city scale, so one
    n_rankers: int = Field(
        1, ge=1, le=10, description="rankers trained on their own negative samples, averaged"
    )
    max_train_users: int = Field(20_000, ge=100, description="cadres sampled to train the ranker")
    label_months: int = Field(
        6, ge=1, le=24, description="the ranker learns the self-chosen courses of these last months"
    )
    # chosen before the test split (benchmarks/bench_schedule_horizon.py, city seed 0): mean
    # nDCG@10 over validation cut-offs 2025-05-01 and 2025-11-01 (6 months each) was 0.1094,
    # 0.1186, 0.1223, 0.1236 and 0.1244 for 1, 2, 3, 4 and 6 months
    schedule_months: int = Field(
        6,
        ge=1,
        le=12,
        description="months ahead read in the class calendar as published by a cut-off",
    )
    recent_days: int = Field(90, ge=7, description="window of the recent (trending) popularity")
    negative_fraction: float = Field(
        0.15, gt=0, le=1, description="share of negative candidates kept to train the ranker"
    )
    ranker_objective: str = Field("rank_xendcg", description="lambdarank or rank_xendcg (faster)")
    ranker_estimators: int = Field(100, ge=10, description="boosting rounds of the ranker")
    ranker_leaves: int = Field(31, ge=2, description="leaves per tree of the ranker")
    ranker_min_child: int = Field(50, ge=1, description="minimum rows in a leaf of the ranker")
    ranker_learning_rate: float = Field(0.1, gt=0, description="shrinkage of the ranker's trees")


class QualityConfig(BaseModel):
    """How ratings are read before quality and the matchers use them."""

    model_config = ConfigDict(extra="forbid")

    rating_scale: Literal["raw", "ridit"] = Field(
        "raw",
        description="raw scores, or each score's rank among its rater's own (inflated ratings)",
    )
    ridit_prior: float = Field(
        5.0, gt=0, description="population pseudo-ratings added to each rater's distribution"
    )


class RollcallConfig(BaseModel):
    """How the rollcall ranker turns predicted gains into a benefit (``models.rollcall``)."""

    model_config = ConfigDict(extra="forbid")

    # session 3 chose it on the clean city's test classes (58.4% vs 54.7% of the oracle); on the
    # realistic city's validation cut-off (seeds 0 / 1) the gain times the speed ranks the measured
    # relative gains worse than the gain alone (Spearman 0.152 / 0.247 vs 0.170 / 0.263), so it is
    # off (docs/BENCHMARKS.md §8)
    use_learning_speed: bool = Field(
        False, description="multiply the predicted gain by the cadre's shrunk learning speed"
    )
    gap_weight: float = Field(
        0.1, ge=0, description="weight of the class-weighted gap to the post target"
    )
    load_penalty: float = Field(
        0.05, ge=0, description="benefit lost per 100 training hours in the last 12 months"
    )
    # a policy weight, not learned: hour rules are the organisation department's duty
    obligation_weight: float = Field(
        0.03, ge=0, description="benefit of covering a cadre's due hours in full"
    )


class SparkConfig(BaseModel):
    """Settings of ``ganxun train --engine spark`` (ignored by the default engine)."""

    model_config = ConfigDict(extra="forbid")

    sample_cadres: int = Field(
        200_000,
        ge=100,
        description="cadres (stratified by rank × unit level) whose rows the driver fits the "
        "global models on; every cadre when there are no more (tiny and city: all)",
    )
    cadres_per_batch: int = Field(
        2_000, ge=10, description="cadres per grouped pandas UDF call (reserve, default lists)"
    )
    shuffle_partitions: int = Field(
        0, ge=0, description="spark.sql.shuffle.partitions (0: 2 × local cores, or Spark's own)"
    )


class TrainConfig(BaseModel):
    """Everything ``ganxun train`` needs besides the data and output locations."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a no-op

    test_months: int = Field(6, ge=1, le=24, description="months after the split used for tests")
    seed: int = 0
    parallel_fit: Literal["auto", "on", "off"] = Field(
        "auto",
        description="fit on all data in a second process while the split fit and evaluation run "
        "(auto: when there are two or more CPUs and at least 200,000 answers and enrolments)",
    )
    knowledge: KnowledgeConfig = KnowledgeConfig()
    recommender: RecommenderConfig = RecommenderConfig()
    quality: QualityConfig = QualityConfig()
    rollcall: RollcallConfig = RollcallConfig()
    spark: SparkConfig = SparkConfig()


def parse_override(text: str) -> tuple[list[str], object]:
    """``section.key=value`` → (path, value); the value is read as TOML (number, bool, string)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} is not KEY=VALUE (e.g. knowledge.l2_theta=3)")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word: take it as a string
    return key.strip().split("."), value


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """The training configuration: defaults, then the TOML file, then ``KEY=VALUE`` overrides.

    Raises ``ValueError`` (pydantic's ValidationError is one) naming the bad key or value.
    """
    data: dict = tomllib.loads(Path(path).read_text("utf-8")) if path else {}
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {text!r}: {k!r} is not a section")
        node[keys[-1]] = value
    return TrainConfig.model_validate(data)
