"""Changes since the bundle was trained, applied per event without retraining.

A completion makes the course disappear from the cadre's recommendations at once and adds its
hours to the cadre's exposure; an exam answer updates the cadre's reserve on the item's topics.
The overlay belongs to one predictor: on reload a new overlay replays the stored events that
happened after the new bundle's cut-off, and the next retrain absorbs them all. An event is
applied once however often it arrives (its ``event_id``): replicas read each other's events
from the shared store (:func:`ganxun.serving.app.sync_events`) and meet their own there too.
"""

from __future__ import annotations

import threading

import numpy as np

from ganxun.features.events import CompletionEvent, Event, ResponseEvent
from ganxun.training.fitting import Fitted, exposure_weight, shift_exposure


class OnlineOverlay:
    """Per-cadre state changed by events: extra taken courses and updated reserve rows."""

    def __init__(self, fitted: Fitted):
        self.fitted = fitted
        self.taken: dict[int, set[int]] = {}
        self.hours: dict[int, np.ndarray] = {}
        self.changed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.seen: set[str] = set()  # event ids applied (or refused) already
        self._lock = threading.Lock()

    def apply(self, event: Event) -> bool:
        """Apply one stored event; False when it is unknown to the bundle or was applied before.

        False when it names a cadre, course or item the bundle lacks, or when an event with its
        ``event_id`` came before (a completion counted twice would add its hours twice). An
        answer takes one Newton step of the diagnosis model on the item's topics; a completion
        adds its hours to the cadre's exposure and moves the reserve by the model's effect of
        that change of exposure (see :func:`ganxun.training.fitting.shift_exposure`).
        """
        with self._lock:
            if event.event_id in self.seen:
                return False
            self.seen.add(event.event_id)
        cat, k = self.fitted.catalog, self.fitted.knowledge
        idx = cat.cadres.one(event.cadre_id)
        if idx < 0:
            return False
        with self._lock:
            if isinstance(event, CompletionEvent):
                course = cat.courses.one(event.course_id)
                if course < 0:
                    return False
                self.taken.setdefault(idx, set()).add(course)
                old = self.hours.get(idx, k.hours[idx].astype(float))
                weight = float(exposure_weight(k, cat, np.array([course]))[0])
                added = event.hours * event.progress * weight
                new = old + added * cat.course_topics[course].toarray().ravel()
                self.hours[idx] = new
                shift_exposure(k, idx, old, new)
            elif isinstance(event, ResponseEvent):
                item = cat.items.one(event.item_id)
                if item < 0:
                    return False
                k.model.partial_update(idx, item, int(event.correct))
            else:
                return False  # ratings change quality estimates at the next retrain
            self.changed[idx] = (k.model.mastery([idx])[0], k.model.confidence([idx])[0])
            return True

    def reserve(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Current reserve and confidence rows of one cadre."""
        if idx in self.changed:
            return self.changed[idx]
        k = self.fitted.knowledge
        return k.reserve[idx], k.confidence[idx]

    def taken_courses(self, idx: int) -> set[int]:
        """Courses taken since the bundle's cut-off."""
        return self.taken.get(idx, set())
