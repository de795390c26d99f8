"""The data contract of :mod:`ganxun.features.contracts`, checked in Spark.

Cells are parsed by the contract's own parser (``contracts._coerce``, run per Arrow batch on the
executors through ``mapInPandas``), so a date or number the default engine accepts is accepted
here, and rejected alike. Every check after that is a Spark expression: empty required cells,
choices, list choices, ranges, date order, dates emptied when after their bound, values above
their bound column, key conflicts, duplicate keys, exact duplicates, foreign keys (with the
alias table mapping source-system ids) and tables left without rows. The problems are a Spark
DataFrame (table, row, column, reason, fatal) in the default engine's order, written as Parquet;
only the table-level fatal problems (a missing table or column) are known on the driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ganxun.features.contracts import (
    PARENT_KEY,
    TABLES,
    Column,
    ContractError,
    Problem,
    Table,
)
from ganxun.features.contracts import _coerce as coerce_column  # the contract's own parser
from ganxun.training.spark.read import ROW

#: Stages of the checks of one table, in the order the default engine reports them.
STAGE_COLUMN, STAGE_DATE_ORDER, STAGE_NOT_AFTER, STAGE_NOT_ABOVE = 0, 1, 2, 3
STAGE_CONFLICT, STAGE_DUPLICATE, STAGE_EXACT, STAGE_FOREIGN, STAGE_EMPTY = 4, 5, 6, 7, 8
#: Placeholders in reasons built in Spark, finished in Python on the problem rows only:
#: ``\0F<number>\1`` → ``str(float)``, ``\0G<number>\1`` → ``format(x, "g")``, ``\0R<text>\1``
#: → ``repr(text)`` (the default engine's f-strings).
_MARK = re.compile("\x00([FGR])(.*?)\x01", re.S)

PROBLEM_COLUMNS = ["table", "row", "column", "reason", "fatal"]


@dataclass
class SparkValidation:
    """Clean tables (Spark DataFrames with ``_row``) and the problems found."""

    tables: dict
    problems: object  # Spark DataFrame: table, row, column, reason, fatal, t, stage, sub
    fatal: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)

    def raise_if_fatal(self) -> None:
        """Raise :class:`ContractError` naming every fatal problem, if there is any."""
        if self.fatal:
            raise ContractError(self.fatal)

    def write_problems(self, path: str) -> None:
        """Write the problems, in report order, as one Parquet file in the folder ``path``."""
        ordered = self.problems.repartition(1).sortWithinPartitions("t", "stage", "sub", "row")
        ordered.select(*PROBLEM_COLUMNS).write.mode("overwrite").parquet(str(path))


def _spark_type(col: Column):
    from pyspark.sql import types as T

    return {
        "id": T.StringType(),
        "str": T.StringType(),
        "int": T.LongType(),
        "float": T.DoubleType(),
        "date": T.TimestampNTZType(),
        "list": T.ArrayType(T.StringType()),
        "bool": T.BooleanType(),
    }[col.kind]


def _coerced_schema(spec: Table):
    from pyspark.sql import types as T

    fields = [T.StructField(ROW, T.LongType())]
    for c, col in spec.columns.items():
        fields.append(T.StructField(c, _spark_type(col), True))
        fields.append(T.StructField(f"{c}__bad", T.StringType(), True))
    return T.StructType(fields)


def _coerce_batches(spec: Table, present: list[str]):
    """The ``mapInPandas`` function: each contract column parsed by the contract's parser.

    ``c__bad`` holds the default engine's reason for a cell that failed to parse, else null.
    """

    def run(batches):
        for raw in batches:
            out = {ROW: raw[ROW].astype("int64")}
            for c, col in spec.columns.items():
                if c not in present:
                    out[c] = pd.Series([None] * len(raw), dtype=object)
                    out[f"{c}__bad"] = pd.Series([None] * len(raw), dtype=object)
                    continue
                values, bad = coerce_column(raw[c].reset_index(drop=True), col)
                bad = bad.to_numpy(bool)
                why = np.full(len(raw), None, dtype=object)
                if bad.any():
                    why[bad] = (
                        f"not a valid {col.kind}: " + raw[c].reset_index(drop=True)[bad].astype(str)
                    ).to_numpy()
                out[c] = _to_arrow_ready(values, col)
                out[f"{c}__bad"] = pd.Series(why, dtype=object)
            yield pd.DataFrame(out)

    return run


def _to_arrow_ready(values: pd.Series, col: Column) -> pd.Series:
    """Coerced values in a form Arrow turns into the Spark column type (nulls as nulls)."""
    if col.kind == "list":
        return values.map(lambda v: None if v is None else list(v))
    if col.kind == "float":
        return values.astype("Float64")
    if col.kind == "int":
        return values.astype("Int64")
    if col.kind == "bool":
        return values.astype("boolean")
    if col.kind == "date":
        return pd.to_datetime(values).astype("datetime64[us]")
    return values.astype(object).where(values.notna(), None)


def _num_text(col: Column, value):
    """How the default engine prints a number in a reason (``str`` of an int or a float)."""
    from pyspark.sql import functions as F

    if col.kind == "int":
        return value.cast("long").cast("string")
    return F.concat(F.lit("\x00F"), value.cast("string"), F.lit("\x01"))


def _column_reason(c: str, col: Column):
    """The default engine's reason for cell ``c`` (the last check that fails wins), or null."""
    from pyspark.sql import functions as F

    v, bad = F.col(c), F.col(f"{c}__bad")
    reason = F.when(bad.isNotNull(), bad)
    if not col.nullable:
        reason = F.when(v.isNull() & bad.isNull(), F.lit("is empty")).otherwise(reason)
    if col.choices is not None and col.kind == "list":
        allowed = F.array(*[F.lit(x) for x in col.choices])
        unknown = F.exists(v, lambda x: ~F.array_contains(allowed, x))
        reason = F.when(v.isNotNull() & unknown, F.lit("lists an unknown rank")).otherwise(reason)
    elif col.choices is not None:
        off = v.isNotNull() & ~v.isin(list(col.choices)) & bad.isNull()
        text = F.concat(F.lit("must be one of " + "/".join(col.choices) + ": got "), v)
        reason = F.when(off, text).otherwise(reason)
    if col.lo is not None or col.hi is not None:
        off = v.isNotNull() & ((v < F.lit(col.lo)) | (v > F.lit(col.hi)))
        text = F.concat(
            F.lit(f"must be between {col.lo:g} and {col.hi:g}: got "), _num_text(col, v)
        )
        reason = F.when(off, text).otherwise(reason)
    return reason


