r"""The training loss of a one-hidden-layer network, and the point at which it is evaluated.

The network is :math:`f(x) = v^\top\phi(Wx)` with :math:`W` of shape :math:`(k, d)` and
:math:`v` of length :math:`k`; samples are the rows of :math:`X`, of shape :math:`(n, d)`. The
loss is

.. math::

    \mathcal L = \frac{1}{2n} \sum_i (v^\top\phi(W x_i) - y_i)^2,

as in eq. (1.4) of Soltanolkotabi, Javanmard & Lee (2019). It is a function either of :math:`W`
alone, with :math:`v` fixed (Theorems 2.1 and 2.2), or of :math:`v` and :math:`W` jointly
(Theorem 2.5).

Parameters travel as one flat vector :math:`\theta`: :math:`\theta = \operatorname{vec}(W)`
(row-major) when :math:`v` is fixed, and :math:`\theta = [v, \operatorname{vec}(W)]` when
:math:`v` is trained. :meth:`BaseObjective.pack` and :meth:`BaseObjective.unpack` convert.

**One evaluation point.** :meth:`Objective.at` runs the forward pass at :math:`\theta` once and
returns a :class:`Point`; the value, the gradient, Hessian-vector products (one vector or a
block), the dense Hessian and the Jacobian all come from it, each from one formula. The solvers,
the Hessian spectra, the slices and the classification of critical points all build on it.

**Two ways to differentiate**, chosen by ``method`` in :meth:`BaseObjective.value` and its
siblings: ``"fused"`` (default) evaluates the closed forms of the :class:`Point`, and
``"autograd"`` differentiates the definition with autograd. The tests check that both agree
with each other and with finite differences.

:class:`BaseObjective` is what every objective offers, so that any objective implementing it
runs unchanged through every solver and diagnostic of the package.
"""

from __future__ import annotations

from functools import cached_property

import autograd
import autograd.numpy as anp
import numpy as np

from .activations import Activation, get_activation
from .validation import check_array, check_choice, check_positive_int, read_only

__all__ = ["BaseObjective", "Objective", "Point"]

_METHODS = ("fused", "autograd")
_CHUNK_ELEMENTS = 1 << 22  # bound on the (samples × columns × units) temporaries of one pass


