"""The phase protocol (Sarao Mannelli et al. 2020): its grid and seeding, its runs and their
test errors, saving and loading them, its summary, plot and report; and the threshold counts."""

import dataclasses
import json

import matplotlib
import numpy as np
import pytest

from shallowlearn import (
    Protocol, QuadraticPopulation, get_protocol, load_results, protocol_inputs, run_protocol,
    save_results,
)
from shallowlearn import results_io
from shallowlearn.batched import batched_gradient_descent
from shallowlearn.cli import report
from shallowlearn.plotting import plot_phase_diagram, plot_results
from shallowlearn.protocols import teacher_inputs
from shallowlearn.quadratic import khatri_rao
from shallowlearn.tasks import PHASE_COLUMNS, protocol_tasks
from shallowlearn.thresholds import (
    alpha_thresholds, descent_cone_dimension, psd_uniqueness, rank_manifold_dimension,
)

matplotlib.use("Agg")

STEPS = 200  # a shortened budget: the runs end unfinished, which is all these tests need


def _short(size="reduced", **change):
    return dataclasses.replace(get_protocol("phase", size), max_iter=STEPS, **change)


@pytest.fixture(scope="module")
def reduced():
    return run_protocol(_short(), progress=False)


def test_grid_sweep_and_groups():
    full, small = get_protocol("phase"), get_protocol("phase", "reduced")
    assert full.sweep == "point" and full.values == tuple(range(len(full.grid())))
    alpha, kappa, n, width = zip(*full.grid())
    assert set(alpha) == set(full.alphas) and set(kappa) == set(full.kappas)
    assert full.n == max(n) == round(max(full.alphas) * full.d[0] ** 2)
    assert full.k[0] >= full.d[0] and not full.train_v
    assert set(small.grid()) <= set(full.grid())
    # one batch per sample count, every teacher of that n in it
    for group in full.teacher_groups():
        assert len({full.grid()[j][2] for j, _ in group}) == 1
    assert sum(len(g) for g in full.teacher_groups()) == len(full.values) * full.teachers
    assert [t.runs for t in protocol_tasks(full)] == [
        len(full.kappas) * full.teachers * full.starts] * len(full.alphas)
    assert Protocol.from_dict(json.loads(json.dumps(full.to_dict()))) == full


def test_reduced_inputs_are_those_of_the_full_protocol():
    full, small = get_protocol("phase"), get_protocol("phase", "reduced")
    for batch in protocol_inputs(small):
        for t in range(len(batch["W0"])):
            n, width = batch["rows"]["n"][t], batch["rows"]["teacher_width"][t]
            j = [point[2:] for point in full.grid()].index((n, width))
            same = teacher_inputs(full, [(j, 0)])
            np.testing.assert_array_equal(same["X"][0], batch["X"][batch["data_index"][t]])
            np.testing.assert_array_equal(same["W0"][0], batch["W0"][t])
            assert same["teachers"][0].k == width
            # the teacher is normalized: v* = 1/m*, so E y = tr M* is near 1 at every width
            np.testing.assert_allclose(same["teachers"][0].v, 1.0 / width)


def test_bad_phase_protocols_are_refused():
    p = get_protocol("phase", "reduced")
    with pytest.raises(ValueError, match="at least as wide as d"):
        dataclasses.replace(p, k=(10,))
    with pytest.raises(ValueError, match="train_v=False"):
        dataclasses.replace(p, train_v=True)
    with pytest.raises(ValueError, match="largest sample count"):
        dataclasses.replace(p, n=100)
    with pytest.raises(TypeError, match="kappas"):
        dataclasses.replace(p, kappas=())
    with pytest.raises(ValueError, match="distinct grid points"):
        dataclasses.replace(p, kappas=(0.25, 0.26))
    with pytest.raises(ValueError, match="only a phase protocol"):
        dataclasses.replace(get_protocol("fig3a"), alphas=(0.1,))
    with pytest.raises(ValueError, match="only a phase protocol has a grid"):
        get_protocol("fig3a").grid()
    with pytest.raises(ValueError, match="one sample count"):
        teacher_inputs(p, [(0, 0), (1, 0)])


