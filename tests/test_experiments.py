"""Experiment protocols, their tidy results, saving and loading, and the command line."""

import dataclasses
import json
import os

import numpy as np
import pytest

from shallowlearn import experiments
from shallowlearn.cli import main
from shallowlearn.experiments import (
    PROTOCOLS,
    Results,
    fit_logistic,
    get_protocol,
    load_results,
    plot_results,
    run_protocol,
    save_results,
    shipped_results,
)


def _tiny(name="fig3a", **change):
    base = dict(k=(3, 8), max_iter=150) if name == "fig3a" else {}
    return dataclasses.replace(get_protocol(name, "reduced"), **{**base, **change})


@pytest.fixture(scope="module")
def tiny_results():
    return run_protocol(_tiny(), seed=3, progress=False)


def test_protocols_and_sizes():
    assert set(PROTOCOLS) == {"fig2a", "fig2b", "fig3a", "fig3b", "fig4a", "fig4b", "local"}
    full, reduced = get_protocol("fig3b"), get_protocol("fig3b", "reduced")
    assert full.sweep == "d" and full.values == tuple(range(22, 29)) and full.k == (5,)
    assert (full.teachers, full.starts, full.n) == (10, 10, 100)
    assert reduced.teachers < full.teachers and reduced.size == "reduced"
    assert get_protocol("fig2a").activation_params == {"b": 10.0}
    assert Protocol_roundtrip(full)


def Protocol_roundtrip(protocol):
    return experiments.Protocol.from_dict(json.loads(json.dumps(protocol.to_dict()))) == protocol


def test_unknown_protocol_and_size():
    with pytest.raises(ValueError, match="fig3a"):  # the message lists the valid names
        get_protocol("fig9")
    with pytest.raises(ValueError, match="size"):
        get_protocol("fig3a", "huge")
    with pytest.raises(ValueError, match="seed"):
        run_protocol(_tiny(), seed=-1, progress=False)


def test_success_results_are_tidy(tiny_results):
    runs = tiny_results.runs
    p = tiny_results.protocol
    count = len(p.values) * p.teachers * p.starts
    assert all(len(column) == count for column in runs.values())
    assert set(runs["outcome"]) <= {"success", "slow", "stuck", "diverged"}
    np.testing.assert_array_equal(np.unique(runs["k"]), [3, 8])
    summary = tiny_results.summary
    np.testing.assert_array_equal(summary["value"], [3, 8])
    assert np.all(summary["rate"] == summary["passed"] / p.teachers)
    # a teacher passes only if all its runs succeed
    for j, value in enumerate(summary["value"]):
        here = runs["value"] == value
        ok = runs["outcome"][here] == "success"
        expected = sum(np.all(ok[runs["teacher"][here] == i]) for i in range(p.teachers))
        assert summary["passed"][j] == expected
    assert tiny_results.version and tiny_results.seed == 3


def test_same_seed_same_results(tiny_results):
    again = run_protocol(_tiny(), seed=3, progress=False)
    for key, column in tiny_results.runs.items():
        np.testing.assert_array_equal(column, again.runs[key])
    other = run_protocol(_tiny(), seed=4, progress=False)
    assert not np.array_equal(other.runs["initial_loss"], tiny_results.runs["initial_loss"])


def test_reduced_protocol_is_a_subset_of_the_full_one():
    small = experiments.protocol_inputs(_tiny(teachers=1, starts=1))[0]
    large = experiments.protocol_inputs(_tiny(teachers=2, starts=2))[0]
    np.testing.assert_array_equal(small["X"][0], large["X"][0])
    np.testing.assert_array_equal(small["W0"][0], large["W0"][0])


def test_fit_logistic():
    fit = fit_logistic([3, 4, 5, 6, 7, 8, 9], [0, 0, 2, 8, 10, 10, 10], 10)
    assert 5.0 < fit["crossing"] < 6.0 and fit["slope"] > 0
    # perfectly separated: finite, between the last failure and the first success
    fit = fit_logistic([1, 2, 3, 4], [0, 0, 10, 10], 10)
    assert 2.0 < fit["crossing"] < 3.0 and np.isfinite(fit["slope"])
    assert np.isnan(fit_logistic([1, 2, 3], [0, 0, 0], 5)["crossing"])
    assert np.isnan(fit_logistic([1, 2, 3, 4], [0, 0, 0, 1], 10)["crossing"])  # beyond x = 4
    with pytest.raises(ValueError, match="successes"):
        fit_logistic([1, 2], [0, 7], 5)