class BaseObjective:
    r"""What every objective of the package offers: parameters, evaluation and derivatives.

    A subclass sets the attributes below in its constructor and implements :meth:`at` (the
    closed-form evaluation point) and ``_definition`` (the loss written with
    ``autograd.numpy``, differentiated by autograd when ``method="autograd"``).

    Attributes
    ----------
    d, k, p : int
        Input dimension, hidden units, number of parameters.
    trains_v : bool
        Whether :math:`v` is part of :math:`\theta`.
    v : numpy.ndarray or None
        Read-only copy of the fixed output weights (None when v is trained).
    activation : Activation
    null_loss : float
        The loss of the network that outputs 0 everywhere, :math:`\frac12 \mathbb E\, y^2`
        (:math:`\frac12 \operatorname{mean}(y^2)` on data): the scale that the solvers'
        divergence test and the critical-point tolerances use.
    """

    d: int
    k: int
    p: int
    trains_v: bool
    v: np.ndarray | None
    activation: Activation
    null_loss: float

    def _set_weights(self, v, k) -> None:
        """Set ``v``, ``k``, ``trains_v`` and ``p`` from exactly one of v and k."""
        if (v is None) == (k is None):
            raise TypeError(
                "give exactly one of v (fixed output weights; W alone is trained) "
                "or k (the number of hidden units; v and W are trained together)"
            )
        if v is not None:
            self.v = read_only(check_array(v, "v", ndim=1))
            self.k = self.v.size
            self.trains_v = False
        else:
            self.v = None
            self.k = check_positive_int(k, "k")
            self.trains_v = True
        self.p = self.k * self.d + (self.k if self.trains_v else 0)

    # --- parameters --------------------------------------------------------------------

    def pack(self, W, v=None) -> np.ndarray:
        r"""Flatten :math:`(v, W)` into :math:`\theta`.

        Parameters
        ----------
        W : array_like, shape (k, d)
        v : array_like, shape (k,)
            Required when v is trained, refused when it is fixed.

        Returns
        -------
        numpy.ndarray, shape (p,)

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.ones((3, 2)), np.zeros(3), k=2)
        >>> obj.pack(np.zeros((2, 2)), v=[1.0, 2.0])
        array([1., 2., 0., 0., 0., 0.])
        """
        W = check_array(W, "W", ndim=2, shape=(self.k, self.d))
        if not self.trains_v:
            if v is not None:
                raise TypeError("this objective keeps v fixed; pack(W) takes no v")
            return W.ravel()
        if v is None:
            raise TypeError("this objective trains v: call pack(W, v)")
        v = check_array(v, "v", ndim=1, shape=(self.k,))
        return np.concatenate([v, W.ravel()])

    def unpack(self, theta):
        r"""Split :math:`\theta` into copies of :math:`(v, W)`; for a fixed :math:`v`, a copy of it.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.ones((3, 2)), np.zeros(3), v=[1.0, -1.0])
        >>> v, W = obj.unpack(np.arange(4.0))
        >>> W
        array([[0., 1.],
               [2., 3.]])
        """
        v, W = self.split(self.check_theta(theta))
        return np.array(v), np.array(W)

    def split(self, theta):
        r"""Views :math:`(v, W)` of a flat :math:`\theta`, without checks; works on autograd's
        traced arrays too.

        For a fixed :math:`v`, the first item is the objective's (read-only) ``v``.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.ones((3, 2)), np.zeros(3), k=1)
        >>> obj.split(np.array([5.0, 1.0, 2.0]))
        (array([5.]), array([[1., 2.]]))
        """
        k, d = self.k, self.d
        if self.trains_v:
            return theta[:k], anp.reshape(theta[k:], (k, d))
        return self.v, anp.reshape(theta, (k, d))

    def check_theta(self, theta, name: str = "theta") -> np.ndarray:
        """A validated float64 copy of a flat parameter vector of length p.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> Objective(np.ones((3, 2)), np.zeros(3), k=1).check_theta([1, 2])
        Traceback (most recent call last):
        ...
        ValueError: theta must have shape (3,); got (2,) (axis 0 has size 2, expected 3)
        """
        if np.ndim(theta) != 1:
            raise ValueError(
                f"{name} must be a flat parameter vector of length p={self.p}; got shape "
                f"{np.shape(theta)} (build it with pack(W{', v' if self.trains_v else ''}))"
            )
        return check_array(theta, name, ndim=1, shape=(self.p,))

    # --- evaluation ----------------------------------------------------------------------

    def at(self, theta, *, validate: bool = True):
        r"""The evaluation point at :math:`\theta`: value, gradient, Hessian-vector products,
        Hessian.

        Parameters
        ----------
        theta : array_like, shape (p,)
        validate : bool
            Check and copy :math:`\theta`, and check that the loss there is finite (default). The
            package's solvers pass False for iterates they computed themselves, which may be
            non-finite when a run diverges; the values are then NaN or infinite rather than an
            error.
        """
        raise NotImplementedError

    def _definition(self, theta):
        raise NotImplementedError

    def losses(self, thetas) -> np.ndarray:
        r""":math:`\mathcal L` at each row of ``thetas``, shape (m, p) (subclasses vectorize
        this)."""
        thetas = check_array(thetas, "thetas", ndim=2, shape=(None, self.p))
        return np.array([self.at(theta, validate=False).value for theta in thetas])

    def _check_method(self, method: str) -> str:
        return check_choice(method, "method", _METHODS)

    @staticmethod
    def _finite(compute, what: str):
        """``compute()`` with floating-point warnings silenced, and a clear error instead of a
        non-finite result (a loss that overflows, for instance at θ = 1e200)."""
        with np.errstate(all="ignore"):
            result = compute()
        if not np.all(np.isfinite(result)):
            raise ValueError(
                f"the {what} is not finite at theta: it overflowed (the weights in theta are "
                "too large for this activation and data)")
        return result

    def value(self, theta, method: str = "fused") -> float:
        r"""The loss :math:`\mathcal L(\theta)`.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> float(obj.value(np.zeros(2)))     # all predictions 0: L = (1 + 1)/(2·2)
        0.5
        """
        theta = self.check_theta(theta)
        if self._check_method(method) == "autograd":
            return float(self._finite(lambda: self._definition(theta), "loss"))
        return self._finite(lambda: self.at(theta, validate=False).value, "loss")

    def grad(self, theta, method: str = "fused") -> np.ndarray:
        r"""The gradient :math:`\nabla\mathcal L(\theta)`, shape (p,).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.grad(np.zeros(2))                 # W = 0 is a critical point for φ(z) = z²
        array([0., 0.])
        """
        theta = self.check_theta(theta)
        if self._check_method(method) == "autograd":
            return self._finite(lambda: autograd.grad(self._definition)(theta), "gradient")
        return self._finite(lambda: self.at(theta, validate=False).grad, "gradient")

    def value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        r""":math:`\mathcal L(\theta)` and :math:`\nabla\mathcal L(\theta)` from one forward pass
        (the fused path).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> value, g = obj.value_and_grad(np.ones(2))
        >>> value, g.tolist()
        (0.0, [0.0, 0.0])
        """
        point = self.at(theta)
        return point.value, self._finite(lambda: point.grad, "gradient")

    def hvp(self, theta, u, method: str = "fused") -> np.ndarray:
        r"""The Hessian-vector product :math:`\nabla^2\mathcal L(\theta)\,u`, shape (p,), without
        forming the Hessian.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.hvp(np.zeros(2), np.array([1.0, 0.0]))   # at W = 0: 2v Σᵢ(−yᵢxᵢxᵢᵀ)/n u
        array([-1.,  0.])
        """
        theta = self.check_theta(theta)
        u = self.check_theta(u, "u")
        if self._check_method(method) == "autograd":
            return self._finite(lambda: autograd.grad(
                lambda t: anp.dot(autograd.grad(self._definition)(t), u))(theta),
                "Hessian-vector product")
        return self._finite(lambda: self.at(theta, validate=False).hvp(u), "Hessian-vector product")

    def hessian(self, theta, method: str = "fused") -> np.ndarray:
        r"""The dense Hessian :math:`\nabla^2\mathcal L(\theta)`, shape (p, p), symmetric.

        Memory is :math:`O(p^2)`: use :meth:`hvp` for large problems.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.hessian(np.zeros(2))
        array([[-1.,  0.],
               [ 0., -1.]])
        """
        theta = self.check_theta(theta)
        if self._check_method(method) == "autograd":
            H = self._finite(lambda: autograd.hessian(self._definition)(theta), "Hessian")
            return 0.5 * (H + H.T)
        return self._finite(lambda: self.at(theta, validate=False).hessian(), "Hessian")


