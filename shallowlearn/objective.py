"""The training loss of a one-hidden-layer network and its derivatives.

The network is f(x) = vᵀφ(Wx) with W of shape (k, d) and v of length k; samples are the rows of
X, of shape (n, d). The loss is

    L = 1/(2n) Σᵢ (vᵀφ(W xᵢ) − yᵢ)²,

as in eq. (1.4) of Soltanolkotabi, Javanmard & Lee (2019). It is a function either of W alone,
with v fixed (Theorems 2.1 and 2.2), or of v and W jointly (Theorem 2.5).

Parameters travel as one flat vector θ: θ = vec(W) (row-major) when v is fixed, and
θ = [v, vec(W)] when v is trained. :meth:`Objective.pack` and :meth:`Objective.unpack` convert.

Derivatives come two ways, chosen by ``method``: ``"fused"`` (default) evaluates closed forms
with a few matrix products, and ``"autograd"`` differentiates the definition
(:meth:`Objective.value` with ``method="autograd"``) with autograd. The tests check that both
agree with each other and with finite differences.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np

from .activations import Activation, get_activation
from .validation import check_array, check_positive_int

__all__ = ["Objective"]

_METHODS = ("fused", "autograd")


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


class Objective:
    """The loss L = 1/(2n) Σᵢ (vᵀφ(W xᵢ) − yᵢ)² with value, gradient and Hessian.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, one sample per row.
    y : array_like, shape (n,)
        Labels.
    activation : str, Activation or callable
        The activation φ, as accepted by :func:`shallowlearn.get_activation`.
    v : array_like, shape (k,), optional
        Fixed output weights: the loss is then a function of W only, θ = vec(W), p = kd.
    k : int, optional
        Number of hidden units when v is trained too: θ = [v, vec(W)], p = k + kd.
        Give exactly one of ``v`` and ``k``.

    Attributes
    ----------
    n, d, k, p : int
        Samples, input dimension, hidden units, number of parameters.
    trains_v : bool
        Whether v is part of θ.
    X, y : numpy.ndarray
        Read-only copies of the data.
    v : numpy.ndarray or None
        Read-only copy of the fixed output weights (None when v is trained).
    activation : Activation

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
    """

    def __init__(self, X, y, activation="quadratic", *, v=None, k=None):
        X = check_array(X, "X", ndim=2)
        self.n, self.d = X.shape
        self.X = _read_only(X)
        self.y = _read_only(check_array(y, "y", ndim=1, shape=(self.n,)))
        self.activation: Activation = get_activation(activation)
        if (v is None) == (k is None):
            raise TypeError(
                "give exactly one of v (fixed output weights; W alone is trained) "
                "or k (the number of hidden units; v and W are trained together)"
            )
        if v is not None:
            self.v = _read_only(check_array(v, "v", ndim=1))
            self.k = self.v.size
            self.trains_v = False
        else:
            self.v = None
            self.k = check_positive_int(k, "k")
            self.trains_v = True
        self.p = self.k * self.d + (self.k if self.trains_v else 0)

    def __repr__(self) -> str:
        trained = "v and W" if self.trains_v else "W (v fixed)"
        return (
            f"Objective(n={self.n}, d={self.d}, k={self.k}, activation={self.activation!r}, "
            f"trains {trained}, p={self.p})"
        )

    # --- parameters --------------------------------------------------------------------

    def pack(self, W, v=None) -> np.ndarray:
        """Flatten (v, W) into θ.

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
        """Split θ into (v, W); for a fixed v, returns a copy of it.

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
        v, W = self._split(self._check_theta(theta))
        return np.array(v), np.array(W)

    def _check_theta(self, theta, name: str = "theta") -> np.ndarray:
        if np.ndim(theta) != 1:
            raise ValueError(
                f"{name} must be a flat parameter vector of length p={self.p}; got shape "
                f"{np.shape(theta)} (build it with Objective.pack(W{', v' if self.trains_v else ''}))"
            )
        return check_array(theta, name, ndim=1, shape=(self.p,))

    def _check_method(self, method: str) -> str:
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
        return method

    def _split(self, theta):
        """(v, W) views of θ; works on autograd's traced arrays too."""
        k, d = self.k, self.d
        if self.trains_v:
            return theta[:k], anp.reshape(theta[k:], (k, d))
        return self.v, anp.reshape(theta, (k, d))

    # --- the definition (autograd) ------------------------------------------------------

    def _definition(self, theta):
        v, W = self._split(theta)
        prediction = anp.dot(self.activation.phi(anp.dot(self.X, anp.transpose(W))), v)
        return 0.5 * anp.mean((prediction - self.y) ** 2)

    # --- the fused path -----------------------------------------------------------------

    def _forward(self, theta, rows=None):
        """Inputs, v, pre-activations Z, activations A and residuals r; with ``rows`` (an
        index array), on those samples only."""
        X, y = (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])
        v, W = self._split(theta)
        Z = X @ W.T
        A = self.activation.phi(Z)
        return X, v, Z, A, A @ v - y

    def _value_and_grad(self, theta, rows=None):
        X, v, Z, A, r = self._forward(theta, rows)
        m = r.size
        D = self.activation.dphi(Z) * r[:, None] * v[None, :]  # ∂L/∂Z times m
        gW = (D.T @ X).ravel() / m
        g = np.concatenate([A.T @ r / m, gW]) if self.trains_v else gW
        return 0.5 * np.dot(r, r) / m, g

    def _hvp(self, theta, u):
        _, v, Z, A, r = self._forward(theta)
        du, dW = self._split(u)
        dphi = self.activation.dphi(Z)
        dZ = self.X @ dW.T
        dpred = (dphi * dZ) @ v  # J u, the change of the predictions
        if self.trains_v:
            dpred = dpred + A @ du
        # derivative of gW = (φ′(Z)∘(r vᵀ))ᵀX / n along u
        dD = (dphi * dpred[:, None] + self.activation.ddphi(Z) * dZ * r[:, None]) * v[None, :]
        if self.trains_v:
            dD = dD + dphi * r[:, None] * du[None, :]
        hW = (dD.T @ self.X).ravel() / self.n
        if not self.trains_v:
            return hW
        hv = (A.T @ dpred + (dphi * dZ).T @ r) / self.n
        return np.concatenate([hv, hW])

    def _jacobian(self, v, Z, A):
        # ∂predᵢ/∂v_l = A_il and ∂predᵢ/∂W_lj = v_l φ′(Z_il) X_ij
        JW = ((self.activation.dphi(Z) * v[None, :])[:, :, None] * self.X[:, None, :])
        JW = JW.reshape(self.n, self.k * self.d)
        return np.concatenate([A, JW], axis=1) if self.trains_v else JW

    def _hessian(self, theta):
        _, v, Z, A, r = self._forward(theta)
        n, d, k = self.n, self.d, self.k
        dphi = self.activation.dphi(Z)
        J = self._jacobian(v, Z, A)
        H = J.T @ J
        weights = self.activation.ddphi(Z) * r[:, None] * v[None, :]  # (n, k)
        cross = (dphi * r[:, None]).T @ self.X if self.trains_v else None  # (k, d)
        off = k if self.trains_v else 0
        for l in range(k):
            s = slice(off + l * d, off + (l + 1) * d)
            # residual curvature in W: block l is Xᵀ diag(r v_l φ″(Z_·l)) X
            H[s, s] += self.X.T @ (weights[:, l, None] * self.X)
            if self.trains_v:
                # ∂²pred/∂v_l∂W_lj = φ′(Z_il) X_ij, weighted by the residuals
                H[l, s] += cross[l]
                H[s, l] += cross[l]
        return H / n

    # --- public evaluation --------------------------------------------------------------

    def value(self, theta, method: str = "fused") -> float:
        """The loss L(θ).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> float(obj.value(np.zeros(2)))     # all predictions 0: L = (1 + 1)/(2·2)
        0.5
        """
        theta = self._check_theta(theta)
        if self._check_method(method) == "autograd":
            return float(self._definition(theta))
        return float(self._value_and_grad(theta)[0])

    def grad(self, theta, method: str = "fused") -> np.ndarray:
        """The gradient ∇L(θ), shape (p,).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.grad(np.zeros(2))                 # W = 0 is a critical point for φ(z) = z²
        array([0., 0.])
        """
        theta = self._check_theta(theta)
        if self._check_method(method) == "autograd":
            return autograd.grad(self._definition)(theta)
        return self._value_and_grad(theta)[1]

    def value_and_grad(self, theta) -> tuple[float, np.ndarray]:
        """L(θ) and ∇L(θ) from one forward pass (the fused path).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> value, g = obj.value_and_grad(np.ones(2))
        >>> value, g.tolist()
        (0.0, [0.0, 0.0])
        """
        value, g = self._value_and_grad(self._check_theta(theta))
        return float(value), g

    def hvp(self, theta, u, method: str = "fused") -> np.ndarray:
        """The Hessian-vector product ∇²L(θ) u, shape (p,), without forming the Hessian.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.hvp(np.zeros(2), np.array([1.0, 0.0]))   # at W = 0: 2v Σᵢ(−yᵢxᵢxᵢᵀ)/n u
        array([-1.,  0.])
        """
        theta = self._check_theta(theta)
        u = self._check_theta(u, "u")
        if self._check_method(method) == "autograd":
            return autograd.grad(lambda t: anp.dot(autograd.grad(self._definition)(t), u))(theta)
        return self._hvp(theta, u)

    def hessian(self, theta, method: str = "fused") -> np.ndarray:
        """The dense Hessian ∇²L(θ), shape (p, p), symmetric.

        Memory is O(p² + np): use :meth:`hvp` for large problems.

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.hessian(np.zeros(2))
        array([[-1.,  0.],
               [ 0., -1.]])
        """
        theta = self._check_theta(theta)
        if self._check_method(method) == "autograd":
            H = autograd.hessian(self._definition)(theta)
        else:
            H = self._hessian(theta)
        return 0.5 * (H + H.T)

    def jacobian(self, theta) -> np.ndarray:
        """The Jacobian J of the predictions with respect to θ, shape (n, p).

        The gradient is Jᵀr/n and the Gauss–Newton part of the Hessian is JᵀJ/n. Its smallest
        singular value drives the local convergence argument of the paper (Section 7).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.jacobian(np.array([1.0, 2.0]))      # ∂(w·x)²/∂w = 2(w·x)x
        array([[2., 0.],
               [0., 4.]])
        """
        _, v, Z, A, _ = self._forward(self._check_theta(theta))
        return self._jacobian(v, Z, A)

    def predict(self, theta, X=None) -> np.ndarray:
        """The network's outputs vᵀφ(W x) for the rows of X (default: the training inputs).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.predict(np.array([3.0, 0.0]), X=[[1.0, 1.0]])
        array([9.])
        """
        theta = self._check_theta(theta)
        X = self.X if X is None else check_array(X, "X", ndim=2, shape=(None, self.d))
        v, W = self._split(theta)
        return self.activation.phi(X @ W.T) @ v

    def residuals(self, theta) -> np.ndarray:
        """The residuals rᵢ = vᵀφ(W xᵢ) − yᵢ on the training data, shape (n,).

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import Objective
        >>> obj = Objective(np.eye(2), [1.0, 1.0], v=[1.0])
        >>> obj.residuals(np.zeros(2))
        array([-1., -1.])
        """
        return self._forward(self._check_theta(theta))[4]
