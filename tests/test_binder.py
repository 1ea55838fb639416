"""Binder: what repo2docker builds from runtime.txt, requirements.txt, pyproject.toml and postBuild.

The postBuild test always runs. The others need the Dockerfile that repo2docker would build,
which ``repo2docker --no-build --debug .`` prints without Docker; CI makes it (``.ci/run``)::

    repo2docker --no-build --debug . > _build/binder.Dockerfile
    SHALLOWLEARN_BINDER_DOCKERFILE=_build/binder.Dockerfile pytest tests/test_binder.py

What must hold: Binder installs the pinned stack, then repo2docker's own ``pip install .`` (it adds
one because pyproject.toml declares a build system), then runs postBuild, which installs the
package in editable mode again, so the notebooks import the repository's ``shallowlearn/``, as
``requirements.txt`` promises; and JupyterLab opens the MyST chapters (``.md``) as notebooks but
Python files as text.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = os.environ.get("SHALLOWLEARN_BINDER_DOCKERFILE", "")
needs_dockerfile = pytest.mark.skipif(
    not DOCKERFILE, reason="set SHALLOWLEARN_BINDER_DOCKERFILE to the output of "
                           "`repo2docker --no-build --debug .` (CI does)")


def _postbuild_commands() -> list[list[str]]:
    lines = (ROOT / "postBuild").read_text(encoding="utf-8").splitlines()
    return [shlex.split(line) for line in lines
            if line.strip() and not line.lstrip().startswith("#") and not line.startswith("set ")]


def _command(program: str) -> list[str]:
    found = [c for c in _postbuild_commands() if c[0] == program or c[:3] == ["python", "-m", program]]
    assert len(found) == 1, f"postBuild should run {program} once: {_postbuild_commands()}"
    return found[0]


def test_postbuild_is_an_executable_bash_script():
    path = ROOT / "postBuild"
    assert os.access(path, os.X_OK), "repo2docker runs ./postBuild: it must be executable"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text


def test_postbuild_opens_markdown_as_notebooks_and_python_as_text(tmp_path):
    command = _command("jupytext-config")
    jupytext_config = Path(sys.executable).with_name("jupytext-config")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path)}
    subprocess.run([str(jupytext_config), *command[1:]], env=env, check=True, timeout=60,
                   capture_output=True)
    settings = json.loads((tmp_path / "labconfig" / "default_setting_overrides.json").read_text())
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    # JupyterLab's document type of .md files is "markdown" ("myst" is .myst/.mystnb/.mnb)
    assert viewers == {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}


def test_postbuild_reinstalls_the_package_editable_without_dependencies():
    command = _command("pip")
    assert command[:4] == ["python", "-m", "pip", "install"]
    assert "--no-deps" in command and command[-2:] == ["--editable", "."]


def _run_steps(dockerfile: str) -> list[str]:
    """The RUN instructions of a Dockerfile, in order, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    return [line[4:].strip() for line in text.splitlines() if line.startswith("RUN ")]


@needs_dockerfile
def test_binder_installs_requirements_then_the_package_then_runs_postbuild():
    steps = _run_steps(Path(DOCKERFILE).read_text(encoding="utf-8"))

    def index(pattern: str) -> int:
        found = [i for i, step in enumerate(steps) if re.search(pattern, step)]
        assert len(found) == 1, f"{pattern!r}: {len(found)} steps in {steps}"
        return found[0]

    requirements = index(r'/bin/pip install --no-cache-dir -r "requirements\.txt"$')
    package = index(r"/bin/pip install --no-cache-dir \.$")  # repo2docker's own, not editable
    postbuild = index(r"^\./postBuild$")
    assert requirements < package < postbuild
    # nothing after postBuild installs Python packages again
    assert not any("pip install" in step for step in steps[postbuild + 1:])


@needs_dockerfile
def test_binder_uses_the_python_of_runtime_txt():
    runtime = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    version = runtime.removeprefix("python-")
    # the lock file of the conda environment is copied under an escaped name (escapism: "-2e"
    # for ".", "-2d" for "-", "-2f" for "/")
    text = Path(DOCKERFILE).read_text(encoding="utf-8")
    text = text.replace("-2e", ".").replace("-2d", "-").replace("-2f", "/")
    assert re.search(rf"/environment\.py-{re.escape(version)}-linux-64\.lock", text), \
        f"the Dockerfile does not build the conda environment of Python {version}"


@needs_dockerfile
def test_binder_steps_leave_an_editable_package(tmp_path):
    """Replay Binder's two installs of the package (no dependencies) in a fresh venv."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "_build", "build", "dist", "*.egg-info", "__pycache__", ".jupyter_cache"))
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"

    def run(*args: str, cwd: Path = repo) -> str:
        done = subprocess.run([str(python), *args], cwd=cwd, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("-m", "pip", "install", "--quiet", "--no-cache-dir", "--no-deps", ".")  # repo2docker's
    where = "import importlib.util as u; print(u.find_spec('shallowlearn').origin)"
    located = run("-c", where, cwd=tmp_path)  # not from the repository: -c imports from the cwd
    assert not Path(located.strip()).is_relative_to(repo)  # a copy in site-packages
    run(*_command("pip")[1:])  # postBuild's, with this venv's python
    located = run("-c", where, cwd=tmp_path)
    assert Path(located.strip()) == repo / "shallowlearn" / "__init__.py"
