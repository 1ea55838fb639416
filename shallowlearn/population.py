r"""Population losses: the training loss averaged over infinitely many Gaussian inputs.

For inputs :math:`x \sim \mathcal N(0, I_d)` labelled by a planted teacher
:math:`y(x) = v^{\star\top}\phi(W^\star x)` (a :class:`~shallowlearn.data.Teacher`), the
population loss of the student :math:`x \mapsto v^\top\phi(Wx)` is

.. math::

    \mathcal L(\theta) = \tfrac12 \mathbb E_x \bigl(v^\top\phi(Wx) - y(x)\bigr)^2,

the limit of the empirical loss :class:`~shallowlearn.objective.Objective` as the number of
samples :math:`n` grows. For two activations the expectation has a closed form:

* **quadratic**, :math:`\phi(z) = z^2`: the network computes :math:`x^\top Mx` with
  :math:`M = W^\top D_v W`, and Gaussian fourth moments give

  .. math::

      \mathbb E[(x^\top Ax)(x^\top Bx)] = 2 \operatorname{tr}(AB)
          + \operatorname{tr}(A) \operatorname{tr}(B)

  for symmetric :math:`A` and :math:`B`, so with :math:`\Delta = M - M^\star`,
  :math:`M^\star = W^{\star\top} D_{v^\star} W^\star`,

  .. math::

      \mathcal L = \lVert\Delta\rVert_F^2 + \tfrac12 (\operatorname{tr}\Delta)^2

  (:class:`QuadraticPopulation`);

* **ReLU**, :math:`\phi(z) = \max(z, 0)`: the arc-cosine kernel of degree 1 (Cho & Saul 2009),

  .. math::

      \mathbb E\bigl[[a^\top x]_+ [b^\top x]_+\bigr]
          = \lVert a\rVert \lVert b\rVert
            \bigl(\sin\vartheta + (\pi - \vartheta)\cos\vartheta\bigr)/(2\pi)

  with :math:`\vartheta` the angle between :math:`a` and :math:`b`, turns :math:`\mathcal L`
  into a sum over pairs of units (:class:`ReluPopulation`).

Both are subclasses of :class:`~shallowlearn.objective.BaseObjective`:
:math:`\theta = \operatorname{vec}(W)` when :math:`v` is fixed and
:math:`\theta = [v, \operatorname{vec}(W)]` when :math:`v` is trained, and
:meth:`~shallowlearn.objective.BaseObjective.at` returns an evaluation point with the value, the
gradient, Hessian-vector products (one vector or a block) and the dense Hessian, each from a
closed form derived in the class docstring (``method="autograd"`` differentiates the definition
instead, the oracle of the tests). So every solver, :func:`~shallowlearn.spectrum.hessian_spectrum`,
:func:`~shallowlearn.critical_points.classify_point`, the slices and
:func:`~shallowlearn.derivative_checks.check_derivatives` run on them unchanged.
:func:`population_objective` picks the class from the teacher's activation.
"""

from __future__ import annotations

from functools import cached_property

import autograd.numpy as anp
import numpy as np

from .data import Teacher
from .objective import BaseObjective
from .validation import check_choice, read_only

__all__ = [
    "QuadraticPopulation",
    "QuadraticPopulationPoint",
    "ReluPopulation",
    "ReluPopulationPoint",
    "population_objective",
]

_CHUNK_ELEMENTS = 1 << 22  # bound on the temporaries of one block of Hessian-vector products
_TWO_PI = 2.0 * np.pi


def _check_teacher(teacher) -> None:
    if not isinstance(teacher, Teacher):
        raise TypeError(
            f"teacher must be a shallowlearn.Teacher (for example planted(...).teacher); "
            f"got {type(teacher).__name__}"
        )


