"""The model store: holds the live predictor and swaps it atomically after validation."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ganxun.features.events import Event
from ganxun.serving.predictor import Predictor
from ganxun.serving.settings import Settings
from ganxun.training.bundle import BundleError, load_bundle, newest_bundle

log = logging.getLogger(__name__)


class ModelStore:
    """The bundle being served. Readers take :attr:`current`; :meth:`load` swaps it whole.

    With ``precompute`` (the service's default, ``GANXUN_PRECOMPUTE_LISTS``), every cadre's
    default recommendation list is computed in a background thread once a bundle is live
    (:meth:`Predictor.materialize`); requests answer from the model until their list is ready.
    """

    def __init__(
        self, replay: Callable[[Predictor], None] | None = None, precompute: bool = False
    ) -> None:
        self._current: Predictor | None = None
        self._lock = threading.Lock()
        self._replay = replay
        self._precompute = precompute

    @property
    def precompute(self) -> bool:
        """Whether a bundle's missing default lists are computed in the background."""
        return self._precompute

    @property
    def current(self) -> Predictor | None:
        """The live predictor, or None before a bundle is loaded."""
        return self._current

    def load(self, folder: str | Path, source: dict | None = None) -> Predictor:
        """Load and validate ``folder``; on success make it live. Raises BundleError otherwise.

        ``source`` says where the bundle came from (a registry URI and version), for /v1/model.
        """
        fitted, manifest = load_bundle(folder)
        predictor = Predictor(fitted, manifest)
        predictor.source = dict(source or {})
        _smoke_test(predictor)
        with self._lock:
            if self._replay is not None:  # events after the bundle's cut-off, under the lock so
                self._replay(predictor)  # none arriving meanwhile is missed
            self._current = predictor
        log.info("serving bundle %s", predictor.version)
        if self._precompute and predictor.lists.ready.all():  # the bundle brought every list
            _freeze_live_objects()
            log.info("default recommendation lists came with bundle %s", predictor.version)
        elif self._precompute:
            threading.Thread(
                target=self._materialize, args=(predictor,), name="precompute", daemon=True
            ).start()
        return predictor

    def _materialize(self, predictor: Predictor) -> None:
        """Compute the default recommendation lists of ``predictor`` while it is live.

        Then :func:`_freeze_live_objects`.
        """
        start = time.perf_counter()
        try:
            n = predictor.materialize(stop=lambda: self._current is not predictor)
        except Exception:  # the live path still answers; the lists are only a shortcut
            log.exception("precomputing recommendation lists failed")
            return
        _freeze_live_objects()
        log.info(
            "precomputed default recommendation lists: %d cadres in %.1f s, %d came with the "
            "bundle (bundle %s)",
            n,
            time.perf_counter() - start,
            int(predictor.lists.ready.sum()) - n,
            predictor.version,
        )

    def apply(self, event: Event) -> None:
        """Apply a stored event to the live predictor's online overlay."""
        with self._lock:
            if self._current is not None:
                self._current.online.apply(event)

    def load_newest(self, artifacts: str | Path) -> Predictor:
        """Load the newest bundle under ``artifacts`` (with its registered version, if any)."""
        folder = newest_bundle(artifacts)
        if folder is None:
            raise BundleError(f"no bundle under {Path(artifacts) / 'bundles'}")
        return self.load(folder, registered_source(folder, artifacts))

    def load_registered(self, uri: str, artifacts: str | Path) -> Predictor:
        """Load the version a ``models:/`` URI points at now (an alias is re-resolved each time)."""
        from ganxun.training.registry import RegistryError, fetch_bundle

        try:
            folder, version = fetch_bundle(uri, artifacts)
        except RegistryError as err:
            raise BundleError(str(err)) from err
        return self.load(folder, {"model_uri": uri, "registered_version": version.version})

    def load_configured(self, settings: Settings) -> Predictor:
        """Load what the settings name: a registry URI, a bundle folder, or the newest bundle."""
        if settings.model:
            return self.load_registered(settings.model, settings.artifacts)
        if settings.bundle is not None:
            return self.load(
                settings.bundle, registered_source(settings.bundle, settings.artifacts)
            )
        return self.load_newest(settings.artifacts)


def registered_source(folder: str | Path, artifacts: str | Path) -> dict:
    """``model_uri`` and ``registered_version`` of the registered version holding ``folder``.

    Each ``ganxun train`` registers its bundle, so a bundle served from the artifacts folder
    (not through ``--model``) still reports the version ``ganxun train`` printed; empty when the
    bundle was never registered.
    """
    from ganxun.training.registry import version_of_bundle

    mv = version_of_bundle(artifacts, Path(folder).name)
    if mv is None:
        return {}
    return {"model_uri": f"models:/{mv.name}/{mv.version}", "registered_version": mv.version}


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


def _freeze_live_objects() -> None:
    """Freeze the objects alive now (the bundle) out of the cyclic garbage collector.

    A full collection over a city bundle's objects takes ~0.3 s, a stall every request in flight
    would wait for. The previous bundle's objects are unfrozen first so that they can go.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
