"""Checkers for the book's course assignments, with specific feedback.

Each assignment has one checker, a function that takes what the student submits and returns
a :class:`Feedback`: a list of named checks, each passed or failed with a message that says
what was measured, what was expected and, where it can tell, what the mistake looks like.

- :func:`check_activation`: the first two derivatives of a new activation, the objective built
  on it, and Assumption 2.3 of the paper.
- :func:`check_spurious_minimum`: a claimed spurious local minimum of a quadratic network.
- :func:`check_phase_transition`: a success-rate sweep and its 50% point.

**One rule for bad input.** Anything wrong with the *submission* (a wrong type, a wrong
shape, values that are not finite or overflow) is reported as a failed check, named
``"input"`` when the submission cannot be used at all, and the checks that need it are listed
as not run, each with the reason (:meth:`Feedback.reason`); a checker never raises because of
what the student handed in. The checker's own options (tolerances, numbers of reruns, the
time limit) are the caller's, not the student's: a bad option raises a ``ValueError`` or
``TypeError``, as everywhere else in the package. Submitted arrays are copied, never modified.

**Student code runs contained.** Each call of submitted code (the activation's functions, the
trial function, the methods of a submitted objective) runs under a time limit, by default
``shallowlearn.checks.DEFAULT_TIME_LIMIT`` seconds per call (set that attribute, or pass
``time_limit=`` to a checker). A call that raises, calls ``sys.exit``, is interrupted or runs
out of time is a failed check carrying that message. How the limit is enforced, and what it
cannot stop, is described in the docstring of ``shallowlearn.checks``.

Each checker is a sequence of small named checks (``shallowlearn.assignment_checks``), each
declaring the earlier checks it needs, run in order by one runner
(``shallowlearn.checks.run_checks``).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .assignment_checks import (
    ACTIVATION_CHECKS,
    GRID,
    PHASE_TRANSITION_CHECKS,
    SPURIOUS_MINIMUM_CHECKS,
)
from .checks import Check, CheckState, Feedback, run_checks
from .validation import as_rng, check_positive_int, check_real

__all__ = [
    "Check",
    "Feedback",
    "check_activation",
    "check_phase_transition",
    "check_spurious_minimum",
]


def check_activation(activation, *, reference: Callable | None = None, rng=0,
                     time_limit: float | None = None) -> Feedback:
    r"""Check an activation's :math:`\phi'` and :math:`\phi''`, the objective built on them, and
    Assumption 2.3.

    The checks, in order: ``vectorised`` (each of :math:`\phi, \phi', \phi''` maps float arrays
    of shapes (241,) and (3, 5) elementwise to finite float arrays of the same shape);
    ``autograd`` (autograd can differentiate :math:`\phi`, as the objective's reference
    derivatives need); ``phi`` (:math:`\phi` equals ``reference`` on the grid, when one is
    given); ``dphi`` (:math:`\phi'` against central differences of :math:`\phi`); ``ddphi``
    (:math:`\phi''` against central differences of :math:`\phi'`, or second differences of
    :math:`\phi` when :math:`\phi'` is wrong); ``objective``
    (:func:`~shallowlearn.derivative_checks.check_derivatives` on a small objective with this
    activation, :math:`v` and :math:`W` trained); ``assumption 2.3`` (:math:`\mu(\sigma)` and
    :math:`\gamma(\sigma)` on :math:`\sigma = 0.1 \dots 10` are each of one strict sign, or
    :math:`\gamma` vanishes identically). A failed derivative check names the worst grid point
    :math:`z` with both values and, when the pattern shows it, the kind of mistake: a sign
    error, a constant factor, an additive constant, :math:`\phi''` returning :math:`\phi'`, or a
    term that vanishes at :math:`z = 0`.

    Parameters
    ----------
    activation : Activation or tuple of three callables
        The student's activation, or its ``(phi, dphi, ddphi)``. ``phi`` must be written
        with ``autograd.numpy``; ``dphi`` and ``ddphi`` may use plain numpy.
    reference : callable, optional
        The :math:`\phi` the assignment asks for, to check ``phi`` against.
    rng : None, int or numpy.random.Generator
        Data and point of the objective check.
    time_limit : float, optional
        Seconds each call of the student's functions may take;
        ``shallowlearn.checks.DEFAULT_TIME_LIMIT`` when None.

    Returns
    -------
    Feedback

    Examples
    --------
    >>> import numpy as np
    >>> import autograd.numpy as anp
    >>> from shallowlearn import Activation
    >>> from shallowlearn.assignments import check_activation
    >>> cubic = Activation("cubic", phi=lambda z: z ** 3 / 3 + z, dphi=lambda z: z ** 2 + 1,
    ...                    ddphi=lambda z: -2 * z)
    >>> fb = check_activation(cubic)
    >>> fb.failed
    ('ddphi', 'objective')
    >>> print(fb["ddphi"].message)
    sign error: your values are the negatives of the expected ones everywhere; worst at z = -6: yours 12, differences of your dphi -12 (difference 2.40e+01)
    """
    rng = as_rng(rng)
    reference_values = None
    if reference is not None:
        if not callable(reference):
            raise TypeError(f"reference must be a callable φ; got {type(reference).__name__}")
        try:
            reference_values = np.asarray(reference(GRID.copy()), dtype=float)
        except Exception as err:
            raise TypeError(f"the reference φ raised {type(err).__name__}: {err}") from err
        if reference_values.shape != GRID.shape or not np.all(np.isfinite(reference_values)):
            raise TypeError(f"the reference φ must map the grid of shape {GRID.shape} to finite "
                            f"values of the same shape; got shape {reference_values.shape}")
    state = CheckState(time_limit=time_limit, submitted=activation, reference=reference,
                       reference_values=reference_values, rng=rng)
    return run_checks("activation", ACTIVATION_CHECKS, state)


def check_spurious_minimum(
    objective,
    theta,
    *,
    grad_rtol: float = 1e-6,
    eig_rtol: float = 1e-6,
    starts: int = 20,
    rng=0,
    time_limit: float | None = None,
) -> Feedback:
    r"""Check that :math:`\theta` is a spurious local minimum of a quadratic network with fixed
    :math:`v`.

    The checks, in order: ``hypotheses`` (Theorem 2.1's hypotheses fail: :math:`v` has fewer
    than :math:`d` entries of some sign that it uses, so the reachable matrices
    :math:`W^\top D_v W` are not a convex cone; otherwise every local minimum is global);
    ``gradient`` (:math:`\lVert \nabla \mathcal L(\theta) \rVert` at most the scale-relative
    tolerance of :func:`~shallowlearn.critical_points.classify_point`); ``curvature``
    (:math:`\lambda_{\min}` of the Hessian at least :math:`-\epsilon_H`; if not, the point is a
    strict saddle and the escape step is reported); ``higher order`` (the second-order test is
    conclusive: no unexplained flat directions, and 600 random probes at distances
    :math:`10^{-4}` to :math:`10^{-2} \cdot \max(1, \lVert \theta \rVert)` find no lower loss);
    ``above global`` (:math:`\mathcal L(\theta)` exceeds the global minimum: the
    lifted convex optimum when the reachable set is a cone, otherwise the lowest loss that
    ``starts`` trust-region runs find, which an exact spurious minimum must exceed).

    Parameters
    ----------
    objective : Objective
        Quadratic activation, fixed output weights :math:`v`
        (``Objective(X, y, "quadratic", v=v)``).
    theta : array_like, shape (p,)
        The claimed minimum, ``objective.pack(W)``.
    grad_rtol, eig_rtol : float
        Tolerances of the gradient and curvature tests, as in ``classify_point``.
    starts : int
        Trust-region runs that look for a lower point when the global optimum has no convex
        lifting.
    rng : None, int or numpy.random.Generator
        Starts and probes.
    time_limit : float, optional
        Seconds each computation on the submitted objective may take (one classification,
        one trust-region run, the probes); ``shallowlearn.checks.DEFAULT_TIME_LIMIT``
        when None.

    Returns
    -------
    Feedback

    Examples
    --------
    The origin is a critical point, but with negative curvature:

    >>> import numpy as np
    >>> import shallowlearn as sl
    >>> from shallowlearn.assignments import check_spurious_minimum
    >>> data = sl.random_labels(n=8, d=4, rng=0)
    >>> obj = sl.Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> fb = check_spurious_minimum(obj, np.zeros(obj.p))
    >>> fb.failed
    ('curvature',)
    >>> fb["curvature"].message.startswith("λ_min = -")
    True
    """
    state = CheckState(time_limit=time_limit, objective=objective, theta=theta,
                       grad_rtol=check_real(grad_rtol, "grad_rtol", low=0.0, strict=True),
                       eig_rtol=check_real(eig_rtol, "eig_rtol", low=0.0, strict=True),
                       starts=check_positive_int(starts, "starts"), rng=as_rng(rng))
    return run_checks("spurious minimum", SPURIOUS_MINIMUM_CHECKS, state)


def check_phase_transition(
    values,
    successes,
    trials,
    crossing,
    *,
    trial: Callable | None = None,
    rerun_points: int = 2,
    rerun_trials: int = 10,
    alpha: float = 1e-3,
    rng=0,
    time_limit: float | None = None,
) -> Feedback:
    """Check a success-rate sweep and its estimated 50% point.

    The checks, in order: ``input`` (only when something has the wrong type or shape);
    ``sweep values`` (finite and strictly increasing); ``counts`` (integer successes between
    0 and the trials, the same positive number of trials at every point); ``bracket`` (some
    rate below 1/2 and some above, so the sweep contains the transition); ``50% point``
    (``crossing`` agrees with :func:`~shallowlearn.statistics.fit_logistic` on the same
    counts within two standard errors of the fitted crossing, from binomial sampling by the
    delta method, and at least a quarter of the median spacing of the sweep); ``rerun``
    (only with ``trial``: at the ``rerun_points`` sweep values nearest the fitted crossing,
    ``rerun_trials`` fresh trials agree with the reported counts by Fisher's exact test at
    level ``alpha``; a trial that raises, runs out of time or returns anything but True or
    False fails it).

    Parameters
    ----------
    values : array_like, shape (m,)
        Sweep values, increasing.
    successes : array_like of int, shape (m,)
        Successes at each value.
    trials : int or array_like of int, shape (m,)
        Trials at each value (all equal).
    crossing : float
        The student's estimate of the value where the success rate is 1/2.
    trial : callable, optional
        ``trial(value, rng) -> bool`` runs one fresh trial at a sweep value with the
        ``numpy.random.Generator`` it is given.
    rerun_points, rerun_trials : int
        How many sweep values to rerun, and trials at each.
    alpha : float
        Level of the rerun test: a failure means counts this different would arise by chance
        with probability below ``alpha``.
    rng : None, int or numpy.random.Generator
        Seeds of the reruns.
    time_limit : float, optional
        Seconds each call of ``trial`` may take; ``shallowlearn.checks.DEFAULT_TIME_LIMIT``
        when None.

    Returns
    -------
    Feedback

    Examples
    --------
    >>> from shallowlearn.assignments import check_phase_transition
    >>> fb = check_phase_transition([3, 4, 5, 6, 7, 8], [0, 1, 4, 8, 10, 10], 10, crossing=5.2)
    >>> fb.passed
    True
    >>> check_phase_transition([3, 4, 5, 6, 7, 8], [0, 1, 4, 8, 10, 10], 10, crossing=7.0).failed
    ('50% point',)
    """
    if trial is not None and not callable(trial):
        raise TypeError(f"trial must be a callable trial(value, rng) -> bool; got "
                        f"{type(trial).__name__}")
    state = CheckState(time_limit=time_limit, values=values, successes=successes, trials=trials,
                       crossing=crossing, trial=trial,
                       rerun_points=check_positive_int(rerun_points, "rerun_points"),
                       rerun_trials=check_positive_int(rerun_trials, "rerun_trials"),
                       alpha=check_real(alpha, "alpha", low=0.0, strict=True), rng=as_rng(rng))
    return run_checks("phase transition", PHASE_TRANSITION_CHECKS, state)
