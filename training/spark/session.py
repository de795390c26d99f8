"""A SparkSession for training: local mode in tests and on one machine, a cluster URL otherwise."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache


@cache
def java_version() -> str | None:
    """The first line of ``java -version``, or None when no Java runtime is on the PATH."""
    java = shutil.which("java")
    if java is None and os.environ.get("JAVA_HOME"):
        candidate = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
        java = candidate if os.path.exists(candidate) else None
    if java is None:
        return None
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def spark_session(
    master: str | None = None,
    *,
    shuffle_partitions: int | None = None,
    app_name: str = "ganxun-train",
    extra: dict[str, str] | None = None,
):
    """Get (or create) the SparkSession that trains.

    Parameters
    ----------
    master : str, optional
        ``local[N]`` / ``local[*]`` (default ``local[*]``), or a cluster URL (``spark://…``,
        ``yarn``, ``k8s://…``).
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; default 2 × cores in local mode, Spark's own (200) on a
        cluster.
    app_name : str
        Application name shown in the Spark UI.
    extra : dict, optional
        Further Spark settings (e.g. ``spark.jars`` for a JDBC driver).

    In local mode the Python workers run this interpreter (so they import ``ganxun`` and the
    same pandas / pyarrow), the UI is off, and the warehouse and scratch folders go to a
    temporary directory, never into the work tree.
    """
    if java_version() is None:
        raise RuntimeError(
            "the Spark engine needs a Java runtime (17 or newer): install one, e.g. "
            "`apt-get install openjdk-17-jre-headless`, or train with the default engine"
        )
    from pyspark.sql import SparkSession

    master = master or "local[*]"
    local = master.startswith("local")
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        # pandas writes nanosecond timestamps, which Spark reads only as longs (see read.py)
        "spark.sql.legacy.parquet.nanosAsLong": "true",
    }
    if local:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        scratch = tempfile.mkdtemp(prefix="ganxun-spark-")
        cores = _local_cores(master)
        settings |= {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "true",
            "spark.sql.warehouse.dir": os.path.join(scratch, "warehouse"),
            "spark.local.dir": os.path.join(scratch, "local"),
            "spark.sql.shuffle.partitions": str(shuffle_partitions or 2 * cores),
            "spark.default.parallelism": str(2 * cores),
            "spark.driver.memory": os.environ.get("GANXUN_SPARK_DRIVER_MEMORY", "4g"),
            "spark.sql.adaptive.enabled": "true",
        }
    elif shuffle_partitions:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    for key, value in {**settings, **(extra or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # py4j logs "Closing down clientserver connection" at INFO from __del__ at interpreter exit,
    # when the log stream may be closed already (a "--- Logging error ---" traceback)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return spark


def _local_cores(master: str) -> int:
    """Cores of a ``local[N]`` / ``local[*]`` / ``local`` master."""
    inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
    if inside.strip() in ("*", ""):
        return os.cpu_count() or 1
    try:
        return max(1, int(inside.split(",")[0]))
    except ValueError:
        return os.cpu_count() or 1
