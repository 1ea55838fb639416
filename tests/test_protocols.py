"""Experiment protocols, running them into tidy results, the logistic fit, and their plots."""

import dataclasses
import json

import numpy as np
import pytest

from shallowlearn import (
    PROTOCOLS,
    Protocol,
    fit_logistic,
    get_protocol,
    protocol_inputs,
    run_protocol,
)
from shallowlearn.diagnosis import CATEGORIES
from shallowlearn.plotting import plot_results
from shallowlearn.protocols import VARIANTS, population_start
from shallowlearn.runner import POPULATION_COUNTS




def test_protocols_and_sizes():
    base = {"fig2a", "fig2b", "fig3a", "fig3b", "fig4a", "fig4b", "local",
            "relu", "relu-plus1", "relu-plus2", "quadratic-population", "phase"}
    variants = {f"{b}-{v}" for b in ("fig2a", "fig2b", "fig3a", "fig3b") for v in VARIANTS}
    assert set(PROTOCOLS) == base | variants
    full, reduced = get_protocol("fig3b"), get_protocol("fig3b", "reduced")
    assert full.sweep == "d" and full.values == tuple(range(22, 29)) and full.k == (5,)
    assert (full.teachers, full.starts, full.n) == (10, 10, 100)
    assert reduced.teachers < full.teachers and reduced.size == "reduced"
    assert get_protocol("fig2a").activation_params == {"b": 10.0}
    assert Protocol_roundtrip(full)


def Protocol_roundtrip(protocol):
    return Protocol.from_dict(json.loads(json.dumps(protocol.to_dict()))) == protocol


def test_unknown_protocol_and_size(tiny):
    with pytest.raises(ValueError, match="fig3a"):  # the message lists the valid names
        get_protocol("fig9")
    with pytest.raises(ValueError, match="size"):
        get_protocol("fig3a", "huge")
    with pytest.raises(ValueError, match="seed"):
        run_protocol(tiny(), seed=-1, progress=False)


def test_success_results_are_tidy(tiny_results):
    runs = tiny_results.runs
    p = tiny_results.protocol
    count = len(p.values) * p.teachers * p.starts
    assert all(len(column) == count for column in runs.values())
    assert set(runs["outcome"]) <= set(CATEGORIES)
    np.testing.assert_array_equal(np.unique(runs["k"]), [3, 8])
    summary = tiny_results.summary
    np.testing.assert_array_equal(summary["value"], [3, 8])
    assert np.all(summary["rate"] == summary["passed"] / p.teachers)
    # a teacher passes only if all its runs succeed
    for j, value in enumerate(summary["value"]):
        here = runs["value"] == value
        ok = runs["outcome"][here] == "succeeded"
        expected = sum(np.all(ok[runs["teacher"][here] == i]) for i in range(p.teachers))
        assert summary["passed"][j] == expected
    assert tiny_results.version and tiny_results.seed == 3


def test_same_seed_same_results(tiny, tiny_results):
    again = run_protocol(tiny(), seed=3, progress=False)
    for key, column in tiny_results.runs.items():
        np.testing.assert_array_equal(column, again.runs[key])
    other = run_protocol(tiny(), seed=4, progress=False)
    assert not np.array_equal(other.runs["initial_loss"], tiny_results.runs["initial_loss"])


def test_reduced_protocol_is_a_subset_of_the_full_one(tiny):
    small = protocol_inputs(tiny(teachers=1, starts=1))[0]
    large = protocol_inputs(tiny(teachers=2, starts=2))[0]
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


def test_curve_protocols(tiny):
    local = run_protocol(tiny("local", radii=(0.05, 1.0), max_iter=200), progress=False)
    assert local.curves["loss"].shape == (8, 9)
    np.testing.assert_array_equal(local.curves["iteration"], np.arange(9) * 25)
    assert get_protocol("local").record_every == 100  # the full curves, kept small
    # closer starts begin lower and the loss falls
    assert local.summary["final_median"][0] < local.summary["final_median"][1]
    assert np.all(local.summary["rate_median"] < 0)
    fig4 = run_protocol(tiny("fig4b", k=(3, 8), max_iter=500), progress=False)
    assert fig4.curves["loss"].shape[0] == 2
    for res in (local, fig4):
        assert plot_results(res)[1].get_xlabel() == "iteration"


def test_success_plot_marks_the_papers_crossing(tiny_results):
    lines = plot_results(tiny_results)[1].get_lines()
    labels = [line.get_label() for line in lines]
    assert "paper: teachers passing" in labels
    assert any("paper: 50% at k = 5.50" in label for label in labels)


def test_population_protocols_count_what_each_run_ended_at():
    quadratic = run_protocol(get_protocol("quadratic-population", "reduced"), progress=False)
    # quadratic units, k = d: the population loss is 2‖M‖² + (tr M)² of M = WᵀW − I, a
    # factorization of full rank, so no start can end anywhere but at a global minimum
    assert np.all(quadratic.summary["global"] == quadratic.protocol.starts)
    relu = get_protocol("relu", "reduced")
    results = run_protocol(relu, progress=False)
    counts = sum(results.summary[name] for name in POPULATION_COUNTS)
    np.testing.assert_array_equal(counts, relu.starts)
    runs = results.runs
    spurious = runs["outcome"] == "stuck at a second-order point"
    assert np.all(runs["loss"][spurious] > relu.loss_tol)
    assert np.all(runs["lambda_min"][spurious] > 0)
    assert np.all(runs["loss"][runs["outcome"] == "succeeded"] <= relu.loss_tol)
    teacher, W0 = population_start(get_protocol("relu-plus2", "reduced"), 1, 0)
    assert teacher.W.shape == (8, 8) and W0.shape == (10, 8)
    full = get_protocol("relu-plus2")  # d = 8 is sweep value 1 of the reduced, 2 of the full
    np.testing.assert_array_equal(population_start(full, full.values.index(8), 0)[1], W0)
    with pytest.raises(ValueError, match="pairs d and k"):
        dataclasses.replace(relu, k=(6, 9))
    with pytest.raises(ValueError, match="one teacher"):
        dataclasses.replace(relu, teachers=2)
    with pytest.raises(ValueError, match="population protocol"):
        population_start(get_protocol("fig3a", "reduced"), 0, 0)
