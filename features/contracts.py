"""The raw-table data contract: table names, columns, dtypes, codes and validation.

Every source (a folder of CSV/Parquet/Excel files, or a SQL database) provides the tables below
under these names. :func:`validate` coerces each table to its dtypes and checks ranges, choices,
primary keys, foreign keys and date order. Every bad row is reported as a :class:`Problem` naming
table, row, column and reason, and set aside; valid rows are kept (a bad date in an *optional*
column, ``classes.published_on``, is reported and emptied instead: the row stays). A missing table
or column, or a required table left with no usable rows, is *fatal*: :func:`validate` still
returns, and :meth:`ValidationReport.raise_if_fatal` turns it into one clear :class:`ContractError`.

This module is the one place where column names and codes are spelled; import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

SCHEMA_VERSION = "2"

# --- codes ---------------------------------------------------------------------------------------

#: Topic catalogue: topic_id -> (name_zh, name_en).
TOPICS: dict[str, tuple[str, str]] = {
    "TP01": ("理想信念", "Ideals and convictions"),
    "TP02": ("党性修养", "Party spirit"),
    "TP03": ("法治素养", "Rule of law"),
    "TP04": ("经济发展", "Economic development"),
    "TP05": ("科技创新", "Science and innovation"),
    "TP06": ("数字治理", "Digital governance"),
    "TP07": ("乡村振兴", "Rural revitalisation"),
    "TP08": ("生态文明", "Ecological civilisation"),
    "TP09": ("应急管理", "Emergency management"),
    "TP10": ("基层治理", "Grassroots governance"),
    "TP11": ("文化建设", "Cultural development"),
    "TP12": ("领导能力", "Leadership"),
}
RANKS: tuple[str, ...] = ("科员", "副科", "正科", "副处", "正处", "副厅")
CATEGORIES: tuple[str, ...] = ("综合管理", "经济管理", "政法", "社会事业", "城建环保", "党务群团")
UNIT_LEVELS: tuple[str, ...] = ("市级部门", "区县", "乡镇街道")
MODES: tuple[str, ...] = ("面授", "网络", "移动", "混合")
CLASS_KINDS: tuple[str, ...] = ("rollcall", "elective", "online")
#: Why a cadre took a course: called by the organisation department, chose it, or it is compulsory
#: (必修: the yearly mandatory package and the like — never a choice, so never a taste).
ENROLL_SOURCES: tuple[str, ...] = ("rollcall", "self", "mandatory")
#: What an exam answer was for: before or after a class, a final exam, or a self-test.
RESPONSE_PHASES: tuple[str, ...] = ("pre", "post", "final", "self")
#: How training hours count toward the hour rules (学时): 脱产 (full-time, off the job, in a
#: class), 集中 (any centralised class training) and 网络 (online learning).
HOUR_KINDS: tuple[str, ...] = ("脱产", "集中", "网络")
GENDERS: tuple[str, ...] = ("男", "女")
EDUCATIONS: tuple[str, ...] = ("大专", "本科", "硕士", "博士")
INSTITUTION_KINDS: tuple[str, ...] = ("党校", "行政学院", "高校", "干部学院", "网络学院")
TEACHER_TITLES: tuple[str, ...] = ("讲师", "副教授", "教授", "特聘专家")

#: A class without a publication date (``classes.published_on`` absent or empty) is taken as
#: announced this many days before it starts: the shortest usual notice of an ad-hoc class, so the
#: calendar "known" at a cut-off never holds a class earlier than it plausibly was (classes of the
#: annual training plan were in fact known months ahead; this errs on the side of knowing less).
CLASS_NOTICE_DAYS = 14

#: Separator used for list-valued cells (``classes.target_ranks``) in flat files and SQL.
LIST_SEP = "|"


# --- table specifications ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a raw table: its kind, whether it may be empty, and its allowed values."""

    kind: str  # id | str | int | float | date | list | bool
    nullable: bool = False
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False  # a source may lack the column: it is then added, empty (nullable)


