r"""shallowlearn: optimization landscapes of over-parameterized shallow networks.

The companion package of the book "Why shallow networks are easy to train", which follows
Soltanolkotabi, Javanmard & Lee, "Theoretical insights into the optimization landscape of
over-parameterized shallow neural networks", IEEE Trans. Inf. Theory 65(2), 2019.

Conventions: the network is :math:`x \mapsto v^\top\phi(Wx)` with :math:`W` of shape
:math:`(k, d)` and :math:`v` of length :math:`k`; samples are rows, :math:`X` has shape
:math:`(n, d)`; the loss is :math:`\mathcal L = \frac{1}{2n} \sum_i (v^\top\phi(W x_i) - y_i)^2`;
randomness comes only from an ``rng`` argument (a seed or a ``numpy.random.Generator``).

How the modules fit together (each name is a module)::

    activations ─► objective (Objective.at(θ) → Point: value, grad, hvp, hessian)
        ▲              │
      data ──► initializations        stopping (statuses, convergence, divergence)
                       │                 │
                       ▼                 ▼
    solvers (run loop) ◄─ first_order, second_order ◄─ subproblems
        ▲ costs (measured: dense or matrix-free curvature, which is cheaper)
    batched (many gradient-descent runs as array computations)
    population (the loss averaged over Gaussian inputs, with the objective's interface)
    spectrum ─► critical_points, slices, quadratic (the lifted convex problem)
    thresholds (the sample counts that pin down a planted PSD teacher)
    protocols ─► tasks ─► runner ─► results_io, statistics ─► plotting
                  (in-process, or on Dask: distributed; checkpoints on disk)
    cli (python -m shallowlearn), bench, derivative_checks, assignments
    kernels (φ, φ′, φ″ of the built-in activations in one pass, used by activations)
"""

from importlib.metadata import PackageNotFoundError, version

from .activations import ACTIVATIONS, Activation, get_activation
from .batched import BatchResult, batched_gradient_descent
from .critical_points import CriticalPoint, classify_point, symmetry_directions
from .data import Dataset, Teacher, planted, random_labels
from .derivative_checks import DerivativeCheck, check_derivatives
from .protocols import PROTOCOLS, Protocol, get_protocol, protocol_inputs
from .results_io import Results, load_results, save_results, shipped_results
from .runner import run_protocol
from .statistics import crossing_standard_error, fit_logistic
from .initializations import near_planted, random_init, spectral_init, tensor_init
from .objective import BaseObjective, Objective, Point
from .population import QuadraticPopulation, ReluPopulation, population_objective
from .slices import (
    TrajectoryProjection,
    project_trajectory,
    random_direction,
    slice_1d,
    slice_2d,
    slice_between,
)
from .solvers import SOLVERS, SolverHistory, SolverResult
from .first_order import gradient_descent, perturbed_gradient_descent, pgd_theory_parameters, sgd
from .second_order import cubic_regularization, negative_curvature_descent, trust_region
from .spectrum import HessianOperator, Spectrum, eigenvalue_density, hessian_spectrum

try:
    __version__ = version("shallowlearn")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BaseObjective",
    "BatchResult",
    "CriticalPoint",
    "Dataset",
    "DerivativeCheck",
    "HessianOperator",
    "Objective",
    "PROTOCOLS",
    "Point",
    "Protocol",
    "QuadraticPopulation",
    "ReluPopulation",
    "Results",
    "SOLVERS",
    "SolverHistory",
    "SolverResult",
    "Spectrum",
    "Teacher",
    "TrajectoryProjection",
    "batched_gradient_descent",
    "check_derivatives",
    "classify_point",
    "cubic_regularization",
    "crossing_standard_error",
    "eigenvalue_density",
    "fit_logistic",
    "get_activation",
    "get_protocol",
    "gradient_descent",
    "hessian_spectrum",
    "load_results",
    "near_planted",
    "negative_curvature_descent",
    "perturbed_gradient_descent",
    "pgd_theory_parameters",
    "planted",
    "population_objective",
    "project_trajectory",
    "protocol_inputs",
    "random_direction",
    "random_init",
    "random_labels",
    "run_protocol",
    "save_results",
    "sgd",
    "shipped_results",
    "slice_1d",
    "slice_2d",
    "slice_between",
    "spectral_init",
    "symmetry_directions",
    "tensor_init",
    "trust_region",
]
