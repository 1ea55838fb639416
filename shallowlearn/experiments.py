"""The paper's experiment protocols, their tidy results, and saving and loading them.

Three kinds of protocol, each a :class:`Protocol` in :data:`PROTOCOLS`:

* **success** (Figures 2a, 2b, 3a, 3b): for each width k (or dimension d), planted teachers
  x ↦ 1ᵀφ(W*x) with W* entries N(0, 1/d), and from each teacher several gradient-descent runs
  on (v, W) jointly from the paper's random start (W₀ entries N(0, 1/d), v₀ Rademacher). A
  run *succeeds* when its loss reaches ``loss_tol``; a teacher *passes* ("no spurious local
  minima" in the paper's words) only if all its runs succeed. The fraction of teachers that
  pass is fitted with a logistic curve, whose 50% crossing is reported.
* **random_labels** (Figure 4): one data set with labels yᵢ ~ N(0, 1) independent of xᵢ, and
  gradient descent on (v, W) for each width; the curves are RMSE = √L against the iteration.
* **local** (Theorem 2.5): runs started at Frobenius distance ``radius`` from the planted W*
  (v₀ = v*); the curves are the loss against the iteration, whose slope on a log scale is the
  linear rate.

The paper states neither step size, iteration cap nor success threshold; the values here are
this package's choice, and every :class:`Results` carries them. For Figure 3 (quadratic,
n = 100, d = 20): the largest Hessian eigenvalue at the random start and at the planted
weights reaches about 170 for k = 9, so fixed-step gradient descent is stable below
α ≈ 2/170 ≈ 0.012; α = 0.005 leaves a margin of two. Runs that succeed reach the threshold
L ≤ 10⁻⁸ (the labels' mean square is k² + 2k ≈ 20–100) within 8,000–48,000 steps, hence the
cap of 50,000. For softplus (b = 10) the largest eigenvalue stays below about 30, hence
α = 0.05 (0.02 for the local runs, where d = k = 20).

A failed run is called *stuck* when its gradient has become negligible for its loss
(‖∇L‖² ≤ 10⁻⁶ L) and *slow* otherwise. "Slow" covers runs still descending at the cap and runs
that oscillate: with v₀ Rademacher, a start with only one or two positive output weights must
grow those units until the fixed step is too large for them, and then bounces at a loss of
order 1 with a large gradient. With one positive weight it is stuck (it can only fit a rank-one
form). Both make the all-starts-succeed rule much harder to meet than the paper's figure
suggests; see the shipped reduced results.

Shipped full results (``shallowlearn/results/<name>-full.json`` and ``.png``, seed 0, made by
``python -m shallowlearn run <name> --size full`` with one BLAS thread on 2 shared cores):
Figure 3a and 3b (700 runs each, about 1-2.5 minutes), Figure 2a (900 runs, 28 minutes: the
softplus φ and φ′ dominate each step), Figure 2b (800 runs, 24 minutes), Figures 4a and 4b
(18 runs, 2 minutes and 11 s) and the local protocol (80 runs, 1 minute; its curves are
recorded every 100 steps to keep the file small). In none of Figures 2-3 does the fraction
of *teachers* passing reach 1/2 inside the paper's sweep: with Rademacher v₀ and this budget
some start of almost every teacher fails. The fraction of *runs* succeeding does cross 1/2,
at k ≈ 14.7 (2a; the paper's teacher crossing is at 11.4), d ≈ 13.4 (2b; paper 10.7),
k ≈ 7.0 (3a; paper 5.5) and d ≈ 25.4 (3b; paper 25.4). Most softplus failures are still
descending at the cap (losses 10⁻⁷-10⁻⁵ at k ≥ 12), so there the budget, not a spurious
minimum, is the binding limit.

Results are saved as JSON (atomically: an interrupted save never leaves a half-written file)
with the protocol, the seed and the package version, and loading checks all three.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import uuid
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from scipy import optimize

from .activations import get_activation
from .batched import batched_gradient_descent
from .data import planted, random_labels
from .initializations import near_planted, random_init
from .validation import check_positive_int

__all__ = [
    "PAPER_SUCCESS",
    "PROTOCOLS",
    "add_command",
    "Protocol",
    "Results",
    "fit_logistic",
    "get_protocol",
    "load_results",
    "plot_results",
    "protocol_inputs",
    "run_protocol",
    "save_results",
    "shipped_results",
]

_FORMAT = "shallowlearn-results"
_FORMAT_VERSION = 1
#: A failed run is "stuck" when ‖∇L‖² ≤ _STUCK · L, "slow" otherwise.
_STUCK = 1e-6


@dataclass(frozen=True)
class Protocol:
    """The full description of an experiment: data, sweep, optimizer and success rule.

    Attributes
    ----------
    name : str
        Key in :data:`PROTOCOLS` (with ``size`` it identifies the protocol).
    kind : str
        ``"success"``, ``"random_labels"`` or ``"local"``.
    size : str
        ``"full"`` (the paper's sizes) or ``"reduced"`` (a quick version).
    figure : str
        The figure or statement of the paper it reproduces.
    activation : str
        Name of the activation; ``activation_params`` holds its parameters.
    n : int
        Number of samples.
    d, k : tuple of int
        Input dimensions and widths; the one with several values is the sweep.
    teachers, starts : int
        Data sets (teachers) per sweep value, and gradient-descent runs per data set.
    step : float
        Step size of gradient descent (v and W trained jointly).
    max_iter : int
        Iteration cap of each run.
    loss_tol : float
        A run stops, and counts as a success, once its loss is at most this.
    record_every : int or None
        Stride of the recorded loss curves (None: no curves).
    radii : tuple of float
        ``local`` only: distances ‖W₀ − W*‖_F of the starts.
    activation_params : dict
        Parameters of the activation (for example ``{"b": 10.0}``).

    Examples
    --------
    >>> from shallowlearn.experiments import get_protocol
    >>> p = get_protocol("fig3a")
    >>> p.sweep, p.values, p.step, p.max_iter
    ('k', (3, 4, 5, 6, 7, 8, 9), 0.005, 50000)
    """

    name: str
    kind: str
    size: str
    figure: str
    activation: str
    n: int
    d: tuple
    k: tuple
    teachers: int
    starts: int
    step: float
    max_iter: int
    loss_tol: float
    record_every: int | None = None
    radii: tuple = ()
    activation_params: dict = field(default_factory=dict)

    @property
    def sweep(self) -> str:
        """The swept quantity: ``"k"``, ``"d"`` or ``"radius"``."""
        if self.kind == "local":
            return "radius"
        return "d" if len(self.d) > 1 else "k"

    @property
    def values(self) -> tuple:
        """The values of the sweep."""
        return {"k": self.k, "d": self.d, "radius": self.radii}[self.sweep]

    def configs(self) -> list[tuple[int, int, float]]:
        """(d, k, radius) of each sweep value, in order."""
        count = len(self.values)
        d = self.d * count if len(self.d) == 1 else self.d
        k = self.k * count if len(self.k) == 1 else self.k
        radii = self.radii or (0.0,) * count
        return list(zip(d, k, radii))

    def to_dict(self) -> dict:
        """The protocol as plain JSON-ready values."""
        out = dataclasses.asdict(self)
        out["d"], out["k"], out["radii"] = list(self.d), list(self.k), list(self.radii)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> Protocol:
        """Inverse of :meth:`to_dict`."""
        values = dict(values)
        for key in ("d", "k", "radii"):
            values[key] = tuple(values[key])
        return cls(**values)


def _success(name, figure, activation, d, k, params=None, teachers=10) -> Protocol:
    return Protocol(
        name=name, kind="success", size="full", figure=figure, activation=activation,
        activation_params=params or {}, n=100, d=tuple(d), k=tuple(k), teachers=teachers,
        starts=10,
        step=0.005 if activation == "quadratic" else 0.05, max_iter=50_000, loss_tol=1e-8,
    )


#: The full-size protocols by name.
PROTOCOLS: dict[str, Protocol] = {
    "fig2a": _success("fig2a", "Figure 2a", "softplus", [10], range(8, 17), {"b": 10.0}),
    "fig2b": _success("fig2b", "Figure 2b", "softplus", range(7, 15), [10], {"b": 10.0}),
    "fig3a": _success("fig3a", "Figure 3a", "quadratic", [20], range(3, 10)),
    "fig3b": _success("fig3b", "Figure 3b", "quadratic", range(22, 29), [5]),
    "fig4a": Protocol(
        name="fig4a", kind="random_labels", size="full", figure="Figure 4a",
        activation="softplus", activation_params={"b": 10.0}, n=100, d=(10,),
        k=tuple(range(8, 14)), teachers=1, starts=3, step=0.05, max_iter=200_000,
        loss_tol=1e-12, record_every=500,
    ),
    "fig4b": Protocol(
        name="fig4b", kind="random_labels", size="full", figure="Figure 4b",
        activation="quadratic", n=100, d=(20,), k=tuple(range(3, 9)), teachers=1, starts=3,
        step=0.005, max_iter=100_000, loss_tol=1e-26, record_every=250,
    ),
    "local": Protocol(
        name="local", kind="local", size="full", figure="Theorem 2.5",
        activation="softplus", activation_params={"b": 10.0}, n=100, d=(20,), k=(20,),
        radii=(0.1, 0.3, 1.0, 3.0), teachers=5, starts=4, step=0.02, max_iter=5_000,
        loss_tol=1e-20, record_every=100,
    ),
}

#: The paper's success curves (Figures 2 and 3), for comparison: the fraction of teachers
#: passing at each sweep value, read off the rendered figures, and the 50% crossing of the
#: paper's logistic fit as printed in them.
PAPER_SUCCESS: dict[str, dict] = {
    "fig2a": dict(values=tuple(range(8, 17)),
                  rate=(0.0, 0.0, 0.0, 0.3, 0.8, 1.0, 1.0, 1.0, 1.0), crossing=11.40),
    "fig2b": dict(values=tuple(range(7, 15)),
                  rate=(0.0, 0.0, 0.0, 0.1, 0.7, 1.0, 1.0, 1.0), crossing=10.70),
    "fig3a": dict(values=tuple(range(3, 10)),
                  rate=(0.0, 0.0, 0.2, 0.8, 1.0, 1.0, 1.0), crossing=5.5),
    "fig3b": dict(values=tuple(range(22, 29)),
                  rate=(0.0, 0.0, 0.0, 0.3, 0.8, 1.0, 1.0), crossing=25.40),
}

# What the reduced versions change: fewer teachers and starts; a shorter budget for the curves.
_REDUCED = {
    "success": dict(teachers=3, starts=3),
    "random_labels": dict(starts=1, max_iter=20_000),
    "local": dict(teachers=2, starts=2, max_iter=2_000, record_every=25),
}


def get_protocol(name: str, size: str = "full") -> Protocol:
    """A protocol of :data:`PROTOCOLS` at full or reduced size.

    Parameters
    ----------
    name : str
        One of ``PROTOCOLS`` (``"fig2a"``, ``"fig2b"``, ``"fig3a"``, ``"fig3b"``,
        ``"fig4a"``, ``"fig4b"``, ``"local"``).
    size : {"full", "reduced"}
        The paper's sizes, or fewer teachers, starts and iterations for a quick look.

    Examples
    --------
    >>> from shallowlearn.experiments import get_protocol
    >>> get_protocol("fig3a", "reduced").teachers
    3
    """
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; expected one of {', '.join(PROTOCOLS)}")
    if size not in ("full", "reduced"):
        raise ValueError(f"size must be 'full' or 'reduced'; got {size!r}")
    protocol = PROTOCOLS[name]
    if size == "reduced":
        protocol = dataclasses.replace(protocol, size="reduced", **_REDUCED[protocol.kind])
    return protocol


@dataclass(frozen=True, eq=False)
class Results:
    """The tidy outcome of a protocol.

    Attributes
    ----------
    protocol : Protocol
    seed : int
    version : str
        The ``shallowlearn`` version that produced it.
    runs : dict of str to numpy.ndarray
        One row per gradient-descent run, columns of equal length: ``value`` (of the sweep),
        ``teacher``, ``start``, ``d``, ``k``, ``initial_loss``, ``loss``, ``grad_norm``,
        ``iterations``, ``status`` (see :data:`shallowlearn.batched.STATUSES`) and
        ``outcome`` (``"success"``, ``"slow"``, ``"stuck"`` or ``"diverged"``).
    summary : dict of str to numpy.ndarray
        One row per sweep value. Success protocols: ``value``, ``passed`` (teachers whose runs
        all succeeded), ``teachers``, ``rate``, ``runs_succeeded``. Curve protocols:
        ``value``, ``final_median`` (median final RMSE or loss), ``rate_median`` (local: the
        median slope of log L per iteration).
    fit : dict of str to float
        Success protocols: the logistic fit ``intercept``, ``slope`` and the 50% ``crossing``.
    curves : dict of str to numpy.ndarray
        Curve protocols: ``iteration`` (m,) and ``loss`` (runs, m), NaN after a run stopped.

    Examples
    --------
    >>> from shallowlearn.experiments import get_protocol, run_protocol
    >>> import dataclasses
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3, 8), max_iter=200)
    >>> res = run_protocol(p, seed=0, progress=False)
    >>> res
    Results('fig3a', size='reduced', seed=0, runs=18)
    >>> sorted(res.summary)
    ['passed', 'rate', 'runs_succeeded', 'teachers', 'value']
    """

    protocol: Protocol
    seed: int
    version: str
    runs: dict
    summary: dict
    fit: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Results({self.protocol.name!r}, size={self.protocol.size!r}, seed={self.seed}, "
            f"runs={len(self.runs['loss'])})"
        )


def _generator(seed: int, *keys: int) -> np.random.Generator:
    """An independent stream for (seed, keys): the same teacher gets the same data at any size."""
    return np.random.default_rng([seed, *keys])


def _outcomes(res, loss_tol: float) -> np.ndarray:
    success = res.loss <= loss_tol
    stuck = res.grad_norm**2 <= _STUCK * res.loss
    return np.where(
        res.status == "diverged", "diverged",
        np.where(success, "success", np.where(stuck, "stuck", "slow")),
    )


def run_protocol(protocol: Protocol | str, *, seed: int = 0, progress: bool = True) -> Results:
    """Run a protocol: all its teachers and starts, batched.

    Parameters
    ----------
    protocol : Protocol or str
        A :class:`Protocol`, or the name of a full-size one.
    seed : int
        Seeds every teacher and start (same seed, same results).
    progress : bool
        Show progress bars.

    Returns
    -------
    Results

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn.experiments import get_protocol, run_protocol
    >>> p = dataclasses.replace(get_protocol("local", "reduced"), radii=(0.1,), max_iter=100)
    >>> res = run_protocol(p, progress=False)
    >>> bool(res.summary["rate_median"][0] < 0)     # the loss decreases
    True
    """
    from . import __version__

    if isinstance(protocol, str):
        protocol = get_protocol(protocol)
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol or a name; got {type(protocol).__name__}")
    columns: dict[str, list] = {}
    histories = []
    # one batched call per input dimension: the runs of all widths of that d advance together
    for batch in protocol_inputs(protocol, seed=seed):
        res = batched_gradient_descent(
            batch["X"], batch["y"], batch["activation"], batch["W0"], batch["v0"],
            data_index=batch["data_index"], step=protocol.step, max_iter=protocol.max_iter,
            loss_tol=protocol.loss_tol, record_every=protocol.record_every, progress=progress,
        )
        for key, col in batch["rows"].items():
            columns.setdefault(key, []).extend(col)
        for key in ("initial_loss", "loss", "grad_norm", "iterations", "status"):
            columns.setdefault(key, []).extend(getattr(res, key))
        columns.setdefault("outcome", []).extend(_outcomes(res, protocol.loss_tol))
        if res.history is not None:
            histories.append(res.history)
    runs = {key: np.array(col) for key, col in columns.items()}
    curves = {}
    if histories:
        loss = np.vstack(histories)
        curves = {
            "iteration": np.arange(loss.shape[1]) * protocol.record_every,
            "loss": loss,
        }
    summary, fit = _summarize(protocol, runs, curves)
    return Results(protocol, seed, __version__, runs, summary, fit, curves)


def protocol_inputs(protocol: Protocol, *, seed: int = 0) -> list[dict]:
    """The inputs of a protocol's gradient-descent runs, one batch per input dimension d.

    Teacher i of sweep value j draws its data from the seed sequence (seed, j, i) and its
    start s from (seed, j, i, s + 1), so a reduced protocol runs a subset of the full one's
    teachers and starts.

    Returns
    -------
    list of dict
        Each with ``X`` (m, n, d), ``y`` (m, n), ``activation``, ``W0`` and ``v0`` (lists, one
        array per run), ``data_index`` (the data set of each run) and ``rows`` (the columns
        ``value``, ``teacher``, ``start``, ``d``, ``k`` of each run).

    Examples
    --------
    >>> from shallowlearn.experiments import get_protocol, protocol_inputs
    >>> [batch] = protocol_inputs(get_protocol("fig3a", "reduced"))
    >>> batch["X"].shape, len(batch["W0"])
    ((21, 100, 20), 63)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    act = get_activation(protocol.activation, **protocol.activation_params)
    configs = protocol.configs()
    batches = []
    for d in dict.fromkeys(c[0] for c in configs):
        X, y, W0, v0, rows = [], [], [], [], []
        for j, (dj, k, radius) in enumerate(configs):
            if dj != d:
                continue
            for i in range(protocol.teachers):
                data = _data(protocol, act, j, i, d, k, seed)
                # random labels: every width fits the same data set, which is stored once
                if not (protocol.kind == "random_labels" and X):
                    X.append(data.X)
                    y.append(data.y)
                for s in range(protocol.starts):
                    W, v = _start(protocol, data, j, i, s, d, k, radius, seed)
                    W0.append(W)
                    v0.append(v)
                    rows.append((protocol.values[j], i, s, d, k, len(X) - 1))
        columns = dict(zip(("value", "teacher", "start", "d", "k", "data_index"), zip(*rows)))
        batches.append({
            "X": np.array(X), "y": np.array(y), "activation": act, "W0": W0, "v0": v0,
            "data_index": np.array(columns.pop("data_index")), "rows": columns,
        })
    return batches


