"""The package installs under one namespace and cannot be shadowed by a user's own modules.

A wheel is built from the repository and installed (without its dependencies, which the test's own
environment lends through a ``.pth`` line) into a fresh virtual environment; the ``ganxun`` command
then runs from a folder holding a ``models.py``, a ``features.py`` and a ``training/`` package of
its own, as a data scientist's notebook folder might.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # a copy, so that the build's own build/ and egg-info folders stay out of the checkout
    source = tmp_path_factory.mktemp("source") / "ganxun"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "artifacts", "data", "build", "*.egg-info", "__pycache__", "mlruns*"
    )
    shutil.copytree(REPO, source, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
        + [str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    (found,) = out.glob("ganxun-*.whl")
    return found


def test_wheel_holds_one_top_level_package_with_the_pages(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"ganxun"}
    for part in ("features", "simulation", "models", "training", "serving"):
        assert f"ganxun/{part}/__init__.py" in names
    assert "ganxun/cli.py" in names
    pages = sorted(
        f"ganxun/serving/ui/{p.name}"
        for p in (REPO / "serving" / "ui").iterdir()
        if p.suffix in (".html", ".js", ".css")
    )
    assert "ganxun/serving/ui/index.html" in pages
    assert [p for p in pages if p not in names] == [], "every page, script and style ships"
    assert "ganxun/serving/routes/docs.py" in names
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = zipfile.ZipFile(wheel).read(metadata).decode()
    # the offline /docs and /redoc assets come from this dependency
    assert "Requires-Dist: fastapi-offline" in requires
    assert not [n for n in names if n.startswith(("ganxun/tests", "ganxun/benchmarks"))]


def test_installed_command_runs_beside_a_users_own_models_py(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    # the dependencies come from this test's environment; its editable ganxun does not (a path
    # added by a .pth line is not itself scanned for .pth files)
    Path(site, "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "notebooks"
    (work / "training").mkdir(parents=True)
    (work / "models.py").write_text("raise RuntimeError('the user models.py was imported')\n")
    (work / "features.py").write_text("raise RuntimeError('the user features.py was imported')\n")
    (work / "training" / "__init__.py").write_text("raise RuntimeError('user training')\n")
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = "import ganxun, ganxun.serving.app, ganxun.cli; print(ganxun.__file__)"
    where = subprocess.run(
        [str(python), "-c", probe],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(site)
    helped = subprocess.run(
        [str(python), str(Path(site) / "bin" / "ganxun"), "demo", "--help"],
        cwd=work,
        env={**env, "PYTHONPATH": site},
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0, helped.stderr
    assert "usage: ganxun demo" in helped.stdout
