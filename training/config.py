"""The typed training configuration (one object, built in ``main()`` and passed down)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class KnowledgeConfig(BaseModel):
    """Hyper-parameters of the knowledge-reserve model."""

    half_life_days: float = Field(365.0, gt=0, description="forgetting half-life of training hours")
    prior_strength: float = Field(6.0, gt=0, description="answers the exposure prior is worth")
    hours_scale: float = Field(30.0, gt=0, description="hours at which exposure has 63% effect")
    l2_theta: float = Field(4.0, gt=0, description="pull of each cell towards its exposure prior")
    response_half_life_days: float = Field(
        180.0, gt=0, description="an answer this old counts half: mastery moves with time"
    )
    l2_item: float = Field(1.0, gt=0, description="shrinkage of item difficulty to its topics'")
    max_iter: int = Field(300, ge=10, description="L-BFGS iterations of the diagnosis model")


class RecommenderConfig(BaseModel):
    """Hyper-parameters of the course recommender."""

    global_weight: float = Field(20.0, ge=0, description="pseudo-count of global popularity")
    k: int = Field(10, ge=1, description="list length evaluated offline")
    n_candidates: int = Field(50, ge=10, description="candidates per retriever per cadre")
    ease_l2: float = Field(300.0, gt=0, description="EASE ridge penalty")
    als_factors: int = Field(32, ge=2, description="ALS latent factors")
    max_train_users: int = Field(4000, ge=100, description="cadres sampled to train the ranker")
    ranker_objective: str = Field("rank_xendcg", description="lambdarank or rank_xendcg (faster)")
    ranker_estimators: int = Field(150, ge=10, description="boosting rounds of the ranker")


class TrainConfig(BaseModel):
    """Everything ``ganxun train`` needs besides the data and output locations."""

    test_months: int = Field(6, ge=1, le=24, description="months after the split used for tests")
    seed: int = 0
    knowledge: KnowledgeConfig = KnowledgeConfig()
    recommender: RecommenderConfig = RecommenderConfig()
