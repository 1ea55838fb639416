"""Every figure of the package: Hessian spectra, loss slices and protocol results (matplotlib).

Each function draws on ``ax`` when given (else on a new figure) and returns ``(fig, ax)``, so
a chapter can restyle, annotate or combine the panels.

The colours are the Okabe–Ito palette (:data:`PALETTE`), which stays distinguishable under the
common forms of colour blindness, and no two series of a plot differ by colour alone: each
also has its own line style (:data:`LINESTYLES`) or marker (:data:`MARKERS`). :func:`prop_cycle`
gives the same pairing as a matplotlib property cycle; the book's ``book/matplotlibrc`` sets it
for every chapter.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.ticker import MaxNLocator

from .protocols import PAPER_SUCCESS
from .results_io import Results
from .runner import POPULATION_COUNTS
from .slices import TrajectoryProjection
from .spectrum import Spectrum, eigenvalue_density
from .statistics import fit_logistic, logistic
from .thresholds import alpha_thresholds
from .validation import check_array

__all__ = [
    "LINESTYLES",
    "MARKERS",
    "PALETTE",
    "plot_phase_diagram",
    "plot_results",
    "plot_slice",
    "plot_slice_2d",
    "plot_spectrum",
    "prop_cycle",
    "series_style",
]

#: The eight colours of Okabe and Ito's colour-blind-safe palette ("Color Universal Design",
#: 2008), as hex strings. The order keeps the hues of matplotlib's default first four colours
#: (blue, orange, green, red), so that ``"C0"`` to ``"C3"`` keep their meaning under
#: :func:`prop_cycle`; yellow, the weakest on white, comes last.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")

#: The line style paired with each colour of :data:`PALETTE` (matplotlib line styles; the
#: tuples are dash patterns: offset, then lengths of dashes and gaps in line widths).
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)),
              (0, (8, 2, 1, 2, 1, 2)), (0, (4, 1, 1, 1, 1, 1, 1, 1)))

#: The marker paired with each colour of :data:`PALETTE`, for series drawn as points.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def prop_cycle():
    """The matplotlib property cycle of :data:`PALETTE` together with :data:`LINESTYLES`.

    Set it as ``matplotlib.rcParams["axes.prop_cycle"]`` (or in a ``matplotlibrc``) so that
    successive lines of an axes differ in colour and in line style.

    Returns
    -------
    cycler.Cycler

    Examples
    --------
    >>> from shallowlearn.plotting import prop_cycle
    >>> styles = list(prop_cycle())
    >>> styles[1]
    {'color': '#E69F00', 'linestyle': '--'}
    """
    return cycler(color=list(PALETTE)) + cycler(linestyle=list(LINESTYLES))


def series_style(i: int, *, marker: bool = False) -> dict:
    """Keyword arguments of matplotlib's ``plot`` for series number i (from 0).

    The colour and line style of entry ``i`` of :func:`prop_cycle` (counted modulo its length),
    and with ``marker=True`` the matching marker of :data:`MARKERS`.

    Parameters
    ----------
    i : int
        The series number, from 0.
    marker : bool
        Include the series' marker.

    Returns
    -------
    dict
        ``color`` and ``linestyle`` (and ``marker``), to pass to ``Axes.plot``.

    Examples
    --------
    >>> from shallowlearn.plotting import series_style
    >>> series_style(0, marker=True)
    {'color': '#0072B2', 'linestyle': '-', 'marker': 'o'}
    >>> series_style(9)["linestyle"]
    '--'
    """
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"i must be an integer (the series number); got {type(i).__name__}")
    if i < 0:
        raise ValueError(f"i must be non-negative (the series number); got {i}")
    j = int(i) % len(PALETTE)
    style = {"color": PALETTE[j], "linestyle": LINESTYLES[j]}
    if marker:
        style["marker"] = MARKERS[j]
    return style


def _axes(ax, figsize=None):
    """``ax`` and its figure, or a new figure with one axes (constrained layout)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def plot_spectrum(spectrum, *, ax=None, width: float | None = None, log: bool = True):
    r"""The eigenvalue density of a Hessian, with :math:`\lambda_{\min}` and :math:`\lambda_{\max}`
    marked.

    Parameters
    ----------
    spectrum : Spectrum or array_like
        A complete spectrum (the dense route) or the eigenvalues themselves.
    ax : matplotlib.axes.Axes, optional
    width : float, optional
        Gaussian broadening (:func:`shallowlearn.spectrum.eigenvalue_density`).
    log : bool
        Logarithmic density axis, so that the bulk and the spike at zero both show.

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from shallowlearn.plotting import plot_spectrum
    >>> fig, ax = plot_spectrum([-1.0, 0.0, 0.0, 0.0, 2.0, 3.0])
    >>> ax.get_xlabel()
    'eigenvalue'
    """
    if isinstance(spectrum, Spectrum):
        if not spectrum.complete:
            raise ValueError(
                f"plot_spectrum needs every eigenvalue; this spectrum has {spectrum.eigenvalues.size} "
                f"of {spectrum.p} (compute it with method='dense')"
            )
        eigenvalues = spectrum.eigenvalues
    else:
        eigenvalues = check_array(spectrum, "spectrum", ndim=1)
    fig, ax = _axes(ax)
    grid, density = eigenvalue_density(eigenvalues, width=width)
    ax.plot(grid, density, color=PALETTE[0], linestyle="-")
    ax.fill_between(grid, density, color=PALETTE[0], alpha=0.2)
    for value, name, color, style in ((eigenvalues.min(), "λ_min", PALETTE[3], "--"),
                                      (eigenvalues.max(), "λ_max", PALETTE[2], "-.")):
        ax.axvline(value, color=color, linestyle=style, linewidth=1.2,
                   label=f"{name} = {value:.3g}")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(density.max() * 1e-6, np.finfo(float).tiny))
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.legend()
    return fig, ax


