r"""Loss along lines and planes in parameter space, and optimization paths projected on a plane.

A slice evaluates :math:`\mathcal L(\theta + s\delta_1 + t\delta_2)` on a grid. The directions
:math:`\delta` can be Hessian eigenvectors (:func:`shallowlearn.spectrum.hessian_spectrum`; at a
saddle the bottom one shows the way down), random Gaussian directions
(:func:`random_direction`), or the segment between two points (:func:`slice_between`). Random
directions are *filter-normalized* (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the loss
landscape of neural nets", NeurIPS 2018): each row of the :math:`W`-part is rescaled to the norm
of the matching row of :math:`W`, and the :math:`v`-part to the norm of :math:`v`, so that a step
of 1 changes every hidden unit by its own size. Without it, a slice mostly shows
the units with the smallest weights.

Every grid is evaluated as one array computation (chunked over grid points), and no input
array is modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .objective import Objective
from .validation import as_rng, check_array, check_bool, check_objective

__all__ = [
    "TrajectoryProjection",
    "project_trajectory",
    "random_direction",
    "slice_1d",
    "slice_2d",
    "slice_between",
]

def random_direction(objective: Objective, theta, *, per_unit: bool = True, rng=None) -> np.ndarray:
    r"""A Gaussian direction in parameter space, filter-normalized around :math:`\theta` by default.

    Parameters
    ----------
    objective : Objective
    theta : array_like, shape (p,)
        The point the direction is normalized for.
    per_unit : bool
        True: row :math:`\ell` of the :math:`W`-part gets the norm :math:`\lVert w_\ell \rVert` of
        row :math:`\ell` of :math:`W` at :math:`\theta` (zero rows stay zero), and the
        :math:`v`-part (when :math:`v` is trained) the norm :math:`\lVert v \rVert`. False: the
        whole direction has unit norm.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    numpy.ndarray, shape (p,)

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.slices import random_direction
    >>> obj = Objective(np.ones((5, 2)), np.zeros(5), "tanh", v=[1.0, 1.0])
    >>> theta = obj.pack(np.array([[3.0, 4.0], [0.0, 1.0]]))
    >>> np.round(np.linalg.norm(random_direction(obj, theta, rng=0).reshape(2, 2), axis=1), 12)
    array([5., 1.])
    """
    obj = check_objective(objective)
    theta = obj.check_theta(theta)
    direction = as_rng(rng).standard_normal(obj.p)
    if not check_bool(per_unit, "per_unit"):
        return direction / np.linalg.norm(direction)
    if not np.any(theta):
        raise ValueError("theta is all zeros, so per-unit normalization gives a zero direction; use per_unit=False")
    v, W = obj.unpack(theta)
    off = obj.k if obj.trains_v else 0
    rows = direction[off:].reshape(obj.k, obj.d)
    rows *= (np.linalg.norm(W, axis=1) / np.linalg.norm(rows, axis=1))[:, None]
    if obj.trains_v:
        direction[:off] *= np.linalg.norm(v) / np.linalg.norm(direction[:off])
    return direction


def _grid(values, name: str) -> np.ndarray:
    return check_array(values, name, ndim=1)


def slice_1d(objective: Objective, theta, direction, t) -> np.ndarray:
    r""":math:`\mathcal L(\theta + t\delta)` for each :math:`t`.

    Parameters
    ----------
    objective : Objective
    theta, direction : array_like, shape (p,)
    t : array_like, shape (m,)

    Returns
    -------
    numpy.ndarray, shape (m,)

    Examples
    --------
    Along the bottom eigenvector of the saddle W = 0 the loss goes down on both sides:

    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.slices import slice_1d
    >>> from shallowlearn.spectrum import hessian_spectrum
    >>> data = random_labels(n=20, d=2, rng=0)
    >>> obj = Objective(data.X, data.y, "quadratic", v=[1.0, -1.0])
    >>> u = hessian_spectrum(obj, np.zeros(obj.p)).eigenvectors[:, 0]
    >>> loss = slice_1d(obj, np.zeros(obj.p), u, [-0.1, 0.0, 0.1])
    >>> bool(loss[0] < loss[1] and loss[2] < loss[1])
    True
    """
    obj = check_objective(objective)
    theta = obj.check_theta(theta)
    direction = obj.check_theta(direction, "direction")
    t = _grid(t, "t")
    return obj.losses(theta + t[:, None] * direction)


def slice_2d(objective: Objective, theta, direction1, direction2, s, t) -> np.ndarray:
    r""":math:`\mathcal L(\theta + s\delta_1 + t\delta_2)` on the grid :math:`s \times t`:
    entry [i, j] is at (s[i], t[j]).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective, random_labels
    >>> from shallowlearn.slices import random_direction, slice_2d
    >>> data = random_labels(n=20, d=2, rng=0)
    >>> obj = Objective(data.X, data.y, "softplus", k=3)
    >>> theta = np.random.default_rng(0).normal(size=obj.p)
    >>> d1, d2 = random_direction(obj, theta, rng=1), random_direction(obj, theta, rng=2)
    >>> grid = slice_2d(obj, theta, d1, d2, np.linspace(-1, 1, 5), np.linspace(-1, 1, 7))
    >>> grid.shape, bool(np.isclose(grid[2, 3], obj.value(theta)))
    ((5, 7), True)
    """
    obj = check_objective(objective)
    theta = obj.check_theta(theta)
    d1 = obj.check_theta(direction1, "direction1")
    d2 = obj.check_theta(direction2, "direction2")
    s, t = _grid(s, "s"), _grid(t, "t")
    points = theta + s[:, None, None] * d1 + t[None, :, None] * d2
    return obj.losses(points.reshape(-1, obj.p)).reshape(s.size, t.size)


def slice_between(objective: Objective, theta_a, theta_b, t) -> np.ndarray:
    r""":math:`\mathcal L((1 - t)\theta_a + t\theta_b)`: the segment from :math:`\theta_a`
    (:math:`t = 0`) to :math:`\theta_b` (:math:`t = 1`), and beyond.

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn import Objective
    >>> from shallowlearn.slices import slice_between
    >>> obj = Objective(np.eye(2), [1.0, 1.0], "quadratic", v=[1.0])
    >>> slice_between(obj, np.zeros(2), np.ones(2), [0.0, 0.5, 1.0])     # ends: L = 0.5 and 0
    array([0.5    , 0.28125, 0.     ])
    """
    obj = check_objective(objective)
    theta_a = obj.check_theta(theta_a, "theta_a")
    theta_b = obj.check_theta(theta_b, "theta_b")
    return slice_1d(obj, theta_a, theta_b - theta_a, t)


@dataclass(frozen=True, eq=False)
class TrajectoryProjection:
    r"""An optimization path projected on the plane of its two principal directions.

    Attributes
    ----------
    coords : numpy.ndarray, shape (T, 2)
        Coordinates of each point of the path:
        :math:`(\theta - \mathtt{center}) \cdot \mathtt{directions}`.
    directions : numpy.ndarray, shape (p, 2)
        Orthonormal: the top two principal directions of the path around ``center``.
    center : numpy.ndarray, shape (p,)
        The origin of the plane (by default the last point of the path).
    explained : numpy.ndarray, shape (2,)
        Fraction of :math:`\sum \lVert \theta - \mathtt{center} \rVert^2` along each direction;
        their sum says how flat the path is.
    """

    coords: np.ndarray = field(repr=False)
    directions: np.ndarray = field(repr=False)
    center: np.ndarray = field(repr=False)
    explained: np.ndarray

    def __repr__(self) -> str:
        return (
            f"TrajectoryProjection(points={self.coords.shape[0]}, p={self.center.size}, "
            f"explained={np.round(self.explained, 4).tolist()})"
        )


def project_trajectory(thetas, *, center=None) -> TrajectoryProjection:
    r"""Principal-component projection of a path :math:`\theta_0, \theta_1, \dots`, to draw it on a
    2-D slice.

    As in Li et al. (2018): the directions are the top two right singular vectors of the
    matrix of :math:`\theta_\tau - \mathtt{center}`. Slicing the loss with :func:`slice_2d` at
    ``center`` along ``directions`` gives the plane in which the path lies as nearly as any plane
    can.

    Parameters
    ----------
    thetas : array_like, shape (T, p)
        The path, one point per row (:math:`T \ge 2`, :math:`p \ge 2`).
    center : array_like, shape (p,), optional
        Default: the last point.

    Returns
    -------
    TrajectoryProjection

    Examples
    --------
    A path that lies in a plane is captured exactly:

    >>> import numpy as np
    >>> from shallowlearn.slices import project_trajectory
    >>> t = np.linspace(0, 1, 20)[:, None]
    >>> path = np.hstack([np.cos(3 * t), np.sin(3 * t), 0 * t])
    >>> proj = project_trajectory(path)
    >>> proj.coords.shape, round(float(proj.explained.sum()), 12)
    ((20, 2), 1.0)
    """
    thetas = check_array(thetas, "thetas", ndim=2)
    T, p = thetas.shape
    if T < 2 or p < 2:
        raise ValueError(f"thetas must hold at least 2 points of at least 2 parameters; got shape {thetas.shape}")
    center = thetas[-1].copy() if center is None else check_array(center, "center", ndim=1, shape=(p,))
    offsets = thetas - center
    _, s, Vt = np.linalg.svd(offsets, full_matrices=False)
    directions = Vt[:2].T
    total = float(np.sum(s * s))
    explained = s[:2] ** 2 / total if total > 0 else np.zeros(2)
    return TrajectoryProjection(coords=offsets @ directions, directions=directions, center=center, explained=explained)
