"""The book's own Sphinx extensions in ``book/_ext/`` (those without a test file of their own)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "book" / "_ext"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"book_ext_{name}", EXT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- bib_labels: author-year labels in the bibliography -----------------------------------------

bib_labels = _load("bib_labels")

BIB = r"""
@misc{one, author = {Steihaug, Trond}, title = {B}, year = {1983}}
@misc{two, author = {Du, Simon S. and Lee, Jason D.}, title = {T}, year = {2018}}
@misc{three, author = {Sarao Mannelli, Stefano and Vanden-Eijnden, Eric and Zdeborov{\'a}, Lenka},
         title = {O}, year = {2020}}
@misc{accent, author = {K{\i}z{\i}lda{\u{g}}, Eren C.}, title = {S}, year = {2019}}
@misc{von, author = {van der Vaart, Aad}, title = {A}, year = {1998}}
@misc{same1, author = {Lee, Jason D. and Simchowitz, Max and Jordan, Michael I.}, title = {A}, year = {2016}}
@misc{same2, author = {Lee, Jason D. and Panageas, Ioannis and Piliouras, Georgios}, title = {B}, year = {2016}}
@misc{nobody, title = {The {NumPy} manual}, year = {2024}}
"""


@pytest.fixture(scope="module")
def labels():
    import pybtex.plugin
    from pybtex.database import parse_string

    bib_labels.register()
    bib_labels.register()  # twice in one process: no clash
    style = pybtex.plugin.find_plugin("pybtex.style.formatting", bib_labels.NAME)()
    return {e.key: e.label for e in style.format_entries(parse_string(BIB, "bibtex").entries.values())}


def test_labels_read_like_author_year_citations(labels):
    assert labels["one"] == "Steihaug, 1983"
    assert labels["two"] == "Du and Lee, 2018"
    assert labels["three"] == "Sarao Mannelli et al., 2020"
    assert labels["accent"] == "Kızıldağ, 2019"  # LaTeX accents resolved
    assert labels["von"] == "van der Vaart, 1998"
    assert labels["nobody"] == "The NumPy manual, 2024"


def test_equal_labels_get_letters(labels):
    assert {labels["same1"], labels["same2"]} == {"Lee et al., 2016a", "Lee et al., 2016b"}


def test_bibliography_is_sorted_by_author_then_year():
    import pybtex.plugin
    from pybtex.database import parse_string

    bib_labels.register()
    style = pybtex.plugin.find_plugin("pybtex.style.formatting", bib_labels.NAME)()
    keys = [e.key for e in style.format_entries(parse_string(BIB, "bibtex").entries.values())]
    assert keys.index("two") < keys.index("same1") < keys.index("one")


def test_the_book_uses_the_style():
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert "bibtex_default_style: author_year" in config and "bib_labels: book/_ext" in config


# --- exercise_numbers: exercises numbered within each page ---------------------------------------

exercise_numbers = _load("exercise_numbers")


def test_exercises_are_numbered_within_each_page():
    fignumbers = {
        "book/a": {"exercise": {"ex-a1": (1,), "ex-a2": (2,)}, "figure": {"f": (1,)}},
        "book/b": {"exercise": {"ex-b1": (3,), "ex-b2": (4,), "ex-b3": (5,)}, "figure": {"g": (2,)}},
        "book/c": {"figure": {"h": (3,)}},
        # under a numbered toctree the section prefix stays, and each section counts from 1
        "book/d": {"exercise": {"x": (4, 1, 7), "y": (4, 1, 8), "z": (4, 2, 9)}},
    }
    changed = exercise_numbers.renumber(fignumbers)
    assert changed == ["book/b", "book/d"]
    assert fignumbers["book/a"]["exercise"] == {"ex-a1": (1,), "ex-a2": (2,)}
    assert fignumbers["book/b"]["exercise"] == {"ex-b1": (1,), "ex-b2": (2,), "ex-b3": (3,)}
    assert fignumbers["book/d"]["exercise"] == {"x": (4, 1, 1), "y": (4, 1, 2), "z": (4, 2, 1)}
    # figures keep their book-wide numbers
    assert [fignumbers[d]["figure"] for d in ("book/a", "book/b", "book/c")] == \
        [{"f": (1,)}, {"g": (2,)}, {"h": (3,)}]


def test_renumbering_runs_after_sphinx_numbers_the_book():
    connected = []
    app = SimpleNamespace(connect=lambda event, handler, priority=500: connected.append((event, priority)))
    exercise_numbers.setup(app)
    assert connected == [("env-get-updated", 900)]  # Sphinx's toctree collector runs at 500


# --- singlehtml_nodes: the single-page build writes every node -----------------------------------

singlehtml_nodes = _load("singlehtml_nodes")


def test_single_page_build_borrows_the_html_handlers():
    def own(*args):
        return None

    handlers = {"html": {"A": ("visit_a", "depart_a"), "B": ("visit_b", None)},
                "singlehtml": {"B": (own, own)}}
    app = SimpleNamespace(builder=SimpleNamespace(name="singlehtml"),
                          registry=SimpleNamespace(translation_handlers=handlers))
    singlehtml_nodes._share_html_handlers(app)
    assert handlers["singlehtml"] == {"A": ("visit_a", "depart_a"), "B": (own, own)}
    app.builder.name = "html"
    handlers["html"]["C"] = ("c", "c")
    singlehtml_nodes._share_html_handlers(app)  # other builders: nothing changes
    assert "C" not in handlers["singlehtml"]


# --- kernel_encryption: no "running over TCP without encryption" per chapter ---------------------

RUN_A_KERNEL = textwrap.dedent("""
    import sys
    import nbformat
    from nbclient import NotebookClient
    if sys.argv[1] == "with-extension":
        sys.path.insert(0, sys.argv[2])
        import kernel_encryption
        assert kernel_encryption.encrypt_kernel_transport()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    km = NotebookClient(nb, kernel_name="python3").create_kernel_manager()
    print("policy", km.transport_encryption)
    NotebookClient(nb, timeout=60, km=km).execute()
    print("output", nb.cells[0].outputs[0]["text"].strip())
""")


def _run_kernel(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN_A_KERNEL, mode, str(EXT)], capture_output=True,
                          text=True, timeout=120)


def test_kernels_of_the_build_run_with_encrypted_transport():
    import zmq

    if not zmq.has("curve"):
        pytest.skip("this pyzmq has no CurveZMQ (libzmq without libsodium)")
    done = _run_kernel("with-extension")
    assert done.returncode == 0, done.stderr
    assert "policy auto" in done.stdout and "output 42" in done.stdout
    assert "without encryption" not in done.stderr, done.stderr
    plain = _run_kernel("without")  # the same kernel as jupyter_client starts it by default
    assert plain.returncode == 0, plain.stderr
    assert "policy disabled" in plain.stdout and "output 42" in plain.stdout
    if "without encryption" not in plain.stderr:
        pytest.skip("this ipykernel does not warn about unencrypted TCP: nothing to compare")
