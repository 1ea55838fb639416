"""Tests of shallowlearn.grading and ``python -m shallowlearn grade``: small notebooks written
into a temporary folder (right, wrong, crashing, hanging and hostile ones) are graded once
through the command line, and the gradebook rows and feedback files are checked; usage errors
exit with status 2 and one line before anything runs."""

import csv
import io
import json
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from shallowlearn import grading
from shallowlearn.cli import main

TIMEOUT = 8  # seconds per notebook: long enough for these, short for the hanging one

SETUP = """\
import autograd.numpy as anp
import numpy as np
from scipy.special import expit
import shallowlearn as sl


def phi(z):
    return z / (1.0 + anp.exp(-z))
"""

RIGHT = """\
def dphi(z):
    s = expit(z)
    return s * (1.0 + z * (1.0 - s))


def ddphi(z):
    s = expit(z)
    return s * (1.0 - s) * (2.0 + z * (1.0 - 2.0 * s))


my_activation = sl.Activation("swish", phi=phi, dphi=dphi, ddphi=ddphi)
"""

WRONG = """\
dphi = expit                                   # forgot the product rule


def ddphi(z):
    s = expit(z)
    return s * (1.0 - s)


my_activation = sl.Activation("swish", phi=phi, dphi=dphi, ddphi=ddphi)
"""


def notebook(*sources, metadata=None):
    nb = new_notebook(cells=[new_markdown_cell("(assignment-activation)=\n# An assignment")]
                      + [new_code_cell(src) for src in sources])
    nb.metadata.update(metadata or {})
    return nb