def _problem_rows(df, name: str, t: int, stage: int, sub, column, reason, condition):
    """Problem rows of ``df`` where ``condition`` holds (columns of the problem table)."""
    from pyspark.sql import functions as F

    return df.where(condition).select(
        F.lit(name).alias("table"),
        F.col(ROW).alias("row"),
        (column if not isinstance(column, str) else F.lit(column)).cast("string").alias("column"),
        reason.alias("reason"),
        F.lit(False).alias("fatal"),
        F.lit(t).alias("t"),
        F.lit(stage).alias("stage"),
        (sub if not isinstance(sub, int) else F.lit(sub)).cast("int").alias("sub"),
    )


def check_table(name: str, raw, t: int, fatal: list[Problem]):
    """Coerce and check one table on its own (no foreign keys).

    Returns (clean DataFrame or None when the table is unusable, problem DataFrames).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spec = TABLES[name]
    raw = raw.toDF(*[c.strip() if c != ROW else c for c in raw.columns])
    missing = [c for c, col in spec.columns.items() if c not in raw.columns and not col.optional]
    for c in missing:
        fatal.append(Problem(name, None, c, "required column is missing", fatal=True))
    if missing:
        return None, []
    present = [c for c in spec.columns if c in raw.columns]
    # the parser reads text, numbers, times and lists as they come; decimals arrive as floats
    types = dict(raw.dtypes)
    cast = [
        F.col(c).cast("double").alias(c) if types[c].startswith("decimal") else F.col(c)
        for c in present
    ]
    df = raw.select(F.col(ROW), *cast).mapInPandas(
        _coerce_batches(spec, present), _coerced_schema(spec)
    )
    columns = list(spec.columns)
    reasons = [_column_reason(c, col) for c, col in spec.columns.items()]
    df = df.select(
        ROW,
        *columns,
        *[r.alias(f"{c}__why") for c, r in zip(columns, reasons, strict=True)],
    )
    df = df.withColumn(
        "_keep", F.coalesce(*[F.col(f"{c}__why") for c in columns], F.lit(None)).isNull()
    )
    df = df.cache()
    problems = []
    # one problem per bad cell, column by column (an array of structs, exploded)
    cells = F.array(
        *[
            F.struct(F.lit(j).alias("j"), F.lit(c).alias("c"), F.col(f"{c}__why").alias("r"))
            for j, c in enumerate(columns)
        ]
    )
    exploded = (
        df.where(~F.col("_keep"))
        .select(ROW, F.explode(cells).alias("cell"))
        .where(F.col("cell.r").isNotNull())
    )
    problems.append(
        _problem_rows(
            exploded,
            name,
            t,
            STAGE_COLUMN,
            F.col("cell.j"),
            F.col("cell.c"),
            F.col("cell.r"),
            F.lit(True),
        )
    )
    df = df.select(ROW, *columns, "_keep")
    for j, (early, late) in enumerate(spec.date_order):
        wrong = F.col(late).isNotNull() & F.col(early).isNotNull() & (F.col(late) < F.col(early))
        problems.append(
            _problem_rows(
                df,
                name,
                t,
                STAGE_DATE_ORDER,
                j,
                late,
                F.lit(f"{late} is before {early}"),
                wrong & F.col("_keep"),
            )
        )
        df = df.withColumn("_keep", F.col("_keep") & ~F.coalesce(wrong, F.lit(False)))
    for j, (c, bound) in enumerate(spec.date_not_after):
        wrong = F.col(c).isNotNull() & F.col(bound).isNotNull() & (F.col(c) > F.col(bound))
        wrong = wrong & F.col("_keep")
        problems.append(
            _problem_rows(
                df,
                name,
                t,
                STAGE_NOT_AFTER,
                j,
                c,
                F.lit(f"{c} is after {bound}: emptied, the row is kept"),
                wrong,
            )
        )
        df = df.withColumn(c, F.when(wrong, F.lit(None)).otherwise(F.col(c)))
    for j, (c, bound) in enumerate(spec.not_above):
        wrong = F.col(c).isNotNull() & F.col(bound).isNotNull() & (F.col(c) > F.col(bound))
        wrong = F.coalesce(wrong, F.lit(False)) & F.col("_keep")
        text = F.concat(
            F.lit(f"{c} \x00G"),
            F.col(c).cast("string"),
            F.lit(f"\x01 is above {bound} \x00G"),
            F.col(bound).cast("string"),
            F.lit("\x01"),
        )
        problems.append(_problem_rows(df, name, t, STAGE_NOT_ABOVE, j, c, text, wrong))
        df = df.withColumn("_keep", F.col("_keep") & ~wrong)
    df = df.localCheckpoint()
    if spec.key_conflict:
        key = Window.partitionBy(*spec.key)
        values = F.collect_set(F.col(spec.key_conflict)).over(key)
        valid = df.where("_keep").withColumn("_values", values)
        bad = valid.where(F.size("_values") > 1)
        text = F.concat(
            F.lit("points at two cadres ("), F.array_join(F.array_sort("_values"), ", "), F.lit(")")
        )
        problems.append(
            _problem_rows(bad, name, t, STAGE_CONFLICT, 0, spec.key_conflict, text, F.lit(True))
        )
        df = (
            df.join(bad.select(ROW, F.lit(True).alias("_conflict")), ROW, "left")
            .withColumn("_keep", F.col("_keep") & F.col("_conflict").isNull())
            .drop("_conflict")
        )
    if spec.key:
        order = Window.partitionBy(*spec.key).orderBy(ROW)
        valid = df.where("_keep").withColumn("_n", F.row_number().over(order))
        dup = valid.where(F.col("_n") > 1)
        problems.append(
            _problem_rows(
                dup,
                name,
                t,
                STAGE_DUPLICATE,
                0,
                ",".join(spec.key),
                F.lit("duplicate id"),
                F.lit(True),
            )
        )
        df = (
            df.join(dup.select(ROW, F.lit(True).alias("_dup")), ROW, "left")
            .withColumn("_keep", F.col("_keep") & F.col("_dup").isNull())
            .drop("_dup")
        )
    if spec.exact_duplicates:
        same = Window.partitionBy(*columns)
        valid = df.where("_keep").withColumn("_first", F.min(ROW).over(same))
        dup = valid.where(F.col(ROW) > F.col("_first"))
        text = F.concat(F.lit("exact duplicate of row "), F.col("_first").cast("string"))
        problems.append(_problem_rows(dup, name, t, STAGE_EXACT, 0, F.lit(None), text, F.lit(True)))
        df = (
            df.join(dup.select(ROW, F.lit(True).alias("_dup")), ROW, "left")
            .withColumn("_keep", F.col("_keep") & F.col("_dup").isNull())
            .drop("_dup")
        )
    clean = df.where("_keep").select(ROW, *columns)
    return clean, problems


def _alias_lookup(aliases):
    """``source_id → cadre_id`` (null: the id points at two cadres), as a Spark DataFrame."""
    from pyspark.sql import functions as F

    return aliases.groupBy("source_id").agg(
        F.when(F.countDistinct("cadre_id") == 1, F.first("cadre_id")).alias("_alias_to")
    )


def check_foreign(df, name: str, t: int, j: int, column: str, parent: str, known, aliases):
    """Map aliases, report rows whose ``column`` names no row of ``parent``; return (df, problems).

    ``known`` holds the parent's ids (one column ``_id``); ``aliases`` the alias lookup or None.
    """
    from pyspark.sql import functions as F

    problems = []
    marked = df.join(known.withColumn("_known", F.lit(True)), df[column] == known["_id"], "left")
    marked = marked.drop("_id")
    if aliases is not None:
        foreign = F.col(column).isNotNull() & F.col("_known").isNull()
        marked = marked.join(aliases, marked[column] == aliases["source_id"], "left").drop(
            "source_id"
        )
        is_alias = foreign & F.col("_alias_present")
        ambiguous = is_alias & F.col("_alias_to").isNull()
        text = F.concat(
            F.lit("alias \x00R"), F.col(column), F.lit("\x01 belongs to more than one cadre")
        )
        problems.append(
            _problem_rows(marked, name, t, STAGE_FOREIGN, 2 * j, column, text, ambiguous)
        )
        marked = marked.where(~F.coalesce(ambiguous, F.lit(False)))
        mapped = F.coalesce(is_alias, F.lit(False))
        marked = marked.withColumn(
            "_known", F.when(mapped, F.lit(True)).otherwise(F.col("_known"))
        ).withColumn(column, F.when(mapped, F.col("_alias_to")).otherwise(F.col(column)))
        marked = marked.drop("_alias_to", "_alias_present")
    orphan = F.col(column).isNotNull() & F.col("_known").isNull()
    text = F.concat(F.lit(f"unknown {parent} id \x00R"), F.col(column), F.lit("\x01"))
    problems.append(_problem_rows(marked, name, t, STAGE_FOREIGN, 2 * j + 1, column, text, orphan))
    return marked.where(~orphan).drop("_known"), problems


def _finish_reasons(problems):
    """Fill the placeholders of the reasons in Python (only on problem rows)."""
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def finish(reasons: pd.Series) -> pd.Series:
        return reasons.map(_finish_one)

    return problems.withColumn(
        "reason",
        F.when(F.col("reason").contains("\x00"), finish("reason")).otherwise(F.col("reason")),
    )


def _finish_one(text: str | None) -> str | None:
    if text is None:
        return None

    def fill(m: re.Match) -> str:
        kind, value = m.group(1), m.group(2)
        if kind == "R":
            return repr(value)
        number = float(value)
        return str(number) if kind == "F" else format(number, "g")

    return _MARK.sub(fill, text)


def validate_spark(spark, raw: dict) -> SparkValidation:
    """Validate raw Spark tables (each with ``_row``) against the contract.

    Tables are checked in contract order (parents first), so a child row pointing at a parent
    row that was itself set aside is an unknown id, as in the default engine. Clean tables are
    cached; their row counts are the only values collected.
    """
    from pyspark.sql import functions as F

    fatal: list[Problem] = []
    problems = []
    clean: dict = {}
    rows_read: dict[str, int] = {}
    aliases = None
    for t, (name, spec) in enumerate(TABLES.items()):
        if name not in raw:
            if spec.required:
                fatal.append(Problem(name, None, None, "required table is missing", fatal=True))
            else:
                clean[name] = empty_frame(spark, name)
            continue
        df, found = check_table(name, raw[name], t, fatal)
        problems += found
        if df is None:
            continue
        for j, (c, parent) in enumerate(spec.foreign):
            if parent not in clean:
                continue
            known = clean[parent].select(F.col(PARENT_KEY[parent]).alias("_id")).distinct()
            use = aliases if parent == "cadres" and name != "cadre_aliases" else None
            df, found = check_foreign(df, name, t, j, c, parent, known, use)
            problems += found
        df = df.cache()
        n_rows = df.count()
        n_raw = raw[name].count()
        rows_read[name] = n_raw
        if n_rows == 0 and (spec.must_have_rows or (spec.required and n_raw > 0)):
            fatal.append(Problem(name, None, None, "no usable rows", fatal=True))
        clean[name] = df
        if name == "cadre_aliases" and n_rows:
            aliases = _alias_lookup(df).withColumn("_alias_present", F.lit(True)).cache()
    table_problems = _problems_frame(spark, fatal)
    union = table_problems
    for p in problems:
        union = union.unionByName(p)
    return SparkValidation(clean, _finish_reasons(union), fatal, rows_read)


def _problems_frame(spark, problems: list[Problem]):
    """Driver-side (table-level) problems as rows of the problem table."""
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("table", T.StringType()),
            T.StructField("row", T.LongType()),
            T.StructField("column", T.StringType()),
            T.StructField("reason", T.StringType()),
            T.StructField("fatal", T.BooleanType()),
            T.StructField("t", T.IntegerType()),
            T.StructField("stage", T.IntegerType()),
            T.StructField("sub", T.IntegerType()),
        ]
    )
    order = {name: t for t, name in enumerate(TABLES)}
    rows = []
    for p in problems:
        spec = TABLES[p.table]
        if p.reason == "no usable rows":
            stage, sub = STAGE_EMPTY, 0
        else:
            stage = -1
            sub = list(spec.columns).index(p.column) if p.column in spec.columns else -1
        rows.append((p.table, p.row, p.column, p.reason, p.fatal, order[p.table], stage, sub))
    return spark.createDataFrame(rows, schema)


def empty_frame(spark, name: str):
    """An empty Spark DataFrame with the columns and types of table ``name`` (and ``_row``)."""
    from pyspark.sql import types as T

    spec = TABLES[name]
    fields = [T.StructField(ROW, T.LongType())] + [
        T.StructField(c, _spark_type(col), True) for c, col in spec.columns.items()
    ]
    return spark.createDataFrame([], T.StructType(fields))


def read_problems(path: str) -> pd.DataFrame:
    """The problem table written by :meth:`SparkValidation.write_problems`, in report order."""
    frame = pd.read_parquet(path)
    frame["row"] = frame["row"].astype("Int64")
    return frame[PROBLEM_COLUMNS]
