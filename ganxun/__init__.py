"""ganxun (干训): recommendation and matching for cadre education and training.

One installed namespace over the folders of the repository root: ``ganxun.features`` (data
contract, feature builders), ``ganxun.simulation`` (the synthetic city), ``ganxun.models``
(estimators), ``ganxun.training`` (pipelines, bundles, MLflow), ``ganxun.serving`` (the FastAPI
service) and ``ganxun.cli`` (the ``ganxun`` command). Importing this package imports nothing else.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ganxun")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"
