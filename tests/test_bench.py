"""The benchmarks: their baselines reproduce what they are compared with, and the tables and
reports are complete. (Timings are printed by ``python -m shallowlearn bench``, never asserted.)"""

import json

import numpy as np
import pytest

from shallowlearn import bench
from shallowlearn.cli import main


def _by_label(rows):
    return {label.strip(): (value, target, passed) for label, value, target, passed in rows}


def test_engine_rows_on_the_quick_protocol(monkeypatch):
    monkeypatch.setattr(bench, "_QUICK_MAX_ITER", 300)
    by_label = _by_label(bench.engine_rows(quick=True, repeat=2))
    same = by_label["loops vs engine: runs with the same status and iterations"]
    # both loops reproduce every run of the engine: status, iterations and final loss
    assert same[2] is True and same[0].split("/")[0] == same[0].split("/")[1]
    assert by_label["loops vs engine: median |dL|/L0 of the final losses"][2] is True
    # every round is reported, and the target applies to each
    assert {"speed-up over that loop in round 1, wall | CPU",
            "speed-up over that loop in round 2, wall | CPU"} <= set(by_label)
    speedup = by_label["speed-up over that loop, CPU, in each of 2 consecutive rounds"]
    assert speedup[1] == ">= 10x" and isinstance(speedup[2], bool)
    ratio = by_label["engine CPU time / floor, whole protocol"]
    assert ratio[1] == "<= 2.5x" and isinstance(ratio[2], bool)


def test_the_floor_counts_products_and_the_unavoidable_passes(monkeypatch):
    monkeypatch.setitem(bench.FLOOR_STEPS, "quick", 5)
    rows = bench.floor_rows(quick=True, repeat=1)
    assert len(rows) == 1 + len(bench._UNAVOIDABLE)
    targets = [row[2] for row in rows[1:]]
    assert targets == ["<= 2.5x", "<= 2x", "<= 2x", "<= 2x"]
    for label, value, _, passed in rows[1:]:
        engine, floor = (float(part.split()[1]) for part in label.split(":")[1].split(",")[:2])
        assert float(value.rstrip("x")) == pytest.approx(engine / floor, rel=0.02)
        assert isinstance(passed, bool)
    # the floor of the softplus step counts exp and log1p, which cost more than z², so its
    # floor per unit is higher than the quadratic one's on the same elements
    from shallowlearn import get_activation
    Z = np.random.default_rng(0).normal(size=20000)
    soft = bench._pass_seconds(Z, get_activation("softplus", b=10.0), 3)
    quad = bench._pass_seconds(Z, get_activation("quadratic"), 3)
    assert soft > quad > 0


def test_baseline_rows_compare_two_versions_of_the_package(monkeypatch):
    import os
    import shallowlearn

    monkeypatch.setitem(bench.BASELINE_STEPS, "quick", 5)
    here = os.path.dirname(shallowlearn.__file__)
    by_label = _by_label(bench.baseline_rows(os.path.dirname(here), quick=True, repeat=1))
    # against itself the engine finds the same statuses, and the ratio is a number
    same = by_label["baseline vs engine: runs with the same status"]
    assert same[2] is True
    speedup = by_label["speed-up over the baseline (best of 1 rounds)"]
    assert speedup[1] == ">= 4x" and float(speedup[0].rstrip("x")) > 0
    with pytest.raises(ValueError, match="no __init__.py"):
        bench.load_baseline(here + "/results")


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


@pytest.mark.parametrize("argv", [["bench", "--repeat", "0"], ["bench", "--baseline", "/nonexistent"],
                                  ["bench-spectrum", "--activation", "swish"]])
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
    report = (tmp_path / "bench-solvers.md").read_text()
    assert report.startswith("# python -m shallowlearn bench --solvers\n") and "p=24" in report
    assert not (tmp_path / "bench.md").exists()  # the record of the other benchmarks is kept
