"""Time split of the raw tables: what was known before a date, and what happened after it."""

from __future__ import annotations

import pandas as pd

from ganxun.features.careers import posts_as_of

#: Event tables and the date column that places each row in time.
EVENT_DATES: dict[str, str] = {
    "enrollments": "enrolled_on",
    "responses": "answered_on",
    "course_ratings": "rated_on",
    "staff_ratings": "rated_on",
    "exam_scores": "taken_on",
}


def latest_event(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The newest event date over every event table."""
    dates = [tables[t][c].max() for t, c in EVENT_DATES.items() if t in tables and len(tables[t])]
    return max(d for d in dates if pd.notna(d))


def default_split_date(tables: dict[str, pd.DataFrame], test_months: int = 6) -> pd.Timestamp:
    """First day of the month ``test_months - 1`` months before the month of the latest event."""
    last = latest_event(tables)
    return (last.to_period("M") - (test_months - 1)).to_timestamp()


def before(tables: dict[str, pd.DataFrame], split: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as they stood just before ``split``: events and courses dated earlier only.

    With a post history, cadres show the post they held then, and cadres hired later are left
    out (:func:`ganxun.features.careers.posts_as_of`).
    """
    out = posts_as_of(dict(tables), split)
    for t, c in EVENT_DATES.items():
        if t in out:
            out[t] = out[t][out[t][c] < split]
    out["courses"] = tables["courses"][tables["courses"]["published_on"] < split]
    return out


def after(tables: dict[str, pd.DataFrame], split: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The event tables restricted to rows dated on or after ``split``."""
    return {t: tables[t][tables[t][c] >= split] for t, c in EVENT_DATES.items() if t in tables}
