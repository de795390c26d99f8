"""Training and its truth-based evaluation run on the realistic tiny city (every switch on).

No quality floors here (the models were tuned on the clean city); what must hold is that every
figure, the truth-based ones included, is computed: duplicates are set aside and named, aliases
mapped, and the oracles follow careers, 必修 courses and the guessing floor.
"""

from __future__ import annotations

import math

import pytest


@pytest.fixture(scope="module")
def trained_real(tiny_real, tmp_path_factory):
    from ganxun.training.pipeline import train
    from ganxun.training.sources import write_tables, write_truth

    folder = tmp_path_factory.mktemp("tiny_real")
    write_tables(tiny_real.tables, folder, "csv")
    write_truth(tiny_real.truth, folder / "truth")
    return train(folder, tmp_path_factory.mktemp("artifacts_real"), progress=False)


def test_every_truth_based_figure_is_computed_on_the_realistic_city(trained_real):
    metrics = trained_real.metrics
    for key in (
        "knowledge.auc",
        "knowledge.auc_oracle",
        "knowledge.spearman_evidence",
        "recommend.model.ndcg@10",
        "recommend.oracle.ndcg@10",
        "quality.teacher.spearman",
    ):
        assert math.isfinite(metrics[key]), key
    assert metrics["knowledge.auc_oracle"] > 0.6
    assert metrics["recommend.oracle.ndcg@10"] > metrics["recommend.popularity.ndcg@10"]


def test_only_the_duplicates_are_set_aside(trained_real, tiny_real):
    problems = trained_real.report.problems
    assert len(problems) == len(tiny_real.truth["duplicates"])
    assert all("exact duplicate" in p.reason for p in problems)
