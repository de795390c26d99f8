"""A cadre's records as compact per-cadre arrays: what a training dossier (培训电子档案) reads.

The service answers a dossier from the bundle alone, so the bundle keeps each cadre's raw rows —
enrolments, class exam results, posts — but not as whole tables of Python objects: as columns of
small integer and float arrays sorted by cadre, with one offset array (:class:`CadreRows`, the
CSR layout), so a city of 1.7 M enrolments costs a few tens of megabytes and a cadre's rows are a
slice. Ids become indices into the catalogue's vocabularies (courses) or into the small class
table kept beside them; dates become day numbers.

Pure functions of the validated raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganxun.features.contracts import CATEGORIES, HOUR_KINDS, RANKS
from ganxun.features.vocab import Vocabulary

#: Enrolment sources in code order (int8 codes of :func:`enrollment_rows`) and their words.
SOURCES: tuple[str, ...] = ("rollcall", "self", "mandatory")
SOURCE_WORDS: dict[str, str] = {"rollcall": "调训", "self": "自选", "mandatory": "必修"}
#: Day number standing for "no date" (NaT) in the int32 date columns.
NO_DAY = np.iinfo(np.int32).min
_EPOCH = np.datetime64("1970-01-01", "D")


def to_days(dates: pd.Series) -> np.ndarray:
    """Dates as int32 day numbers since 1970-01-01 (:data:`NO_DAY` for a missing date)."""
    values = pd.to_datetime(dates).to_numpy("datetime64[D]")
    out = (values - _EPOCH).astype("timedelta64[D]").astype(np.int64)
    out[pd.isna(values)] = NO_DAY
    return out.astype(np.int32)


def from_days(days: np.ndarray) -> list[pd.Timestamp | None]:
    """Day numbers back to dates (None for :data:`NO_DAY`)."""
    return [
        None if d == NO_DAY else pd.Timestamp(_EPOCH + np.timedelta64(int(d), "D")) for d in days
    ]


@dataclass
class CadreRows:
    """Rows of one kind for every cadre, sorted by cadre.

    Cadre ``i``'s rows are ``columns[name][ptr[i]:ptr[i + 1]]``.
    """

    ptr: np.ndarray
    columns: dict[str, np.ndarray]

    @classmethod
    def build(cls, cadre_index: np.ndarray, n_cadres: int, columns: dict[str, np.ndarray]):
        """Group ``columns`` by ``cadre_index`` (rows with ``-1`` are dropped), keeping order."""
        cadre_index = np.asarray(cadre_index, dtype=np.int64)
        keep = cadre_index >= 0
        order = np.flatnonzero(keep)[np.argsort(cadre_index[keep], kind="stable")]
        counts = np.bincount(cadre_index[keep], minlength=n_cadres)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(ptr, {k: np.asarray(v)[order] for k, v in columns.items()})

    def of(self, i: int) -> dict[str, np.ndarray]:
        """Cadre ``i``'s rows, column by column."""
        lo, hi = int(self.ptr[i]), int(self.ptr[i + 1])
        return {k: v[lo:hi] for k, v in self.columns.items()}

    def count(self, i: int) -> int:
        """How many rows cadre ``i`` has."""
        return int(self.ptr[i + 1] - self.ptr[i])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.ptr.nbytes + sum(v.nbytes for v in self.columns.values()))


def hour_kind_bits(kinds: pd.DataFrame) -> np.ndarray:
    """:func:`~ganxun.features.obligations.hour_kinds` as bits per row (bit j: HOUR_KINDS[j])."""
    bits = np.zeros(len(kinds), np.int8)
    for j, k in enumerate(HOUR_KINDS):
        bits |= kinds[k].to_numpy(bool).astype(np.int8) << j
    return bits


def enrollment_rows(
    tables: dict[str, pd.DataFrame],
    cadres: Vocabulary,
    courses: Vocabulary,
    classes: Vocabulary,
    asof,
) -> CadreRows:
    """Every enrolment before ``asof``: course, class, source, dates, progress, hours, hour kinds.

    Columns: ``course`` (int32 index into ``courses``), ``klass`` (int32 index into ``classes``,
    -1 outside a class), ``source`` (int8 code of :data:`SOURCES`), ``enrolled_on`` and
    ``completed_on`` (int32 days, :data:`NO_DAY` when not completed), ``progress`` and ``hours``
    (float32), ``kinds`` (int8 bits of what the hours count toward, :func:`hour_kind_bits`).
    """
    from ganxun.features.obligations import hour_kinds

    e = tables["enrollments"]
    e = e[e["enrolled_on"] < pd.Timestamp(asof)]
    ci = cadres.index(e["cadre_id"])
    ki = courses.index(e["course_id"])
    ok = (ci >= 0) & (ki >= 0)
    e, ci, ki = e[ok], ci[ok], ki[ok]
    klass = np.where(e["class_id"].notna(), classes.index(e["class_id"].fillna("")), -1)
    order = np.argsort(to_days(e["enrolled_on"]), kind="stable")
    e = e.iloc[order]
    return CadreRows.build(
        ci[order],
        len(cadres),
        {
            "course": ki[order].astype(np.int32),
            "klass": klass[order].astype(np.int32),
            "source": pd.Index(SOURCES).get_indexer(e["source"]).astype(np.int8),
            "enrolled_on": to_days(e["enrolled_on"]),
            "completed_on": to_days(e["completed_on"]),
            "progress": e["progress"].to_numpy(np.float32),
            "hours": e["hours"].astype(float).fillna(0.0).to_numpy(np.float32),
            "kinds": hour_kind_bits(hour_kinds(tables, e)),
        },
    )


