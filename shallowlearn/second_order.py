r"""Second-order solvers: they use curvature, and they stop only at second-order stationary points.

All share the call shape, stopping contract and result type of :mod:`shallowlearn.solvers`, and
stop when :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol`` and
:math:`\lambda_{\min}(\nabla^2\mathcal L) \ge` ``-curvature_tol``.

- :func:`negative_curvature_descent`: gradient steps, and at near-critical points a step along
  the eigenvector of the most negative Hessian eigenvalue (Moré & Sorensen 1979; Carmon, Duchi,
  Hinder & Sidford, SIAM J. Optim. 2018).
- :func:`trust_region`: Nocedal & Wright, *Numerical Optimization*, ch. 4; the subproblem solved
  exactly in the Hessian's eigenbasis (Moré & Sorensen 1983), by the Lanczos method on
  Hessian-vector products (Gould, Lucidi, Roma & Toint 1999), or by Steihaug–Toint CG.
- :func:`cubic_regularization`: Nesterov & Polyak, Math. Program. 108 (2006), with the adaptive
  regularization and the Lanczos subproblem of Cartis, Gould & Toint, Math. Program. 127 (2011).

The trust region and cubic regularization share one step: solve the model, compare the actual
decrease with the predicted one (:func:`shallowlearn.solvers.ratio_test`), accept or reject,
and adapt the model.

**Choosing the subproblem solver by cost** (``subproblem="auto"``). At its first step a run
reads the objective's measured costs (:func:`shallowlearn.costs.curvature_costs`: one
Hessian-vector product, and forming plus diagonalizing the dense Hessian). The exact solve
costs the dense Hessian at every new point; a Krylov solve costs its products. The run takes
the Krylov route when the dense solve costs more than
:data:`~shallowlearn.costs.TYPICAL_KRYLOV_PRODUCTS` products (or p exceeds
:data:`~shallowlearn.spectrum.DENSE_LIMIT`), with a budget of as many products as one dense
solve costs; a Krylov solve that exhausts its budget without meeting its residual test hands
the rest of the run to the exact route, so a run never pays much more than the cheaper of the
two. Curvature for the stationarity test and the final certificate is chosen the same way
(:class:`shallowlearn.solvers.Run`); the exact route fixes it to the dense eigendecomposition it
already computed. The measurement is kept per objective, so that repeated runs in a process
choose alike; ``subproblem`` fixes the route instead.
"""

from __future__ import annotations

import math

import numpy as np

from .solvers import backtrack, descent_eigenvector, gradient_step, negligible, ratio_test, solver
from .subproblems import lanczos_step, shifted_newton_step, steihaug_cg
from .validation import check_choice, check_real

__all__ = ["cubic_regularization", "negative_curvature_descent", "trust_region"]

_SIGMA_MIN = 1e-8  # floor of the cubic regularization weight
_CURVATURE_ROUTES = {"auto": None, "exact": "dense", "iterative": "iterative"}


def _model_step(run, s, decrease, accept, shrunk):
    """One model-based step: try θ + s, move if ``accept(ρ)``; end the run as stalled when the
    model predicts no decrease, or when a rejected step is below machine precision (``shrunk``
    says what shrank)."""
    if not decrease > 0:
        return "stalled", f"the model predicts no decrease (predicted {decrease:.3g})"
    rho, point = ratio_test(run, s, decrease)
    if accept(rho):
        run.move(point)
    elif negligible(s, run.theta):
        return "stalled", shrunk()
    return None


class _Route:
    """The subproblem route of one run: fixed by ``subproblem``, or chosen by cost at the first
    step (module docstring)."""

    def __init__(self, choice: str):
        self.choice = choice
        self.route = None if choice == "auto" else choice
        self.budget = None

    def __call__(self, run) -> str:
        if self.route is None:
            costs = run.costs
            self.route = "krylov" if costs.prefers_krylov() else "exact"
            self.budget = costs.krylov_budget()
        if self.route == "exact":
            run.curvature_route = "dense"  # the stationarity test reuses the step's eigh
        return self.route

    def krylov(self, run, **model):
        """The Lanczos step of the model at the run's point, or None when it ran out of its
        budget and the run goes over to the exact route."""
        found = lanczos_step(run.hvp, run.g, max_products=self.budget, **model)
        if not found.converged and self.budget is not None and self.choice == "auto":
            self.route = "exact"
            return None
        return found