def write(path: Path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".md":
        jupytext.write(nb, path, fmt="md:myst")
    else:
        nbformat.write(nb, path)
    return path


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["grade", *map(str, argv)])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade one folder of submissions through the command line, once for all tests."""
    root = tmp_path_factory.mktemp("grading")
    subs = root / "subs"
    write(subs / "alice_activation.ipynb", notebook(SETUP, RIGHT))
    write(subs / "bob_activation.ipynb", notebook(SETUP, WRONG))
    write(subs / "carol_activation.ipynb", notebook(SETUP, "1 / 0", "my_activation = oops"))
    write(subs / "dave_activation.ipynb",
          notebook(SETUP, "while True:\n    print('x' * 10_000)", RIGHT))
    hostile = ("import os, sys\nfor name in os.listdir('.'):\n    os.remove(name)\n"
               "sys.exit(3)")
    write(subs / "erin_activation.ipynb", notebook(SETUP, hostile, RIGHT))
    write(subs / "frank_activation.ipynb", notebook(SETUP, "import os\nos._exit(1)", RIGHT))
    write(subs / "ivan" / "spurious_minimum.md",
          new_notebook(cells=[new_code_cell("import numpy as np\ntheta = np.zeros(8)")],
                       metadata={"kernelspec": {"name": "python3", "language": "python",
                                                "display_name": "Python 3"}}))
    made_up = ("values = [15, 16, 17, 18, 19, 20]\nsuccesses = [20, 20, 20, 10, 0, 0]\n"
               "trials = 20\ncrossing = 19.0")
    write(subs / "submitted" / "judy" / "ps1" / "transition.ipynb",
          notebook(made_up, metadata={"shallowlearn": {"assignment": "phase_transition"}}))
    (subs / "broken.ipynb").write_text("{ this is not json", encoding="utf-8")
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    out = root / "grades"
    start = time.monotonic()
    code, stdout, stderr = run_cli(subs, "--out", out, "--timeout", TIMEOUT)
    elapsed = time.monotonic() - start
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    after = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    return dict(code=code, stdout=stdout, stderr=stderr, rows=rows, out=out, elapsed=elapsed,
                untouched=before == after)


def feedback(graded, student, assignment="activation"):
    return (graded["out"] / "feedback" / f"{student}_{assignment}.md").read_text("utf-8")


def test_every_submission_gets_a_row(graded):
    assert graded["code"] == 0, graded["stderr"]
    assert set(graded["rows"]) == {"alice", "bob", "carol", "dave", "erin", "frank", "ivan",
                                   "judy", "broken"}
    assert graded["untouched"]               # notebooks ran in copies, elsewhere
    assert "graded 9 submission(s)" in graded["stdout"]


def test_right_submission_passes(graded):
    row = graded["rows"]["alice"]
    assert (row["assignment"], row["status"], row["score"], row["max_score"]) == \
        ("activation", "passed", "7", "7")
    assert all(row[name] == "pass" for name in ("vectorised", "dphi", "assumption 2.3"))
    assert row["hypotheses"] == ""           # a check of another assignment
    assert "activation: PASSED (all 7 checks)" in feedback(graded, "alice")


def test_wrong_submission_names_the_failed_checks(graded):
    row = graded["rows"]["bob"]
    assert row["status"] == "not passed" and row["dphi"] == "fail" and row["ddphi"] == "fail"
    assert row["vectorised"] == "pass" and row["assumption 2.3"] == "not run"
    assert row["score"] == "3" and row["objective"] == "fail"   # vectorised, autograd, phi
    text = feedback(graded, "bob")
    assert "right at z = 0 but wrong away from it" in text
    assert "- assumption 2.3: needs 'dphi' and 'ddphi', and 'dphi' failed" in text


def test_crashing_cells_are_reported_and_missing_answers_fail(graded):
    row = graded["rows"]["carol"]
    assert row["status"] == "not passed" and row["score"] == "0"
    assert row["vectorised"] == "not run"
    text = feedback(graded, "carol")
    assert "your notebook does not define my_activation" in text
    assert "cell 3 raised ZeroDivisionError: division by zero" in text
    assert "cell 4 raised NameError" in text


def test_hanging_notebook_times_out(graded):
    row = graded["rows"]["dave"]
    assert row["status"] == "timeout" and row["score"] == "0"
    assert row["dphi"] == "not run"
    assert f"did not finish within {TIMEOUT} s (still running cell 3)" in row["note"]
    assert float(row["seconds"]) < TIMEOUT + 30   # kernel start-up, then the limit
    assert graded["elapsed"] < 240                # the whole run did not wait on it


def test_exit_and_file_deletion_are_contained(graded):
    row = graded["rows"]["erin"]             # sys.exit fails one cell; later cells still run
    assert row["status"] == "passed", feedback(graded, "erin")
    assert "cell 3 raised SystemExit: 3" in feedback(graded, "erin")
    row = graded["rows"]["frank"]            # os._exit ends the kernel itself
    assert row["status"] == "crashed" and "kernel died" in row["note"]


def test_myst_and_nbgrader_layouts(graded):
    row = graded["rows"]["ivan"]             # ivan/spurious_minimum.md: a MyST notebook
    assert row["assignment"] == "spurious_minimum" and row["curvature"] == "fail"
    assert row["higher order"] == "not run" and row["max_score"] == "5"
    row = graded["rows"]["judy"]             # submitted/judy/ps1/..., metadata names it
    assert row["assignment"] == "phase_transition" and row["50% point"] == "fail"
    assert row["rerun"] == "pass"            # the grader's trial reproduces these counts
    assert "fit_logistic puts the 50% point at" in feedback(graded, "judy", "phase_transition")


def test_unreadable_notebook(graded):
    row = graded["rows"]["broken"]
    assert row["status"] == "unreadable" and "cannot read the notebook" in row["note"]
    assert (graded["out"] / "feedback" / "broken_unknown.md").exists()


# --- usage errors: status 2, one line, before any work ---------------------------------------


@pytest.fixture
def one(tmp_path):
    return write(tmp_path / "alice_activation.ipynb", notebook(SETUP, RIGHT))


@pytest.mark.parametrize("extra, message", [
    (["missing.ipynb"], "submission 'missing.ipynb' does not exist"),
    (["--timeout", "abc"], "timeout (--timeout) must be a positive number of seconds; got 'abc'"),
    (["--timeout", "0"], "must be a positive number of seconds; got '0'"),
    (["--timeout", "inf"], "got 'inf'"),
    (["--check-timeout", "-5"], "check_timeout (--check-timeout) must be"),
    (["--assignment", "homework"], "assignment must be one of activation, spurious_minimum"),
])
def test_usage_errors_exit_2_before_running(tmp_path, one, extra, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli(one, *extra)
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and message in stderr
    assert not (tmp_path / "grades").exists()     # validated before anything ran


def test_out_that_is_a_file_and_other_path_errors(tmp_path, one):
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    code, _, stderr = run_cli(one, "--out", taken)
    assert code == 2 and "is a file; it must be a folder" in stderr
    code, _, stderr = run_cli(taken)
    assert code == 2 and "is not a notebook" in stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = run_cli(empty)
    assert code == 2 and "holds no notebooks" in stderr
    write(tmp_path / "alice" / "activation.md", notebook(SETUP, RIGHT))    # alice twice
    code, _, stderr = run_cli(one, tmp_path / "alice" / "activation.md", "--out",
                              tmp_path / "g")
    assert code == 2 and "two submissions of activation by 'alice'" in stderr


def test_help_shows_the_defaults():
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        main(["grade", "--help"])
    text = " ".join(out.getvalue().split())
    assert f"(default: {grading.DEFAULT_OUT})" in text
    assert f"(default: {grading.DEFAULT_TIMEOUT:g})" in text


# --- names and answers -------------------------------------------------------------------------


@pytest.mark.parametrize("path, assignment, student", [
    ("subs/alice_activation.ipynb", "activation", "alice"),
    ("subs/bob-phase-transition.ipynb", "phase_transition", "bob"),
    ("subs/carol/spurious_minimum.md", "spurious_minimum", "carol"),
    ("course/submitted/dave/ps1/anything.ipynb", None, "dave"),
    ("subs/activation/erin.ipynb", "activation", "erin"),
])
def test_student_and_assignment_from_the_path(path, assignment, student):
    which = grading._which_assignment(Path(path), new_notebook(), None)
    assert which == assignment
    assert grading._which_student(Path(path), which) == student


def test_assignment_from_label_and_metadata():
    nb = notebook("x = 1")                                  # carries (assignment-activation)=
    assert grading._which_assignment(Path("x/y.ipynb"), nb, None) == "activation"
    nb.metadata["shallowlearn"] = {"assignment": "phase-transition"}
    assert grading._which_assignment(Path("x/y.ipynb"), nb, None) == "phase_transition"
    assert grading._which_assignment(Path("x/y.ipynb"), nb, "spurious_minimum") == \
        "spurious_minimum"


def test_check_answers_reads_the_page_names():
    fb = grading.check_answers("spurious_minimum", {"theta": [0.0] * 8, "other": 1})
    assert fb.failed == ("curvature",)
    fb = grading.check_answers("phase-transition", {"values": [1, 2, 3]})
    assert fb.failed == ("input",) and "successes, trials, crossing" in fb["input"].message
    assert fb.not_run == ("sweep values", "counts", "bracket", "50% point", "rerun")
    with pytest.raises(grading.UsageError, match="assignment must be one of"):
        grading.check_answers("nope", {})


def test_feedback_survives_json():
    fb = grading.check_answers("activation", {})
    assert grading.Feedback.from_dict(json.loads(json.dumps(fb.to_dict()))) == fb


def first_code_cell(page):
    nb = jupytext.read(Path(__file__).parents[1] / "book" / "assignments" / page)
    namespace = {}
    exec(next(c.source for c in nb.cells if c.cell_type == "code"), namespace)
    return namespace


def test_the_graders_copies_of_the_pages_agree_with_the_pages():
    # the grader rebuilds what each page gives the students, so that a notebook cannot change it
    import numpy as np

    z = np.linspace(-8.0, 8.0, 33)
    assert np.array_equal(first_code_cell("activation.md")["phi"](z), grading._swish(z))
    obj, mine = first_code_cell("spurious_minimum.md")["obj"], grading._spurious_objective()
    assert np.array_equal(obj.X, mine.X) and np.array_equal(obj.y, mine.y)
    assert np.array_equal(obj.v, mine.v)
    trial = first_code_cell("phase_transition.md")["trial"]
    for n in (16, 18, 20):
        got = [trial(n, np.random.default_rng(seed)) for seed in range(4)]
        assert got == [grading._transition_trial(n, np.random.default_rng(seed))
                       for seed in range(4)]