def plot_slice(t, loss, *, ax=None, label: str | None = None, log: bool = False):
    """A 1-D loss slice: loss against the step :math:`t` (from
    :func:`shallowlearn.slices.slice_1d`).

    Slices drawn one after the other on the same axes get the successive styles of
    :func:`series_style` (colour and line style), so that they differ without colour too.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from shallowlearn.plotting import plot_slice
    >>> t = np.linspace(-1, 1, 11)
    >>> fig, ax = plot_slice(t, t**2, label="along u")
    >>> fig, ax = plot_slice(t, 1 - t**2, ax=ax, label="along w")
    >>> [line.get_linestyle() for line in ax.lines]
    ['-', '--']
    """
    t = check_array(t, "t", ndim=1)
    loss = check_array(loss, "loss", ndim=1, shape=(t.size,))
    fig, ax = _axes(ax)
    ax.plot(t, loss, label=label, **series_style(len(ax.lines)))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("loss")
    if label is not None:
        ax.legend()
    return fig, ax


def plot_slice_2d(s, t, loss, *, ax=None, trajectory=None, levels: int = 30, log: bool = False):
    r"""A 2-D loss slice as filled contours, optionally with an optimization path drawn on it.

    Parameters
    ----------
    s, t : array_like, shapes (m1,), (m2,)
        The grid (horizontal and vertical axes).
    loss : array_like, shape (m1, m2)
        From :func:`shallowlearn.slices.slice_2d`: entry [i, j] at (s[i], t[j]).
    ax : matplotlib.axes.Axes, optional
    trajectory : TrajectoryProjection or array_like of shape (T, 2), optional
        Path coordinates in the plane, e.g. from :func:`shallowlearn.slices.project_trajectory`
        (slice at its ``center`` along its ``directions`` so that the two agree).
    levels : int
        Number of contour levels.
    log : bool
        Contour :math:`\log_{10}` of the loss.

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from shallowlearn.plotting import plot_slice_2d
    >>> s, t = np.linspace(-1, 1, 9), np.linspace(-1, 1, 7)
    >>> loss = s[:, None] ** 2 - t[None, :] ** 2 + 2
    >>> fig, ax = plot_slice_2d(s, t, loss, trajectory=[[1.0, 0.5], [0.5, 0.2], [0.0, 0.0]])
    >>> len(ax.lines)
    3
    """
    s = check_array(s, "s", ndim=1)
    t = check_array(t, "t", ndim=1)
    loss = check_array(loss, "loss", ndim=2, shape=(s.size, t.size))
    fig, ax = _axes(ax)
    values = np.log10(np.maximum(loss, np.finfo(float).tiny)) if log else loss
    filled = ax.contourf(s, t, values.T, levels=levels, cmap="viridis")
    fig.colorbar(filled, ax=ax, label="log₁₀ loss" if log else "loss")
    if trajectory is not None:
        path = trajectory.coords if isinstance(trajectory, TrajectoryProjection) else check_array(
            trajectory, "trajectory", ndim=2, shape=(None, 2)
        )
        ax.plot(path[:, 0], path[:, 1], color="white", marker=".", linewidth=1)
        ax.plot(*path[0], "o", color="white", mec="black", label="start")
        ax.plot(*path[-1], "*", color=PALETTE[3], mec="white", markersize=12, label="end")
        ax.legend()
    ax.set_xlabel("s")
    ax.set_ylabel("t")
    return fig, ax


