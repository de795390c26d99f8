"""Changes since the bundle was trained, applied per event without retraining.

A completion makes the course disappear from the cadre's recommendations at once and adds its
hours to the cadre's exposure; an exam answer updates the cadre's reserve on the item's topics.
The overlay belongs to one predictor: on reload a new overlay replays the stored events that
happened after the new bundle's cut-off, and the next retrain absorbs them all.
"""

from __future__ import annotations

import threading

import numpy as np

from features.events import CompletionEvent, Event, ResponseEvent
from training.fitting import Fitted


class OnlineOverlay:
    """Per-cadre state changed by events: extra taken courses and updated reserve rows."""

    def __init__(self, fitted: Fitted):
        self.fitted = fitted
        self.taken: dict[int, set[int]] = {}
        self.rows: dict[int, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _row(self, idx: int) -> dict[str, np.ndarray]:
        if idx not in self.rows:
            k = self.fitted.knowledge
            self.rows[idx] = {
                "hours": k.hours[idx].astype(float),
                "correct": k.correct[idx].astype(float),
                "total": k.total[idx].astype(float),
            }
        return self.rows[idx]

    def _refresh(self, idx: int) -> None:
        row, model = self.rows[idx], self.fitted.knowledge.model
        row["reserve"] = model.predict(
            row["hours"][None], row["correct"][None], row["total"][None]
        )[0]
        row["confidence"] = model.confidence(row["total"][None])[0]

    def apply(self, event: Event) -> bool:
        """Apply one stored event; False when it names a cadre, course or item the bundle lacks."""
        cat = self.fitted.catalog
        idx = cat.cadres.one(event.cadre_id)
        if idx < 0:
            return False
        with self._lock:
            if isinstance(event, CompletionEvent):
                course = cat.courses.one(event.course_id)
                if course < 0:
                    return False
                self.taken.setdefault(idx, set()).add(course)
                row = self._row(idx)
                row["hours"] = row["hours"] + event.hours * event.progress * (
                    cat.course_topics[course].toarray().ravel()
                )
            elif isinstance(event, ResponseEvent):
                item = cat.items.one(event.item_id)
                if item < 0:
                    return False
                topics = cat.item_topics[item].toarray().ravel()
                row = self._row(idx)
                row["total"] = row["total"] + topics
                row["correct"] = row["correct"] + topics * event.correct
            else:
                return False  # ratings change quality estimates at the next retrain
            self._refresh(idx)
            return True

    def reserve(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Current reserve and confidence rows of one cadre."""
        row = self.rows.get(idx)
        if row is not None and "reserve" in row:
            return row["reserve"], row["confidence"]
        k = self.fitted.knowledge
        return k.reserve[idx], k.confidence[idx]

    def taken_courses(self, idx: int) -> set[int]:
        """Courses taken since the bundle's cut-off."""
        return self.taken.get(idx, set())
