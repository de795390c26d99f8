"""Shared fixtures: the tiny synthetic city, written to disk and trained once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_city():
    """The tiny synthetic city (seed 0): tables and truth in memory."""
    from features.synthetic import generate

    return generate("tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_dir(tiny_city, tmp_path_factory):
    """The tiny city written as CSV files with its truth/ folder."""
    from training.sources import write_tables, write_truth

    folder = tmp_path_factory.mktemp("tiny_city")
    write_tables(tiny_city.tables, folder, "csv")
    write_truth(tiny_city.truth, folder / "truth")
    return folder


@pytest.fixture(scope="session")
def trained(tiny_dir, tmp_path_factory):
    """A training run on the tiny city: (TrainResult, artifacts folder)."""
    from training.pipeline import train

    artifacts = tmp_path_factory.mktemp("artifacts")
    result = train(tiny_dir, artifacts, progress=False)
    return result, artifacts