@solver(stationarity="second")
def negative_curvature_descent(objective, *, step: float = 0.01, hessian_lipschitz: float = 1.0,
                               subproblem: str = "auto"):
    r"""Gradient descent that steps along negative curvature at near-critical points.

    While :math:`\lVert\nabla\mathcal L\rVert >` ``grad_tol`` it takes fixed gradient steps.
    Otherwise it computes the smallest Hessian eigenpair :math:`(\lambda, u)` (``subproblem``:
    dense eigendecomposition, the iterative route of
    :func:`~shallowlearn.spectrum.hessian_spectrum` seeded by ``rng``, or by default the cheaper
    of the two as measured by :func:`~shallowlearn.costs.curvature_costs`, always iterative above
    :data:`~shallowlearn.spectrum.DENSE_LIMIT`); if :math:`\lambda \ge` ``-curvature_tol`` the
    point is second-order stationary and the run stops; else it moves to
    :math:`\theta + \alpha u` with :math:`g^\top u \le 0` and :math:`\alpha = 2|\lambda|/\rho`,
    the step that guarantees a decrease of :math:`2|\lambda|^3/(3\rho^2)` for a
    :math:`\rho`-Lipschitz Hessian, halving :math:`\alpha` until

    .. math::

        \mathcal L(\theta + \alpha u) \le \mathcal L(\theta) + \alpha g^\top u + \alpha^2\lambda/6.

    Parameters
    ----------
    step : float
        Step :math:`\eta > 0` of the gradient steps.
    hessian_lipschitz : float
        An estimate of :math:`\rho > 0`. Too small costs a few halvings; too large gives short
        steps.
    subproblem : {"auto", "exact", "iterative"}
        How the smallest eigenpair is computed (see above).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, negative_curvature_descent
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = negative_curvature_descent(obj, [0.0, 0.0], step=0.1)
    >>> result.status, result.loss < 1e-10, result.lambda_min > 0
    ('converged', True, True)
    """
    step = check_real(step, "step", low=0.0, strict=True)
    rho = check_real(hessian_lipschitz, "hessian_lipschitz", low=0.0, strict=True)
    curvature_route = _CURVATURE_ROUTES[check_choice(subproblem, "subproblem", list(_CURVATURE_ROUTES))]

    def take_step(run):
        if run.gnorm > run.grad_tol:
            return gradient_step(run, step)
        lam, u = descent_eigenvector(run)  # λ < −curvature_tol, or the run would have stopped
        gu = run.g @ u
        if backtrack(run, u, 2 * abs(lam) / rho, lambda t: -(t * gu + t * t * lam / 6)) is None:
            return "stalled", (
                f"no decrease along the negative-curvature direction (λ = {lam:.3g}) "
                "in 60 halvings"
            )
        return None

    take_step.curvature_route = curvature_route
    return take_step


