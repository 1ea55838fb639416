"""Tests of shallowlearn.plotting: each helper draws what it says and returns (fig, ax)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from shallowlearn import Objective, random_labels, run_protocol  # noqa: E402
from shallowlearn.results_io import shipped_results  # noqa: E402
from shallowlearn.plotting import (  # noqa: E402
    LINESTYLES,
    MARKERS,
    PALETTE,
    plot_results,
    plot_slice,
    plot_slice_2d,
    plot_spectrum,
    prop_cycle,
    series_style,
)
from shallowlearn.slices import project_trajectory  # noqa: E402
from shallowlearn.spectrum import hessian_spectrum  # noqa: E402

BOOK_RC = Path(__file__).resolve().parents[1] / "book" / "matplotlibrc"


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


def test_the_books_matplotlibrc_mirrors_the_palette():
    """book/matplotlibrc sets the same colour and line-style cycle as plotting.prop_cycle()."""
    rc = matplotlib.rc_params_from_file(str(BOOK_RC), use_default_template=False)
    book = rc["axes.prop_cycle"].by_key()
    package = prop_cycle().by_key()
    assert [matplotlib.colors.to_hex(c) for c in book["color"]] == [
        matplotlib.colors.to_hex(c) for c in package["color"]]
    assert [tuple(s) if isinstance(s, (list, tuple)) else s for s in book["linestyle"]] == list(
        LINESTYLES)
    assert len(set(PALETTE)) == len(PALETTE) == len(LINESTYLES) == len(MARKERS)
    assert len({str(s) for s in LINESTYLES}) == len(LINESTYLES)  # every style differs


def test_series_style():
    assert series_style(3, marker=True) == {"color": PALETTE[3], "linestyle": LINESTYLES[3],
                                            "marker": MARKERS[3]}
    assert series_style(len(PALETTE) + 1) == series_style(1)
    with pytest.raises(ValueError, match="i must be non-negative"):
        series_style(-1)
    with pytest.raises(TypeError, match="i must be an integer"):
        series_style(1.0)


def _style(line):
    return (matplotlib.colors.to_hex(line.get_color()), str(line.get_linestyle()),
            line.get_marker())


def test_slices_on_one_axes_differ_without_colour():
    t = np.linspace(-1, 1, 11)
    fig, ax = plot_slice(t, t**2, label="u")
    for j, label in enumerate("vw"):
        plot_slice(t, t**2 + j + 1, ax=ax, label=label)
    assert len({line.get_linestyle() for line in ax.lines}) == 3
    assert len({matplotlib.colors.to_hex(line.get_color()) for line in ax.lines}) == 3


def test_spectrum_marks_differ_without_colour():
    _, spec = saddle()
    _, ax = plot_spectrum(spec)
    lo, hi = ax.lines[1:]
    assert lo.get_linestyle() != hi.get_linestyle()


def test_results_series_differ_without_colour(tiny):
    # success plot (the shipped Figure 3a: a fit to the runs, the paper's crossing): teachers,
    # runs and the paper's points have their own markers; each series' lines (fit, 50%
    # crossing) share one line style, and the series' styles differ
    lines = plot_results(shipped_results("fig3a"))[1].get_lines()
    points = [line for line in lines if line.get_linestyle() == "None" and len(line.get_xdata())]
    assert len({line.get_marker() for line in points}) == len(points) == 3
    styles = {}
    for line in lines:
        if line.get_linestyle() != "None":
            styles.setdefault(matplotlib.colors.to_hex(line.get_color()), set()).add(
                line.get_linestyle())
    assert len(styles) == 2 and all(len(s) == 1 for s in styles.values())
    assert len(set.union(*styles.values())) == 2
    # curve plot: the runs of one value share a style; different values differ in line style
    fig4 = run_protocol(tiny("fig4b", k=(3, 5, 8), max_iter=100), progress=False)
    lines = plot_results(fig4)[1].get_lines()
    by_value = {}
    for line, value in zip(lines, fig4.runs["value"]):
        by_value.setdefault(int(value), set()).add(_style(line))
    assert len(lines) == len(fig4.runs["value"]) and sorted(by_value) == [3, 5, 8]
    assert all(len(s) == 1 for s in by_value.values())
    assert len({next(iter(s))[1] for s in by_value.values()}) == 3


@pytest.mark.parametrize("name", ["fig4a", "fig4b"])
def test_curve_plot_tick_labels_do_not_overlap(name):
    # the shipped Figure 4 results, drawn at half the width of a page as the chapter does
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_results(shipped_results(name), ax=ax)
    fig.tight_layout()  # the legend, outside the axes, takes its room from them
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels()
             if label.get_visible() and label.get_text()]
    assert len(boxes) >= 3
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)
