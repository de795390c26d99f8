"""One bundle's class-life services (needs, design, evaluation, equity), built once per bundle."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from fastapi import HTTPException

from ganxun.serving.class_design import Designer
from ganxun.serving.class_needs import Cohorts
from ganxun.serving.class_views import ClassViews

_lock = threading.Lock()


@dataclass
class ClassLife:
    """The cohorts, the designer and the evaluation/equity views of one loaded bundle."""

    cohorts: Cohorts
    designer: Designer
    views: ClassViews


def class_life(predictor) -> ClassLife:
    """The services of ``predictor``'s bundle, built on first use and kept on the predictor.

    503 when the bundle was trained without planning models.
    """
    found = getattr(predictor, "class_life", None)
    if found is not None:
        return found
    with _lock:
        found = getattr(predictor, "class_life", None)
        if found is None:
            if predictor.fitted.planning is None:
                raise HTTPException(status_code=503, detail="this bundle has no planning models")
            cohorts = Cohorts(predictor.fitted)
            found = ClassLife(
                cohorts, Designer(predictor.fitted, cohorts), ClassViews(predictor.fitted, cohorts)
            )
            predictor.class_life = found
    return found