@dataclass(frozen=True)
class Table:
    """A raw table: columns in order, primary key, foreign keys and date-order rules."""

    name: str
    columns: dict[str, Column]
    key: tuple[str, ...] = ()
    foreign: tuple[tuple[str, str], ...] = ()  # (column, parent table); parent key is its id
    date_order: tuple[tuple[str, str], ...] = ()  # (earlier, later); later may be empty
    #: (column, bound): a ``column`` date after ``bound`` is reported and emptied, the row kept
    #: (for optional columns that the rest of the row does not depend on).
    date_not_after: tuple[tuple[str, str], ...] = ()
    #: (column, bound column): a row whose ``column`` exceeds its ``bound column`` is set aside.
    not_above: tuple[tuple[str, str], ...] = ()
    #: a row equal in every column to an earlier valid row is reported and set aside (event tables
    #: without a natural key, where a double export would otherwise count twice)
    exact_duplicates: bool = False
    #: rows sharing the key but differing in this column contradict each other: all are set aside
    #: (an alias that points at two cadres)
    key_conflict: str | None = None
    required: bool = True
    must_have_rows: bool = False  # training cannot start when this table has no usable rows


ID = Column("id")
ID_OPT = Column("id", nullable=True)
DATE = Column("date")
SCORE = Column("int", lo=1, hi=5)
WEIGHT = Column("float", lo=0.0, hi=1.0)
#: An optional yes/no column (必修): absent or empty means no.
FLAG = Column("bool", nullable=True, optional=True)

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "topics",
            {"topic_id": ID, "name_zh": Column("str"), "name_en": Column("str")},
            key=("topic_id",),
            must_have_rows=True,
        ),
        Table(
            "units",
            {
                "unit_id": ID,
                "name": Column("str"),
                "district": Column("str"),
                "level": Column("str", choices=UNIT_LEVELS),
                "sector": Column("str"),
            },
            key=("unit_id",),
        ),
        Table(
            "cadres",
            {
                "cadre_id": ID,
                "unit_id": ID,
                "rank": Column("str", choices=RANKS),
                "category": Column("str", choices=CATEGORIES),
                "birth_year": Column("int", lo=1940, hi=2010),
                "gender": Column("str", nullable=True, choices=GENDERS),
                "education": Column("str", nullable=True, choices=EDUCATIONS),
                "appointed_on": Column("date", nullable=True),
            },
            key=("cadre_id",),
            foreign=(("unit_id", "units"),),
            must_have_rows=True,
        ),
        Table(
            "cadre_aliases",
            {"source_system": Column("str"), "source_id": Column("str"), "cadre_id": ID},
            key=("source_system", "source_id"),
            foreign=(("cadre_id", "cadres"),),
            key_conflict="cadre_id",
            required=False,
        ),
        Table(
            "cadre_posts",
            {
                "cadre_id": ID,
                "unit_id": ID,
                "rank": Column("str", choices=RANKS),
                "category": Column("str", choices=CATEGORIES),
                "from_on": DATE,
                "to_on": Column("date", nullable=True),
            },
            key=("cadre_id", "from_on"),
            foreign=(("cadre_id", "cadres"), ("unit_id", "units")),
            date_order=(("from_on", "to_on"),),
            required=False,
        ),
        Table(
            "post_requirements",
            {
                "rank": Column("str", choices=RANKS),
                "category": Column("str", choices=CATEGORIES),
                "topic_id": ID,
                "target": WEIGHT,
            },
            key=("rank", "category", "topic_id"),
            foreign=(("topic_id", "topics"),),
        ),
        Table(
            "institutions",
            {
                "institution_id": ID,
                "name": Column("str"),
                "kind": Column("str", choices=INSTITUTION_KINDS),
            },
            key=("institution_id",),
        ),
        Table(
            "teachers",
            {
                "teacher_id": ID,
                "institution_id": ID,
                "title": Column("str", choices=TEACHER_TITLES),
            },
            key=("teacher_id",),
            foreign=(("institution_id", "institutions"),),
        ),
        Table(
            "teacher_topics",
            {"teacher_id": ID, "topic_id": ID, "weight": WEIGHT},
            key=("teacher_id", "topic_id"),
            foreign=(("teacher_id", "teachers"), ("topic_id", "topics")),
        ),
        Table(
            "staff",
            {
                "staff_id": ID,
                "institution_id": ID,
                "background": Column("str"),
                "years": Column("int", lo=0, hi=50),
            },
            key=("staff_id",),
            foreign=(("institution_id", "institutions"),),
        ),
        Table(
            "courses",
            {
                "course_id": ID,
                "title": Column("str"),
                "mode": Column("str", choices=MODES),
                "hours": Column("float", lo=0.1, hi=200.0),
                "level": Column("int", lo=1, hi=3),
                "institution_id": ID,
                "teacher_id": ID_OPT,
                "published_on": DATE,
                "mandatory": FLAG,
            },
            key=("course_id",),
            foreign=(("institution_id", "institutions"), ("teacher_id", "teachers")),
            must_have_rows=True,
        ),
        Table(
            "course_topics",
            {"course_id": ID, "topic_id": ID, "weight": WEIGHT},
            key=("course_id", "topic_id"),
            foreign=(("course_id", "courses"), ("topic_id", "topics")),
            must_have_rows=True,
        ),
        Table(
            "classes",
            {
                "class_id": ID,
                "name": Column("str"),
                "institution_id": ID,
                "kind": Column("str", choices=CLASS_KINDS),
                "start_on": DATE,
                "end_on": DATE,
                "capacity": Column("int", lo=1, hi=10_000),
                "target_ranks": Column("list", choices=RANKS),
                "staff_id": ID_OPT,
                "published_on": Column("date", nullable=True, optional=True),
                "mandatory": FLAG,
            },
            key=("class_id",),
            foreign=(("institution_id", "institutions"), ("staff_id", "staff")),
            date_order=(("start_on", "end_on"),),
            date_not_after=(("published_on", "start_on"),),
        ),
        Table(
            "class_topics",
            {"class_id": ID, "topic_id": ID, "weight": WEIGHT},
            key=("class_id", "topic_id"),
            foreign=(("class_id", "classes"), ("topic_id", "topics")),
        ),
        Table(
            "class_sessions",
            # online sessions have no teacher
            {"class_id": ID, "course_id": ID, "teacher_id": ID_OPT, "session_on": DATE},
            key=("class_id", "course_id"),
            foreign=(("class_id", "classes"), ("course_id", "courses"), ("teacher_id", "teachers")),
        ),
        Table(
            "enrollments",
            {
                "cadre_id": ID,
                "course_id": ID,
                "class_id": ID_OPT,
                "source": Column("str", choices=ENROLL_SOURCES),
                "enrolled_on": DATE,
                "completed_on": Column("date", nullable=True),
                "progress": WEIGHT,
                "hours": Column("float", lo=0.0, hi=500.0),
            },
            key=("cadre_id", "course_id", "enrolled_on"),
            foreign=(("cadre_id", "cadres"), ("course_id", "courses"), ("class_id", "classes")),
            date_order=(("enrolled_on", "completed_on"),),
        ),
        Table(
            "items",
            {"item_id": ID, "topic_id": ID},
            key=("item_id", "topic_id"),
            foreign=(("topic_id", "topics"),),
        ),
        Table(
            "responses",
            {
                "cadre_id": ID,
                "item_id": ID,
                "answered_on": DATE,
                "correct": Column("int", lo=0, hi=1),
                "class_id": ID_OPT,
                "phase": Column("str", nullable=True, choices=RESPONSE_PHASES, optional=True),
            },
            foreign=(("cadre_id", "cadres"), ("item_id", "items"), ("class_id", "classes")),
            exact_duplicates=True,
        ),
        Table(
            "exam_scores",
            {
                "cadre_id": ID,
                "exam_id": ID,
                "class_id": ID_OPT,
                "topic_id": ID_OPT,
                "score": Column("float", lo=0.0, hi=10_000.0),
                "max_score": Column("float", lo=0.01, hi=10_000.0),
                "taken_on": DATE,
                "phase": Column("str", nullable=True, choices=RESPONSE_PHASES, optional=True),
            },
            key=("cadre_id", "exam_id", "topic_id"),
            foreign=(("cadre_id", "cadres"), ("class_id", "classes"), ("topic_id", "topics")),
            not_above=(("score", "max_score"),),
            required=False,
        ),
        Table(
            "course_ratings",
            {
                "cadre_id": ID,
                "course_id": ID,
                "class_id": ID_OPT,
                "teacher_id": ID_OPT,
                "rated_on": DATE,
                "course_score": SCORE,
                "teacher_score": Column("int", nullable=True, lo=1, hi=5),
            },
            foreign=(
                ("cadre_id", "cadres"),
                ("course_id", "courses"),
                ("class_id", "classes"),
                ("teacher_id", "teachers"),
            ),
            exact_duplicates=True,
        ),
        Table(
            "staff_ratings",
            {"cadre_id": ID, "class_id": ID, "staff_id": ID, "rated_on": DATE, "score": SCORE},
            foreign=(("cadre_id", "cadres"), ("class_id", "classes"), ("staff_id", "staff")),
            exact_duplicates=True,
        ),
        Table(
            "training_rules",
            {
                "rule_id": ID,
                "ranks": Column("list", choices=RANKS),
                "period_years": Column("int", lo=1, hi=10),
                "min_hours": Column("float", lo=0.0, hi=5_000.0),
                "kind": Column("str", choices=HOUR_KINDS),
                "after_promotion_months": Column("int", nullable=True, lo=1, hi=60),
                "name": Column("str", nullable=True, optional=True),
            },
            key=("rule_id",),
            required=False,
        ),
    ]
}

