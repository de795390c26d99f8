"""Read the raw tables into Spark: a folder of Parquet/CSV/Excel files, a JDBC URL or Hive.

Every table gets a ``_row`` column: its 1-based data row as read (the header not counted), the
row number the default engine reports problems by. It is computed on the executors from
``monotonically_increasing_id`` and per-partition counts (only those counts reach the driver).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ganxun.features.contracts import TABLES
from ganxun.training import sources

log = logging.getLogger(__name__)

ROW = "_row"
#: ``--data hive:DB`` reads the contract tables of a Hive database (``hive:`` alone: ``default``).
HIVE_PREFIX = "hive:"


def read_raw(spark, source: str | Path) -> dict:
    """The contract tables found in ``source``, as Spark DataFrames with a ``_row`` column.

    ``source`` is a folder (``name.parquet`` — a file or a Spark output folder —, ``name.csv``
    or ``name.xlsx``, the first that exists), a JDBC URL (``jdbc:postgresql://host/db?user=…``;
    the driver jar must be on Spark's class path), ``hive:DB`` (tables of a Hive database), or
    any other SQLAlchemy URL (read by the default engine's reader and handed to Spark: for
    small databases and tests). Values are read as they are: validation coerces them.
    """
    text = str(source)
    if text.startswith(HIVE_PREFIX):
        frames = _read_hive(spark, text[len(HIVE_PREFIX) :].strip("/") or "default")
    elif text.startswith("jdbc:"):
        frames = _read_jdbc(spark, text)
    elif sources.is_database_url(text):
        frames = {name: _from_pandas(spark, df) for name, df in sources.read_tables(text).items()}
    else:
        frames = _read_folder(spark, Path(source))
    return {name: with_row_numbers(df) for name, df in frames.items()}


def _read_folder(spark, folder: Path) -> dict:
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    out = {}
    for name in TABLES:
        for suffix in sources.SUFFIXES:
            path = folder / f"{name}{suffix}"
            if not path.exists():
                continue
            if suffix == ".parquet":
                df = _nanos_as_times(spark.read.parquet(str(path)), path)
            elif suffix == ".csv":
                # every cell as text (like the default reader's dtype=str); empty cells are null
                df = spark.read.csv(
                    str(path), header=True, inferSchema=False, multiLine=True, encoding="UTF-8"
                )
            else:  # Excel has no Spark reader: read on the driver (Excel files are small)
                import pandas as pd

                df = _from_pandas(spark, pd.read_excel(path, dtype=object))
            out[name] = df.toDF(*[c.lstrip("\ufeff") for c in df.columns])
            break
    return out


def _nanos_as_times(df, path: Path):
    """Columns pandas wrote as nanosecond timestamps (read by Spark as longs) back as times."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    first = path if path.is_file() else next(iter(sorted(path.glob("*.parquet"))), None)
    if first is None:
        return df
    nanos = [
        f.name
        for f in pq.read_schema(first)
        if str(f.type).startswith("timestamp[ns") and f.name in df.columns
    ]
    for c in nanos:
        df = df.withColumn(c, F.timestamp_micros(F.floor(F.col(c) / 1000)).cast("timestamp_ntz"))
    return df


def _read_jdbc(spark, url: str) -> dict:
    """Contract tables from a JDBC database; ``user``/``password`` may ride in the query."""
    parts = urlsplit(url[len("jdbc:") :])
    props = dict(parse_qsl(parts.query))
    plain = "jdbc:" + urlunsplit(parts._replace(query=""))
    present = _jdbc_tables(spark, plain, props)
    return {
        name: spark.read.jdbc(plain, name, properties=props)
        for name in TABLES
        if name in present or not present
    }


def _jdbc_tables(spark, url: str, props: dict) -> set[str]:
    """Names of the tables the JDBC database holds (empty when it cannot be listed)."""
    try:
        listing = spark.read.jdbc(
            url,
            "(SELECT table_name FROM information_schema.tables) AS t",
            properties=props,
        )
        return {r[0] for r in listing.collect()}
    except Exception as exc:  # noqa: BLE001 - any driver error: try every table by name
        log.warning("cannot list the JDBC tables (%s); reading each by name", exc)
        return set()


def _read_hive(spark, database: str) -> dict:
    present = {t.name for t in spark.catalog.listTables(database)}
    return {name: spark.table(f"{database}.{name}") for name in TABLES if name in present}


def _from_pandas(spark, df):
    """A pandas frame as a Spark DataFrame of text cells (types are the validator's job)."""
    import pandas as pd
    from pyspark.sql.types import StringType, StructField, StructType

    text = pd.DataFrame(
        {
            str(c): [None if _is_missing(v) else _cell_text(v) for v in df[c].tolist()]
            for c in df.columns
        }
    )
    schema = StructType([StructField(str(c), StringType(), True) for c in df.columns])
    if text.empty:
        return spark.createDataFrame([], schema)
    return spark.createDataFrame(text, schema)


def _is_missing(v) -> bool:
    import pandas as pd

    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):  # lists and arrays are not missing
        return False


def _cell_text(v) -> str:
    import pandas as pd

    from ganxun.features.contracts import LIST_SEP

    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else v.isoformat()
    if isinstance(v, (list, tuple)):
        return LIST_SEP.join(map(str, v))
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def with_row_numbers(df):
    """``df`` with ``_row``: 1-based position in read order, consecutive across partitions."""
    from pyspark.sql import functions as F

    df = df.withColumn("_mid", F.monotonically_increasing_id())
    part = F.shiftright(F.col("_mid"), 33)
    counts = {
        r["p"]: r["n"] for r in df.groupBy(part.alias("p")).agg(F.count("*").alias("n")).collect()
    }
    offsets, total = {}, 0
    for p in sorted(counts):
        offsets[p] = total
        total += counts[p]
    if not offsets:
        return df.drop("_mid").withColumn(ROW, F.lit(None).cast("long"))
    start = F.create_map(*[x for p, o in offsets.items() for x in (F.lit(p), F.lit(o))])
    within = F.col("_mid").bitwiseAND(F.lit((1 << 33) - 1))
    return df.withColumn(ROW, (start[part] + within + 1).cast("long")).drop("_mid")