@solver(stationarity="second")
def trust_region(
    objective, *, radius: float = 1.0, max_radius: float = 100.0, eta: float = 0.1,
    subproblem: str = "auto",
):
    r"""Trust-region Newton method on the quadratic model of :math:`\mathcal L`.

    Each iteration minimises :math:`m(s) = \mathcal L + g^\top s + \frac12 s^\top H s` over
    :math:`\lVert s\rVert \le \Delta`, then compares the actual decrease with the predicted one,
    :math:`\rho = (\mathcal L(\theta) - \mathcal L(\theta + s)) / (m(0) - m(s))`, both regularized
    against round-off (:func:`shallowlearn.solvers.ratio_test`): the step is accepted if
    :math:`\rho >` ``eta``; :math:`\Delta` is quartered if :math:`\rho < 1/4` and doubled (up to
    ``max_radius``) if :math:`\rho > 3/4` and the step reached the boundary (Nocedal & Wright,
    Algorithm 4.1). The run stops when :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol``
    and :math:`\lambda_{\min} \ge` ``-curvature_tol``.

    The subproblem solvers:

    - ``"exact"``: eigendecompose the dense Hessian (counted as p Hessian-vector products) and
      solve for the shift :math:`\lambda` with :math:`\lVert(H + \lambda I)^{-1} g\rVert = \Delta`,
      including the hard case; at a critical point with negative curvature the step is
      :math:`\Delta` times a bottom eigenvector. Negative eigenvalues above ``-curvature_tol``,
      which the stopping test ignores, count as zero in the model: near a degenerate minimum
      (a manifold of minimisers, with curvature of both signs of the size of the gradient) they
      would otherwise send the steps along the manifold instead of onto it.
    - ``"krylov"``: the same model minimised on the Krylov space of the gradient by Lanczos
      (:func:`~shallowlearn.subproblems.lanczos_step`, the GLTR method), matrix-free, with the
      same treatment of negative Ritz values above ``-curvature_tol``. It follows negative
      curvature inside the Krylov space; when :math:`\lVert\nabla\mathcal L\rVert \le`
      ``grad_tol``, where that space says nothing, the step is :math:`\Delta` times the bottom
      eigenvector of the stationarity test.
    - ``"cg"``: Steihaug–Toint truncated conjugate gradients (Nocedal & Wright, Algorithm 7.2),
      with the same eigenvector step at near-critical points.
    - ``"auto"``: ``"krylov"`` or ``"exact"``, whichever costs less, as measured for the
      objective (module docstring of :mod:`shallowlearn.second_order`).

    Parameters
    ----------
    radius : float
        Initial trust radius :math:`\Delta_0 > 0`.
    max_radius : float
        Largest trust radius, at least ``radius``.
    eta : float
        Acceptance threshold in :math:`[0, 1/4)`.
    subproblem : {"auto", "exact", "krylov", "cg"}

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, trust_region
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = trust_region(obj, [0.0, 0.0], subproblem="krylov")
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    radius = check_real(radius, "radius", low=0.0, strict=True)
    max_radius = check_real(max_radius, "max_radius", low=radius)
    eta = check_real(eta, "eta", low=0.0)
    if eta >= 0.25:
        raise ValueError(f"eta must be in [0, 0.25); got {eta}")
    route = _Route(check_choice(subproblem, "subproblem", ("auto", "exact", "krylov", "cg")))

    def model(run):
        how = route(run)
        if how == "exact":
            w, V = run.eigh()
            # curvature the stopping test ignores is no reason to step: it counts as zero
            w = np.where((w < 0) & (w >= -run.curvature_tol), 0.0, w)
            a = V.T @ run.g
            c = shifted_newton_step(w, a, radius=radius)
            return V @ c, -(a @ c + 0.5 * (w * c) @ c)
        if run.gnorm <= run.grad_tol:
            lam, u = descent_eigenvector(run)
            return radius * u, -(radius * (run.g @ u) + 0.5 * lam * radius**2)
        if how == "cg":
            return steihaug_cg(run.hvp, run.g, radius)
        found = route.krylov(run, radius=radius, flat=run.curvature_tol)
        return model(run) if found is None else (found.step, found.decrease)

    def accept(rho, s):
        nonlocal radius
        if rho < 0.25:
            radius = 0.25 * radius
        elif rho > 0.75 and np.linalg.norm(s) >= 0.99 * radius:
            radius = min(2 * radius, max_radius)
        return rho > eta

    def take_step(run):
        s, decrease = model(run)
        return _model_step(
            run, s, decrease, lambda rho: accept(rho, s),
            lambda: f"the trust radius shrank to {radius:.3g}, below machine precision",
        )

    take_step.curvature_route = "dense" if route.route == "exact" else None
    return take_step


@solver(stationarity="second")
def cubic_regularization(objective, *, sigma: float = 1.0, subproblem: str = "auto"):
    r"""Cubic-regularized Newton with adaptive regularization (ARC).

    Each iteration minimises the cubic model
    :math:`m(s) = \mathcal L + g^\top s + \frac12 s^\top H s + (\sigma/3)\lVert s\rVert^3`: its
    global minimiser satisfies :math:`(H + \sigma\lVert s\rVert I)s = -g` with
    :math:`H + \sigma\lVert s\rVert I \succeq 0` (Nesterov & Polyak 2006, whose :math:`M/6` is
    :math:`\sigma/3` here). With :math:`\rho` the actual over the predicted decrease
    (regularized against round-off as in :func:`shallowlearn.solvers.ratio_test`), the step is
    accepted if :math:`\rho \ge 0.1`; :math:`\sigma` is halved (not below :math:`10^{-8}`) if
    :math:`\rho > 0.9` and doubled if :math:`\rho < 0.1` (Cartis, Gould & Toint 2011). The run
    stops when :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol`` and
    :math:`\lambda_{\min} \ge` ``-curvature_tol``. The subproblem solvers:

    - ``"exact"``: in the eigenbasis of the dense Hessian (counted as p Hessian-vector products
      per new point; cost :math:`O(p^3)`), hard case included, so the step leaves critical
      points along negative curvature.
    - ``"krylov"``: on the Krylov space of the gradient by Lanczos, the subproblem of Cartis,
      Gould & Toint's ARC (:func:`~shallowlearn.subproblems.lanczos_step`), matrix-free; when
      :math:`\lVert\nabla\mathcal L\rVert \le` ``grad_tol`` the step runs along the bottom
      eigenvector :math:`u` of the stationarity test (turned so that :math:`g^\top u \le 0`), to
      the minimiser of the model on that line.
    - ``"auto"``: whichever costs less, as measured for the objective (module docstring of
      :mod:`shallowlearn.second_order`).

    Parameters
    ----------
    sigma : float
        Initial regularization weight :math:`\sigma > 0` (:math:`\sigma \approx \rho/2` for a
        :math:`\rho`-Lipschitz Hessian is safe).
    subproblem : {"auto", "exact", "krylov"}

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, cubic_regularization
    >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
    >>> result = cubic_regularization(obj, [0.0, 0.0])
    >>> result.status, result.loss < 1e-10
    ('converged', True)
    """
    sigma = check_real(sigma, "sigma", low=0.0, strict=True)
    route = _Route(check_choice(subproblem, "subproblem", ("auto", "exact", "krylov")))

    def accept(rho):
        nonlocal sigma
        if rho > 0.9:
            sigma = max(0.5 * sigma, _SIGMA_MIN)
        elif rho < 0.1:
            sigma = 2 * sigma
        return rho >= 0.1

    def model(run):
        if route(run) == "exact":
            w, V = run.eigh()
            a = V.T @ run.g
            c = shifted_newton_step(w, a, sigma=sigma)
            return V @ c, -(a @ c + 0.5 * (w * c) @ c + sigma / 3 * np.linalg.norm(c) ** 3)
        if run.gnorm <= run.grad_tol:
            lam, u = descent_eigenvector(run)
            gu = float(run.g @ u)
            t = (-lam + math.sqrt(lam * lam - 4 * sigma * gu)) / (2 * sigma)
            return t * u, -(t * gu + 0.5 * lam * t * t + sigma / 3 * t**3)
        found = route.krylov(run, sigma=sigma)
        return model(run) if found is None else (found.step, found.decrease)

    def take_step(run):
        s, decrease = model(run)
        return _model_step(
            run, s, decrease, accept,
            lambda: f"σ grew to {sigma:.3g}; the steps fell below machine precision",
        )

    take_step.curvature_route = "dense" if route.route == "exact" else None
    return take_step