class _Population(BaseObjective):
    """What both population objectives share: the teacher, the weights, the evaluation point."""

    _activation_name: str
    _point: type

    def __init__(self, teacher, *, v=None, k=None):
        _check_teacher(teacher)
        if teacher.activation.name != self._activation_name:
            raise ValueError(
                f"{type(self).__name__} needs a teacher with the {self._activation_name!r} "
                f"activation; this teacher's is {teacher.activation.name!r} "
                "(population_objective picks the class from the teacher)"
            )
        self.teacher = teacher
        self.d = teacher.W.shape[1]
        self.activation = teacher.activation
        self._set_weights(v, k)

    def __repr__(self) -> str:
        trained = "v and W" if self.trains_v else "W (v fixed)"
        return (
            f"{type(self).__name__}(d={self.d}, k={self.k}, teacher k={self.teacher.k}, "
            f"trains {trained}, p={self.p})"
        )

    def at(self, theta, *, validate: bool = True):
        r"""The evaluation point at :math:`\theta`: value, gradient, Hessian-vector products,
        Hessian.

        Parameters
        ----------
        theta : array_like, shape (p,)
        validate : bool
            Check and copy :math:`\theta` (default); see
            :meth:`~shallowlearn.objective.BaseObjective.at`.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import QuadraticPopulation, Teacher, get_activation
        >>> teacher = Teacher(W=np.eye(2), v=np.ones(2), activation=get_activation("quadratic"))
        >>> point = QuadraticPopulation(teacher, v=np.ones(2)).at(np.eye(2).ravel())
        >>> point.value, point.grad.tolist()
        (0.0, [0.0, 0.0, 0.0, 0.0])
        """
        if validate:
            theta = self.check_theta(theta)
        return self._point(self, theta)


