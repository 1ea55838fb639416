"""The benchmarks: their baselines reproduce what they are compared with, and the tables and
reports are complete. (Timings are printed by ``python -m shallowlearn bench``, never asserted.)"""

import json

import pytest

from shallowlearn import bench
from shallowlearn.cli import main


def test_engine_rows_on_the_quick_protocol(monkeypatch):
    monkeypatch.setattr(bench, "_QUICK_MAX_ITER", 300)
    rows = bench.engine_rows(quick=True, repeat=1)
    by_label = {label.strip(): (value, target, passed) for label, value, target, passed in rows}
    same = by_label["loops vs engine: runs with the same status and iterations"]
    # both loops reproduce every run of the engine: status, iterations and final loss
    assert same[2] is True and same[0].split("/")[0] == same[0].split("/")[1]
    assert by_label["loops vs engine: median |dL|/L0 of the final losses"][2] is True
    speedup = by_label["speed-up of the engine over that loop, wall | CPU"]
    assert speedup[1] == ">= 10x" and isinstance(speedup[2], bool)


def test_table_marks_rows_with_a_target():
    text = bench.table([("a", "1", "", None), ("b", "2x", ">= 3x", False), ("c", "4x", ">= 3x", True)])
    lines = text.splitlines()
    assert lines[0].startswith("measurement (OPENBLAS_NUM_THREADS=")
    assert lines[2].split() == ["a", "1"]
    assert lines[3].endswith("FAIL") and lines[4].endswith("PASS")


def test_report_files(tmp_path):
    path = bench.write_report("the table", tmp_path / "out", data=[("a", "1", "", None)])
    text = open(path, encoding="utf-8").read()
    assert "the table" in text and "Python" in text
    saved = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert saved["rows"] == [["a", "1", "", None]]


def test_spectrum_routes_agree(monkeypatch):
    monkeypatch.setitem(bench.SPECTRUM_SIZES, "quick", (120, 6, 10))  # p = 60: the routes, not the timing
    rows = bench.spectrum_rows(quick=True)
    routes = [row["route"] for row in rows]
    assert routes == [
        "eigsh SA, Objective.hvp", "eigsh SA, HessianOperator",
        "hessian_spectrum, iterative", "hessian_spectrum, dense",
    ]
    lam = [row["lambda_min"] for row in rows]
    assert max(lam) - min(lam) <= 1e-5 * abs(lam[-1])
    assert all(row["residual"] <= 1e-5 for row in rows)
    assert min(row["products"] for row in rows[:3]) > 0 == rows[3]["products"]
    assert all(row["wall"] > 0 and row["peak_mb"] > 0 for row in rows)
    table = bench.spectrum_table(rows, "header")
    assert table.splitlines()[0] == "header" and len(table.splitlines()) == 3 + len(rows)


@pytest.mark.parametrize("argv", [["bench", "--repeat", "0"], ["bench-spectrum", "--activation", "swish"]])
def test_bad_bench_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_solver_rows_stop_every_side_at_the_same_loss():
    rows = bench.solver_rows(repeat=1, sizes=((4, 6, 8),))  # p = 24: the rows, not the timing
    labels = [label.strip() for label, *_ in rows]
    assert labels[0].startswith("Theorem 2.1, p=24 (d=4, k=6, n=8)")
    values = {label.strip(): value for label, value, _, _ in rows}
    for name in ("scipy trust-krylov", "scipy trust-ncg",
                 "scipy trust-ncg, one cached point per theta", "trust_region",
                 "cubic_regularization"):
        wall, loss = values[name].split(" | ")
        assert wall.endswith(" ms") and float(loss) <= 1e-10  # every side reached the loss
    marked = [row for row in rows if row[3] is not None]
    assert [row[0].strip() for row in marked] == [
        "trust_region / faster scipy (certificate included)",
        "cubic_regularization / faster scipy (certificate included)"]
    assert all(row[2] == "<= 1.5x" and isinstance(row[3], bool) for row in marked)
    assert "lambda_min (dense)" in " ".join(labels)  # p = 24: the dense certificate is cheaper
    obj, theta0 = bench.theorem21_problem(4, 6, 8)
    assert obj.value(bench.trust_region(obj, theta0, grad_tol=1e-12).theta) < 1e-16  # optimum 0


def test_bench_solvers_flag_runs_only_the_solver_comparison(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(bench, "SOLVER_SIZES", ((4, 6, 8),))
    assert main(["bench", "--solvers", "--repeat", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Theorem 2.1, p=24" in out and "Figure 3a" not in out and "fused" not in out
    assert (tmp_path / "bench.md").exists()
