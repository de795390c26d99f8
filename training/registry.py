"""MLflow model registry: register each bundle, promote a version, resolve ``models:/`` URIs.

Every ``ganxun train`` registers its bundle as a new version of the MLflow model ``ganxun`` (a
pyfunc wrapper, :mod:`ganxun.serving.pyfunc`). With the embedded store (SQLite in the artifacts
folder) the bundle is stored once: the logged model is a few kilobytes whose configuration
names the bundle folder under ``<artifacts>/bundles/``, and the version carries the
``bundle_version`` and ``bundle_path`` tags; nothing is copied into the MLflow artifact store.
With a tracking server (``MLFLOW_TRACKING_URI``), the shared store other machines read, the
bundle is logged as an artifact of the model, as a copy. ``ganxun promote VERSION`` points the
``production`` alias at a version; ``ganxun serve --model models:/ganxun@production`` serves it, and
``POST /v1/admin/reload`` re-resolves the alias, so promote + reload is also the roll-back.
The registry lives in the same store as the runs (SQLite in the artifacts folder by default,
``MLFLOW_TRACKING_URI`` otherwise).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from ganxun.training.tracking import external_uri, tracking_uri, use_store

log = logging.getLogger(__name__)

MODEL_NAME = "ganxun"
PRODUCTION = "production"
_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
_REQUIREMENTS = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "implicit",
    "joblib",
    "mlflow",
)


class RegistryError(RuntimeError):
    """A registry request that cannot be met (unknown version, alias or run; bad URI)."""


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its number, the run that made it and the bundle it holds."""

    name: str
    version: str
    run_id: str
    bundle_version: str
    aliases: tuple[str, ...]
    bundle_path: str = ""  # the bundle folder a version registered without a copy points at


def client(artifacts: str | Path):
    """An MlflowClient on the artifacts folder's store (or ``MLFLOW_TRACKING_URI``)."""
    from mlflow import MlflowClient

    uri = tracking_uri(artifacts)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _pins() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:  # pragma: no cover - all are base requirements
            pins.append(name)
    return pins


def register_bundle(
    bundle: str | Path, run_id: str, artifacts: str | Path, copy: bool | None = None
) -> ModelVersion:
    """Log ``bundle`` as a pyfunc model in run ``run_id`` and register it as a new version.

    ``copy`` (default: only with a tracking server, i.e. a store that is not a local SQLite
    file or folder) logs the bundle's files into the MLflow artifact store; otherwise the model
    only references the bundle folder (stored once).
    """
    import mlflow

    from ganxun.serving.pyfunc import BUNDLE_PATH, GanxunModel, signature

    use_store(artifacts)
    bundle = Path(bundle).resolve()
    if copy is None:
        copy = not tracking_uri(artifacts).startswith(("sqlite:", "file:", "/"))
    where = {"artifacts": {"bundle": str(bundle)}} if copy else {}
    quiet = logging.getLogger("mlflow.pyfunc")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the CloudPickle notice: the wrapper is our own class
    try:
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            # no input example on purpose: MLflow would load the whole bundle to run it
            warnings.filterwarnings("ignore", message=".*input example was not provided")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=GanxunModel(),
                model_config={BUNDLE_PATH: str(bundle)},
                signature=signature(),
                pip_requirements=_pins(),
                registered_model_name=MODEL_NAME,
                **where,
            )
    finally:
        quiet.setLevel(level)
    version = str(info.registered_model_version)
    c = client(artifacts)
    c.set_model_version_tag(MODEL_NAME, version, "bundle_version", bundle.name)
    c.set_model_version_tag(MODEL_NAME, version, "bundle_path", str(bundle))
    log.info("registered bundle %s as %s version %s", bundle.name, MODEL_NAME, version)
    return get_version(artifacts, version)


