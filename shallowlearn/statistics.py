"""Statistics of success-rate sweeps: the logistic fit, its 50% crossing and its standard error."""

from __future__ import annotations

import numpy as np
from scipy import optimize

from .validation import check_array, check_positive_int

__all__ = ["crossing_standard_error", "fit_logistic", "logistic"]


def fit_logistic(x, successes, trials: int, *, ridge: float = 1e-3) -> dict:
    r"""Logistic fit :math:`p(x) = 1/(1 + \exp(-(a + bx)))` to success counts, and its 50% crossing.

    Binomial maximum likelihood with a small ridge penalty on the slope (in standardised
    :math:`x`): without it, perfectly separated data (all failures below some :math:`x`, all
    successes above) would send the slope to infinity; with it the fit stays finite and the
    crossing lands between the last failure and the first success.

    Parameters
    ----------
    x : array_like
        Sweep values.
    successes : array_like of int
        Successes out of ``trials`` at each :math:`x`.
    trials : int
    ridge : float
        Penalty weight on the squared standardised slope.

    Returns
    -------
    dict
        ``intercept`` :math:`a`, ``slope`` :math:`b` and ``crossing`` :math:`-a/b`. The crossing
        is NaN when it falls outside the range of :math:`x` (an extrapolation), and all three
        are NaN when every point is 0 or every point is ``trials`` (no transition to locate).

    Examples
    --------
    >>> from shallowlearn import fit_logistic
    >>> fit = fit_logistic([3, 4, 5, 6, 7, 8, 9], [0, 0, 2, 8, 10, 10, 10], 10)
    >>> round(fit["crossing"], 1)
    5.5
    """
    x = check_array(x, "x", ndim=1)
    successes = check_array(successes, "successes", ndim=1, shape=x.shape)
    trials = check_positive_int(trials, "trials")
    if np.any(successes < 0) or np.any(successes > trials):
        raise ValueError(f"successes must lie in [0, trials={trials}]; got "
                         f"{successes.min():g}..{successes.max():g}")
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


def logistic(fit: dict, x) -> np.ndarray:
    r"""The fitted curve :math:`1/(1 + \exp(-(a + bx)))` of :func:`fit_logistic` at :math:`x`.

    Examples
    --------
    >>> from shallowlearn.statistics import logistic
    >>> float(logistic({"intercept": -5.0, "slope": 1.0}, 5.0))
    0.5
    """
    return 1 / (1 + np.exp(-(fit["intercept"] + fit["slope"] * np.asarray(x, dtype=float))))


def crossing_standard_error(x, fit: dict, trials: int) -> float:
    """The delta-method standard error of the 50% crossing :math:`-a/b` of a logistic fit.

    From the binomial Fisher information of :math:`(a, b)` at the fit, with ``trials`` trials at
    each sweep value :math:`x`; 0 when the information is singular.

    Examples
    --------
    >>> from shallowlearn.statistics import crossing_standard_error, fit_logistic
    >>> x, counts = [3, 4, 5, 6, 7, 8, 9], [0, 1, 3, 6, 8, 10, 10]
    >>> se = crossing_standard_error(x, fit_logistic(x, counts, 10), 10)
    >>> 0.1 < se < 1.0
    True
    """
    x = np.asarray(x, dtype=float)
    a, b = fit["intercept"], fit["slope"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p = logistic(fit, x)
        w = trials * p * (1.0 - p)
        info = np.array([[w.sum(), (w * x).sum()], [(w * x).sum(), (w * x * x).sum()]])
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return 0.0
        grad = np.array([-1.0 / b, a / b**2])
        var = float(grad @ cov @ grad)
    return float(np.sqrt(var)) if np.isfinite(var) and var > 0 else 0.0