def test_reduced_runs_are_the_full_protocols_runs(reduced):
    # a sub-grid of the full protocol with all its teachers and starts
    wide = run_protocol(_short("full", alphas=(0.1, 0.3), kappas=(0.25, 1.0), n=120), progress=False)
    runs, other = reduced.runs, wide.runs
    for t in range(len(runs["loss"])):
        same = np.flatnonzero((other["n"] == runs["n"][t])
                              & (other["teacher_width"] == runs["teacher_width"][t])
                              & (other["teacher"] == 0) & (other["start"] == 0))
        if runs["n"][t] in (40, 120):
            [u] = same  # the same run, in another batch: equal up to the rounding of sums
            assert other["iterations"][u] == runs["iterations"][t]
            for key in ("initial_loss", "loss", "test_error"):
                assert other[key][u] == pytest.approx(runs[key][t], rel=1e-9), key
        else:
            assert same.size == 0
    assert len(other["loss"]) == 4 * wide.protocol.teachers * wide.protocol.starts


def test_test_error_is_the_population_loss_of_the_end_point():
    p = _short()
    [batch] = [b for b in protocol_inputs(p) if b["rows"]["n"][0] == 120]
    res = batched_gradient_descent(batch["X"], batch["y"], "quadratic", batch["W0"],
                                   batch["v0"], data_index=batch["data_index"], step=p.step,
                                   max_iter=p.max_iter, loss_tol=p.loss_tol, train_v=False)
    out = run_protocol(dataclasses.replace(p, alphas=(0.3,), n=120), progress=False).runs
    rng = np.random.default_rng(5)
    for t in range(2):
        teacher = batch["teachers"][batch["data_index"][t]]
        W = res.W[t]
        # Monte Carlo over fresh Gaussian inputs: ½ E (f(x) − y(x))² over ½ E y(x)²
        X = rng.normal(size=(200_000, p.d[0]))
        f, y = np.sum((X @ W.T) ** 2, axis=1), teacher.predict(X)
        estimate = np.mean((f - y) ** 2) / np.mean(y**2)
        assert out["test_error"][t] == pytest.approx(estimate, rel=0.05)
        exact = QuadraticPopulation(teacher, v=np.ones(W.shape[0]))
        assert out["test_error"][t] == pytest.approx(exact.value(W.ravel()) / exact.null_loss,
                                                     rel=1e-12)
    assert np.all(out["test_error"] > 0)


def test_summary_is_the_runs_summarized(reduced):
    runs, summary, p = reduced.runs, reduced.summary, reduced.protocol
    assert set(PHASE_COLUMNS) <= set(runs)
    assert len(runs["loss"]) == len(p.values) * p.teachers * p.starts
    for j, (alpha, kappa, n, width) in enumerate(p.grid()):
        here = runs["value"] == j
        assert set(runs["n"][here]) == {n} and set(runs["teacher_width"][here]) == {width}
        assert (summary["alpha"][j], summary["kappa"][j]) == (alpha, kappa)
        assert summary["success"][j] == np.mean(runs["outcome"][here] == "succeeded")
        assert summary["certified"][j] == np.mean(runs["certified"][here])
        assert summary["test_error_median"][j] == np.median(runs["test_error"][here])
        assert summary["test_error_max"][j] == np.max(runs["test_error"][here])
    # after 200 steps from a start of the teachers' scale, the runs are far from done
    assert np.all(summary["success"] == 0) and np.all(runs["loss"] < runs["initial_loss"])
    lines = report(reduced).splitlines()
    assert len(lines) == 1 + len(p.values)
    assert "alpha = 0.1, kappa = 0.25 (n = 40, m* = 5): 0/1 reach the loss threshold" in lines[1]