def _data(protocol: Protocol, act, j: int, i: int, d: int, k: int, seed: int):
    if protocol.kind == "random_labels":  # one data set for every width
        return random_labels(protocol.n, d, rng=_generator(seed, 0, 0))
    return planted(protocol.n, d, k, act, rng=_generator(seed, j, i))


def _start(protocol: Protocol, data, j, i, s, d, k, radius, seed):
    gen = _generator(seed, j, i, s + 1)
    if protocol.kind == "local":
        return near_planted(data.teacher.W, data.teacher.v, radius, rng=gen)
    return random_init(k, d, rng=gen)


def _summarize(protocol: Protocol, runs: dict, curves: dict) -> tuple[dict, dict]:
    values = np.array(protocol.values)
    if protocol.kind == "success":
        passed, runs_ok = [], []
        for value in values:
            here = runs["value"] == value
            ok = runs["outcome"][here] == "success"
            teacher = runs["teacher"][here]
            passed.append(sum(bool(np.all(ok[teacher == i])) for i in range(protocol.teachers)))
            runs_ok.append(int(ok.sum()))
        passed = np.array(passed)
        summary = {
            "value": values,
            "passed": passed,
            "teachers": np.full(values.size, protocol.teachers),
            "rate": passed / protocol.teachers,
            "runs_succeeded": np.array(runs_ok),
        }
        return summary, fit_logistic(values, passed, protocol.teachers)
    loss = curves["loss"]
    final = runs["loss"] if protocol.kind == "local" else np.sqrt(runs["loss"])
    rates = np.array([_log_slope(curves["iteration"], row) for row in loss])
    summary = {
        "value": values,
        "final_median": np.array([np.median(final[runs["value"] == v]) for v in values]),
        "rate_median": np.array([np.median(rates[runs["value"] == v]) for v in values]),
    }
    return summary, {}


