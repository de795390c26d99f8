"""The model store: holds the live predictor and swaps it atomically after validation."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from serving.predictor import Predictor
from training.bundle import BundleError, load_bundle, newest_bundle

log = logging.getLogger(__name__)


class ModelStore:
    """The bundle being served. Readers take :attr:`current`; :meth:`load` swaps it whole."""

    def __init__(self) -> None:
        self._current: Predictor | None = None
        self._lock = threading.Lock()

    @property
    def current(self) -> Predictor | None:
        """The live predictor, or None before a bundle is loaded."""
        return self._current

    def load(self, folder: str | Path) -> Predictor:
        """Load and validate ``folder``; on success make it live. Raises BundleError otherwise."""
        fitted, manifest = load_bundle(folder)
        predictor = Predictor(fitted, manifest)
        _smoke_test(predictor)
        with self._lock:
            self._current = predictor
        log.info("serving bundle %s", predictor.version)
        return predictor

    def load_newest(self, artifacts: str | Path) -> Predictor:
        """Load the newest bundle under ``artifacts``."""
        folder = newest_bundle(artifacts)
        if folder is None:
            raise BundleError(f"no bundle under {Path(artifacts) / 'bundles'}")
        return self.load(folder)


def _smoke_test(predictor: Predictor) -> None:
    """Answer one knowledge and one recommendation query, so a broken bundle never goes live."""
    ids = predictor.fitted.catalog.cadres.ids_
    if len(ids) == 0:
        raise BundleError("bundle knows no cadres")
    try:
        predictor.knowledge(str(ids[0]))
        predictor.recommend(str(ids[0]), k=3)
    except Exception as err:  # noqa: BLE001 - any failure here means the bundle is unusable
        raise BundleError(f"smoke prediction failed: {type(err).__name__}: {err}") from err