#: Tables a source may leave out: each is then taken as present and empty (the models fall back
#: on what the other tables say, e.g. the default hour rules for ``training_rules``).
OPTIONAL_TABLES: tuple[str, ...] = tuple(n for n, t in TABLES.items() if not t.required)

#: Parent table -> its id column (the target of foreign keys).
PARENT_KEY: dict[str, str] = {name: t.key[0] for name, t in TABLES.items() if len(t.key) == 1}
PARENT_KEY["items"] = "item_id"


# --- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One problem found in the raw tables.

    ``row`` is the 1-based data row of the table as it was read (the header is not counted), or
    ``None`` for a problem with the whole table; ``fatal`` problems stop training.
    """

    table: str
    row: int | None
    column: str | None
    reason: str
    fatal: bool = False

    def __str__(self) -> str:
        where = self.table if self.row is None else f"{self.table} row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class ContractError(ValueError):
    """Raised when the raw tables cannot be used at all (missing table/column, no usable rows)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"the raw tables cannot be used:\n{lines}")


@dataclass
class ValidationReport:
    """Clean tables plus every problem found, in table order."""

    tables: dict[str, pd.DataFrame]
    problems: list[Problem] = field(default_factory=list)

    @property
    def fatal(self) -> list[Problem]:
        """The problems that make the tables unusable."""
        return [p for p in self.problems if p.fatal]

    def raise_if_fatal(self) -> None:
        """Raise :class:`ContractError` naming every fatal problem, if there is any."""
        if self.fatal:
            raise ContractError(self.fatal)

    def problems_frame(self) -> pd.DataFrame:
        """The problems as a DataFrame (table, row, column, reason, fatal)."""
        cols = ["table", "row", "column", "reason", "fatal"]
        return pd.DataFrame([[getattr(p, c) for c in cols] for p in self.problems], columns=cols)