def plot_results(results: Results, ax=None):
    """Plot results as in the paper: success rates with the logistic fit, or loss curves; for a
    population protocol, the fraction of runs ending at each kind of point.

    A phase protocol is drawn by :func:`plot_phase_diagram` (its test errors). A success plot
    shows the fraction of teachers that pass and the fraction of runs that
    succeed, each with its logistic fit and 50% crossing when there is one, and, for the
    paper's Figures 2 and 3, the paper's points and crossing (:data:`~shallowlearn.protocols.PAPER_SUCCESS`);
    the three differ in colour, marker and line style. A curve plot draws every run's loss
    (or RMSE) against the iteration, the runs of one sweep value in one :func:`series_style`.

    Parameters
    ----------
    results : Results
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made otherwise.

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> import dataclasses
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from shallowlearn import get_protocol, run_protocol
    >>> from shallowlearn.plotting import plot_results
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3, 8), max_iter=50)
    >>> fig, ax = plot_results(run_protocol(p, progress=False))
    >>> ax.get_xlabel()
    'k'
    """
    if not isinstance(results, Results):
        raise TypeError(f"results must be a shallowlearn Results; got {type(results).__name__}")
    if results.protocol.kind == "phase":
        return plot_phase_diagram(results, "test_error", ax=ax)
    fig, ax = _axes(ax, figsize=(7.5, 3.6))
    p = results.protocol
    title = f"{p.figure}: {p.activation}, n = {p.n}"
    if p.kind == "success":
        summary, fit = results.summary, results.fit
        fixed = f"d = {p.d[0]}" if p.sweep == "k" else f"k = {p.k[0]}"
        values = summary["value"]
        grid = np.linspace(values.min(), values.max(), 200)
        runs = p.teachers * p.starts
        run_fit = fit_logistic(values, summary["runs_succeeded"], runs)
        # each series has its own colour, marker and line style (its fit and its 50% crossing)
        for label, what, rate, this_fit, color, marker, style in (
            ("teachers passing (all starts)", "teachers", summary["rate"], fit, PALETTE[0], "o",
             "-"),
            ("runs succeeding", "runs", summary["runs_succeeded"] / runs, run_fit, "0.4", "x",
             "--"),
        ):
            ax.plot(values, rate, marker, color=color, label=label)
            if np.isfinite(this_fit["crossing"]):
                ax.plot(grid, logistic(this_fit, grid), linestyle=style, color=color, lw=1,
                        label=f"  fit to {what}: 50% at {p.sweep} = {this_fit['crossing']:.2f}")
                ax.axvline(this_fit["crossing"], ls=style, color=color, lw=1)
            else:
                ax.plot([], [], " ", label=f"  fit to {what}: no 50% crossing in range")
        paper = PAPER_SUCCESS.get(p.name)
        if paper is not None:
            ax.plot(paper["values"], paper["rate"], "s", mfc="none", color=PALETTE[3],
                    label="paper: teachers passing")
            ax.axvline(paper["crossing"], ls=":", color=PALETTE[3], lw=1.5,
                       label=f"  paper: 50% at {p.sweep} = {paper['crossing']:.2f}")
        ax.set_xlabel(p.sweep)
        ax.set_ylabel("fraction")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{title}, {fixed}; {p.teachers} teachers x {p.starts} starts")
    elif p.kind == "population":
        summary = results.summary
        total = sum(summary[name] for name in POPULATION_COUNTS)
        for name, marker in zip(POPULATION_COUNTS, "os^x"):
            ax.plot(summary["value"], summary[name] / total, marker + "-", label=name)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("k = d")
        ax.set_ylabel("fraction of runs")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{p.figure}: {p.activation} population loss, "
                     f"{p.extra_units} extra units; {p.starts} starts")
    else:
        curves = results.curves
        loss = curves["loss"] if p.kind == "local" else np.sqrt(curves["loss"])
        for i, value in enumerate(p.values):
            rows = np.flatnonzero(results.runs["value"] == value)
            for m, row in enumerate(rows):  # the runs of one value share its style
                ax.semilogy(curves["iteration"], loss[row], **series_style(i),
                            label=f"{p.sweep} = {value}" if m == 0 else None)
        # a few round ticks, the power of ten set apart, so that labels never overlap
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3), useMathText=True)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss" if p.kind == "local" else "RMSE")
        sizes = f"d = {p.d[0]}" + (f", k = {p.k[0]}" if p.kind == "local" else "")
        ax.set_title(f"{title}, {sizes}, step {p.step}")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig, ax