class _PopulationPoint:
    """An evaluation point of a population objective; subclasses set ``value`` and implement
    ``grad`` and ``_product`` (the Hessian times a block of columns)."""

    _column_size: int  # temporaries per column of ``_product``, for chunking

    def __init__(self, objective, theta):
        self.objective = objective
        self.theta = theta
        self.v, self.W = objective.split(theta)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loss={self.value:.6g}, p={self.theta.size})"

    def hvp(self, U) -> np.ndarray:
        r""":math:`\nabla^2\mathcal L(\theta)\, U` for one vector, shape (p,), or a block of
        vectors, shape (p, b)."""
        U = np.asarray(U, dtype=np.float64)
        if U.ndim == 1:
            return self._product(U[:, None])[:, 0]
        step = max(1, _CHUNK_ELEMENTS // self._column_size)  # columns per block
        blocks = [self._product(U[:, start:start + step]) for start in range(0, U.shape[1], step)]
        return np.concatenate(blocks, axis=1) if blocks else np.empty_like(U)

    def hessian(self) -> np.ndarray:
        """The dense Hessian, shape (p, p), symmetric: :meth:`hvp` applied to the identity."""
        H = self.hvp(np.eye(self.objective.p))
        return 0.5 * (H + H.T)

    def _split_block(self, U):
        """A block U (p, b) as (dv of shape (b, k) or None, dW of shape (b, k, d))."""
        obj = self.objective
        off = obj.k if obj.trains_v else 0
        dW = U[off:].T.reshape(U.shape[1], obj.k, obj.d)
        return (U[:off].T if obj.trains_v else None), dW

    def _join_block(self, hv, hW):
        """(b, k) and (b, k, d) parts back into a (p, b) block."""
        hW = hW.reshape(hW.shape[0], -1).T
        return np.concatenate([hv.T, hW]) if self.objective.trains_v else hW


# --- quadratic activation -----------------------------------------------------------------


class QuadraticPopulation(_Population):
    r"""The population loss of a quadratic network,
    :math:`\mathcal L = \tfrac12 \mathbb E\,(x^\top(M - M^\star)x)^2` for
    :math:`x \sim \mathcal N(0, I_d)`.

    The student computes :math:`x^\top Mx` with :math:`M = W^\top D_v W` and the teacher
    :math:`x^\top M^\star x` with :math:`M^\star = W^{\star\top} D_{v^\star} W^\star`. For
    symmetric :math:`A`, Isserlis' theorem gives
    :math:`\mathbb E[(x^\top Ax)^2] = 2\lVert A\rVert_F^2 + (\operatorname{tr} A)^2`, so with
    :math:`\Delta = M - M^\star`

    .. math::

        \mathcal L = \lVert\Delta\rVert_F^2 + \tfrac12 (\operatorname{tr}\Delta)^2.

    Derivatives (derived here; checked against autograd and finite differences in the tests).
    With :math:`G = 2\Delta + \operatorname{tr}(\Delta) I` (the population version of
    :math:`\frac1n \sum_i r_i x_i x_i^\top`, as
    :math:`\mathbb E[(x^\top\Delta x)\, xx^\top] = 2\Delta + \operatorname{tr}(\Delta) I`),
    :math:`d\mathcal L = \langle G, d\Delta\rangle` and

    * :math:`\nabla_W \mathcal L = 2 D_v W G`, and, when :math:`v` is trained,
      :math:`\partial\mathcal L/\partial v_\ell = w_\ell^\top G w_\ell`;
    * along a direction :math:`(a, U)` (:math:`a` the change of :math:`v`, :math:`U` of
      :math:`W`), :math:`d\Delta = U^\top D_v W + W^\top D_v U + W^\top D_a W` and
      :math:`dG = 2\,d\Delta + \operatorname{tr}(d\Delta) I`, and the Hessian-vector product is

      .. math::

          H(a, U) = \bigl(2 u_\ell^\top G w_\ell + w_\ell^\top\, dG\, w_\ell,\;
                          2 D_v U G + 2 D_a W G + 2 D_v W\, dG\bigr).

      The terms with :math:`G` vanish where the student computes the teacher's function
      (:math:`\Delta = 0`); :math:`2 D_v W\, dG` is the Gauss–Newton part.

    The loss is a polynomial in :math:`\theta`, smooth everywhere.

    Parameters
    ----------
    teacher : Teacher
        With the quadratic activation; any width.
    v : array_like, shape (k,), optional
        Fixed output weights: :math:`\theta = \operatorname{vec}(W)`, :math:`p = kd`.
    k : int, optional
        Hidden units when :math:`v` is trained too: :math:`\theta = [v, \operatorname{vec}(W)]`,
        :math:`p = k + kd`. Give exactly one of ``v`` and ``k``.

    Attributes
    ----------
    d, k, p : int
        Input dimension, hidden units, number of parameters.
    trains_v : bool
    v : numpy.ndarray or None
        The fixed output weights (read-only), or None.
    teacher : Teacher
    target : numpy.ndarray, shape (d, d)
        :math:`M^\star = W^{\star\top} D_{v^\star} W^\star`, read-only.
    activation : Activation
    null_loss : float
        :math:`\tfrac12 \mathbb E\, y^2 = \lVert M^\star\rVert_F^2 +
        \tfrac12 (\operatorname{tr} M^\star)^2`, the loss of the zero network.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import QuadraticPopulation, planted
    >>> teacher = planted(n=1, d=3, k=2, rng=0).teacher
    >>> pop = QuadraticPopulation(teacher, v=np.ones(4))
    >>> pop
    QuadraticPopulation(d=3, k=4, teacher k=2, trains W (v fixed), p=12)
    >>> float(pop.value(np.zeros(pop.p))) == pop.null_loss
    True
    """

    _activation_name = "quadratic"

    def __init__(self, teacher, *, v=None, k=None):
        super().__init__(teacher, v=v, k=k)
        t = self.teacher
        self.target = read_only(t.W.T @ (t.v[:, None] * t.W))
        self.null_loss = float(np.sum(self.target**2) + 0.5 * np.trace(self.target) ** 2)

    def _definition(self, theta):
        v, W = self.split(theta)
        delta = anp.dot(anp.transpose(W), v[:, None] * W) - self.target
        return anp.sum(delta**2) + 0.5 * anp.trace(delta) ** 2


class QuadraticPopulationPoint(_PopulationPoint):
    r"""A :class:`QuadraticPopulation` at one :math:`\theta` (build it with
    ``objective.at(theta)``).

    Attributes
    ----------
    objective, theta, v, W
        The QuadraticPopulation, :math:`\theta` (shape (p,)) and views :math:`(v, W)` of
        :math:`\theta`; :math:`v` is the objective's own when it is fixed.
    M, delta : numpy.ndarray, shape (d, d)
        :math:`M = W^\top D_v W` and :math:`\Delta = M - M^\star`.
    value : float

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import QuadraticPopulation, planted
    >>> pop = QuadraticPopulation(planted(n=1, d=3, k=2, rng=0).teacher, k=3)
    >>> point = pop.at(np.random.default_rng(1).normal(size=pop.p))
    >>> bool(np.allclose(point.hvp(np.eye(pop.p)[:, :2]), point.hessian()[:, :2]))
    True
    """

    def __init__(self, objective, theta):
        super().__init__(objective, theta)
        self.M = self.W.T @ (self.v[:, None] * self.W)
        self.delta = self.M - objective.target
        self.value = float(np.sum(self.delta**2) + 0.5 * np.trace(self.delta) ** 2)
        self._column_size = 4 * objective.d * (objective.k + objective.d)

    @cached_property
    def G(self) -> np.ndarray:
        r""":math:`2\Delta + \operatorname{tr}(\Delta) I`, the gradient of :math:`\mathcal L` with
        respect to :math:`M`, shape (d, d)."""
        return 2.0 * self.delta + np.trace(self.delta) * np.eye(self.objective.d)

    @cached_property
    def grad(self) -> np.ndarray:
        r""":math:`\nabla\mathcal L(\theta)`, shape (p,)."""
        WG = self.W @ self.G
        gW = (2.0 * self.v[:, None] * WG).ravel()
        if not self.objective.trains_v:
            return gW
        return np.concatenate([np.sum(WG * self.W, axis=1), gW])

    def _product(self, U):
        d = self.objective.d
        W, v, G = self.W, self.v, self.G
        dv, dW = self._split_block(U)
        half = np.swapaxes(dW, 1, 2) @ (v[:, None] * W)  # UᵀD_vW, (b, d, d)
        d_delta = half + np.swapaxes(half, 1, 2)
        if dv is not None:
            d_delta += np.einsum("li,bl,lj->bij", W, dv, W)  # WᵀD_aW
        dG = 2.0 * d_delta + np.trace(d_delta, axis1=1, axis2=2)[:, None, None] * np.eye(d)
        hW = 2.0 * (v[None, :, None] * dW) @ G + 2.0 * (v[:, None] * W)[None] @ dG
        hv = None
        if dv is not None:
            hW += 2.0 * (dv[:, :, None] * W[None]) @ G
            hv = 2.0 * np.einsum("bli,ij,lj->bl", dW, G, W) + np.einsum("li,bij,lj->bl", W, dG, W)
        return self._join_block(hv, hW)


QuadraticPopulation._point = QuadraticPopulationPoint


# --- ReLU -----------------------------------------------------------------------------------


def _safe_inverse(s):
    """1/s where s > 0, and 0 where s = 0 (the terms it multiplies vanish there like s)."""
    return np.divide(1.0, s, out=np.zeros_like(s), where=s > 0)


def _unit_rows(A):
    """Row norms of A and its rows scaled to unit length (zero rows stay zero)."""
    norms = np.sqrt(np.einsum("...i,...i->...", A, A))
    safe = np.where(norms > 0, norms, 1.0)
    return norms, A / safe[..., None]


class ReluPopulation(_Population):
    r"""The population loss of a ReLU network,
    :math:`\mathcal L = \tfrac12 \mathbb E\,(v^\top[Wx]_+ - v^{\star\top}[W^\star x]_+)^2` for
    :math:`x \sim \mathcal N(0, I_d)`.

    With

    .. math::

        \kappa(a, b) = \mathbb E\bigl[[a^\top x]_+ [b^\top x]_+\bigr]
            = \lVert a\rVert \lVert b\rVert
              \bigl(\sin\vartheta + (\pi - \vartheta)\cos\vartheta\bigr)/(2\pi),

    :math:`\vartheta \in [0, \pi]` the angle between :math:`a` and :math:`b` (the arc-cosine
    kernel of degree 1 of Cho & Saul 2009, halved), expanding the square gives a sum over pairs
    of units:

    .. math::

        \mathcal L = \tfrac12 \sum_{ij} v_i v_j \kappa(w_i, w_j)
            - \sum_{ij} v_i v^\star_j \kappa(w_i, w^\star_j)
            + \tfrac12 \sum_{ij} v^\star_i v^\star_j \kappa(w^\star_i, w^\star_j),

    and :math:`\kappa(w, w) = \lVert w\rVert^2/2`.

    Derivatives (derived here; checked against autograd and finite differences in the tests).
    Write :math:`\hat a = a/\lVert a\rVert`, :math:`c = \cos\vartheta = \hat a^\top\hat b`,
    :math:`s = \sin\vartheta`, and :math:`e = \hat b - c\,\hat a`, :math:`f = \hat a - c\,\hat b`
    (so that :math:`\lVert e\rVert = \lVert f\rVert = s`; the direction of :math:`e` is that of
    :math:`b` seen from :math:`a`, orthogonal to :math:`a`). Then
    :math:`\nabla_a \vartheta = -e/(s\lVert a\rVert)` and

    * :math:`\nabla_a \kappa(a, b) =
      \bigl((\pi - \vartheta) b + \lVert b\rVert s\,\hat a\bigr)/(2\pi)`;
    * :math:`\nabla^2_{aa} \kappa = \frac{\lVert b\rVert}{2\pi\lVert a\rVert}
      \bigl(s (I - \hat a\hat a^\top) + e e^\top/s\bigr)`;
    * :math:`\nabla^2_{ab} \kappa = \bigl((\pi - \vartheta) I + e f^\top/s +
      s\,\hat a\hat b^\top\bigr)/(2\pi)`.

    With

    .. math::

        R_i = \sum_j v_j \nabla_a\kappa(w_i, w_j) - \sum_j v^\star_j \nabla_a\kappa(w_i, w^\star_j),

    the gradient is :math:`\nabla_{w_i} \mathcal L = v_i R_i` and

    .. math::

        \partial\mathcal L/\partial v_i
            = \sum_j v_j \kappa(w_i, w_j) - \sum_j v^\star_j \kappa(w_i, w^\star_j).

    The Hessian has blocks

    .. math::

        \partial^2\mathcal L/\partial w_i^2 &= v_i \Bigl(\sum_j v_j \nabla^2_{aa}\kappa(w_i, w_j)
            - \sum_j v^\star_j \nabla^2_{aa}\kappa(w_i, w^\star_j)\Bigr) + v_i^2 I/2, \\
        \partial^2\mathcal L/\partial w_i \partial w_m &= v_i v_m \nabla^2_{ab}\kappa(w_i, w_m)
            \quad (i \ne m), \\
        \partial^2\mathcal L/\partial w_i \partial v_m &= [i = m]\, R_i
            + v_i \nabla_a\kappa(w_i, w_m), \\
        \partial^2\mathcal L/\partial v_i \partial v_m &= \kappa(w_i, w_m).

    The sums over :math:`\nabla^2_{aa}\kappa` are the curvature of the kinks
    (:attr:`ReluPopulationPoint.kink_curvature`); everything else is the Gauss–Newton matrix
    :math:`\mathbb E[J^\top J]` of the predictions, plus :math:`R_i` when :math:`v` is trained.

    **Where it is differentiable.** The expectation smooths the kink of the ReLU:
    :math:`\kappa` is continuously differentiable wherever :math:`a \ne 0` and :math:`b \ne 0`,
    and so is its Hessian, including where :math:`a` and :math:`b` are parallel
    (:math:`\vartheta = 0`) or opposite (:math:`\vartheta = \pi`). There :math:`e` and :math:`f`
    vanish and the terms :math:`e e^\top/s`, :math:`e f^\top/s` and :math:`s\,\hat a\hat b^\top`
    tend to 0 (each is at most :math:`s` in size), so the Hessian takes its limit, which is what
    this class returns. Along a line crossing :math:`\vartheta = 0` or :math:`\pi`,
    :math:`\kappa` behaves like
    :math:`\mathrm{const} + \lVert b\rVert\, \lvert t\rvert^3/(6\pi\lVert a\rVert^2)`: the third
    derivative jumps there, the second does not. So :math:`\mathcal L` is twice continuously
    differentiable wherever every unit that reaches the output (:math:`v_i \ne 0`, or :math:`v`
    trained) has :math:`w_i \ne 0`; in particular at the teacher, where student and teacher
    units are parallel. Where such a :math:`w_i = 0`, :math:`\kappa(w_i, b)` is positively
    homogeneous of degree 1 in :math:`w_i` and not linear, so :math:`\mathcal L` is not
    differentiable: the value is returned, and the gradient and Hessian raise a ValueError
    naming the unit. Teacher units with :math:`w^\star_j = 0` or :math:`v^\star_j = 0`
    contribute nothing and are dropped.

    The value is a sum of terms that cancel at a global minimum; it is returned as
    :math:`\max(\mathcal L, 0)`, since rounding can otherwise leave it slightly negative.

    Parameters
    ----------
    teacher : Teacher
        With the ReLU activation; any width.
    v, k
        Exactly one of them, as for :class:`QuadraticPopulation`: the fixed output weights
        (:math:`\theta = \operatorname{vec}(W)`), or the number of hidden units
        (:math:`\theta = [v, \operatorname{vec}(W)]`, :math:`v` trained).

    Attributes
    ----------
    d, k, p, trains_v, v, teacher, activation
        As for :class:`QuadraticPopulation`.
    null_loss : float
        :math:`\tfrac12 \mathbb E\, y^2
        = \tfrac12 \sum_{ij} v^\star_i v^\star_j \kappa(w^\star_i, w^\star_j)`, the loss of the
        zero network.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import ReluPopulation, Teacher, get_activation
    >>> teacher = Teacher(W=np.eye(2), v=np.ones(2), activation=get_activation("relu"))
    >>> pop = ReluPopulation(teacher, v=np.ones(2))
    >>> round(pop.null_loss, 6)               # ½ (2 · ½ + 2 · 1/(2π))
    0.659155
    >>> pop.value(pop.pack(np.eye(2)))        # the teacher itself
    0.0
    """

    _activation_name = "relu"

    def __init__(self, teacher, *, v=None, k=None):
        super().__init__(teacher, v=v, k=k)
        t = self.teacher
        keep = (np.linalg.norm(t.W, axis=1) > 0) & (t.v != 0)
        self._teacher_W = read_only(t.W[keep].copy())
        self._teacher_v = read_only(t.v[keep].copy())
        self._teacher_norm, self._teacher_hat = _unit_rows(self._teacher_W)
        kernel = _relu_kernel(self._teacher_W, self._teacher_W)
        self._teacher_energy = 0.5 * float(self._teacher_v @ kernel @ self._teacher_v)
        self.null_loss = self._teacher_energy

    def _definition(self, theta):
        v, W = self.split(theta)
        rows, cols = np.triu_indices(self.k, 1)
        own = 0.25 * anp.sum(v**2 * anp.sum(W**2, axis=1))  # ½ Σ_i v_i² ‖w_i‖²/2
        pairs = anp.sum(v[rows] * v[cols] * _oracle_kernel(W[rows], W[cols]))
        m = self._teacher_v.size
        i, j = np.repeat(np.arange(self.k), m), np.tile(np.arange(m), self.k)
        cross = anp.sum(v[i] * self._teacher_v[j] * _oracle_kernel(W[i], self._teacher_W[j]))
        return own + pairs - cross + self._teacher_energy


def _oracle_kernel(A, B):
    """κ row by row for rows a, b, written with autograd.numpy from the definition (the oracle;
    not for parallel rows, where autograd's derivative of arccos is infinite)."""
    na = anp.sqrt(anp.sum(A**2, axis=1))
    nb = anp.sqrt(anp.sum(B**2, axis=1))
    cos = anp.sum(A * B, axis=1) / (na * nb)
    angle = anp.arccos(cos)
    return na * nb * (anp.sqrt(1.0 - cos**2) + (np.pi - angle) * cos) / _TWO_PI


def _relu_kernel(A, B):
    """The matrix κ(a_i, b_j) for the rows of A and B (zero rows give 0)."""
    na, Ah = _unit_rows(A)
    nb, Bh = _unit_rows(B)
    c = np.clip(Ah @ Bh.T, -1.0, 1.0)
    s = np.linalg.norm(Bh[None, :, :] - c[:, :, None] * Ah[:, None, :], axis=2)
    angle = np.arctan2(s, c)
    return np.outer(na, nb) * (s + (np.pi - angle) * c) / _TWO_PI


class ReluPopulationPoint(_PopulationPoint):
    r"""A :class:`ReluPopulation` at one :math:`\theta` (build it with ``objective.at(theta)``).

    The student's units are paired with its own units and with the teacher's (the
    *partners*, :math:`K = k + k^\star` of them); for each pair :math:`(i, j)` the point keeps the
    cosine, sine and angle between :math:`w_i` and partner :math:`j` and the vector
    :math:`e_{ij} = \hat b_j - c_{ij}\hat w_i` (class docstring of :class:`ReluPopulation`). A
    unit paired with itself has angle 0 exactly.

    Attributes
    ----------
    objective, theta, v, W
        The ReluPopulation, :math:`\theta` (shape (p,)) and views :math:`(v, W)` of
        :math:`\theta`; :math:`v` is the objective's own when it is fixed.
    kernel : numpy.ndarray, shape (k, K)
        :math:`\kappa(w_i, b_j)` for each student unit and partner.
    angles : numpy.ndarray, shape (k, K)
        The angles :math:`\vartheta_{ij}` in :math:`[0, \pi]`.
    value : float

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import ReluPopulation, planted
    >>> pop = ReluPopulation(planted(n=1, d=3, k=2, activation="relu", rng=0).teacher, k=3)
    >>> point = pop.at(np.random.default_rng(1).normal(size=pop.p))
    >>> bool(np.allclose(point.hvp(np.eye(pop.p)[:, :2]), point.hessian()[:, :2]))
    True
    """

    def __init__(self, objective, theta):
        super().__init__(objective, theta)
        obj = objective
        k = obj.k
        # partners: the student's units, then the teacher's, with signed output weights ω
        self.omega = np.concatenate([self.v, -obj._teacher_v])
        self.a_norm, self.A_hat = _unit_rows(self.W)
        self.b_norm = np.concatenate([self.a_norm, obj._teacher_norm])
        self.B_hat = np.concatenate([self.A_hat, obj._teacher_hat])
        c = np.clip(self.A_hat @ self.B_hat.T, -1.0, 1.0)
        c[np.arange(k), np.arange(k)] = 1.0  # a unit with itself: exactly parallel
        E = self.B_hat[None, :, :] - c[:, :, None] * self.A_hat[:, None, :]
        E[np.arange(k), np.arange(k)] = 0.0
        s = np.sqrt(np.einsum("ijd,ijd->ij", E, E))
        self.cos, self.sin, self.E = c, s, E
        self.angles = np.arctan2(s, c)
        self.kernel = np.outer(self.a_norm, self.b_norm) * (s + (np.pi - self.angles) * c) / _TWO_PI
        K = self.kernel
        energy = 0.5 * self.v @ K[:, :k] @ self.v - self.v @ K[:, k:] @ obj._teacher_v
        # an expectation of a square: rounding can leave the sum at about −1e-16 · null_loss
        self.value = max(float(energy + obj._teacher_energy), 0.0)
        K_all = k + obj._teacher_v.size
        self._column_size = 4 * k * K_all + 6 * k * obj.d

    def _check_differentiable(self) -> None:
        obj = self.objective
        live = np.ones(obj.k, bool) if obj.trains_v else (self.v != 0)
        dead = np.flatnonzero(live & (self.a_norm == 0))
        if dead.size:
            raise ValueError(
                f"the ReLU population loss is not differentiable where a hidden unit that "
                f"reaches the output has zero weights; w_{dead[0]} = 0 here (units "
                f"{dead.tolist()}). Move the point off w = 0 to differentiate there."
            )

    @cached_property
    def R(self) -> np.ndarray:
        r""":math:`R_i = \sum_j \omega_j \nabla_a\kappa(w_i, b_j)` over the partners
        (:math:`\omega = [v, -v^\star]`), shape (k, d);
        :math:`\nabla_{w_i} \mathcal L = v_i R_i`."""
        self._check_differentiable()
        B = np.concatenate([self.W, self.objective._teacher_W])
        weights = self.omega[None, :] * (np.pi - self.angles)  # (k, K)
        along = np.sum(self.omega[None, :] * self.b_norm[None, :] * self.sin, axis=1)
        return (weights @ B + along[:, None] * self.A_hat) / _TWO_PI

    @cached_property
    def kink_curvature(self) -> np.ndarray:
        r"""The curvature the kinks contribute, one (d, d) block per unit, shape (k, d, d).

        Block :math:`i` is

        .. math::

            v_i \Bigl(\sum_j v_j \nabla^2_{aa}\kappa(w_i, w_j)
                - \sum_j v^\star_j \nabla^2_{aa}\kappa(w_i, w^\star_j)\Bigr),

        the population value of the residual curvature
        :math:`\frac1n \sum_x r(x)\, v_i \phi''(w_i^\top x)\, xx^\top`, with :math:`\phi''` the
        Dirac mass of the ReLU's kink. The rest of the Hessian is the Gauss–Newton matrix
        :math:`\mathbb E[J^\top J]` (and, when :math:`v` is trained, the terms :math:`R_i` of
        :math:`\partial^2\mathcal L/\partial w_i \partial v_i`). The training loss has no such
        term (:math:`\phi'' = 0` off the kink, and no sample sits on it), so its Hessian
        converges to the Hessian minus these blocks.
        """
        self._check_differentiable()
        a_safe = np.where(self.a_norm > 0, self.a_norm, 1.0)
        alpha = self.v[:, None] * self.omega[None, :] * self.b_norm[None, :] / (_TWO_PI * a_safe[:, None])
        tangent = np.eye(self.objective.d)[None] - self.A_hat[:, :, None] * self.A_hat[:, None, :]
        blocks = np.sum(alpha * self.sin, axis=1)[:, None, None] * tangent
        blocks += np.einsum("ij,ijd,ije->ide", alpha * _safe_inverse(self.sin), self.E, self.E)
        return blocks

    @cached_property
    def grad(self) -> np.ndarray:
        r""":math:`\nabla\mathcal L(\theta)`, shape (p,)."""
        gW = (self.v[:, None] * self.R).ravel()
        if not self.objective.trains_v:
            return gW
        return np.concatenate([self.kernel @ self.omega, gW])

    def _product(self, U):
        R = self.R  # checks differentiability
        obj = self.objective
        k = obj.k
        v, W, A_hat = self.v, self.W, self.A_hat
        dv, dW = self._split_block(U)
        hW = np.einsum("ide,bie->bid", self.kink_curvature, dW)
        au = np.einsum("id,bid->bi", A_hat, dW)  # ŵ_i·u_i

        # Σ_m v_m ∇²_ab κ(w_i, w_m) u_m over the student's units (m = i gives I/2)
        Es, ss, angles = self.E[:, :k], self.sin[:, :k], self.angles[:, :k]
        F = A_hat[:, None, :] - self.cos[:, :k, None] * A_hat[None, :, :]  # f_im = ŵ_i − c ŵ_m
        F[np.arange(k), np.arange(k)] = 0.0
        fu = np.einsum("imd,bmd->bim", F, dW)
        mixed = np.einsum("im,bmd->bid", v[None, :] * (np.pi - angles), dW)
        mixed += np.einsum("imd,bim->bid", Es, (v[None, :] * _safe_inverse(ss))[None] * fu)
        mixed += np.einsum("im,bm->bi", v[None, :] * ss, au)[:, :, None] * A_hat[None]
        hW += v[None, :, None] * mixed / _TWO_PI

        if not obj.trains_v:
            return self._join_block(None, hW)
        # ∂²L/∂w_i∂v_m = [i = m] R_i + v_i ∇_aκ(w_i, w_m), with
        # ∇_aκ(w_i, w_m) = ((π − θ_im) w_m + ‖w_m‖ s_im ŵ_i)/(2π)
        g1_weights = (np.pi - angles) / _TWO_PI  # (k, k)
        g1_along = self.a_norm[None, :] * ss / _TWO_PI  # (k, k)
        from_v = np.einsum("im,bm,md->bid", g1_weights, dv, W)
        from_v += (dv @ g1_along.T)[:, :, None] * A_hat[None]
        hW += dv[:, :, None] * R[None] + v[None, :, None] * from_v
        # the v-rows: R_m·u_m + Σ_i v_i ∇_aκ(w_i, w_m)·u_i + Σ_l κ(w_m, w_l) a_l
        wu = np.einsum("md,bid->bim", W, dW)  # w_m·u_i
        hv = np.einsum("md,bmd->bm", R, dW)
        hv += np.einsum("i,im,bim->bm", v, g1_weights, wu)
        hv += np.einsum("i,im,bi->bm", v, g1_along, au)
        hv += dv @ self.kernel[:, :k].T
        return self._join_block(hv, hW)


ReluPopulation._point = ReluPopulationPoint

_CLASSES = {"quadratic": QuadraticPopulation, "relu": ReluPopulation}


def population_objective(teacher, *, v=None, k=None):
    """The population objective of a teacher: :class:`QuadraticPopulation` or
    :class:`ReluPopulation`, chosen by the teacher's activation.

    Parameters
    ----------
    teacher : Teacher
        With the quadratic or the ReLU activation (the ones with a closed form here).
    v, k
        As for :class:`QuadraticPopulation`: exactly one of the fixed output weights
        :math:`v` and the number :math:`k` of hidden units (then :math:`v` is trained).

    Returns
    -------
    QuadraticPopulation or ReluPopulation

    Examples
    --------
    >>> from shallowlearn import planted, population_objective
    >>> teacher = planted(n=1, d=4, k=3, activation="relu", rng=0).teacher
    >>> population_objective(teacher, k=5)
    ReluPopulation(d=4, k=5, teacher k=3, trains v and W, p=25)
    """
    _check_teacher(teacher)
    name = check_choice(teacher.activation.name, "the teacher's activation", tuple(_CLASSES))
    return _CLASSES[name](teacher, v=v, k=k)