def test_curve_protocols():
    local = run_protocol(_tiny("local", radii=(0.05, 1.0), max_iter=200), progress=False)
    assert local.curves["loss"].shape == (8, 9)
    np.testing.assert_array_equal(local.curves["iteration"], np.arange(9) * 25)
    assert get_protocol("local").record_every == 100  # the full curves, kept small
    # closer starts begin lower and the loss falls
    assert local.summary["final_median"][0] < local.summary["final_median"][1]
    assert np.all(local.summary["rate_median"] < 0)
    fig4 = run_protocol(_tiny("fig4b", k=(3, 8), max_iter=500), progress=False)
    assert fig4.curves["loss"].shape[0] == 2
    for res in (local, fig4):
        assert plot_results(res).axes[0].get_xlabel() == "iteration"


def test_save_and_load_roundtrip(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    loaded = load_results(path, protocol=tiny_results.protocol)
    assert loaded.protocol == tiny_results.protocol
    assert (loaded.seed, loaded.version) == (tiny_results.seed, tiny_results.version)
    for key, column in tiny_results.runs.items():
        np.testing.assert_array_equal(loaded.runs[key], column)
    np.testing.assert_equal(loaded.fit, tiny_results.fit)
    assert load_results(path, protocol="fig3a").seed == 3
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind


def test_load_refuses_another_protocol(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    with pytest.raises(ValueError, match="fig3b"):
        load_results(path, protocol="fig3b")
    with pytest.raises(ValueError, match="max_iter"):
        load_results(path, protocol=dataclasses.replace(tiny_results.protocol, max_iter=7))


def test_load_refuses_corrupt_files(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a half-written file
    with pytest.raises(ValueError, match="corrupt"):
        load_results(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a shallowlearn results file"):
        load_results(path)
    payload = json.loads(text)
    del payload["runs"]
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="incomplete or corrupt"):
        load_results(path)


def test_interrupted_save_keeps_the_old_file(tiny_results, tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    before = path.read_text()

    def broken_dump(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments.json, "dump", broken_dump)
    with pytest.raises(KeyboardInterrupt):
        save_results(tiny_results, path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["out.json"]
    with pytest.raises(TypeError, match="Results"):
        save_results({"runs": {}}, path)


def test_shipped_results_load():
    res = shipped_results("fig3a", "reduced")
    assert isinstance(res, Results) and res.protocol == get_protocol("fig3a", "reduced")
    with pytest.raises(FileNotFoundError, match="python -m shallowlearn run fig2b"):
        shipped_results("fig2b", "reduced")


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_shipped_full_results_load_and_are_small(name):
    # every full protocol ships its results, made with the protocol as defined now
    res = shipped_results(name, "full")
    assert res.protocol == get_protocol(name, "full")
    p = res.protocol
    assert len(res.runs["loss"]) == len(p.values) * p.teachers * p.starts
    assert set(res.runs["outcome"]) <= {"success", "slow", "stuck", "diverged"}
    path = experiments.resources.files("shallowlearn") / "results" / f"{name}-full.json"
    assert len(path.read_bytes()) < 200_000
    assert plot_results(res).axes[0].get_xlabel() in ("k", "d", "iteration")


def test_success_plot_marks_the_papers_crossing(tiny_results):
    lines = plot_results(tiny_results).axes[0].get_lines()
    labels = [line.get_label() for line in lines]
    assert "paper: teachers passing" in labels
    assert any("paper: 50% at k = 5.50" in label for label in labels)


def test_cli_run_saves_results_and_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(experiments._REDUCED, "local", dict(teachers=1, starts=1, max_iter=50))
    assert main(["run", "local", "--out", str(tmp_path), "--no-progress", "--seed", "2"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["local-reduced.json", "local-reduced.png"]
    assert load_results(tmp_path / "local-reduced.json", protocol="local").seed == 2
    assert "Theorem 2.5" in capsys.readouterr().out


def test_cli_unknown_protocol(capsys):
    with pytest.raises(SystemExit):
        main(["run", "fig9"])
    message = capsys.readouterr().err
    assert "fig9" in message and "fig3a" in message and "local" in message
