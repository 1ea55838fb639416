"""The benchmark's baselines reproduce the batched engine's runs, and its options are checked."""

import numpy as np
import pytest

from shallowlearn.batched import batched_gradient_descent
from shallowlearn.bench import _solver_loop, run_benchmarks
from shallowlearn.experiments import get_protocol, protocol_inputs


def test_solver_loop_reproduces_the_batched_runs():
    [batch] = protocol_inputs(get_protocol("fig3a", "reduced"), seed=0)
    runs = np.array([0, 10, 30, 50])
    # a loss threshold between the runs' losses after 300 steps: some stop early, some do not
    options = dict(step=0.005, max_iter=300)
    probe = batched_gradient_descent(batch["X"], batch["y"], "quadratic", batch["W0"],
                                     batch["v0"], data_index=batch["data_index"], **options)
    options["loss_tol"] = float(np.median(probe.loss[runs]))
    res = batched_gradient_descent(batch["X"], batch["y"], "quadratic", batch["W0"],
                                   batch["v0"], data_index=batch["data_index"], **options)
    one_by_one = _solver_loop(batch, runs, options)
    assert set(one_by_one.status) == {"loss_tol", "max_iter"}
    assert one_by_one.status.tolist() == res.status[runs].tolist()
    np.testing.assert_array_equal(one_by_one.iterations, res.iterations[runs])
    np.testing.assert_allclose(one_by_one.loss, res.loss[runs], rtol=1e-9)


def test_repeat_must_be_positive():
    with pytest.raises(ValueError, match="repeat"):
        run_benchmarks(quick=True, repeat=0)
