"""The student edition (``book/_tools/student_edition.py``): solutions out, exercises and cache keys kept.

The source-level tests always run. The built-HTML test runs when both editions are built (CI)::

    SHALLOWLEARN_BUILT_HTML=_build/html SHALLOWLEARN_STUDENT_HTML=_build/student/_build/html \\
        pytest tests/test_student_edition.py
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
from jupyter_cache.cache.main import JupyterCacheBase

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BOOK / "_tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


edition = _load("student_edition")

CHAPTERS = sorted(p for p in BOOK.glob("*.md") if "{solution-start}" in p.read_text(encoding="utf-8"))

EXAMPLE = """\
Text before.

````{exercise} Title
:label: ex-a

Do it.
````

````{solution-start} ex-a
:class: dropdown
````

The answer is $x = 1$.

```{math}
x = 1
```

```{code-cell} ipython3
:tags: [hide-output]
answer = 1
```

More solution text.

````{solution-end}
````

```{code-cell} ipython3
assert answer == 1
```
"""


def test_strip_solutions_keeps_exercises_and_solution_code():
    stripped, n = edition.strip_solutions(EXAMPLE)
    assert n == 1
    assert "solution-start" not in stripped and "solution-end" not in stripped
    assert "The answer" not in stripped and "More solution text" not in stripped
    assert "x = 1" not in stripped  # the math block of the solution
    assert "````{exercise} Title" in stripped and "Do it." in stripped
    # the solution's code cell, unchanged, between the markers; the later cell untouched
    assert re.search(
        r"```\{student-hidden-start\}\n```\n\n```\{code-cell\} ipython3\n:tags: \[hide-output\]\n"
        r"answer = 1\n```\n\n```\{student-hidden-end\}\n```\n",
        stripped,
    )
    assert stripped.endswith("```{code-cell} ipython3\nassert answer == 1\n```\n")


def test_unclosed_solution_is_an_error():
    with pytest.raises(ValueError):
        edition.strip_solutions("````{solution-start} ex\n````\ntext\n")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_chapter_loses_its_solutions_but_keeps_its_cache_key(chapter, tmp_path):
    text = chapter.read_text(encoding="utf-8")
    stripped, n = edition.strip_solutions(text)
    assert n == text.count("{solution-start}") > 0
    assert "{solution-" not in stripped
    assert stripped.count("{exercise}") == text.count("{exercise}")
    # jupyter-cache keys a notebook on its code cells (source and metadata): the edition's build
    # finds the normal build's executions
    cache = JupyterCacheBase(str(tmp_path / "cache"))
    copy = tmp_path / chapter.name
    copy.write_text(stripped, encoding="utf-8")
    original_key = cache.create_hashed_notebook(jupytext.read(chapter))[1]
    assert cache.create_hashed_notebook(jupytext.read(copy))[1] == original_key


def test_edition_config():
    config = edition.edition_config({"title": "T", "execute": {"execute_notebooks": "cache"},
                                     "sphinx": {"local_extensions": {"x": "book/_ext"}}})
    assert config["title"] == "T (student edition)"
    assert config["execute"]["cache"] == str(ROOT / "_build" / ".jupyter_cache")
    assert config["sphinx"]["local_extensions"] == {"x": "book/_ext", "student_hide": "book/_tools"}
    assert config["sphinx"]["config"]["html_copy_source"] is False


# --out: the script never deletes what it did not create (issue #15)


@pytest.fixture
def fake_repo(tmp_path):
    """A throwaway repository with a one-chapter book, so no test can touch the real one."""
    root = tmp_path / "home" / "repo"
    (root / "book").mkdir(parents=True)
    (root / "book" / "index.md").write_text(EXAMPLE, encoding="utf-8")
    (root / "_config.yml").write_text("title: T\nexecute:\n  execute_notebooks: cache\n",
                                      encoding="utf-8")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\n", encoding="utf-8")
    return root


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def test_edition_leaves_a_marker_and_replaces_only_what_it_wrote(fake_repo, tmp_path):
    out = tmp_path / "edition"
    assert edition.prepare(out, fake_repo) == 1
    assert (out / edition.MARKER).is_file()
    assert "The answer" not in (out / "book" / "index.md").read_text(encoding="utf-8")
    # a second run into its own edition: the old copy of the book goes, the rest stays
    (out / "book" / "stale.md").write_text("from an older book", encoding="utf-8")
    (out / "notes.txt").write_text("the instructor's", encoding="utf-8")
    (out / "_build").mkdir()
    (out / "_build" / "last-build").write_text("kept", encoding="utf-8")
    assert edition.prepare(out, fake_repo) == 1
    assert not (out / "book" / "stale.md").exists()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the instructor's"
    assert (out / "_build" / "last-build").is_file()
    assert (out / "book" / "index.md").is_file() and (out / edition.MARKER).is_file()


def test_edition_into_an_empty_folder(fake_repo, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    edition.prepare(out, fake_repo)
    assert (out / edition.MARKER).is_file() and (out / "_config.yml").is_file()


def test_edition_without_marker_written_by_an_older_script_is_recognised(fake_repo, tmp_path):
    out = tmp_path / "old-edition"
    (out / "book").mkdir(parents=True)
    (out / "_config.yml").write_text(edition.GENERATED + " from the book's _config.yml: do not "
                                     "edit.\ntitle: T\n", encoding="utf-8")
    edition.prepare(out, fake_repo)
    assert (out / edition.MARKER).is_file()


def test_non_empty_folder_without_marker_is_refused(fake_repo, tmp_path):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("mine", encoding="utf-8")
    with pytest.raises(edition.EditionError, match="not empty and holds no student edition"):
        edition.prepare(out, fake_repo)
    assert _tree(out) == {"chapter1.tex"}


@pytest.mark.parametrize("up", [0, 1, 2], ids=["the-repository", "its-parent", "two-up"])
def test_repository_and_folders_that_contain_it_are_refused(fake_repo, up):
    out = fake_repo.parents[up - 1] if up else fake_repo
    (out / edition.MARKER).write_text("planted", encoding="utf-8")  # the marker does not help
    before = _tree(out)
    what = "is the repository" if up == 0 else "contains the repository"
    with pytest.raises(edition.EditionError, match=what):
        edition.prepare(out, fake_repo)
    assert _tree(out) == before


def test_folders_inside_the_book_and_files_are_refused(fake_repo, tmp_path):
    with pytest.raises(edition.EditionError, match="inside the book's sources"):
        edition.prepare(fake_repo / "book" / "student", fake_repo)
    assert not (fake_repo / "book" / "student").exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(edition.EditionError, match="not a folder"):
        edition.prepare(a_file, fake_repo)
    assert a_file.read_text(encoding="utf-8") == "x"


def _run_script(*args: str) -> subprocess.CompletedProcess:
    script = BOOK / "_tools" / "student_edition.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.mark.parametrize("case", ["non-empty-folder", "the-repository"])
def test_script_refuses_in_one_line_with_status_2(case, tmp_path):
    if case == "the-repository":
        out = ROOT
    else:
        out = tmp_path / "mine"
        out.mkdir()
        (out / "keep.txt").write_text("keep", encoding="utf-8")
    before = _tree(out) if out != ROOT else None
    done = _run_script("--out", str(out), "--no-build")
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("student_edition.py: error: --out "), done.stderr
    assert done.stdout == ""
    if before is not None:
        assert _tree(out) == before


NORMAL = os.environ.get("SHALLOWLEARN_BUILT_HTML", "")
STUDENT = os.environ.get("SHALLOWLEARN_STUDENT_HTML", "")
CELL = '<div class="cell docutils container'


def _solution_code_cells(text: str) -> int:
    stripped, _ = edition.strip_solutions(text)
    block = re.compile(r"\{student-hidden-start\}(.*?)\{student-hidden-end\}", re.S)
    return sum(part.count("```{code-cell}") for part in block.findall(stripped))


@pytest.mark.skipif(not (NORMAL and STUDENT),
                    reason="set SHALLOWLEARN_BUILT_HTML and SHALLOWLEARN_STUDENT_HTML to both builds")
def test_built_student_edition_has_no_solutions():
    normal, student = Path(NORMAL), Path(STUDENT)
    pages = sorted(p.relative_to(student) for p in student.rglob("*.html")
                   if not {"_static", "_sources", "_images"} & set(p.relative_to(student).parts))
    assert pages and not (student / "_sources").exists()
    for page in pages:
        html = (student / page).read_text(encoding="utf-8")
        assert "Solution to" not in html, page
    for chapter in CHAPTERS:
        page = Path("book") / f"{chapter.stem}.html"
        full = (normal / page).read_text(encoding="utf-8")
        bare = (student / page).read_text(encoding="utf-8")
        text = chapter.read_text(encoding="utf-8")
        assert full.count("Solution to") >= text.count("{solution-start}") > 0, page
        assert bare.count('class="exercise') == full.count('class="exercise'), page
        # exactly the solutions' code cells are gone
        assert full.count(CELL) - bare.count(CELL) == _solution_code_cells(text), page
