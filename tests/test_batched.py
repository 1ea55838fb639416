"""The batched gradient-descent engine: equal to running the runs one by one through
gradient_descent (the same statuses, iterations and iterates), inert padding, divergence
handling, reproducibility and argument checks."""

from types import SimpleNamespace

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import elementwise_grad

from shallowlearn import Activation, Objective, gradient_descent, planted, random_labels
from shallowlearn.batched import batched_gradient_descent
from shallowlearn.initializations import random_init
from shallowlearn.stopping import STATUSES, divergence_limit


def looped_gradient_descent(X, y, activation, W0, v0, *, step, max_iter, train_v=True,
                            data_index=None, loss_tol=0.0, grad_tol=0.0, record_every=None):
    """The engine's runs one at a time through the public single-run solver, as a BatchResult
    would report them (widths padded with zeros, history NaN after a run stopped)."""
    X, y = (X[None], y[None]) if np.ndim(X) == 2 else (X, y)
    T = len(W0)
    index = np.arange(T) % X.shape[0] if data_index is None else np.asarray(data_index)
    widths = np.array([np.shape(w)[0] for w in W0])
    k_max, d = widths.max(), X.shape[2]
    out = SimpleNamespace(
        W=np.zeros((T, k_max, d)), v=np.zeros((T, k_max)), widths=widths, loss=np.zeros(T),
        grad_norm=np.zeros(T), initial_loss=np.zeros(T), iterations=np.zeros(T, dtype=int),
        status=np.empty(T, dtype=object),
        history=None if record_every is None else np.full((T, max_iter // record_every + 1),
                                                          np.nan),
    )
    for t in range(T):
        k = widths[t]
        data = (X[index[t]], y[index[t]], activation)
        obj = Objective(*data, k=k) if train_v else Objective(*data, v=v0[t])
        theta0 = obj.pack(W0[t], v0[t]) if train_v else obj.pack(W0[t])
        res = gradient_descent(obj, theta0, step=step, max_iter=max_iter, loss_tol=loss_tol,
                               grad_tol=grad_tol, history_stride=record_every or max_iter)
        v, W = obj.unpack(res.theta)
        out.W[t, :k], out.v[t, :k] = W, v
        out.loss[t], out.grad_norm[t], out.iterations[t] = res.loss, res.grad_norm, res.iterations
        out.initial_loss[t], out.status[t] = res.history.loss[0], res.status
        if record_every is not None:
            keep = res.history.iteration % record_every == 0
            out.history[t, res.history.iteration[keep] // record_every] = res.history.loss[keep]
    out.status = out.status.astype(str)
    return out


def _problem(widths, n=30, d=4, teachers=2, activation="quadratic", seed=0):
    """Data sets (one per teacher) and one start per (teacher, width), as lists."""
    rng = np.random.default_rng(seed)
    X, y, W0, v0, index = [], [], [], [], []
    for i in range(teachers):
        data = planted(n, d, 3, activation, rng=rng)
        X.append(data.X)
        y.append(data.y)
        for k in widths:
            W, v = random_init(k, d, rng=rng)
            W0.append(W)
            v0.append(v)
            index.append(i)
    return np.array(X), np.array(y), W0, v0, np.array(index)


def _assert_same(a, b, rtol=1e-9):
    assert a.status.tolist() == b.status.tolist()
    np.testing.assert_array_equal(a.iterations, b.iterations)
    np.testing.assert_array_equal(a.widths, b.widths)
    np.testing.assert_allclose(a.loss, b.loss, rtol=rtol, atol=1e-14)
    np.testing.assert_allclose(a.initial_loss, b.initial_loss, rtol=rtol)
    np.testing.assert_allclose(a.grad_norm, b.grad_norm, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(a.W, b.W, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.v, b.v, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("activation", ["quadratic", "softplus", "tanh"])
@pytest.mark.parametrize("train_v", [True, False])
def test_batched_equals_looped(activation, train_v):
    X, y, W0, v0, index = _problem([2, 3, 4, 6], activation=activation)
    # a loss threshold that stops some runs early and leaves others to the cap: the batch is
    # repacked as runs leave
    options = dict(data_index=index, step=0.005, max_iter=400, train_v=train_v, record_every=50)
    free = batched_gradient_descent(X, y, activation, W0, v0, **options)
    options["loss_tol"] = float(np.median(free.loss))
    batched = batched_gradient_descent(X, y, activation, W0, v0, **options)
    looped = looped_gradient_descent(X, y, activation, W0, v0, **options)
    assert {"converged", "max_iter"} <= set(batched.status.tolist())
    _assert_same(batched, looped)
    np.testing.assert_allclose(batched.history, looped.history, rtol=1e-9)
    if not train_v:
        for t, v in enumerate(v0):
            np.testing.assert_array_equal(batched.v[t, : v.size], v)


@pytest.mark.parametrize("activation", ["sigmoid", "erf", "swish"])
def test_other_activations_equal_looped(activation):
    """The remaining built-in kernels, and an activation given as three functions (evaluated
    one by one), give the engine the same runs as the single-run solver."""
    if activation == "swish":
        def phi(z):
            return z / (1 + anp.exp(-z))

        dphi = elementwise_grad(phi)
        activation = Activation("swish", phi=phi, dphi=dphi, ddphi=elementwise_grad(dphi))
    X, y, W0, v0, index = _problem([2, 3], activation="tanh", seed=6)
    options = dict(data_index=index, step=0.01, max_iter=150, record_every=50)
    batched = batched_gradient_descent(X, y, activation, W0, v0, **options)
    _assert_same(batched, looped_gradient_descent(X, y, activation, W0, v0, **options))
    assert np.all(batched.loss < batched.initial_loss)


def test_uneven_runs_per_data_set_are_grouped_to_leave_few_slots_empty():
    """Four starts on one data set and one on another would leave 3 of 8 slots empty in groups
    of 4: the block makes groups of 2 instead (the four starts in two groups sharing their data
    set, 1 slot of 6 empty), and the results do not change."""
    from shallowlearn.batched import _group_size, _make_blocks

    assert _group_size(np.array([4, 1])) == 2
    assert _group_size(np.array([10, 10, 10])) == 10
    assert _group_size(np.array([10, 3, 7, 2])) == 4  # 22 runs in 7 groups of 4
    assert _group_size(np.array([1, 1, 1])) == 1
    X, y, W0, v0, index = _problem([3, 3, 3, 3], teachers=2)
    keep = np.array([0, 1, 2, 3, 4])  # teacher 0's four starts, teacher 1's first
    W0, v0, index = [W0[t] for t in keep], [v0[t] for t in keep], index[keep]
    runs = np.arange(5)
    state = {"W": np.array(W0), "v": np.array(v0)}
    [block] = _make_blocks(X, y, index, np.full(5, 3), runs, state)
    assert (block.G, block.S) == (3, 2)
    np.testing.assert_array_equal(block.X, X[[0, 0, 1]])
    assert sorted(block.run.ravel().tolist()) == [-1, 0, 1, 2, 3, 4]
    np.testing.assert_array_equal(block.W[block.run == 4], [W0[4]])
    [shared] = _make_blocks(X, y, index[:4], np.full(4, 3), runs[:4],
                            {name: values[:4] for name, values in state.items()})
    assert (shared.G, shared.S) == (1, 4)

    options = dict(data_index=index, step=0.005, max_iter=300, loss_tol=1e-3)
    _assert_same(batched_gradient_descent(X, y, "quadratic", W0, v0, **options),
                 looped_gradient_descent(X, y, "quadratic", W0, v0, **options))


def test_shared_data_and_3d_starts():
    data = random_labels(25, 3, rng=1)
    W0, v0 = random_init(4, 3, size=5, rng=2)
    options = dict(step=0.01, max_iter=200)
    batched = batched_gradient_descent(data.X, data.y, "quadratic", W0, v0, **options)
    looped = looped_gradient_descent(data.X, data.y, "quadratic", W0, v0, **options)
    _assert_same(batched, looped)
    assert batched.W.shape == (5, 4, 3)
    assert batched.history is None


def test_padded_units_stay_exactly_zero():
    # widths 3 and 4 share a block, so the width-3 runs carry a padded fourth unit; softplus has
    # φ(0) ≠ 0, so an unmasked output weight of that unit would move
    X, y, W0, v0, index = _problem([3, 4], activation="softplus", seed=3)
    options = dict(step=0.05, max_iter=300)
    together = batched_gradient_descent(X, y, "softplus", W0, v0, data_index=index, **options)
    narrow = [t for t, w in enumerate(W0) if w.shape[0] == 3]
    alone = batched_gradient_descent(
        X, y, "softplus", [W0[t] for t in narrow], [v0[t] for t in narrow],
        data_index=index[narrow], **options,
    )
    assert together.W.shape[1] == 4 and alone.W.shape[1] == 3
    assert np.all(together.W[narrow, 3] == 0.0) and np.all(together.v[narrow, 3] == 0.0)
    np.testing.assert_allclose(together.W[narrow, :3], alone.W, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(together.loss[narrow], alone.loss, rtol=1e-10)
    # and the padded runs moved: the test is not vacuous
    assert not np.allclose(together.W[narrow, :3], np.array([W0[t] for t in narrow]))


def test_divergence_is_marked_and_isolated():
    X, y, W0, v0, index = _problem([3], teachers=1, seed=4)
    W0 = [W0[0], 30.0 * W0[0], W0[0] * 0.5]  # the middle start blows up at this step size
    v0 = [v0[0], np.ones(3), v0[0]]
    index = np.zeros(3, dtype=int)
    options = dict(data_index=index, step=0.01, max_iter=300)
    batched = batched_gradient_descent(X, y, "quadratic", W0, v0, **options)
    looped = looped_gradient_descent(X, y, "quadratic", W0, v0, **options)
    assert batched.status.tolist() == ["max_iter", "diverged", "max_iter"]
    _assert_same(batched, looped)
    # the diverged run keeps its last iterate below the blow-up threshold, which is finite
    assert np.all(np.isfinite(batched.W[1])) and np.isfinite(batched.loss[1])
    assert batched.loss[1] <= divergence_limit(batched.initial_loss[1], 0.5 * np.mean(y[0] ** 2))
    assert batched.iterations[1] < 300
    # the others are as if they had run alone
    alone = batched_gradient_descent(X, y, "quadratic", [W0[0], W0[2]], [v0[0], v0[2]],
                                     step=0.01, max_iter=300)
    np.testing.assert_allclose(batched.W[[0, 2]], alone.W, rtol=1e-12, atol=1e-14)


def test_grad_tol_stops_runs():
    X, y, W0, v0, index = _problem([5], teachers=1, seed=5)
    res = batched_gradient_descent(X, y, "quadratic", W0, v0, data_index=index, step=0.02,
                                   max_iter=20000, grad_tol=1e-3)
    assert res.status.tolist() == ["converged"]
    assert res.grad_norm[0] <= 1e-3 < 20000


def test_same_seed_same_result():
    def run():
        data = planted(30, 4, 3, rng=7)
        W0, v0 = random_init(3, 4, size=4, rng=8)
        return batched_gradient_descent(data.X, data.y, "quadratic", W0, v0, step=0.02,
                                        max_iter=100, record_every=10)

    a, b = run(), run()
    for name in ("W", "v", "loss", "grad_norm", "iterations", "history"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_history_and_result_fields():
    data = planted(30, 4, 3, rng=9)
    W0, v0 = random_init(3, 4, size=2, rng=10)
    res = batched_gradient_descent(data.X, data.y, "quadratic", W0, v0, step=0.02,
                                   max_iter=100, record_every=30, loss_tol=1e-30)
    assert res.history.shape == (2, 4)
    np.testing.assert_allclose(res.history[:, 0], res.initial_loss)
    assert set(res.status.tolist()) <= set(STATUSES)
    assert not res.loss.flags.writeable
    assert "BatchResult(T=2" in repr(res)


def test_inputs_are_not_modified():
    X, y, W0, v0, index = _problem([3], teachers=1)
    copies = [a.copy() for a in (X, y, *W0, *v0)]
    batched_gradient_descent(X, y, "quadratic", W0, v0, data_index=index, step=0.01, max_iter=5)
    for before, after in zip(copies, (X, y, *W0, *v0)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(step=-0.1), "step"),
        (dict(step=0.0), "step"),
        (dict(max_iter=0), "max_iter"),
        (dict(loss_tol=-1.0), "loss_tol"),
        (dict(record_every=0), "record_every"),
        (dict(W0=np.zeros((2, 3, 5))), "W0"),
        (dict(v0=np.ones((2, 4))), "v0"),
        (dict(v0=np.ones((3, 3))), "same number of runs"),
        (dict(data_index=np.array([0, 5])), "data_index"),
        (dict(data_index=np.array([0.0, 1.0])), "data_index"),
        (dict(X=np.zeros((3, 10, 4)), y=np.zeros((3, 10))), "data_index"),
        (dict(y=np.zeros((2, 9))), "y"),
    ],
)
def test_bad_arguments(change, match):
    args = dict(X=np.ones((2, 10, 4)), y=np.zeros((2, 10)), activation="quadratic",
                W0=np.zeros((2, 3, 4)), v0=np.ones((2, 3)), step=0.1, max_iter=3)
    args.update(change)
    with pytest.raises((ValueError, TypeError), match=match):
        batched_gradient_descent(**args)


def test_train_v_must_be_bool():
    with pytest.raises(TypeError, match="train_v"):
        batched_gradient_descent(np.ones((4, 2)), np.zeros(4), "quadratic", np.zeros((1, 1, 2)),
                                 np.ones((1, 1)), step=0.1, max_iter=2, train_v="yes")


def test_a_start_at_an_exact_critical_point_stops_at_once_as_in_gradient_descent():
    """The contract: ‖∇L‖ ≤ grad_tol ends a run, even with grad_tol = 0 when the gradient is
    exactly zero (W = 0 of a quadratic network)."""
    data = random_labels(20, 3, rng=0)
    W0 = [np.zeros((4, 3)), 0.3 * np.ones((4, 3))]
    v0 = [np.r_[1.0, 1.0, -1.0, -1.0]] * 2
    options = dict(step=0.01, max_iter=50, train_v=False)
    batched = batched_gradient_descent(data.X, data.y, "quadratic", W0, v0, **options)
    looped = looped_gradient_descent(data.X, data.y, "quadratic", W0, v0, **options)
    assert batched.status.tolist() == ["converged", "max_iter"]
    assert batched.iterations.tolist() == [0, 50]
    _assert_same(batched, looped)
