"""MLflow model registry: register each bundle, promote a version, resolve ``models:/`` URIs.

Every ``ganxun train`` registers its bundle as a new version of the MLflow model ``ganxun`` (a
pyfunc wrapper, :mod:`ganxun.serving.pyfunc`). ``ganxun promote VERSION`` points the ``production``
alias at a version; ``ganxun serve --model models:/ganxun@production`` serves it, and
``POST /v1/admin/reload`` re-resolves the alias, so promote + reload is also the roll-back.
The registry lives in the same store as the runs (SQLite in the artifacts folder by default,
``MLFLOW_TRACKING_URI`` otherwise).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from ganxun.training.tracking import tracking_uri, use_store

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


def register_bundle(bundle: str | Path, run_id: str, artifacts: str | Path) -> ModelVersion:
    """Log ``bundle`` as a pyfunc model in run ``run_id`` and register it as a new version."""
    import mlflow

    from ganxun.serving.pyfunc import GanxunModel, signature

    use_store(artifacts)
    bundle = Path(bundle)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=GanxunModel(),
            artifacts={"bundle": str(bundle)},
            signature=signature(),
            pip_requirements=_pins(),
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    c = client(artifacts)
    c.set_model_version_tag(MODEL_NAME, version, "bundle_version", bundle.name)
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


def fetch_bundle(uri: str, artifacts: str | Path) -> tuple[Path, ModelVersion]:
    """Resolve ``uri`` and return a local copy of its bundle folder (cached per version).

    The copy lives in ``<artifacts>/registry/<name>-v<version>/``; it is downloaded under a
    temporary name and renamed when complete, so a half-downloaded copy is never used.
    """
    import mlflow

    mv = resolve(uri, artifacts)
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
                raise RegistryError(f"{uri} (version {mv.version}) holds no bundle")
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
