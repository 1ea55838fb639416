"""Tests of shallowlearn.plotting: each helper draws what it says and returns (fig, ax)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from shallowlearn import Objective, random_labels  # noqa: E402
from shallowlearn.plotting import plot_slice, plot_slice_2d, plot_spectrum  # noqa: E402
from shallowlearn.slices import project_trajectory  # noqa: E402
from shallowlearn.spectrum import hessian_spectrum  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def saddle():
    data = random_labels(n=20, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0])
    return obj, hessian_spectrum(obj, np.zeros(obj.p))


def test_plot_spectrum_marks_the_extremes():
    _, spec = saddle()
    fig, ax = plot_spectrum(spec)
    assert fig is ax.figure and ax.get_yscale() == "log"
    marked = sorted(line.get_xdata()[0] for line in ax.lines[1:])
    assert marked == pytest.approx([spec.lambda_min, spec.lambda_max])
    assert any("λ_min" in text.get_text() for text in ax.get_legend().get_texts())


def test_plot_spectrum_on_given_axes_and_linear_scale():
    _, spec = saddle()
    fig, axes = plt.subplots(1, 2)
    out_fig, out_ax = plot_spectrum(spec.eigenvalues, ax=axes[1], log=False, width=0.5)
    assert out_fig is fig and out_ax is axes[1] and out_ax.get_yscale() == "linear"
    assert len(axes[0].lines) == 0


def test_plot_spectrum_needs_every_eigenvalue():
    data = random_labels(n=20, d=3, rng=0)
    obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0, 1.0, -1.0])
    partial = hessian_spectrum(obj, np.zeros(obj.p), method="iterative", rng=0)
    with pytest.raises(ValueError, match="needs every eigenvalue"):
        plot_spectrum(partial)
    with pytest.raises(ValueError, match="spectrum must be a 1-D vector"):
        plot_spectrum(np.ones((2, 2)))


def test_plot_slice():
    t = np.linspace(-1, 1, 21)
    fig, ax = plot_slice(t, 1 + t**2, label="bottom eigenvector", log=True)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), 1 + t**2)
    assert ax.get_yscale() == "log" and ax.get_legend() is not None
    with pytest.raises(ValueError, match=r"loss must have shape \(21,\)"):
        plot_slice(t, t[:-1])


def test_plot_slice_2d_with_a_trajectory():
    rng = np.random.default_rng(0)
    proj = project_trajectory(rng.normal(size=(6, 5)))
    s, t = np.linspace(-3, 3, 11), np.linspace(-2, 2, 9)
    loss = 1 + s[:, None] ** 2 + t[None, :] ** 2
    fig, ax = plot_slice_2d(s, t, loss, trajectory=proj, log=True)
    path = ax.lines[0]
    np.testing.assert_allclose(path.get_xdata(), proj.coords[:, 0])
    np.testing.assert_allclose(path.get_ydata(), proj.coords[:, 1])
    assert len(fig.axes) == 2  # the axes and the colorbar


def test_plot_slice_2d_checks_shapes():
    s, t = np.linspace(0, 1, 3), np.linspace(0, 1, 4)
    with pytest.raises(ValueError, match=r"loss must have shape \(3, 4\)"):
        plot_slice_2d(s, t, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"trajectory must have shape \(any, 2\)"):
        plot_slice_2d(s, t, np.ones((3, 4)), trajectory=np.ones((5, 3)))