def test_save_load_round_trip_keeps_the_phase_columns(reduced, tmp_path):
    path = tmp_path / "phase.json"
    save_results(reduced, path)
    loaded = load_results(path, protocol=reduced.protocol)
    assert set(loaded.runs) == set(reduced.runs)
    for key, column in reduced.runs.items():
        np.testing.assert_array_equal(loaded.runs[key], column)
    for key, column in reduced.summary.items():
        np.testing.assert_array_equal(loaded.summary[key], column)
    payload = json.loads(path.read_text())
    payload["runs"]["test_error"][0] = float("nan")
    payload["sha256"] = results_io._checksum(payload)
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="test_error must be finite"):
        load_results(path)


def test_checkpointed_phase_run_resumes(tmp_path):
    p = _short(alphas=(0.1, 0.3), kappas=(0.25,), n=120)
    first = run_protocol(p, progress=False, checkpoints=tmp_path)
    again = run_protocol(p, progress=False, checkpoints=tmp_path, resume=True)
    np.testing.assert_array_equal(first.runs["test_error"], again.runs["test_error"])


def test_phase_plots(reduced):
    fig, ax = plot_results(reduced)
    assert ax.get_xlabel() == "κ = m*/d" and ax.get_ylabel() == "α = n/d²"
    [mesh] = ax.collections
    values = np.log10(reduced.summary["test_error_median"]).reshape(2, 4).T
    np.testing.assert_allclose(mesh.get_array().reshape(4, 2), values)
    fig, ax = plot_phase_diagram(reduced, "success", thresholds=False)
    assert not ax.lines
    with pytest.raises(ValueError, match="what must be one of"):
        plot_phase_diagram(reduced, "loss")
    with pytest.raises(TypeError, match="phase protocol"):
        plot_phase_diagram(run_protocol(dataclasses.replace(
            get_protocol("fig3a", "reduced"), k=(3,), max_iter=20), progress=False))


def _jacobian_rank(d, r, rng):
    """The rank of the derivative of W ↦ WᵀW (W of shape (r, d)) at a random W, whose image
    is the rank-r PSD matrices."""
    W = rng.normal(size=(r, d))
    columns = []
    for a in range(r):
        for b in range(d):
            E = np.zeros((r, d))
            E[a, b] = 1.0
            dM = E.T @ W + W.T @ E
            columns.append(dM[np.triu_indices(d)])
    return np.linalg.matrix_rank(np.array(columns).T)


@pytest.mark.parametrize("d, r", [(6, 1), (6, 3), (6, 6), (9, 4)])
def test_rank_manifold_dimension_is_the_rank_of_the_factorization(d, r):
    assert rank_manifold_dimension(d, r) == _jacobian_rank(d, r, np.random.default_rng(d + r))


def test_descent_cone_dimension_adds_half_the_complements_psd_cone():
    # the statistical dimension of the PSD cone of order q is E‖Π(G)‖², G a standard Gaussian
    # in the svec coordinates; by self-duality it is half of q(q + 1)/2
    rng, q = np.random.default_rng(0), 6
    samples = []
    for _ in range(4000):
        G = np.triu(rng.normal(size=(q, q)), 1) / np.sqrt(2)  # svec weighs these by √2
        G = G + G.T + np.diag(rng.normal(size=q))
        w = np.linalg.eigvalsh(G)
        samples.append(np.sum(np.maximum(w, 0) ** 2))
    assert np.mean(samples) == pytest.approx(q * (q + 1) / 4, rel=0.03)
    d, r = 10, 4
    assert descent_cone_dimension(d, r) == rank_manifold_dimension(d, r) + q * (q + 1) / 4
    assert descent_cone_dimension(d, 12) == rank_manifold_dimension(d, 12) == d * (d + 1) // 2


