r"""The paper's experiment protocols: what is run, on which data, from which starts.

Three kinds of protocol, each a :class:`Protocol` in :data:`PROTOCOLS`:

* **success** (Figures 2a, 2b, 3a, 3b): for each width :math:`k` (or dimension :math:`d`),
  planted teachers :math:`x \mapsto \mathbf 1^\top \phi(W^\star x)` with :math:`W^\star` entries
  :math:`\mathcal N(0, 1/d)`, and from each teacher several gradient-descent runs on
  :math:`(v, W)` jointly from the paper's random start (:math:`W_0` entries
  :math:`\mathcal N(0, 1/d)`, :math:`v_0` Rademacher). A run *succeeds* when its loss reaches
  ``loss_tol``; a teacher *passes* ("no spurious local minima" in the paper's words) only if
  all its runs succeed.
* **random_labels** (Figure 4): one data set with labels :math:`y_i \sim \mathcal N(0, 1)`
  independent of :math:`x_i`, and gradient descent on :math:`(v, W)` for each width; the curves
  are :math:`\mathrm{RMSE} = \sqrt{\mathcal L}` against the iteration.
* **local** (Theorem 2.5): runs started at Frobenius distance ``radius`` from the planted
  :math:`W^\star` (:math:`v_0 = v^\star`); the curves are the loss against the iteration, whose
  slope on a log scale is the linear rate.
* **phase** (Sarao Mannelli, Vanden-Eijnden & Zdeborová 2020, beyond the paper): planted
  quadratic teachers :math:`x \mapsto \frac{1}{m^\star} \sum_j (w_j^{\star\top} x)^2` of width
  :math:`m^\star = \kappa d` (:math:`W^\star` entries :math:`\mathcal N(0, 1/d)`; the factor
  :math:`1/m^\star` keeps :math:`\mathbb E\, y = \operatorname{tr} M^\star` near 1 at every
  width), :math:`n = \alpha d^2` samples, over a grid of ``alphas`` × ``kappas``; a student of
  width :math:`k \ge d` with :math:`v = 1` fixed (so its lifted matrices :math:`W^\top W` fill
  the positive semidefinite cone) trained on :math:`W` alone from :math:`W_0` with
  :math:`\mathcal N(0, \mathtt{w0\_scale}^2/d)` entries. Each run records its *test error*
  (population loss of its end point over the zero network's). Grid points are seeded by their
  :math:`(n, m^\star)`, so a reduced protocol on a sub-grid runs a subset of the full one's
  runs.
* **population** (Safran & Shamir 2018, beyond the paper): no data; the population loss
  (:mod:`shallowlearn.population`) of a teacher with orthonormal rows, :math:`W^\star = I`
  (:math:`k = d`) and :math:`v^\star = 1`, and a student of width :math:`k` + ``extra_units``
  with :math:`v = 1` fixed, trained by the trust region from many random starts (:math:`W_0`
  with :math:`\mathcal N(0, 1/d)` entries, ``step`` its initial radius); each end point is
  diagnosed (global minimum, spurious minimum, saddle, unfinished). Its sweep pairs :math:`d`
  and :math:`k`, which are equal.

The paper states neither step size, iteration cap nor success threshold; the values here are
this package's choice, and every saved result carries them. The steps are below
:math:`2/\lambda_{\max}` of the Hessian at the starts and at the planted weights:
:math:`\alpha = 0.005` for the quadratic protocols, 0.05 for softplus (:math:`b = 10`), 0.02 for
the local runs, where :math:`d = k = 20`.

:func:`protocol_inputs` builds the data and starts of a protocol from its seed
(:func:`teacher_inputs` those of some of its teachers); running it is
:func:`shallowlearn.runner.run_protocol`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .activations import get_activation
from .data import Teacher, planted, random_labels
from .initializations import near_planted, random_init
from .validation import (
    check_bool, check_choice, check_non_negative_int, check_positive_int, check_real,
)

__all__ = [
    "KINDS", "PAPER_SUCCESS", "PHASE_ROWS", "PROTOCOLS", "Protocol", "get_protocol", "protocol_inputs",
    "population_start",
    "teacher_inputs",
]

#: The kinds of protocol.
KINDS = ("success", "random_labels", "local", "population", "phase")

#: The starts of the output weights v.
V0_STARTS = ("rademacher", "positive")


@dataclass(frozen=True)
class Protocol:
    r"""The full description of an experiment: data, sweep, optimizer and success rule.

    Attributes
    ----------
    name : str
        Key in :data:`PROTOCOLS` (with ``size`` it identifies the protocol).
    kind : str
        One of :data:`KINDS`.
    size : str
        ``"full"`` (the paper's sizes) or ``"reduced"`` (a quick version).
    figure : str
        The figure or statement of the paper it reproduces.
    activation : str
        Name of the activation; ``activation_params`` holds its parameters.
    n : int
        Number of samples (``phase``: the largest of the grid,
        :math:`\operatorname{round}(\max(\mathtt{alphas}) \cdot d^2)`).
    d, k : tuple of int
        Input dimensions and widths; the one with several values is the sweep.
    teachers, starts : int
        Data sets (teachers) per sweep value, and gradient-descent runs per data set.
    step : float
        Step size of gradient descent (:math:`v` and :math:`W` trained jointly).
    max_iter : int
        Iteration cap of each run.
    loss_tol : float
        A run stops, and counts as a success, once its loss is at most this.
    record_every : int or None
        Stride of the recorded loss curves (None: no curves).
    radii : tuple of float
        ``local`` only: distances :math:`\lVert W_0 - W^\star \rVert_F` of the starts.
    activation_params : dict
        Parameters of the activation (for example ``{"b": 10.0}``).
    train_v : bool
        Train :math:`v` and :math:`W` jointly (the paper's experiments), or :math:`W` alone with
        :math:`v` fixed to its start.
    v0 : str
        The start of :math:`v`: ``"rademacher"`` (independent random signs, the paper's) or
        ``"positive"`` (all ones, the teacher's).
    w0_scale : float
        :math:`W_0` has :math:`\mathcal N(0, \mathtt{w0\_scale}^2/d)` entries (the paper's: 1).
    extra_units : int
        ``population`` only: the student has this many more units than the teacher.
    alphas, kappas : tuple of float
        ``phase`` only: the grid of sample ratios :math:`\alpha = n/d^2` and teacher widths
        :math:`\kappa = m^\star/d` (see :meth:`grid`).

    Examples
    --------
    >>> from shallowlearn import get_protocol
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
    train_v: bool = True
    v0: str = "rademacher"
    w0_scale: float = 1.0
    extra_units: int = 0
    alphas: tuple = ()
    kappas: tuple = ()

    def __post_init__(self):
        check_choice(self.kind, "kind", KINDS)
        check_choice(self.size, "size", ("full", "reduced"))
        for name in ("n", "teachers", "starts", "max_iter"):
            check_positive_int(getattr(self, name), name)
        for name in ("d", "k"):
            _check_tuple(getattr(self, name), name, "integers", check_positive_int)
        if self.kind == "population":
            if self.d != self.k:
                raise ValueError(f"a population protocol pairs d and k, which must be equal; got "
                                 f"d={self.d}, k={self.k}")
            if self.teachers != 1:
                raise ValueError(f"a population protocol has one teacher (W* = I); got "
                                 f"teachers={self.teachers}")
        elif self.kind == "phase":
            self._check_phase()
        elif len(self.d) > 1 and len(self.k) > 1:
            raise ValueError(f"only one of d and k may be swept; got d={self.d}, k={self.k}")
        if self.kind != "phase" and (self.alphas or self.kappas):
            raise ValueError(f"only a phase protocol has alphas and kappas; this one is "
                             f"{self.kind!r}")
        check_non_negative_int(self.extra_units, "extra_units")
        check_real(self.step, "step", low=0.0, strict=True)
        check_real(self.loss_tol, "loss_tol", low=0.0)
        if self.record_every is not None:
            check_positive_int(self.record_every, "record_every")
        if self.kind == "local" and not self.radii:
            raise ValueError("a local protocol needs radii, the distances of its starts")
        get_activation(self.activation, **self.activation_params)
        check_bool(self.train_v, "train_v")
        check_choice(self.v0, "v0", V0_STARTS)
        check_real(self.w0_scale, "w0_scale", low=0.0, strict=True)

    def _check_phase(self) -> None:
        if len(self.d) != 1 or len(self.k) != 1:
            raise ValueError(f"a phase protocol has one d and one student width k; got d={self.d}, "
                             f"k={self.k}")
        if self.k[0] < self.d[0]:
            raise ValueError(f"a phase protocol needs a student at least as wide as d (k >= "
                             f"{self.d[0]}), so that WᵀW reaches every PSD matrix; got k={self.k[0]}")
        if self.train_v or self.v0 != "positive":
            raise ValueError("a phase protocol trains W alone with v = 1 (train_v=False, "
                             f"v0='positive'); got train_v={self.train_v}, v0={self.v0!r}")
        for name in ("alphas", "kappas"):
            _check_tuple(getattr(self, name), name, "numbers",
                         lambda value, name: check_real(value, name, low=0.0, strict=True))
        points = [point[2:] for point in self.grid()]
        if len(set(points)) != len(points) or min(min(point) for point in points) < 1:
            raise ValueError(f"alphas and kappas must give distinct grid points with n >= 1 and "
                             f"m* >= 1 at d={self.d[0]}; got (n, m*) = {points}")
        largest = max(n for n, _ in points)
        if self.n != largest:
            raise ValueError(f"n of a phase protocol must be its largest sample count, "
                             f"round(max(alphas) * d**2) = {largest}; got {self.n}")

    def grid(self) -> list[tuple[float, float, int, int]]:
        r"""``phase`` only: :math:`(\alpha, \kappa, n, m^\star)` of each grid point,
        :math:`\kappa`-major: :math:`n = \operatorname{round}(\alpha d^2)`,
        :math:`m^\star = \operatorname{round}(\kappa d)`.

        Examples
        --------
        >>> from shallowlearn import get_protocol
        >>> get_protocol("phase", "reduced").grid()[:2]
        [(0.1, 0.25, 40, 5), (0.3, 0.25, 120, 5)]
        """
        if self.kind != "phase":
            raise ValueError(f"only a phase protocol has a grid; this one is {self.kind!r}")
        d = self.d[0]
        return [(alpha, kappa, round(alpha * d * d), round(kappa * d))
                for kappa in self.kappas for alpha in self.alphas]

    @property
    def sweep(self) -> str:
        """The swept quantity, ``"k"``, ``"d"``, ``"radius"`` or, for a phase protocol,
        ``"point"``."""
        if self.kind == "local":
            return "radius"
        if self.kind == "phase":
            return "point"
        return "d" if len(self.d) > 1 and self.kind != "population" else "k"

    @property
    def values(self) -> tuple:
        """The values of the sweep; for a phase protocol, the indices of its grid points in
        :meth:`grid`."""
        if self.kind == "phase":
            return tuple(range(len(self.alphas) * len(self.kappas)))
        return {"k": self.k, "d": self.d, "radius": self.radii}[self.sweep]

    def configs(self) -> list[tuple[int, int, float]]:
        """(d, k, radius) of each sweep value, in order."""
        count = len(self.values)
        d = self.d * count if len(self.d) == 1 else self.d
        k = self.k * count if len(self.k) == 1 else self.k
        radii = self.radii or (0.0,) * count
        return list(zip(d, k, radii))

    def teacher_groups(self) -> list[list[tuple[int, int]]]:
        """The teachers (j, i) that can share one batch: those of one input dimension d, and
        for ``phase`` also of one sample count n.

        Examples
        --------
        >>> from shallowlearn import get_protocol
        >>> get_protocol("phase", "reduced").teacher_groups()[0]
        [(0, 0), (4, 0)]
        """
        if self.kind != "phase":
            return list(self.teachers_by_dimension().values())
        groups: dict[int, list[tuple[int, int]]] = {}
        for j, (_, _, n, _) in enumerate(self.grid()):
            groups.setdefault(n, []).extend((j, i) for i in range(self.teachers))
        return list(groups.values())

    def teachers_by_dimension(self) -> dict[int, list[tuple[int, int]]]:
        """The teachers (j, i), teacher i of sweep value j, of each input dimension d, in order.

        Examples
        --------
        >>> from shallowlearn import get_protocol
        >>> get_protocol("fig3b", "reduced").teachers_by_dimension()[23]
        [(1, 0), (1, 1), (1, 2)]
        """
        groups: dict[int, list[tuple[int, int]]] = {}
        for j, (d, _, _) in enumerate(self.configs()):
            groups.setdefault(d, []).extend((j, i) for i in range(self.teachers))
        return groups

    def to_dict(self) -> dict:
        """The protocol as plain JSON-ready values."""
        out = dataclasses.asdict(self)
        for key in _TUPLES:
            out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, values: dict) -> Protocol:
        """Inverse of :meth:`to_dict`."""
        values = dict(values)
        for key in _TUPLES:
            if key in values:  # files written before the phase kind have no alphas, kappas
                values[key] = tuple(values[key])
        return cls(**values)


def _check_tuple(values, name: str, what: str, check) -> None:
    """Refuse anything but a non-empty tuple whose entries pass ``check(value, name)``."""
    if not isinstance(values, tuple) or not values:
        raise TypeError(f"{name} must be a non-empty tuple of positive {what}; got {values!r}")
    for value in values:
        check(value, name)


# The tuple fields of a Protocol (lists in JSON).
_TUPLES = ("d", "k", "radii", "alphas", "kappas")


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

def _population(name, activation, extra_units=0) -> Protocol:
    return Protocol(
        name=name, kind="population", size="full", figure="Safran & Shamir 2018",
        activation=activation, n=1, d=tuple(range(6, 21)), k=tuple(range(6, 21)), teachers=1,
        starts=200, step=1.0, max_iter=2_000, loss_tol=1e-10, extra_units=extra_units,
    )


PROTOCOLS.update({
    "relu": _population("relu", "relu"),
    "relu-plus1": _population("relu-plus1", "relu", extra_units=1),
    "relu-plus2": _population("relu-plus2", "relu", extra_units=2),
    "quadratic-population": _population("quadratic-population", "quadratic"),
})

#: The phase diagram of Sarao Mannelli et al. (2020) at d = 20: n = 40 to 280 (d(d+1)/2 = 210),
#: m* = 2 to 30, a student of width 25 starting at the teachers' scale, E tr(W₀ᵀW₀) = 1; the step
#: is below 2/λ_max at the starts and end points of every probed teacher (λ_max ≤ 28, at n = 40).
PROTOCOLS["phase"] = Protocol(
    name="phase", kind="phase", size="full", figure="Sarao Mannelli et al. 2020",
    activation="quadratic", n=280, d=(20,), k=(25,), teachers=4, starts=2, step=0.04,
    max_iter=20_000, loss_tol=1e-8, train_v=False, v0="positive", w0_scale=0.2,
    alphas=tuple(round(0.05 * i, 2) for i in range(2, 15)),
    kappas=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5),
)


#: The protocol variants of the success panels: what each changes, and its protocol fields.
VARIANTS: dict[str, tuple[str, dict]] = {
    "fixed-v": ("W alone trained, v fixed to the teacher's v* = 1",
                dict(train_v=False, v0="positive")),
    "positive-v0": ("v and W trained, from v₀ = 1 instead of random signs",
                    dict(v0="positive")),
    "long": ("the paper's start with a budget ten times longer", dict(max_iter=500_000)),
    "small-init": ("the paper's start with W₀ scaled down ten times", dict(w0_scale=0.1)),
}

#: Teachers of the variants that run fewer than the paper's 10 (each still with 10 starts).
#: A full softplus protocol takes about 20 minutes on one core, and the ten-times budget
#: multiplies the cost of every run that does not succeed, so the softplus variants run 2
#: teachers (the long one: 1), and the quadratic long variants 5.
VARIANT_TEACHERS: dict[tuple[str, str], int] = {
    ("softplus", "fixed-v"): 2, ("softplus", "positive-v0"): 2, ("softplus", "small-init"): 2,
    ("softplus", "long"): 1, ("quadratic", "long"): 5,
}

for _base in ("fig2a", "fig2b", "fig3a", "fig3b"):
    for _variant, (_what, _change) in VARIANTS.items():
        _name = f"{_base}-{_variant}"
        _teachers = VARIANT_TEACHERS.get((PROTOCOLS[_base].activation, _variant),
                                         PROTOCOLS[_base].teachers)
        PROTOCOLS[_name] = dataclasses.replace(PROTOCOLS[_base], name=_name, teachers=_teachers,
                                               **_change)


#: The paper's success curves of Figures 2 and 3, for comparison (the fraction of teachers
#: passing at each sweep value, read off the rendered figures, and the 50% crossing of the
#: paper's logistic fit as printed in them).
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
    "population": dict(starts=8, d=(6, 8), k=(6, 8)),
    "phase": dict(teachers=1, starts=1, alphas=(0.1, 0.3, 0.5, 0.7), kappas=(0.25, 1.0)),
}


def get_protocol(name: str, size: str = "full") -> Protocol:
    """A protocol of :data:`PROTOCOLS` at full or reduced size.

    Parameters
    ----------
    name : str
        One of ``PROTOCOLS``: the paper's ``"fig2a"``, ``"fig2b"``, ``"fig3a"``, ``"fig3b"``,
        ``"fig4a"``, ``"fig4b"`` and ``"local"``, their variants (``"fig2a-long"``, ...) and
        the population protocols (``"relu"``, ...).
    size : {"full", "reduced"}
        The paper's sizes, or fewer teachers, starts and iterations for a quick look.

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> get_protocol("fig3a", "reduced").teachers
    3
    """
    if name not in PROTOCOLS:
        raise ValueError(f"name must be a protocol, one of {', '.join(PROTOCOLS)}; got {name!r}")
    check_choice(size, "size", ("full", "reduced"))
    protocol = PROTOCOLS[name]
    if size == "reduced":
        change = dict(_REDUCED[protocol.kind])
        if "teachers" in change:
            change["teachers"] = min(change["teachers"], protocol.teachers)
        protocol = dataclasses.replace(protocol, size="reduced", **change)
    return protocol


def _generator(seed: int, *keys: int) -> np.random.Generator:
    """An independent stream for (seed, keys): the same teacher gets the same data at any size."""
    return np.random.default_rng([seed, *keys])


def protocol_inputs(protocol: Protocol, *, seed: int = 0) -> list[dict]:
    r"""The inputs of a protocol's gradient-descent runs, one batch per input dimension d.

    Teacher i of sweep value j draws its data from the seed sequence (seed, j, i) and its
    start s from (seed, j, i, s + 1), so a reduced protocol runs a subset of the full one's
    teachers and starts. A ``phase`` protocol uses (seed, n, m*, i) and (seed, n, m*, i, s + 1)
    instead, :math:`n` and :math:`m^\star` those of the grid point.

    Returns
    -------
    list of dict
        One :func:`teacher_inputs` batch per group of :meth:`Protocol.teacher_groups`: every
        teacher of the sweep values with one d (``phase``: with one n).

    Examples
    --------
    >>> from shallowlearn import get_protocol, protocol_inputs
    >>> [batch] = protocol_inputs(get_protocol("fig3a", "reduced"))
    >>> batch["X"].shape, len(batch["W0"])
    ((21, 100, 20), 63)
    """
    return [teacher_inputs(protocol, teachers, seed=seed) for teachers in protocol.teacher_groups()]


def teacher_inputs(protocol: Protocol, teachers, *, seed: int = 0) -> dict:
    """The inputs of the runs of some teachers of a protocol, as one batch.

    Parameters
    ----------
    protocol : Protocol
    teachers : sequence of (int, int)
        Pairs (j, i): teacher i of sweep value j, each with all its ``protocol.starts`` starts.
        All must have the same input dimension d (``phase``: also the same n).
    seed : int
        The protocol's seed; the data and starts derive from it as in
        :func:`protocol_inputs`, so a teacher's runs do not depend on which others are asked.

    Returns
    -------
    dict
        ``X`` (m, n, d), ``y`` (m, n), ``activation``, ``W0`` and ``v0`` (lists, one array per
        run), ``data_index`` (the data set of each run) and ``rows`` (the columns ``value``,
        ``teacher``, ``start``, ``d``, ``k`` of each run, and for a phase protocol those of
        :data:`PHASE_ROWS`), the runs in the order of ``teachers`` and then of the starts. A
        phase protocol's batch also holds ``teachers``, the :class:`~shallowlearn.data.Teacher`
        of each data set.

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.protocols import teacher_inputs
    >>> batch = teacher_inputs(get_protocol("fig3a", "reduced"), [(0, 2), (6, 0)])
    >>> batch["X"].shape, batch["rows"]["k"]
    ((2, 100, 20), (3, 3, 3, 9, 9, 9))
    """
    seed = check_non_negative_int(seed, "seed")
    act = get_activation(protocol.activation, **protocol.activation_params)
    configs = protocol.configs()
    pairs = [tuple(pair) for pair in teachers]
    bad = [pair for pair in pairs if len(pair) != 2
           or not 0 <= pair[0] < len(configs) or not 0 <= pair[1] < protocol.teachers]
    if not pairs or bad:
        raise ValueError(
            f"teachers must be pairs (j, i) with 0 <= j < {len(configs)} and "
            f"0 <= i < {protocol.teachers}; got {bad or 'none'}")
    dims = {configs[j][0] for j, _ in pairs}
    if len(dims) > 1:
        raise ValueError(f"teachers must share one input dimension d; got d = {sorted(dims)}")
    grid = protocol.grid() if protocol.kind == "phase" else None
    if grid is not None and len({grid[j][2] for j, _ in pairs}) > 1:
        raise ValueError(f"teachers of a phase protocol must share one sample count n; got n = "
                         f"{sorted({grid[j][2] for j, _ in pairs})}")
    X, y, W0, v0, rows, planted_teachers = [], [], [], [], [], []
    for j, i in pairs:
        d, k, radius = configs[j]
        data = _data(protocol, act, j, i, d, k, seed)
        # random labels: every width fits the same data set, which is stored once
        if not (protocol.kind == "random_labels" and X):
            X.append(data.X)
            y.append(data.y)
            planted_teachers.append(data.teacher)
        for s in range(protocol.starts):
            W, v = _start(protocol, data, j, i, s, d, k, radius, seed)
            W0.append(W)
            v0.append(v)
            rows.append((protocol.values[j], i, s, d, k, len(X) - 1)
                        + ((grid[j][2], grid[j][3]) if grid else ()))
    names = ("value", "teacher", "start", "d", "k", "data_index") + (PHASE_ROWS if grid else ())
    columns = dict(zip(names, zip(*rows)))
    batch = {
        "X": np.array(X), "y": np.array(y), "activation": act, "W0": W0, "v0": v0,
        "data_index": np.array(columns.pop("data_index")), "rows": columns,
    }
    if grid:
        batch["teachers"] = planted_teachers
    return batch


#: The extra columns of a phase protocol's runs, the grid point's sample count and teacher
#: width :math:`m^\star`.
PHASE_ROWS = ("n", "teacher_width")


def _keys(protocol: Protocol, j: int) -> tuple:
    """What seeds sweep value j: its index, or for a phase protocol its (n, m*)."""
    return tuple(protocol.grid()[j][2:]) if protocol.kind == "phase" else (j,)


def _data(protocol: Protocol, act, j: int, i: int, d: int, k: int, seed: int):
    if protocol.kind == "random_labels":  # one data set for every width
        return random_labels(protocol.n, d, rng=_generator(seed, 0, 0))
    if protocol.kind == "phase":  # teacher x -> (1/m*) sum_j (w*_j . x)^2
        _, _, n, width = protocol.grid()[j]
        return planted(n, d, width, act, v=np.full(width, 1.0 / width),
                       rng=_generator(seed, n, width, i))
    return planted(protocol.n, d, k, act, rng=_generator(seed, j, i))


def population_start(protocol: Protocol, j: int, s: int, *, seed: int = 0):
    r"""The teacher (:math:`W^\star = I_d`, :math:`v^\star = 1`) and start :math:`s` of sweep value
    :math:`j` of a population protocol.

    Start s at dimension d is drawn from the seed sequence (seed, d, 0, s + 1), so a reduced
    protocol runs the first starts of the full one at its dimensions.

    Returns
    -------
    teacher : Teacher
    W0 : numpy.ndarray, shape (k + extra_units, d)

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.protocols import population_start
    >>> teacher, W0 = population_start(get_protocol("relu", "reduced"), 0, 0)
    >>> teacher.W.shape, W0.shape
    ((6, 6), (6, 6))
    """
    if protocol.kind != "population":
        raise ValueError(f"protocol must be a population protocol; got kind {protocol.kind!r}")
    d, k, _ = protocol.configs()[j]
    act = get_activation(protocol.activation, **protocol.activation_params)
    teacher = Teacher(W=np.eye(d), v=np.ones(k), activation=act)
    W0, _ = random_init(k + protocol.extra_units, d, rng=_generator(seed, d, 0, s + 1))
    return teacher, protocol.w0_scale * W0


def _start(protocol: Protocol, data, j, i, s, d, k, radius, seed):
    gen = _generator(seed, *_keys(protocol, j), i, s + 1)
    if protocol.kind == "local":
        return near_planted(data.teacher.W, data.teacher.v, radius, rng=gen)
    W, v = random_init(k, d, rng=gen)
    return protocol.w0_scale * W, (np.ones(k) if protocol.v0 == "positive" else v)


