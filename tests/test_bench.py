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