def _log_slope(iterations: np.ndarray, loss: np.ndarray) -> float:
    """Least-squares slope of log L against the iteration, over the recorded positive losses."""
    keep = np.isfinite(loss) & (loss > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(iterations[keep], np.log(loss[keep]), 1)[0])


def fit_logistic(x, successes, trials: int, *, ridge: float = 1e-3) -> dict:
    """Logistic fit p(x) = 1/(1 + exp(−(a + b x))) to success counts, and its 50% crossing.

    Binomial maximum likelihood with a small ridge penalty on the slope (in standardised x):
    without it, perfectly separated data (all failures below some x, all successes above)
    would send the slope to infinity; with it the fit stays finite and the crossing lands
    between the last failure and the first success.

    Parameters
    ----------
    x : array_like
        Sweep values.
    successes : array_like of int
        Successes out of ``trials`` at each x.
    trials : int
    ridge : float
        Penalty weight on the squared standardised slope.

    Returns
    -------
    dict
        ``intercept`` a, ``slope`` b and ``crossing`` −a/b. The crossing is NaN when it falls
        outside the range of x (an extrapolation), and all three are NaN when every point is 0
        or every point is ``trials`` (no transition to locate).

    Examples
    --------
    >>> from shallowlearn.experiments import fit_logistic
    >>> fit = fit_logistic([3, 4, 5, 6, 7, 8, 9], [0, 0, 2, 8, 10, 10, 10], 10)
    >>> round(fit["crossing"], 1)
    5.5
    """
    x = np.asarray(x, dtype=float)
    successes = np.asarray(successes, dtype=float)
    trials = check_positive_int(trials, "trials")
    if x.ndim != 1 or successes.shape != x.shape or x.size < 1:
        raise ValueError(
            f"x and successes must be non-empty 1-D arrays of one length; got shapes {x.shape} and "
            f"{successes.shape}"
        )
    if np.any(successes < 0) or np.any(successes > trials):
        raise ValueError(f"successes must lie in [0, trials={trials}]")
    if np.all(successes == successes[0]) and successes[0] in (0, trials):
        # no transition in the range: no crossing to report
        return {"intercept": float("nan"), "slope": float("nan"), "crossing": float("nan")}
    center, scale = x.mean(), x.std() or 1.0
    t = (x - center) / scale

    def penalized(p):
        logits = p[0] + p[1] * t
        nll = np.sum(trials * np.logaddexp(0.0, logits) - successes * logits)
        return nll + ridge * p[1] ** 2

    a, b = optimize.minimize(penalized, np.zeros(2), method="BFGS").x
    slope, intercept = b / scale, a - b * center / scale
    crossing = -intercept / slope if slope != 0 else float("nan")
    if not x.min() <= crossing <= x.max():  # an extrapolation, not a transition seen in the data
        crossing = float("nan")
    return {"intercept": float(intercept), "slope": float(slope), "crossing": float(crossing)}


