"""The repository's address is written in one place: ``repository.url`` in ``_config.yml``.

The README's *Publishing* section says to change it there; every page's repository, issue, edit
and Binder buttons read it, and the GitHub workflow compares it with the repository it runs in.
No other file of the repository may spell it out, or a fork would have to find and change it
twice.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_repository_url_is_a_github_repository():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", config["repository"]["url"])


def test_repository_url_is_written_only_in_config():
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                timeout=60, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of the repository's files")
    files = [name for name in listed.decode().split("\0") if name]
    assert "_config.yml" in files
    found = []
    for name in files:
        path = ROOT / name
        if name == "_config.yml" or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files: images, results
        if url in text or url.removeprefix("https://") in text:
            found.append(name)
    assert not found, f"{url} is written outside _config.yml, in {found}"


def test_the_workflow_checks_it_against_the_repository_it_runs_in():
    workflow = (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")
    assert "https://github.com/${{ github.repository }}" in workflow
    assert 'open("_config.yml")' in workflow
