"""The package as a release: the wheel and the source archive that ``python -m build`` makes.

The version checks always run. The archives are checked when ``SHALLOWLEARN_DIST`` names the
folder ``python -m build --outdir`` wrote them to; CI does (after ``twine check --strict``)::

    python -m build --outdir /tmp/dist . && twine check --strict /tmp/dist/*
    SHALLOWLEARN_DIST=/tmp/dist pytest tests/test_release.py

Each archive must carry the package with its shipped results, and install in a fresh virtual
environment (with its dependencies, at the versions requirements.txt pins) into a package
whose version is the one in pyproject.toml and whose shipped results load.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = os.environ.get("SHALLOWLEARN_DIST", "")
needs_dist = pytest.mark.skipif(not DIST, reason="set SHALLOWLEARN_DIST to the output folder "
                                                 "of `python -m build` to run")

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


def _package_files() -> set[str]:
    """What the package is in the source tree: its modules and its shipped results (the
    protocols' results and figures; the benchmark record beside them stays in the repository)."""
    package = ROOT / "shallowlearn"
    files = {p.relative_to(ROOT).as_posix() for p in package.glob("*.py")}
    files |= {p.relative_to(ROOT).as_posix() for p in (package / "results").iterdir()
              if p.name.endswith(("-full.json", "-reduced.json", ".png"))}
    return files


def test_the_version_is_kept_in_pyproject_only():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    assert "dynamic" not in PYPROJECT["project"] or "version" not in PYPROJECT["project"]["dynamic"]
    # the package reads it back from the installed metadata, and writes no number of its own
    init = (ROOT / "shallowlearn" / "__init__.py").read_text(encoding="utf-8")
    assert 'version("shallowlearn")' in init
    for module in (ROOT / "shallowlearn").glob("*.py"):
        assert not re.search(r"""__version__\s*=\s*["']\d+\.\d+""", module.read_text(encoding="utf-8")), module


def test_the_changelog_has_a_section_for_the_version_and_one_for_what_comes_next():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", changelog, re.M)
    assert headings and headings[0].startswith("Unreleased"), headings
    assert any(h.split()[0] == VERSION for h in headings), (VERSION, headings)


def _archives() -> tuple[Path, Path]:
    dist = Path(DIST)
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    return wheels[0], sdists[0]


@needs_dist
def test_archives_are_named_for_the_version():
    wheel, sdist = _archives()
    assert wheel.name == f"shallowlearn-{VERSION}-py3-none-any.whl"
    assert sdist.name == f"shallowlearn-{VERSION}.tar.gz"


@needs_dist
def test_wheel_carries_the_package_and_its_results():
    wheel, _ = _archives()
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"shallowlearn-{VERSION}.dist-info/METADATA").decode()
    assert _package_files() <= names, sorted(_package_files() - names)
    assert not any(n.startswith(("tests/", "book/")) for n in names)
    assert f"Version: {VERSION}" in metadata
    assert f"Requires-Python: {PYPROJECT['project']['requires-python']}" in metadata


@needs_dist
def test_sdist_carries_what_a_user_needs():
    _, sdist = _archives()
    top = f"shallowlearn-{VERSION}/"
    with tarfile.open(sdist) as archive:
        names = {n.removeprefix(top) for n in archive.getnames()}
    needed = _package_files() | {"pyproject.toml", "README.md", "CHANGELOG.md", "PKG-INFO"}
    assert needed <= names, sorted(needed - names)
    # not the book, nor the tests, which need the book and the repository (MANIFEST.in)
    assert not any(n.startswith(("book/", "tests/", "_build/", ".")) for n in names), \
        sorted(n for n in names if n.startswith(("book/", "tests/", "_build/", ".")))


INSTALLED = """
import json, sys
from importlib import resources
import shallowlearn
from shallowlearn import shipped_results  # the public name
results = sorted(p.name for p in (resources.files("shallowlearn") / "results").iterdir())
loaded = [shipped_results(*name.removesuffix(".json").rsplit("-", 1)).protocol.name
          for name in results if name.endswith(".json")]
print(json.dumps({"version": shallowlearn.__version__, "file": shallowlearn.__file__,
                  "results": results, "loaded": loaded}))
"""


@needs_dist
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_archive_installs_in_a_fresh_venv_with_its_results(kind, tmp_path):
    archive = _archives()[0 if kind == "wheel" else 1]
    # the same versions as the book's stack: requirements.txt without its editable install,
    # and without extras (pip refuses a constraint such as dask[distributed]==...)
    pins = [re.sub(r"\[[^\]]*\]", "", line)
            for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith(("#", "-e"))]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    venv.create(tmp_path / "env", with_pip=True)
    python = str(tmp_path / "env" / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-c", str(constraints), str(archive)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    done = subprocess.run([python, "-c", INSTALLED], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    assert found["version"] == VERSION
    assert "site-packages" in found["file"] and not Path(found["file"]).is_relative_to(ROOT)
    shipped = sorted(Path(p).name for p in _package_files() if "/results/" in p)
    assert found["results"] == shipped
    assert len(found["loaded"]) == sum(name.endswith(".json") for name in shipped)
    cli = subprocess.run([python, "-m", "shallowlearn", "--help"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert cli.returncode == 0 and "run" in cli.stdout, cli.stderr