#: What :func:`plot_phase_diagram` can show: summary column, colour bar label, colour map.
_PHASE_PANELS = {
    "success": ("success", "fraction of runs reaching the loss threshold", "cividis"),
    "certified": ("certified", "fraction of teachers certified unique", "cividis"),
    "test_error": ("test_error_median", "log₁₀ median test error", "viridis"),
}


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway between sorted centres, the outer ones as far out as the inner."""
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def plot_phase_diagram(results: Results, what: str = "test_error", *, ax=None,
                       thresholds: bool = True):
    r"""A phase protocol's grid as a map over :math:`(\kappa, \alpha)`: the success rate, the test
    error or the certified uniqueness, with the two threshold curves of
    :func:`shallowlearn.thresholds.alpha_thresholds`.

    Parameters
    ----------
    results : Results
        Of a ``phase`` protocol.
    what : {"test_error", "success", "certified"}
        The median test error of each grid point's runs (:math:`\log_{10}` colour scale, floored
        at :math:`10^{-8}`), the fraction of its runs that reached the loss threshold, or the
        fraction of its teachers certified to be the only PSD fit of their data.
    ax : matplotlib.axes.Axes, optional
    thresholds : bool
        Draw the two counts of :func:`shallowlearn.thresholds.alpha_thresholds` at the
        protocol's :math:`d`: the rank-:math:`m^\star` count (dashed) and the descent-cone count
        (dotted).

    Returns
    -------
    fig, ax

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from shallowlearn import shipped_results
    >>> from shallowlearn.plotting import plot_phase_diagram
    >>> fig, ax = plot_phase_diagram(shipped_results("phase"), "success")
    >>> ax.get_xlabel(), len(ax.lines)
    ('κ = m*/d', 2)
    """
    if not isinstance(results, Results) or results.protocol.kind != "phase":
        raise TypeError(f"results must be the Results of a phase protocol; got "
                        f"{getattr(getattr(results, 'protocol', None), 'kind', type(results).__name__)!r}")
    if what not in _PHASE_PANELS:
        raise ValueError(f"what must be one of {', '.join(_PHASE_PANELS)}; got {what!r}")
    column, label, cmap = _PHASE_PANELS[what]
    p, summary = results.protocol, results.summary
    kappas, alphas = np.array(p.kappas), np.array(p.alphas)
    grid = summary[column].reshape(kappas.size, alphas.size).T  # rows α, columns κ
    if what == "test_error":
        grid, limits = np.log10(np.maximum(grid, 1e-8)), {}
    else:
        limits = {"vmin": 0.0, "vmax": 1.0}
    fig, ax = _axes(ax, figsize=(5.2, 4.0))
    order_k, order_a = np.argsort(kappas), np.argsort(alphas)
    k_edges, a_edges = _edges(kappas[order_k]), _edges(alphas[order_a])
    mesh = ax.pcolormesh(k_edges, a_edges, grid[np.ix_(order_a, order_k)], cmap=cmap, **limits)
    fig.colorbar(mesh, ax=ax, label=label)
    if thresholds:
        curve = np.linspace(max(k_edges[0], 0.0), k_edges[-1], 200)
        manifold, cone = alpha_thresholds(curve, d=p.d[0])
        ax.plot(curve, manifold, color="white", linestyle="--", lw=1.8,
                label="rank-m* count, d = " + str(p.d[0]))
        ax.plot(curve, cone, color=PALETTE[3], linestyle=":", lw=2.2,
                label="descent-cone count, d = " + str(p.d[0]))
        ax.legend(fontsize="x-small", loc="lower right")
    ax.set_xlim(k_edges[[0, -1]])
    ax.set_ylim(a_edges[[0, -1]])
    ax.set_xlabel("κ = m*/d")
    ax.set_ylabel("α = n/d²")
    ax.set_title(f"d = {p.d[0]}, k = {p.k[0]}: {p.teachers} teachers × {p.starts} starts",
                 fontsize="small")
    return fig, ax