def empty_table(name: str) -> pd.DataFrame:
    """An empty DataFrame with the columns and dtypes of table ``name``."""
    return pd.DataFrame(
        {c: pd.Series(dtype=_dtype(col)) for c, col in TABLES[name].columns.items()}
    )


def _dtype(col: Column) -> str:
    return {
        "id": "object",
        "str": "object",
        "int": "Int64",
        "float": "float64",
        "date": "datetime64[ns]",
        "list": "object",
        "bool": "boolean",
    }[col.kind]


def _text(series: pd.Series) -> pd.Series:
    """Stripped text of every cell (vectorised); integral floats lose their ``.0``."""
    if pd.api.types.is_float_dtype(series):
        return series.map(_to_text, na_action="ignore").astype("string")
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").astype("string")
    if series.dtype == object and not series.map(type).isin([str, type(None), float]).all():
        series = series.map(_to_text, na_action="ignore")
    return series.astype("string").str.strip()


def _coerce(series: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Coerce one raw column; return (values, bad) where bad marks cells that failed."""
    if col.kind == "list":
        out = series.astype("object").map(_to_list)
        return out, pd.Series(False, index=series.index)
    if col.kind == "bool":
        if pd.api.types.is_bool_dtype(series):
            return series.astype("boolean"), pd.Series(False, index=series.index)
        text = _text(series).str.lower()
        out = text.map(_BOOL_WORDS).astype("boolean")
        return out, out.isna() & text.notna() & text.ne("")
    if col.kind == "int" and pd.api.types.is_integer_dtype(series):
        return series.astype("Int64"), pd.Series(False, index=series.index)
    if col.kind == "float" and pd.api.types.is_numeric_dtype(series):
        out = series.astype("float64")
        return out, pd.Series(False, index=series.index)
    if col.kind == "date" and pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) is not None else series
        return out.dt.normalize().astype("datetime64[ns]"), pd.Series(False, index=series.index)
    text = _text(series)
    blank = (text.isna() | text.eq("")).to_numpy(bool)
    blank = pd.Series(blank, index=series.index)
    if col.kind in ("id", "str"):
        out = text.astype(object).where(~blank, None)
        return out, pd.Series(False, index=series.index)
    if col.kind == "int":
        num = pd.to_numeric(text.where(~blank), errors="coerce").astype("Float64")
        bad = ((num.isna() & ~blank) | (num.notna() & (num != num.round()))).fillna(False)
        out = num.where(~bad).round().astype("Int64")
        return out, bad.astype(bool)
    if col.kind == "float":
        out = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
        return out, out.isna() & ~blank
    if col.kind == "date":
        cells = text.where(~blank).astype(object)
        out = pd.to_datetime(cells, errors="coerce", format="ISO8601", utc=True)
        retry = out.isna() & ~blank
        if retry.any():  # e.g. 2025/3/7 or 7 Mar 2025: slower, only for the cells that need it
            out[retry] = pd.to_datetime(cells[retry], errors="coerce", format="mixed", utc=True)
        out = out.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
        return out, out.isna() & ~blank
    raise ValueError(f"unknown column kind {col.kind}")  # pragma: no cover - specs are static


def class_published_on(classes: pd.DataFrame) -> pd.Series:
    """When each class was announced: ``published_on``, else ``start_on`` less the default notice.

    A class whose ``published_on`` is absent (the column or the cell) is taken as published
    :data:`CLASS_NOTICE_DAYS` days before its ``start_on``; never later than its start.
    """
    start = pd.to_datetime(classes["start_on"])
    default = start - pd.Timedelta(days=CLASS_NOTICE_DAYS)
    if "published_on" not in classes.columns:
        return default.rename("published_on")
    given = pd.to_datetime(classes["published_on"])
    return given.fillna(default).where(~(given > start), start).rename("published_on")


def _lists_unknown(cell: object, allowed: frozenset) -> bool:
    return cell is not None and any(x not in allowed for x in cell)


_BOOL_WORDS = {
    **dict.fromkeys(("1", "true", "t", "yes", "y", "是", "必修"), True),
    **dict.fromkeys(("0", "false", "f", "no", "n", "否", "选修"), False),
}


def _to_text(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _to_list(v: object) -> object:
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(str(x).strip() for x in v if str(x).strip())
    s = _to_text(v)
    if s is None:
        return None
    s = str(s).strip("[]")
    return tuple(
        x.strip().strip("'\"") for x in s.replace(",", LIST_SEP).split(LIST_SEP) if x.strip()
    )


def _check_table(name: str, raw: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame | None:
    """Coerce and check one table on its own (no foreign keys); None if unusable."""
    spec = TABLES[name]
    raw = raw.reset_index(drop=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c, col in spec.columns.items() if c not in raw.columns and not col.optional]
    for c in missing:
        problems.append(Problem(name, None, c, "required column is missing", fatal=True))
    if missing:
        return None
    keep = pd.Series(True, index=raw.index)
    out = {}
    for c, col in spec.columns.items():
        if c not in raw.columns:  # an optional column the source lacks: empty
            out[c] = pd.Series(None, index=raw.index, dtype=_dtype(col))
            continue
        values, bad = _coerce(raw[c], col)
        reasons = pd.Series(None, index=raw.index, dtype="object")
        reasons[bad] = f"not a valid {col.kind}: " + raw[c][bad].astype(str)
        empty = values.isna() & ~bad
        if not col.nullable:
            reasons[empty] = "is empty"
        if col.choices is not None and col.kind == "list":
            wrong = values.map(partial(_lists_unknown, allowed=frozenset(col.choices)))
            reasons[wrong.astype(bool)] = "lists an unknown rank"
        elif col.choices is not None:
            off = values.notna() & ~values.isin(col.choices) & ~bad
            reasons[off] = (
                "must be one of " + "/".join(col.choices) + ": got " + values[off].astype(str)
            )
        if col.lo is not None or col.hi is not None:
            num = pd.to_numeric(values, errors="coerce")
            off = num.notna() & ((num < col.lo) | (num > col.hi))
            reasons[off] = f"must be between {col.lo:g} and {col.hi:g}: got " + num[off].astype(str)
        for i in reasons.index[reasons.notna()]:
            problems.append(Problem(name, int(i) + 1, c, reasons[i]))
        keep &= reasons.isna()
        out[c] = values
    df = pd.DataFrame(out)
    for early, late in spec.date_order:
        wrong = df[late].notna() & df[early].notna() & (df[late] < df[early])
        for i in df.index[wrong & keep]:
            problems.append(Problem(name, int(i) + 1, late, f"{late} is before {early}"))
        keep &= ~wrong
    for c, bound in spec.date_not_after:
        wrong = df[c].notna() & df[bound].notna() & (df[c] > df[bound]) & keep
        for i in df.index[wrong]:
            problems.append(
                Problem(name, int(i) + 1, c, f"{c} is after {bound}: emptied, the row is kept")
            )
        df.loc[wrong, c] = pd.NaT
    for c, bound in spec.not_above:
        wrong = df[c].notna() & df[bound].notna() & (df[c] > df[bound]) & keep
        for i in df.index[wrong]:
            problems.append(
                Problem(
                    name, int(i) + 1, c, f"{c} {df.at[i, c]:g} is above {bound} {df.at[i, bound]:g}"
                )
            )
        keep &= ~wrong
    if spec.key_conflict:
        keep &= ~_key_conflicts(name, df, keep, spec, problems)
    if spec.key:
        # a later row repeating the key of a valid earlier row is set aside
        dup = df[keep].duplicated(list(spec.key), keep="first").reindex(df.index, fill_value=False)
        for i in df.index[dup]:
            problems.append(Problem(name, int(i) + 1, ",".join(spec.key), "duplicate id"))
        keep &= ~dup
    if spec.exact_duplicates:
        keep &= ~_exact_duplicates(name, df, keep, problems)
    df = df[keep]
    df.index = df.index + 1  # remember the source row number
    return df


def _key_conflicts(name: str, df, keep, spec: Table, problems: list[Problem]) -> pd.Series:
    """Rows whose key is shared by valid rows that disagree on ``spec.key_conflict``."""
    valid = df[keep]
    n_values = valid.groupby(list(spec.key), dropna=False)[spec.key_conflict].transform("nunique")
    bad = (n_values > 1).reindex(df.index, fill_value=False)
    if bad.any():
        seen = valid[bad[keep]].groupby(list(spec.key), dropna=False)[spec.key_conflict]
        values = seen.transform(lambda v: ", ".join(sorted(map(str, v.unique()))))
        for i in df.index[bad]:
            problems.append(
                Problem(name, int(i) + 1, spec.key_conflict, f"points at two cadres ({values[i]})")
            )
    return bad


def _exact_duplicates(name: str, df, keep, problems: list[Problem]) -> pd.Series:
    """Valid rows equal in every column to an earlier valid row (a double export)."""
    valid = df[keep]
    dup = valid.duplicated(keep="first")
    if not dup.any():
        return pd.Series(False, index=df.index)
    first = valid.index.to_series().groupby([valid[c] for c in valid.columns], dropna=False)
    first_row = first.transform("min")
    for i in valid.index[dup.to_numpy()]:
        problems.append(
            Problem(name, int(i) + 1, None, f"exact duplicate of row {int(first_row[i]) + 1}")
        )
    return dup.reindex(df.index, fill_value=False)


def validate(raw: dict[str, pd.DataFrame]) -> ValidationReport:
    """Validate raw tables against the contract.

    Parameters
    ----------
    raw : dict of str to DataFrame
        Tables as read from the source; values may still be strings.

    Returns
    -------
    ValidationReport
        ``tables`` holds every table with its contract dtypes and only the valid rows (the index is
        the 1-based source row); ``problems`` names every row set aside and why.
    """
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    aliases: pd.Series | None = None
    for name, spec in TABLES.items():  # parents come before children in TABLES
        if name not in raw:
            if spec.required:
                problems.append(Problem(name, None, None, "required table is missing", fatal=True))
            else:  # an optional table the source lacks: present and empty
                tables[name] = empty_table(name)
            continue
        df = _check_table(name, raw[name], problems)
        if df is None:
            continue
        for c, parent in spec.foreign:
            if parent not in tables:
                continue
            known = set(tables[parent][PARENT_KEY[parent]])
            if parent == "cadres" and name != "cadre_aliases" and aliases is not None:
                df = _map_aliases(name, df, c, known, aliases, problems)
            orphan = df[c].notna() & ~df[c].isin(known)
            for i in df.index[orphan]:
                problems.append(Problem(name, int(i), c, f"unknown {parent} id {df.at[i, c]!r}"))
            df = df[~orphan]
        if df.empty and (spec.must_have_rows or (spec.required and len(raw[name]) > 0)):
            problems.append(Problem(name, None, None, "no usable rows", fatal=True))
        tables[name] = df
        if name == "cadre_aliases" and len(df):
            aliases = _alias_lookup(df)
    return ValidationReport(tables, problems)


def _alias_lookup(aliases: pd.DataFrame) -> pd.Series:
    """``source_id -> cadre_id`` over every source system (None: two cadres share the id)."""
    by_id = aliases.groupby("source_id")["cadre_id"].agg(
        lambda v: v.iloc[0] if v.nunique() == 1 else None
    )
    return by_id


def _map_aliases(name, df, column, known: set, aliases: pd.Series, problems) -> pd.DataFrame:
    """Replace source-system ids in ``column`` by the cadre ids the alias table gives them.

    Only values that are not already cadre ids are looked up; an ambiguous alias is reported and
    the row set aside.
    """
    values = df[column]
    foreign = values.notna() & ~values.isin(known) & values.isin(aliases.index)
    if not foreign.any():
        return df
    mapped = values[foreign].map(aliases)
    ambiguous = mapped.isna()
    for i in mapped.index[ambiguous]:
        problems.append(
            Problem(name, int(i), column, f"alias {values[i]!r} belongs to more than one cadre")
        )
    df = df.copy()
    df.loc[mapped.index[~ambiguous], column] = mapped[~ambiguous]
    return df.drop(index=mapped.index[ambiguous])