class Objective(BaseObjective):
    r"""The loss :math:`\mathcal L = \frac{1}{2n} \sum_i (v^\top\phi(W x_i) - y_i)^2` on data, with
    value, gradient and Hessian.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, one sample per row.
    y : array_like, shape (n,)
        Labels.
    activation : str, Activation or callable
        The activation :math:`\phi`, as accepted by
        :func:`~shallowlearn.activations.get_activation`.
    v : array_like, shape (k,), optional
        Fixed output weights: the loss is then a function of :math:`W` only,
        :math:`\theta = \operatorname{vec}(W)`, :math:`p = kd`.
    k : int, optional
        Number of hidden units when :math:`v` is trained too:
        :math:`\theta = [v, \operatorname{vec}(W)]`, :math:`p = k + kd`.
        Give exactly one of ``v`` and ``k``.
    **activation_params
        Parameters of a named activation, such as ``b=4.0`` for softplus and sigmoid.

    Attributes
    ----------
    n, d, k, p : int
        Samples, input dimension, hidden units, number of parameters.
    trains_v : bool
        Whether :math:`v` is part of :math:`\theta`.
    X, y : numpy.ndarray
        Read-only copies of the data.
    v : numpy.ndarray or None
        Read-only copy of the fixed output weights (None when v is trained).
    activation : Activation
    null_loss : float
        :math:`\frac12 \operatorname{mean}(y^2)`, the loss of the zero network.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> obj = Objective(X, y=[1.0, -1.0, 0.0], v=[1.0, -1.0])
    >>> theta = obj.pack(np.eye(2))          # W = I gives f(x) = x₁² − x₂²
    >>> float(obj.value(theta))
    0.0
    >>> obj.grad(theta).shape, obj.hessian(theta).shape
    ((4,), (4, 4))
    >>> Objective(X, [1.0, -1.0, 0.0], "sigmoid", k=2, b=4.0).activation
    Activation('sigmoid', b=4.0)
    """

    def __init__(self, X, y, activation="quadratic", *, v=None, k=None, **activation_params):
        X = check_array(X, "X", ndim=2)
        self.n, self.d = X.shape
        self.X = read_only(X)
        self.y = read_only(check_array(y, "y", ndim=1, shape=(self.n,)))
        self.activation: Activation = get_activation(activation, **activation_params)
        self._set_weights(v, k)
        self.null_loss = 0.5 * float(np.mean(self.y**2))

    def __repr__(self) -> str:
        trained = "v and W" if self.trains_v else "W (v fixed)"
        return (
            f"Objective(n={self.n}, d={self.d}, k={self.k}, activation={self.activation!r}, "
            f"trains {trained}, p={self.p})"
        )

    def _definition(self, theta):
        v, W = self.split(theta)
        prediction = anp.dot(self.activation.phi(anp.dot(self.X, anp.transpose(W))), v)
        return 0.5 * anp.mean((prediction - self.y) ** 2)

    def forward(self, W, v, X=None, *, with_dphi: bool = False):
        r"""Pre-activations :math:`Z = XW^\top` and activations :math:`A = \phi(Z)`, and the
        predictions :math:`Av`.

        The package's one forward pass. ``W`` may carry leading axes, shape (..., k, d), with
        ``v`` of shape (k,) or (..., k): then Z and A have shape (..., n, k) and the
        predictions (..., n). :math:`\phi` comes from the activation's fused evaluation
        (:meth:`~shallowlearn.activations.Activation.evaluate`); with ``with_dphi`` the same
        pass also returns :math:`\phi'(Z)`, as a fourth item.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> Z, A, pred = obj.forward(np.array([[2.0, 0.0]]), np.array([1.0]))
        >>> pred
        array([4., 0.])
        >>> obj.forward(np.array([[2.0, 0.0]]), np.array([1.0]), with_dphi=True)[3]
        array([[4.],
               [0.]])
        """
        X = self.X if X is None else X
        Z = X @ W.T if W.ndim == 2 else np.matmul(X, np.swapaxes(W, -1, -2))
        values = self.activation.evaluate(Z, order=1 if with_dphi else 0)
        A = values[0]
        pred = A @ v if W.ndim == 2 else np.matmul(A, v[..., None])[..., 0]
        return (Z, A, pred, values[1]) if with_dphi else (Z, A, pred)

    def at(self, theta, *, rows=None, validate: bool = True) -> Point:
        r"""The :class:`Point` at :math:`\theta`: one forward pass, every derivative from it.

        Parameters
        ----------
        theta : array_like, shape (p,)
        rows : array_like of int, optional
            Evaluate the loss on these samples only (a minibatch): its mean is over them.
        validate : bool
            Check and copy :math:`\theta` (default); see :meth:`BaseObjective.at`.

        Returns
        -------
        Point

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> point = obj.at([1.0, 0.0])
        >>> point.value, point.grad.tolist(), point.hvp(np.array([0.0, 1.0])).tolist()
        (0.25, [0.0, 0.0], [0.0, -1.0])
        """
        if not validate:
            return Point(self, theta, rows)
        theta = self.check_theta(theta)
        with np.errstate(all="ignore"):
            point = Point(self, theta, rows)
        self._finite(lambda: point.value, "loss")
        return point

    def losses(self, thetas) -> np.ndarray:
        r""":math:`\mathcal L` at each row of ``thetas`` (shape (m, p)), as array computations over
        the rows.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.losses([[0.0, 0.0], [1.0, 1.0]])
        array([0.5, 0. ])
        """
        thetas = check_array(thetas, "thetas", ndim=2, shape=(None, self.p))
        out = np.empty(thetas.shape[0])
        step = max(1, _CHUNK_ELEMENTS // (self.n * self.k))
        for start in range(0, thetas.shape[0], step):
            chunk = thetas[start : start + step]
            off = self.k if self.trains_v else 0
            W = chunk[:, off:].reshape(chunk.shape[0], self.k, self.d)
            v = chunk[:, :off] if self.trains_v else self.v
            r = self.forward(W, v)[2] - self.y
            out[start : start + chunk.shape[0]] = 0.5 * np.mean(r * r, axis=-1)
        return out

    def jacobian(self, theta) -> np.ndarray:
        r"""The Jacobian :math:`J` of the predictions with respect to :math:`\theta`, shape (n, p).

        The gradient is :math:`J^\top r/n` and the Gauss–Newton part of the Hessian is
        :math:`J^\top J/n`. Its smallest singular value drives the local convergence argument of
        the paper (Section 7).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.jacobian(np.array([1.0, 2.0]))      # ∂(w·x)²/∂w = 2(w·x)x
        array([[2., 0.],
               [0., 4.]])
        """
        return self.at(theta).jacobian()

    def predict(self, theta, X=None) -> np.ndarray:
        r"""The network's outputs :math:`v^\top\phi(Wx)` for the rows of ``X`` (default: the
        training inputs).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.predict(np.array([3.0, 0.0]), X=[[1.0, 1.0]])
        array([9.])
        """
        theta = self.check_theta(theta)
        X = self.X if X is None else check_array(X, "X", ndim=2, shape=(None, self.d))
        v, W = self.split(theta)
        return self.forward(W, v, X)[2]

    def residuals(self, theta) -> np.ndarray:
        r"""The residuals :math:`r_i = v^\top\phi(W x_i) - y_i` on the training data, shape (n,).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.residuals(np.zeros(2))
        array([-1., -1.])
        """
        return self.at(theta).r.copy()


class Point:
    r"""An :class:`Objective` evaluated at one :math:`\theta`: the forward pass once, every
    derivative from it.

    Build it with :meth:`Objective.at`. The forward quantities, with :math:`\phi'` from the same
    fused evaluation of the activation, are computed on construction; the gradient and the
    second-order quantities (:math:`\phi''` from that evaluation at order 2) when first asked
    for, then kept.

    With :math:`r` the residuals, :math:`\phi'` and :math:`\phi''` evaluated at the
    pre-activations :math:`Z`, the Hessian is :math:`H = J^\top J/n + B`: the Gauss–Newton part
    from the Jacobian :math:`J` of the predictions
    (:math:`\partial \mathrm{pred}_i/\partial z_{i\ell} = v_\ell \phi'(z_{i\ell})`, the
    ``slope``), and the residual curvature :math:`B`, block-diagonal over the hidden units, from
    :math:`r_i v_\ell \phi''(z_{i\ell})` (the ``curvature``) and, when :math:`v` is trained,
    :math:`r_i \phi'(z_{i\ell})` (the ``cross`` term of
    :math:`\partial^2\mathcal L/\partial v_\ell \partial w_\ell`). :meth:`hvp` applies both to a
    vector or a block of vectors, and :meth:`hessian` is :meth:`hvp` applied to the identity.

    Attributes
    ----------
    objective : Objective
    theta : numpy.ndarray, shape (p,)
    v, W : numpy.ndarray
        Views of :math:`\theta` (``v`` is the fixed one when :math:`v` is not trained).
    n : int
        Samples the loss is averaged over (a minibatch's size when built with ``rows``).
    X, y : numpy.ndarray
        Those samples.
    Z, A, dphi : numpy.ndarray, shape (n, k)
        Pre-activations :math:`z_{i\ell} = w_\ell^\top x_i`, activations :math:`\phi(z_{i\ell})`
        and slopes :math:`\phi'(z_{i\ell})`.
    r : numpy.ndarray, shape (n,)
        Residuals :math:`v^\top\phi(W x_i) - y_i`.
    value : float
        The loss.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, planted
    >>> data = planted(n=40, d=3, k=2, activation="tanh", rng=0)
    >>> obj = Objective(data.X, data.y, "tanh", k=2)
    >>> point = obj.at(np.random.default_rng(1).normal(size=obj.p))
    >>> U = np.eye(obj.p)[:, :3]
    >>> bool(np.allclose(point.hvp(U), point.hessian()[:, :3]))
    True
    """

    def __init__(self, objective: Objective, theta: np.ndarray, rows=None):
        obj = objective
        self.objective = obj
        self.theta = theta
        self.X, self.y = (obj.X, obj.y) if rows is None else (obj.X[rows], obj.y[rows])
        self.n = self.y.size
        self.v, self.W = obj.split(theta)
        self.Z, self.A, pred, self.dphi = obj.forward(self.W, self.v, self.X, with_dphi=True)
        self.r = pred - self.y
        self.value = float(0.5 * np.dot(self.r, self.r) / self.n)

    def __repr__(self) -> str:
        return f"Point(loss={self.value:.6g}, p={self.theta.size})"

    @cached_property
    def grad(self) -> np.ndarray:
        r""":math:`\nabla\mathcal L(\theta)`, shape (p,)."""
        D = self.dphi * self.r[:, None] * self.v[None, :]  # ∂L/∂Z times n
        gW = (D.T @ self.X).ravel() / self.n
        return np.concatenate([self.A.T @ self.r / self.n, gW]) if self.objective.trains_v else gW

    @cached_property
    def slope(self) -> np.ndarray:
        r""":math:`v_\ell \phi'(z_{i\ell}) = \partial \mathrm{pred}_i/\partial z_{i\ell}`,
        shape (n, k)."""
        return self.dphi * self.v

    @cached_property
    def curvature(self) -> np.ndarray:
        r"""The residual curvature weights :math:`r_i v_\ell \phi''(z_{i\ell})`, shape (n, k).

        Unit :math:`\ell`'s block of the residual curvature is
        :math:`X^\top \operatorname{diag}(\mathtt{curvature}[:, \ell])\, X / n`.
        """
        ddphi = self.objective.activation.evaluate(self.Z, order=2)[2]
        return ddphi * self.r[:, None] * self.v

    @cached_property
    def cross(self) -> np.ndarray | None:
        r""":math:`r_i \phi'(z_{i\ell})`, behind
        :math:`\partial^2\mathcal L/\partial v_\ell \partial w_\ell`; None when :math:`v` is
        fixed."""
        return self.dphi * self.r[:, None] if self.objective.trains_v else None

    def jacobian(self) -> np.ndarray:
        """The Jacobian of the predictions, shape (n, p) (see :meth:`Objective.jacobian`)."""
        obj = self.objective
        JW = (self.slope[:, :, None] * self.X[:, None, :]).reshape(self.n, obj.k * obj.d)
        return np.concatenate([self.A, JW], axis=1) if obj.trains_v else JW

    def hvp(self, U) -> np.ndarray:
        r""":math:`\nabla^2\mathcal L(\theta)\,U` for one vector, shape (p,), or a block of vectors,
        shape (p, b)."""
        U = np.asarray(U, dtype=np.float64)
        if U.ndim == 1:
            return self._product(U[:, None])[:, 0]
        obj = self.objective
        out = np.empty_like(U)
        step = max(1, _CHUNK_ELEMENTS // (self.n * obj.k))
        for start in range(0, U.shape[1], step):
            cols = slice(start, start + step)
            out[:, cols] = self._product(U[:, cols])
        return out

    def hessian(self) -> np.ndarray:
        """The dense Hessian, shape (p, p), symmetric: :meth:`hvp` applied to the identity."""
        H = self.hvp(np.eye(self.objective.p))
        return 0.5 * (H + H.T)

    def _product(self, U: np.ndarray) -> np.ndarray:
        """H U for a block U of shape (p, b): the Gauss–Newton part Jᵀ(JU)/n plus B U."""
        obj = self.objective
        n, d, k, b = self.n, obj.d, obj.k, U.shape[1]
        X = self.X
        off = k if obj.trains_v else 0
        dW = U[off:].T.reshape(b * k, d)
        dZ = (X @ dW.T).reshape(n, b, k)  # change of the pre-activations, per column
        dpred = np.matmul(dZ, self.slope[:, :, None])[:, :, 0]  # (n, b): J u
        if obj.trains_v:
            du = U[:k]  # (k, b)
            dpred += self.A @ du
        dD = self.slope[:, None, :] * dpred[:, :, None] + self.curvature[:, None, :] * dZ
        if obj.trains_v:
            dD += self.cross[:, None, :] * du.T[None, :, :]
        hW = (dD.reshape(n, b * k).T @ X).reshape(b, k * d).T / n
        if not obj.trains_v:
            return hW
        hv = (self.A.T @ dpred + np.einsum("nbk,nk->kb", dZ, self.cross)) / n
        return np.concatenate([hv, hW])