def test_alpha_thresholds_are_the_large_d_limits():
    d = 4000
    for kappa in (0.1, 0.5, 0.9, 1.5):
        manifold, cone = alpha_thresholds(kappa)
        r = round(kappa * d)
        assert rank_manifold_dimension(d, r) / d**2 == pytest.approx(manifold, abs=1e-3)
        assert descent_cone_dimension(d, r) / d**2 == pytest.approx(cone, abs=1e-3)
        assert manifold <= cone <= 0.5
    for kappa, width in ((0.25, 5), (0.5, 10), (1.5, 20)):  # at d = 20, the counts over d²
        manifold, cone = alpha_thresholds(kappa, d=20)
        assert manifold == pytest.approx(rank_manifold_dimension(20, width) / 400)
        assert cone == pytest.approx(descent_cone_dimension(20, width) / 400)
    with pytest.raises(ValueError, match="kappa"):
        alpha_thresholds(-1.0)
    # n = d(d+1)/2 is where the Khatri–Rao features of generic data reach full column rank
    X = np.random.default_rng(1).normal(size=(15, 5))
    assert np.linalg.matrix_rank(khatri_rao(X)) == 15 == rank_manifold_dimension(5, 5)


def _check_certificate(X, target, result):
    """The certificate's own conditions, checked from its λ: YU = 0, VᵀYV positive definite."""
    w, E = np.linalg.eigh(target)
    big = w > 1e-9 * w.max()
    U, V = E[:, big], E[:, ~big]
    Y = (X * result.dual[:, None]).T @ X
    assert np.linalg.norm(Y @ U) <= 1e-9 * np.linalg.norm(Y)
    assert np.linalg.eigvalsh(V.T @ Y @ V)[0] > 0


def test_psd_uniqueness_certificates_hold_and_match_the_counts():
    rng = np.random.default_rng(3)
    d = 6
    W = rng.normal(size=(d, d))
    full = W.T @ W
    # a full-rank teacher is pinned down exactly from d(d + 1)/2 = 21 samples on
    below = psd_uniqueness(rng.normal(size=(20, d)), full)
    at = psd_uniqueness(rng.normal(size=(21, d)), full)
    assert not below.certified and at.certified and at.margin == np.inf and at.rank == d
    w = rng.normal(size=(2, d))
    low = w.T @ w  # rank 2: its manifold has dimension 2d - 1 = 11
    assert not psd_uniqueness(rng.normal(size=(10, d)), low).certified
    for n in (16, 30, 60):
        X = rng.normal(size=(n, d))
        result = psd_uniqueness(X, low)
        assert result.certified and result.injective and result.rank == 2
        _check_certificate(X, low, result)
    with pytest.raises(ValueError, match="positive semidefinite"):
        psd_uniqueness(rng.normal(size=(10, d)), -low)
    with pytest.raises(ValueError, match="symmetric"):
        psd_uniqueness(rng.normal(size=(10, d)), W)


def test_certified_teachers_are_the_fits_gradient_descent_finds():
    # where a teacher is certified, two starts fitting its data end at the same matrix M*;
    # where it is not (fewer samples), they end at different fits
    rng = np.random.default_rng(4)
    d, k = 6, 8
    w = rng.normal(size=(2, d)) / np.sqrt(d)
    target = w.T @ w
    starts = [0.3 * rng.normal(size=(k, d)) / np.sqrt(d) for _ in range(2)]
    gaps = {}
    for n in (9, 30):
        X = rng.normal(size=(n, d))
        y = np.einsum("ni,ij,nj->n", X, target, X)
        res = batched_gradient_descent(X, y, "quadratic", starts, [np.ones(k)] * 2,
                                       step=0.02, max_iter=30_000, train_v=False, loss_tol=1e-14)
        M = [res.W[t].T @ res.W[t] for t in range(2)]
        gaps[n] = (psd_uniqueness(X, target).certified,
                   max(np.linalg.norm(m - target) for m in M) / np.linalg.norm(target),
                   res.loss.max())
    assert gaps[30][0] and gaps[30][1] < 1e-2  # still closing in: sublinear, k > rank M*
    assert not gaps[9][0] and gaps[9][1] > 0.1
    assert max(gaps[9][2], gaps[30][2]) < 1e-5  # both fit their data