# --- saving and loading ---------------------------------------------------------------------


def _to_json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def save_results(results: Results, path) -> None:
    """Write results to a JSON file, atomically.

    The file is written under a temporary name in the same folder and then renamed over
    ``path``, so an interrupted save leaves either the old file or the new one, never half.
    Missing values (the NaN of unrecorded curve points) are written as ``NaN``, which Python's
    JSON reader, and hence :func:`load_results`, accepts.

    Examples
    --------
    >>> import dataclasses, os, tempfile
    >>> from shallowlearn.experiments import get_protocol, load_results, run_protocol, save_results
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3,), max_iter=50)
    >>> res = run_protocol(p, progress=False)
    >>> path = os.path.join(tempfile.mkdtemp(), "fig3a.json")
    >>> save_results(res, path)
    >>> load_results(path, protocol=p).runs["loss"].tolist() == res.runs["loss"].tolist()
    True
    """
    if not isinstance(results, Results):
        raise TypeError(f"results must be a Results; got {type(results).__name__}")
    payload = {
        "format": _FORMAT,
        "format_version": _FORMAT_VERSION,
        "version": results.version,
        "seed": results.seed,
        "protocol": results.protocol.to_dict(),
        "runs": _to_json(results.runs),
        "summary": _to_json(results.summary),
        "fit": results.fit,
        "curves": _to_json(results.curves),
    }
    path = os.path.abspath(os.fspath(path))
    # a fresh name in the same folder (so that the rename is atomic), created with the usual
    # permissions (the process umask applies, unlike for tempfile's private files)
    temporary = os.path.join(
        os.path.dirname(path), f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp"
    )
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _parse(text: str, source: str) -> Results:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{source} is not a valid results file (corrupt JSON: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{source} is not a shallowlearn results file")
    if payload.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"{source} has results format version {payload.get('format_version')}; this "
            f"version of shallowlearn reads version {_FORMAT_VERSION}"
        )
    try:
        protocol = Protocol.from_dict(payload["protocol"])
        runs = {key: np.array(col) for key, col in payload["runs"].items()}
        summary = {key: np.array(col) for key, col in payload["summary"].items()}
        curves = {key: np.array(col, dtype=float) for key, col in payload["curves"].items()}
        return Results(
            protocol, int(payload["seed"]), str(payload["version"]), runs, summary,
            dict(payload["fit"]), curves,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{source} is an incomplete or corrupt results file ({err!r})") from None


def load_results(path, protocol: Protocol | str | None = None) -> Results:
    """Read results saved by :func:`save_results`.

    Parameters
    ----------
    path : str or path-like
    protocol : Protocol or str, optional
        The protocol the file must hold: a :class:`Protocol` (compared field by field) or a
        name. A mismatch raises ``ValueError`` naming the differing fields.

    Raises
    ------
    ValueError
        For a file that is not valid results (corrupt, truncated, another format) or that
        holds another protocol.

    Examples
    --------
    See :func:`save_results`.
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as handle:
        results = _parse(handle.read(), path)
    _check_protocol(results, protocol, path)
    return results


def _check_protocol(results: Results, protocol, source: str) -> None:
    if protocol is None:
        return
    if isinstance(protocol, str):
        if results.protocol.name != protocol:
            raise ValueError(
                f"{source} holds protocol {results.protocol.name!r}, not {protocol!r}"
            )
        return
    want, got = protocol.to_dict(), results.protocol.to_dict()
    differ = [key for key in want if want[key] != got.get(key)]
    if differ:
        details = ", ".join(f"{key}: file {got.get(key)!r} vs {want[key]!r}" for key in differ)
        raise ValueError(f"{source} holds a different protocol ({details})")


def shipped_results(name: str, size: str = "full") -> Results:
    """Results shipped with the package (``shallowlearn/results/<name>-<size>.json``).

    Examples
    --------
    >>> from shallowlearn.experiments import shipped_results
    >>> shipped_results("fig3a", "reduced").protocol.figure
    'Figure 3a'
    """
    protocol = get_protocol(name, size)
    resource = resources.files("shallowlearn") / "results" / f"{name}-{size}.json"
    if not resource.is_file():
        raise FileNotFoundError(
            f"no shipped results for {name!r} at size {size!r}; produce them with "
            f"python -m shallowlearn run {name} --size {size}"
        )
    results = _parse(resource.read_text(encoding="utf-8"), str(resource))
    _check_protocol(results, protocol, str(resource))
    return results


# --- figures -----------------------------------------------------------------------------------


def plot_results(results: Results, ax=None):
    """Plot results as in the paper: success rates with the logistic fit, or loss curves.

    A success plot shows the fraction of teachers that pass and the fraction of runs that
    succeed, each with its logistic fit and 50% crossing when there is one, and, for the
    paper's Figures 2 and 3, the paper's points and crossing (:data:`PAPER_SUCCESS`).

    Parameters
    ----------
    results : Results
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import dataclasses
    >>> from shallowlearn.experiments import get_protocol, plot_results, run_protocol
    >>> p = dataclasses.replace(get_protocol("fig3a", "reduced"), k=(3, 8), max_iter=50)
    >>> fig = plot_results(run_protocol(p, progress=False))
    >>> fig.axes[0].get_xlabel()
    'k'
    """
    from matplotlib.figure import Figure

    if ax is None:
        ax = Figure(figsize=(7.5, 3.6), layout="constrained").add_subplot()
    p = results.protocol
    title = f"{p.figure}: {p.activation}, n = {p.n}"
    if p.kind == "success":
        summary, fit = results.summary, results.fit
        fixed = f"d = {p.d[0]}" if p.sweep == "k" else f"k = {p.k[0]}"
        values = summary["value"]
        grid = np.linspace(values.min(), values.max(), 200)
        runs = p.teachers * p.starts
        run_fit = fit_logistic(values, summary["runs_succeeded"], runs)
        for label, rate, this_fit, color, marker in (
            ("teachers passing (all starts)", summary["rate"], fit, "C0", "o"),
            ("runs succeeding", summary["runs_succeeded"] / runs, run_fit, "gray", "x"),
        ):
            ax.plot(values, rate, marker, color=color, label=label)
            if np.isfinite(this_fit["crossing"]):
                ax.plot(grid, _logistic(this_fit, grid), "-", color=color, lw=1,
                        label=f"  fit: 50% at {p.sweep} = {this_fit['crossing']:.2f}")
                ax.axvline(this_fit["crossing"], ls="--", color=color, lw=1)
            else:
                ax.plot([], [], " ", label="  fit: no 50% crossing in range")
        paper = PAPER_SUCCESS.get(p.name)
        if paper is not None:
            ax.plot(paper["values"], paper["rate"], "s", mfc="none", color="C3",
                    label="paper: teachers passing")
            ax.axvline(paper["crossing"], ls=":", color="C3", lw=1.5,
                       label=f"  paper: 50% at {p.sweep} = {paper['crossing']:.2f}")
        ax.set_xlabel(p.sweep)
        ax.set_ylabel("fraction")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{title}, {fixed}; {p.teachers} teachers x {p.starts} starts")
    else:
        curves = results.curves
        loss = curves["loss"] if p.kind == "local" else np.sqrt(curves["loss"])
        colors = dict(zip(p.values, [f"C{i}" for i in range(len(p.values))]))
        for value in p.values:
            rows = np.flatnonzero(results.runs["value"] == value)
            for m, row in enumerate(rows):
                ax.semilogy(curves["iteration"], loss[row], color=colors[value],
                            label=f"{p.sweep} = {value}" if m == 0 else None)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss" if p.kind == "local" else "RMSE")
        sizes = f"d = {p.d[0]}" + (f", k = {p.k[0]}" if p.kind == "local" else "")
        ax.set_title(f"{title}, {sizes}, step {p.step}")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax.figure


def _logistic(fit: dict, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(fit["intercept"] + fit["slope"] * x)))


# --- command line --------------------------------------------------------------------------


def add_command(commands) -> None:
    """Register ``run`` with the command line: ``python -m shallowlearn run PROTOCOL``."""
    parser = commands.add_parser(
        "run",
        help="run an experiment protocol, save its results and figure",
        description="Run one of the paper's protocols, save its results (JSON) and figure (PNG).",
    )
    parser.add_argument("protocol", choices=list(PROTOCOLS), help="which protocol")
    parser.add_argument("--size", choices=("full", "reduced"), default="reduced",
                        help="the paper's sizes, or a quick reduced version (default)")
    parser.add_argument("--out", default=".", help="folder for <protocol>-<size>.json/.png")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=_handle)


def _handle(args) -> int:
    protocol = get_protocol(args.protocol, args.size)
    results = run_protocol(protocol, seed=args.seed, progress=not args.no_progress)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{protocol.name}-{protocol.size}")
    save_results(results, stem + ".json")
    plot_results(results).savefig(stem + ".png", dpi=120)
    print(_report(results))
    print(f"saved {stem}.json and {stem}.png")
    return 0


def _report(results: Results) -> str:
    """A short text summary of results."""
    p, summary = results.protocol, results.summary
    lines = [f"{p.figure} ({p.name}, {p.size}), seed {results.seed}:"]
    outcomes = results.runs["outcome"]
    for i, value in enumerate(summary["value"]):
        here = results.runs["value"] == value
        tally = ", ".join(f"{o} {int(np.sum(outcomes[here] == o))}"
                          for o in ("success", "slow", "stuck", "diverged"))
        if p.kind == "success":
            lines.append(f"  {p.sweep} = {value}: {summary['passed'][i]}/{summary['teachers'][i]}"
                         f" teachers pass; runs: {tally}")
        else:
            lines.append(f"  {p.sweep} = {value}: median final "
                         f"{'loss' if p.kind == 'local' else 'RMSE'} "
                         f"{summary['final_median'][i]:.3g}; runs: {tally}")
    if results.fit:
        crossing = results.fit["crossing"]
        lines.append(f"  logistic fit: 50% at {p.sweep} = {crossing:.2f}" if np.isfinite(crossing)
                     else "  logistic fit: no 50% crossing inside the swept range")
    return "\n".join(lines)
