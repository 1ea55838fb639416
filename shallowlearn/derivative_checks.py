"""Check an objective's fused derivatives against autograd and against finite differences.

Two independent oracles: autograd differentiates the loss's definition exactly (up to
rounding), and central differences need nothing but loss values. A fused formula that agrees
with both is right. The comparisons are along random directions, as in autograd's
``check_grads``, so each costs a few evaluations whatever the number of parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .objective import Objective
from .validation import as_rng, check_objective, check_real

__all__ = ["DerivativeCheck", "check_derivatives"]


@dataclass(frozen=True)
class DerivativeCheck:
    r"""Relative errors of the fused derivatives at one point.

    Attributes
    ----------
    grad_vs_autograd : float
        :math:`\lVert g_\text{fused} - g_\text{autograd} \rVert / \lVert g_\text{autograd} \rVert`.
    grad_vs_fd : float
        :math:`\lvert g^\top u - (\mathcal L(\theta + \epsilon u) - \mathcal L(\theta - \epsilon u))
        / (2\epsilon) \rvert / (\lVert g \rVert \lVert u \rVert)`, for a random unit :math:`u`.
    hvp_vs_autograd : float
        :math:`\lVert (Hu)_\text{fused} - (Hu)_\text{autograd} \rVert
        / \lVert (Hu)_\text{autograd} \rVert`.
    hvp_vs_fd : float
        :math:`\lVert Hu - (g(\theta + \epsilon u) - g(\theta - \epsilon u)) / (2\epsilon) \rVert
        / \lVert Hu \rVert`.
    hessian_vs_hvp : float
        :math:`\lVert H u - \mathtt{hvp}(u) \rVert / \lVert \mathtt{hvp}(u) \rVert` with
        :math:`H` the fused dense Hessian.
    eps : float
        The finite-difference step.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, check_derivatives
    >>> obj = Objective(np.eye(3), [1.0, 0.0, -1.0], "softplus", k=2)
    >>> report = check_derivatives(obj, np.linspace(-1, 1, obj.p), rng=0)
    >>> report.grad_vs_autograd < 1e-12, report.passed()
    (True, True)
    """

    grad_vs_autograd: float
    grad_vs_fd: float
    hvp_vs_autograd: float
    hvp_vs_fd: float
    hessian_vs_hvp: float
    eps: float

    def passed(self, exact_tol: float = 1e-9, fd_tol: float = 1e-5) -> bool:
        """Whether every exact comparison is below ``exact_tol`` and both finite-difference
        comparisons below ``fd_tol``."""
        exact = (self.grad_vs_autograd, self.hvp_vs_autograd, self.hessian_vs_hvp)
        return max(exact) <= exact_tol and max(self.grad_vs_fd, self.hvp_vs_fd) <= fd_tol


def _rel(a, b, scale=None) -> float:
    scale = np.linalg.norm(b) if scale is None else scale
    diff = np.linalg.norm(np.asarray(a) - np.asarray(b))
    return float(diff / scale) if scale > 0 else float(diff)


def check_derivatives(objective: Objective, theta, *, eps=None, rng=None) -> DerivativeCheck:
    r"""Compare the fused gradient, Hessian-vector product and Hessian with autograd and with
    central finite differences at :math:`\theta`, along a random direction.

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)
        Where to check.
    eps : float, optional
        Finite-difference step; default :math:`10^{-5} \max(1, \lVert \theta \rVert_\infty)`, near
        the optimum for central differences in double precision.
    rng : None, int or numpy.random.Generator
        Draws the direction.

    Returns
    -------
    DerivativeCheck

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, check_derivatives, planted
    >>> data = planted(n=20, d=3, k=2, activation="tanh", rng=0)
    >>> obj = Objective(data.X, data.y, "tanh", k=2)
    >>> report = check_derivatives(obj, np.random.default_rng(1).normal(size=obj.p), rng=2)
    >>> report.passed()
    True
    """
    objective = check_objective(objective)
    theta = objective.check_theta(theta)
    if eps is None:
        eps = 1e-5 * max(1.0, float(np.max(np.abs(theta))))
    eps = check_real(eps, "eps", low=0.0, strict=True)
    u = as_rng(rng).normal(size=objective.p)
    u /= np.linalg.norm(u)

    g = objective.grad(theta)
    slope_fd = (objective.value(theta + eps * u) - objective.value(theta - eps * u)) / (2 * eps)
    hu = objective.hvp(theta, u)
    hu_fd = (objective.grad(theta + eps * u) - objective.grad(theta - eps * u)) / (2 * eps)
    return DerivativeCheck(
        grad_vs_autograd=_rel(g, objective.grad(theta, method="autograd")),
        grad_vs_fd=_rel(g @ u, slope_fd, scale=np.linalg.norm(g)),
        hvp_vs_autograd=_rel(hu, objective.hvp(theta, u, method="autograd")),
        hvp_vs_fd=_rel(hu_fd, hu),
        hessian_vs_hvp=_rel(objective.hessian(theta) @ u, hu),
        eps=eps,
    )
