"""Data sets: the planted Gaussian teacher, random labels, and the user's own arrays.

Samples are rows: X has shape (n, d). Randomness comes only from the ``rng`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .activations import Activation, get_activation
from .validation import as_rng, check_array, check_positive_int, check_real

__all__ = ["Dataset", "Teacher", "planted", "random_labels"]


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Teacher:
    r"""A planted network :math:`x \mapsto v^{\star\top}\phi(W^\star x)` that generates labels.

    Attributes
    ----------
    W : numpy.ndarray, shape (k, d)
    v : numpy.ndarray, shape (k,)
    activation : Activation

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Teacher, get_activation
    >>> t = Teacher(W=np.eye(2), v=np.ones(2), activation=get_activation("quadratic"))
    >>> t.predict(np.array([[1.0, 2.0]]))
    array([5.])
    """

    W: np.ndarray
    v: np.ndarray
    activation: Activation

    def __post_init__(self):
        W = check_array(self.W, "W", ndim=2)
        v = check_array(self.v, "v", ndim=1, shape=(W.shape[0],))
        object.__setattr__(self, "W", _frozen(W))
        object.__setattr__(self, "v", _frozen(v))
        object.__setattr__(self, "activation", get_activation(self.activation))

    @property
    def k(self) -> int:
        """Number of hidden units."""
        return self.W.shape[0]

    def predict(self, X) -> np.ndarray:
        r"""The teacher's outputs :math:`v^{\star\top}\phi(W^\star x)` for the rows of ``X``."""
        X = check_array(X, "X", ndim=2, shape=(None, self.W.shape[1]))
        return self.activation.phi(X @ self.W.T) @ self.v

    def recovery_error(self, W, v) -> float:
        r"""How far a student :math:`(W, v)` of the same width is from this teacher, up to the
        symmetries that leave the network's function unchanged.

        Two students that compute the same function must score the same, so the comparison
        is made modulo the network's symmetries:

        - quadratic :math:`\phi`: the function is :math:`x \mapsto x^\top(W^\top D_v W)x`, so
          the error is :math:`\lVert W^\top D_v W - W^{\star\top} D_{v^\star} W^\star \rVert_F
          / \lVert W^{\star\top} D_{v^\star} W^\star \rVert_F` (rotations of :math:`W` that keep
          :math:`W^\top D_v W` are free);
        - other :math:`\phi`: hidden units can be permuted, and for odd :math:`\phi` a unit's
          :math:`(w, v)` can flip sign together. Units are matched (Hungarian algorithm) and
          the error is :math:`\lVert [W, v] - [W^\star, v^\star] \rVert_F
          / \lVert [W^\star, v^\star] \rVert_F` after the best matching.

        Parameters
        ----------
        W : array_like, shape (k, d)
        v : array_like, shape (k,)

        Returns
        -------
        float

        Examples
        --------
        >>> import numpy as np
        >>> from shallowlearn import planted
        >>> t = planted(n=10, d=3, k=2, activation="tanh", v=[1.0, 2.0], rng=0).teacher
        >>> round(t.recovery_error(-t.W[::-1], -t.v[::-1]), 12)   # permuted and sign-flipped
        0.0
        """
        k, d = self.W.shape
        W = check_array(W, "W", ndim=2, shape=(k, d))
        v = check_array(v, "v", ndim=1, shape=(k,))
        if not np.any(self.W) or not np.any(self.v):
            raise ValueError("the teacher computes the zero function, so an error relative to "
                             "it is undefined; compare the student's outputs instead")
        if self.activation.name == "quadratic":
            target = self.W.T @ (self.v[:, None] * self.W)
            return float(np.linalg.norm(W.T @ (v[:, None] * W) - target) / np.linalg.norm(target))
        teacher = np.column_stack([self.W, self.v])
        student = np.column_stack([W, v])
        cost = np.linalg.norm(student[:, None, :] - teacher[None, :, :], axis=2)
        if self.activation.odd:
            cost = np.minimum(cost, np.linalg.norm(student[:, None, :] + teacher[None, :, :], axis=2))
        rows, cols = optimize.linear_sum_assignment(cost)
        return float(np.linalg.norm(cost[rows, cols]) / np.linalg.norm(teacher))

    def __repr__(self) -> str:
        return f"Teacher(k={self.k}, d={self.W.shape[1]}, activation={self.activation!r})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs and labels, with the teacher that made them when there is one.

    Attributes
    ----------
    X : numpy.ndarray, shape (n, d)
        Inputs, one sample per row (read-only).
    y : numpy.ndarray, shape (n,)
        Labels (read-only).
    teacher : Teacher or None
        The planted network, for planted data.
    noise : float
        Standard deviation of the Gaussian noise added to the teacher's outputs.

    Examples
    --------
    Your own data (the arrays are copied, so yours are never modified):

    >>> from shallowlearn import Dataset, planted
    >>> Dataset(X=[[0.0, 1.0], [1.0, 0.0]], y=[1.0, 2.0])
    Dataset(n=2, d=2, user data, noise=0.0)

    Planted data keeps its teacher:

    >>> data = planted(n=50, d=5, k=3, rng=0)
    >>> data.n, data.d, data.teacher.k
    (50, 5, 3)
    """

    X: np.ndarray
    y: np.ndarray
    teacher: Teacher | None = None
    noise: float = 0.0

    def __post_init__(self):
        X = check_array(self.X, "X", ndim=2)
        y = check_array(self.y, "y", ndim=1, shape=(X.shape[0],))
        object.__setattr__(self, "X", _frozen(X))
        object.__setattr__(self, "y", _frozen(y))
        object.__setattr__(self, "noise", check_real(self.noise, "noise", low=0.0))
        if self.teacher is not None and not isinstance(self.teacher, Teacher):
            raise TypeError(f"teacher must be a shallowlearn.Teacher or None; got "
                            f"{type(self.teacher).__name__}")
        if self.teacher is not None and self.teacher.W.shape[1] != X.shape[1]:
            raise ValueError(
                f"the teacher takes inputs of dimension {self.teacher.W.shape[1]}; "
                f"X has d={X.shape[1]}"
            )

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.X.shape[0]

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.X.shape[1]

    def __repr__(self) -> str:
        source = "user data" if self.teacher is None else repr(self.teacher)
        return f"Dataset(n={self.n}, d={self.d}, {source}, noise={self.noise})"


def planted(n, d, k, activation="quadratic", *, v=None, W=None, noise=0.0, rng=None) -> Dataset:
    r"""Gaussian inputs labelled by a planted network,
    :math:`y_i = v^{\star\top}\phi(W^\star x_i) + \text{noise}`.

    Parameters
    ----------
    n, d, k : int
        Samples, input dimension and the teacher's hidden units.
    activation : str, Activation or callable
        The teacher's :math:`\phi` (see :func:`~shallowlearn.activations.get_activation`).
    v : array_like, shape (k,), optional
        Output weights :math:`v^\star`; default all ones, as in the paper's experiments.
    W : array_like, shape (k, d), optional
        Hidden weights :math:`W^\star`; default i.i.d. :math:`\mathcal N(0, 1/d)` entries, as in
        the paper's experiments.
    noise : float
        Standard deviation of Gaussian label noise (default 0).
    rng : None, int or numpy.random.Generator
        Source of randomness.

    Returns
    -------
    Dataset
        With ``teacher`` set.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import planted
    >>> data = planted(n=100, d=4, k=2, activation="tanh", rng=1)
    >>> bool(np.allclose(data.y, data.teacher.predict(data.X)))
    True
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    k = check_positive_int(k, "k")
    noise = check_real(noise, "noise", low=0.0)
    gen = as_rng(rng)
    W = gen.normal(0.0, 1.0 / np.sqrt(d), size=(k, d)) if W is None else check_array(W, "W", ndim=2, shape=(k, d))
    v = np.ones(k) if v is None else check_array(v, "v", ndim=1, shape=(k,))
    teacher = Teacher(W=W, v=v, activation=get_activation(activation))
    X = gen.normal(size=(n, d))
    y = teacher.predict(X)
    if noise > 0:
        y = y + noise * gen.normal(size=n)
    return Dataset(X=X, y=y, teacher=teacher, noise=noise)


def random_labels(n, d, *, rng=None) -> Dataset:
    r"""Gaussian inputs :math:`x_i \sim \mathcal N(0, I_d)` with independent labels
    :math:`y_i \sim \mathcal N(0, 1)`.

    The data of the paper's Figure 4: nothing to learn, only to fit.

    Examples
    --------
    >>> from shallowlearn import random_labels
    >>> data = random_labels(n=30, d=3, rng=0)
    >>> data.X.shape, data.teacher is None
    ((30, 3), True)
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(d, "d")
    gen = as_rng(rng)
    X = gen.normal(size=(n, d))
    return Dataset(X=X, y=gen.normal(size=n))