def exam_rows(gains: pd.DataFrame, cadres: Vocabulary, classes: Vocabulary, asof) -> CadreRows:
    """Each cadre's class exams with a pre and a post measure (:func:`prepost_gains` rows).

    Columns: ``klass`` (int32), ``pre``, ``post`` (float32 shares correct), ``n_pre``,
    ``n_post`` (float32 answers behind each), for classes that ended before ``asof``.
    """
    g = gains[pd.to_datetime(gains["end_on"]) < pd.Timestamp(asof)] if len(gains) else gains
    g = g.sort_values("start_on", kind="stable") if len(g) else g
    return CadreRows.build(
        cadres.index(g["cadre_id"]) if len(g) else np.zeros(0, np.int64),
        len(cadres),
        {
            "klass": classes.index(g["class_id"]).astype(np.int32)
            if len(g)
            else np.zeros(0, np.int32),
            "pre": g["pre"].to_numpy(np.float32),
            "post": g["post"].to_numpy(np.float32),
            "n_pre": g["n_pre"].to_numpy(np.float32),
            "n_post": g["n_post"].to_numpy(np.float32),
        },
    )


def post_rows(
    tables: dict[str, pd.DataFrame], cadres: Vocabulary, units: Vocabulary, asof
) -> CadreRows:
    """Posts each cadre held: ``cadre_posts`` started before ``asof``, else the ``cadres`` row.

    Columns: ``unit`` (int32 index into ``units``), ``rank`` and ``category`` (int8 codes of
    ``RANKS`` / ``CATEGORIES``), ``from_on`` and ``to_on`` (int32 days; :data:`NO_DAY` when
    open, or for a ``cadres`` row without ``appointed_on``), oldest first. A cadre the post
    history does not mention gets their ``cadres`` row.
    """
    asof = pd.Timestamp(asof)
    cad = tables["cadres"]
    posts = tables.get("cadre_posts")
    frames = []
    mentioned: set = set()
    if posts is not None and len(posts):
        p = posts[posts["from_on"] < asof].copy()
        p.loc[p["to_on"] >= asof, "to_on"] = pd.NaT
        frames.append(p[["cadre_id", "unit_id", "rank", "category", "from_on", "to_on"]])
        mentioned = set(posts["cadre_id"])
    rest = cad[~cad["cadre_id"].isin(mentioned)]
    appointed = rest["appointed_on"] if "appointed_on" in rest else pd.Series(pd.NaT, rest.index)
    frames.append(
        pd.DataFrame(
            {
                "cadre_id": rest["cadre_id"],
                "unit_id": rest["unit_id"],
                "rank": rest["rank"],
                "category": rest["category"],
                "from_on": pd.to_datetime(appointed),
                "to_on": pd.NaT,
            }
        )
    )
    p = pd.concat(frames, ignore_index=True).sort_values(["from_on"], kind="stable")
    return CadreRows.build(
        cadres.index(p["cadre_id"]),
        len(cadres),
        {
            "unit": units.index(p["unit_id"]).astype(np.int32),
            "rank": pd.Index(RANKS).get_indexer(p["rank"]).astype(np.int8),
            "category": pd.Index(CATEGORIES).get_indexer(p["category"]).astype(np.int8),
            "from_on": to_days(p["from_on"]),
            "to_on": to_days(p["to_on"]),
        },
    )


def class_table(tables: dict[str, pd.DataFrame], asof) -> pd.DataFrame:
    """One row per class: name, kind, dates, institution and the ratings it received by ``asof``.

    Columns: class_id, name, kind, start_on, end_on, institution_id, target_ranks, rating (mean
    course score of the ratings given in the class), n_ratings, staff_rating (mean score of its
    班主任), n_staff_ratings. Small (hundreds to thousands of rows): kept as a frame.
    """
    asof = pd.Timestamp(asof)
    cl = tables["classes"].reset_index(drop=True)
    cols = ["class_id", "name", "kind", "start_on", "end_on", "institution_id", "target_ranks"]
    out = cl[[c for c in cols if c in cl]].copy()
    cr = tables["course_ratings"]
    cr = cr[cr["class_id"].notna() & (cr["rated_on"] < asof)]
    g = cr.groupby("class_id")["course_score"]
    out["rating"] = out["class_id"].map(g.mean()).astype(float)
    out["n_ratings"] = out["class_id"].map(g.size()).fillna(0).astype(np.int32)
    sr = tables["staff_ratings"]
    sr = sr[sr["rated_on"] < asof]
    g = sr.groupby("class_id")["score"]
    out["staff_rating"] = out["class_id"].map(g.mean()).astype(float)
    out["n_staff_ratings"] = out["class_id"].map(g.size()).fillna(0).astype(np.int32)
    return out


def year_ends(first, asof) -> list[pd.Timestamp]:
    """The cut-off of each calendar year from ``first``'s year to the cut-off ``asof``.

    1 January of the next year for a year that is over, ``asof`` itself for the year not yet
    over (each cut-off counts the events before it).
    """
    first, asof = pd.Timestamp(first), pd.Timestamp(asof)
    last = (asof - pd.Timedelta(days=1)).year
    return [
        min(pd.Timestamp(year=y + 1, month=1, day=1), asof) for y in range(first.year, last + 1)
    ]
