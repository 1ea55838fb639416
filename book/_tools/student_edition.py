"""Build the student edition: the book with every exercise kept and every solution removed.

Usage, from the repository root (the same environment as the book)::

    python book/_tools/student_edition.py                        # -> _build/student/_build/html
    python book/_tools/student_edition.py -W -n --keep-going     # strict, as CI runs it

Extra arguments go to ``jupyter-book build``. The script copies the book's sources to
``_build/student/`` (``--out`` to change), strips the solutions there, writes a ``_config.yml``
for the edition, and builds that copy; the repository is not touched.

Why at source level: sphinx-exercise's own ``hide_solutions: true`` crashes on the gated
``{solution-start}``/``{solution-end}`` solutions that the chapters use so that solution code
runs (sphinx-exercise issue #89).

What is removed: everything from a ``{solution-start}`` directive to the end of its
``{solution-end}`` directive, text, math and figures alike, except the solution's code cells.
Those are kept where they were, unchanged, between two marker directives that the edition's
Sphinx extension (``book/_tools/student_hide.py``) acts on: they still run, so a later cell or
exercise that uses a name a solution defined still works, but neither the code nor its output
appears in the HTML. Because jupyter-cache keys a notebook on its code cells only (source and
metadata, not markdown), every stripped chapter has the same cache key as the original, and the
build reuses the execution cache of the normal build (``_build/.jupyter_cache``) instead of
running the chapters again. The edition does not publish page sources (``html_copy_source: false``,
no download button), which would show the hidden code.

The repository itself, and the Binder button of each page, still have the solutions.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the repository (book/_tools/ -> ..)
# what the book build reads, besides the chapters under book/
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
SKIP = shutil.ignore_patterns("_build", ".*", "__pycache__")

_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}")
HIDDEN_START = "```{student-hidden-start}\n```\n"
HIDDEN_END = "```{student-hidden-end}\n```\n"


def _closing(lines: list[str], i: int, fence: str) -> int:
    """The index of the line that closes the directive opened at line ``i``."""
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    raise ValueError(f"line {i + 1}: the directive opened by {fence!r} is never closed")


def strip_solutions(text: str) -> tuple[str, int]:
    """The MyST text without its gated solutions (see the module docstring), and their number."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    n_solutions = 0
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if not match or match["name"] != "solution-start":
            out.append(lines[i])
            i += 1
            continue
        n_solutions += 1
        i = _closing(lines, i, match["fence"]) + 1
        kept: list[list[str]] = []
        while True:  # inside the solution: keep its code cells, drop the rest
            if i >= len(lines):
                raise ValueError(f"solution {n_solutions}: no {{solution-end}}")
            inner = _FENCE_OPEN.match(lines[i])
            if inner and inner["name"] == "solution-end":
                i = _closing(lines, i, inner["fence"]) + 1
                break
            if inner:  # any directive: skip it whole (a code cell is kept)
                end = _closing(lines, i, inner["fence"])
                if inner["name"] == "code-cell":
                    kept.append(lines[i : end + 1])
                i = end + 1
            else:
                i += 1
        if kept:  # unchanged, between markers that book/_tools/student_hide.py acts on
            out.extend(["\n", HIDDEN_START])
            for cell in kept:
                out.extend(["\n", *cell])
            out.extend(["\n", HIDDEN_END, "\n"])
    return "".join(out), n_solutions


def edition_config(config: dict) -> dict:
    """The student edition's ``_config.yml``, from the book's."""
    config = dict(config)
    config["title"] = f"{config.get('title', '')} (student edition)".strip()
    execute = dict(config.get("execute") or {})
    if execute.get("execute_notebooks", "auto") == "cache" and not execute.get("cache"):
        # the normal build's cache: the stripped chapters have the same keys
        execute["cache"] = str(ROOT / "_build" / ".jupyter_cache")
    config["execute"] = execute
    config["only_build_toc_files"] = True
    sphinx = dict(config.get("sphinx") or {})
    sphinx["local_extensions"] = {**(sphinx.get("local_extensions") or {}), "student_hide": "book/_tools"}
    options = dict(sphinx.get("config") or {})
    options["html_copy_source"] = False  # page sources would show the hidden solution code
    theme = dict(options.get("html_theme_options") or {})
    theme["use_download_button"] = False
    options["html_theme_options"] = theme
    sphinx["config"] = options
    sphinx["recursive_update"] = True  # merge html_theme_options into Jupyter Book's own
    config["sphinx"] = sphinx
    return config


def prepare(out: Path) -> int:
    """Write the stripped book to ``out``; return the number of solutions removed."""
    if out.exists():
        for child in out.iterdir():  # keep out/_build: the offline JavaScript and old pages
            if child.name != "_build":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, out / name)
    shutil.copytree(ROOT / "book", out / "book", ignore=SKIP, dirs_exist_ok=True)
    removed = 0
    for page in sorted((out / "book").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        if "{solution-start}" in text:
            stripped, n = strip_solutions(text)
            page.write_text(stripped, encoding="utf-8")
            removed += n
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    (out / "_config.yml").write_text(
        "# Generated by book/_tools/student_edition.py from the book's _config.yml: do not edit.\n"
        + yaml.safe_dump(edition_config(config), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    # the book's JavaScript, fetched once by the normal build (book/_ext/offline_assets.py)
    assets = ROOT / "_build" / "offline-js"
    if assets.is_dir() and not (out / "_build" / "offline-js").exists():
        shutil.copytree(assets, out / "_build" / "offline-js")
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student",
                        help="where to write the stripped book (default: _build/student)")
    parser.add_argument("--no-build", action="store_true", help="only write the stripped sources")
    args, build_args = parser.parse_known_args(argv)
    out = args.out.resolve()
    removed = prepare(out)
    print(f"student edition: {removed} solutions removed, sources in {out}")
    if args.no_build:
        return 0
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", *build_args, str(out)]
    status = subprocess.call(command)
    if status == 0:
        print(f"student edition: {out / '_build' / 'html' / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