def get_version(artifacts: str | Path, version: str, name: str = MODEL_NAME) -> ModelVersion:
    """One registered version; RegistryError when it does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client(artifacts).get_model_version(name, str(version))
    except MlflowException as err:
        raise RegistryError(f"model {name!r} has no version {version!r}") from err
    return _as_version(mv)


def _as_version(mv) -> ModelVersion:  # noqa: ANN001 - mlflow's ModelVersion entity
    return ModelVersion(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id or "",
        bundle_version=(mv.tags or {}).get("bundle_version", ""),
        aliases=tuple(mv.aliases or ()),
        bundle_path=(mv.tags or {}).get("bundle_path", ""),
    )


def list_versions(artifacts: str | Path, name: str = MODEL_NAME) -> list[ModelVersion]:
    """Every registered version, newest first (empty before the first training run)."""
    from mlflow.exceptions import MlflowException

    c = client(artifacts)
    try:
        aliases = c.get_registered_model(name).aliases or {}
    except MlflowException:
        return []
    out = []
    for v in c.search_model_versions(f"name = '{name}'"):
        version = _as_version(v)
        tags = tuple(a for a, n in aliases.items() if str(n) == version.version)
        out.append(ModelVersion(**{**version.__dict__, "aliases": tags}))
    return sorted(out, key=lambda v: -int(v.version))


def promote(artifacts: str | Path, version: str, alias: str = PRODUCTION) -> str | None:
    """Point ``alias`` at ``version``; returns the version it pointed at before (or None)."""
    from mlflow.exceptions import MlflowException

    get_version(artifacts, version)  # a clear error for an unknown version
    c = client(artifacts)
    try:
        previous = str(c.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        previous = None
    c.set_registered_model_alias(MODEL_NAME, alias, str(version))
    log.info("%s@%s: %s -> %s", MODEL_NAME, alias, previous, version)
    return previous


def resolve(uri: str, artifacts: str | Path) -> ModelVersion:
    """The version a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI points at now."""
    from mlflow.exceptions import MlflowException

    m = _URI.match(uri)
    if m is None:
        raise RegistryError(f"{uri!r} is not a models:/NAME/VERSION or models:/NAME@ALIAS URI")
    if m["version"]:
        return get_version(artifacts, m["version"], m["name"])
    try:
        mv = client(artifacts).get_model_version_by_alias(m["name"], m["alias"])
    except MlflowException as err:
        raise RegistryError(f"model {m['name']!r} has no alias {m['alias']!r}") from err
    return _as_version(mv)


def version_of_bundle(artifacts: str | Path, bundle_name: str) -> ModelVersion | None:
    """The registered version holding bundle ``bundle_name`` (the newest if several), or None.

    None too when there is no registry to ask: no embedded store in ``artifacts`` and no
    ``MLFLOW_TRACKING_URI``, or a store that cannot be read (the service serves on regardless).
    """
    if external_uri() is None and not (Path(artifacts) / "mlruns.db").is_file():
        return None
    try:
        versions = list_versions(artifacts)
    except Exception as err:  # noqa: BLE001 - an unreadable registry must not stop serving
        log.warning("could not read the model registry: %s", err)
        return None
    return next((v for v in versions if v.bundle_version == bundle_name), None)


def local_bundle(mv: ModelVersion, artifacts: str | Path) -> Path | None:
    """The bundle folder of ``mv`` on this machine, where it was written; None if it is not here.

    ``<artifacts>/bundles/<bundle_version>`` first (the artifacts folder may have moved since),
    then the ``bundle_path`` the version was registered with.
    """
    candidates = [Path(artifacts) / "bundles" / mv.bundle_version] if mv.bundle_version else []
    if mv.bundle_path:
        candidates.append(Path(mv.bundle_path))
    return next((p for p in candidates if (p / "manifest.json").is_file()), None)


def fetch_bundle(uri: str, artifacts: str | Path) -> tuple[Path, ModelVersion]:
    """Resolve ``uri`` and return its bundle folder.

    A version registered without a copy (the embedded store's default) is served from its bundle
    folder in place (:func:`local_bundle`). A version whose model holds the bundle (a tracking
    server, or registered before bundles were stored once) is downloaded once into
    ``<artifacts>/registry/<name>-v<version>/``, under a temporary name renamed when complete, so
    a half-downloaded copy is never used.
    """
    import mlflow

    mv = resolve(uri, artifacts)
    here = local_bundle(mv, artifacts)
    if here is not None:
        return here, mv
    cache = Path(artifacts) / "registry" / f"{mv.name}-v{mv.version}"
    if not (cache / "manifest.json").is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=cache.parent))
        try:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{mv.name}/{mv.version}",
                    dst_path=str(tmp),
                    tracking_uri=tracking_uri(artifacts),
                    registry_uri=tracking_uri(artifacts),
                )
            )
            manifests = sorted(local.rglob("manifest.json"))
            if not manifests:
                where = mv.bundle_path or f"bundles/{mv.bundle_version}"
                raise RegistryError(
                    f"{uri} (version {mv.version}) references bundle folder {where}, which is "
                    "not on this machine"
                )
            shutil.rmtree(cache, ignore_errors=True)
            manifests[0].parent.rename(cache)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return cache, mv


def run_metrics(artifacts: str | Path, ref: str) -> tuple[str, dict[str, float]]:
    """Metrics of a run given its id, or of the run behind a ``models:/`` URI."""
    from mlflow.exceptions import MlflowException

    run_id = resolve(ref, artifacts).run_id if ref.startswith("models:/") else ref
    try:
        run = client(artifacts).get_run(run_id)
    except MlflowException as err:
        raise RegistryError(f"no MLflow run {ref!r}") from err
    return run_id, dict(run.data.metrics)


def compare(artifacts: str | Path, run_a: str, run_b: str) -> pd.DataFrame:
    """Metric table of two runs side by side: ``a``, ``b`` and ``b − a`` per metric."""
    id_a, a = run_metrics(artifacts, run_a)
    id_b, b = run_metrics(artifacts, run_b)
    table = pd.DataFrame({"a": pd.Series(a, dtype=float), "b": pd.Series(b, dtype=float)})
    table["b - a"] = table["b"] - table["a"]
    table.index.name = "metric"
    table.attrs.update(run_a=id_a, run_b=id_b)
    return table.sort_index()
