"""Shared fixtures: the tiny synthetic city, written to disk and trained once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def tiny_city():
    """The clean tiny synthetic city (seed 0, every realism switch off): tables and truth.

    The model tests' quality floors were set on the clean city; they move to :func:`tiny_real`
    once the models are robust to the realism switches.
    """
    from ganxun.simulation import generate

    return generate("tiny", seed=0, realism=False)


@pytest.fixture(scope="session")
def tiny_real():
    """The realistic tiny synthetic city (seed 0, every realism switch on): tables and truth."""
    from ganxun.simulation import generate

    return generate("tiny", seed=0, realism=True)


@pytest.fixture(scope="session")
def tiny_dir(tiny_city, tmp_path_factory):
    """The tiny city written as CSV files with its truth/ folder."""
    from ganxun.training.sources import write_tables, write_truth

    folder = tmp_path_factory.mktemp("tiny_city")
    write_tables(tiny_city.tables, folder, "csv")
    write_truth(tiny_city.truth, folder / "truth")
    return folder


@pytest.fixture(scope="session")
def trained(tiny_dir, tmp_path_factory):
    """A training run on the tiny city: (TrainResult, artifacts folder)."""
    from ganxun.training.pipeline import train

    artifacts = tmp_path_factory.mktemp("artifacts")
    result = train(tiny_dir, artifacts, progress=False)
    return result, artifacts


@pytest.fixture(scope="session")
def tiny_real_dir(tiny_real, tmp_path_factory):
    """The realistic tiny city written as CSV files with its truth/ folder."""
    from ganxun.training.sources import write_tables, write_truth

    folder = tmp_path_factory.mktemp("tiny_real")
    write_tables(tiny_real.tables, folder, "csv")
    write_truth(tiny_real.truth, folder / "truth")
    return folder


@pytest.fixture(scope="session")
def trained_real(tiny_real_dir, tmp_path_factory):
    """The realistic tiny city trained without MLflow (about 15 s): (TrainResult, artifacts).

    Careers, leavers, the compulsory package and hour rules are all in it: what the
    organisation department's views (dossier, compliance, selection) are tested on.
    """
    from ganxun.training.pipeline import train

    artifacts = tmp_path_factory.mktemp("artifacts_real")
    result = train(tiny_real_dir, artifacts, track=False, progress=False)
    return result, artifacts


@pytest.fixture()
def postgres_url():
    """A PostgreSQL URL (``GANXUN_TEST_DATABASE_URL``) whose search path is a fresh, empty schema.

    Skipped when no server is configured, failed instead when ``GANXUN_REQUIRE_POSTGRES=1`` (as
    ``.ci/run`` sets). Every test gets its own schema, dropped afterwards, so tests (and people
    sharing the server) never see each other's rows.
    """
    url = os.environ.get("GANXUN_TEST_DATABASE_URL")
    if not url:
        reason = "GANXUN_TEST_DATABASE_URL is not set: no PostgreSQL server to test against"
        if os.environ.get("GANXUN_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    import uuid

    import sqlalchemy as sa

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    scoped = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def spark():
    """One local Spark session (2 cores, 2 shuffle partitions) for every `spark` test.

    Skipped only when no Java runtime is installed (CI installs one); pyspark itself is a test
    dependency, so a missing pyspark fails.
    """
    from ganxun.training.spark.session import java_version, spark_session

    if java_version() is None:
        pytest.skip("no Java runtime (`java -version` fails): the Spark engine needs Java 17")
    session = spark_session("local[2]", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_trained(spark, tiny_dir, tmp_path_factory):
    """The tiny city trained by the Spark engine (no MLflow): (TrainResult, artifacts folder)."""
    from ganxun.training.pipeline import train
    from ganxun.training.spark.engine import SparkEngine

    artifacts = tmp_path_factory.mktemp("spark_artifacts")
    result = train(
        tiny_dir, artifacts, track=False, progress=False, engine=SparkEngine(spark=spark)
    )
    return result, artifacts
