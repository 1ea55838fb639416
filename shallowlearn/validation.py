"""Input checks used at the package's public boundary, and the one random-state helper.

Every public function validates what it is given here, so that bad input fails early with a
message naming the argument, what was expected and what was given, instead of deep inside
numpy. Checked arrays are always copies: the caller's data is never modified.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_rng",
    "check_array",
    "check_bool",
    "check_choice",
    "check_non_negative_int",
    "check_objective",
    "check_positive_int",
    "check_real",
    "read_only",
]


def as_rng(rng=None) -> np.random.Generator:
    """Turn ``rng`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    rng : None, int or numpy.random.Generator
        ``None`` gives fresh, unpredictable randomness; an int seeds a new generator (same
        seed, same numbers); a Generator is used as it is (and advanced).

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> from shallowlearn.validation import as_rng
    >>> bool(as_rng(0).normal() == as_rng(0).normal())
    True
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative seed; got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be None, an int seed or a numpy.random.Generator; "
        f"got {type(rng).__name__}"
    )


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int after checking that it is a positive integer.

    Examples
    --------
    >>> from shallowlearn.validation import check_positive_int
    >>> check_positive_int(3, "k")
    3
    """
    return _check_int(value, name, 1, "a positive integer")


def check_non_negative_int(value, name: str) -> int:
    """Return ``value`` as an int after checking that it is an integer of at least 0.

    Examples
    --------
    >>> from shallowlearn.validation import check_non_negative_int
    >>> check_non_negative_int(0, "seed")
    0
    """
    return _check_int(value, name, 0, "a non-negative integer")


def _check_int(value, name: str, low: int, what: str) -> int:
    """``value`` as an int: a TypeError for a non-integer, a ValueError below ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}; got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be {what}; got {value}")
    return int(value)


def check_real(value, name: str, *, low: float | None = None, strict: bool = False) -> float:
    """Return ``value`` as a finite float, optionally bounded below.

    Parameters
    ----------
    value : real number
    name : str
        The argument's name, used in the error message.
    low : float, optional
        Lower bound.
    strict : bool
        Whether the bound is strict (``value > low``) or not (``value >= low``).

    Examples
    --------
    >>> from shallowlearn.validation import check_real
    >>> check_real(0.5, "noise", low=0.0)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if low is not None and (value <= low if strict else value < low):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {low}; got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """Return ``value`` after checking that it is ``True`` or ``False``.

    Examples
    --------
    >>> from shallowlearn.validation import check_bool
    >>> check_bool(True, "train_v")
    True
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` after checking that it is one of ``choices``.

    Examples
    --------
    >>> from shallowlearn.validation import check_choice
    >>> check_choice("dense", "method", ("auto", "dense"))
    'dense'
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; got {value!r}")
    return value


def check_objective(objective):
    """Return ``objective`` after checking that it is an objective of this package.

    Any subclass of :class:`shallowlearn.objective.BaseObjective` qualifies: the empirical
    :class:`~shallowlearn.objective.Objective` and the population objectives.

    Examples
    --------
    >>> from shallowlearn.validation import check_objective
    >>> check_objective("loss")
    Traceback (most recent call last):
    ...
    TypeError: objective must be a shallowlearn objective (such as shallowlearn.Objective); got str
    """
    from .objective import BaseObjective

    if not isinstance(objective, BaseObjective):
        raise TypeError(
            "objective must be a shallowlearn objective (such as shallowlearn.Objective); "
            f"got {type(objective).__name__}"
        )
    return objective


def read_only(arr: np.ndarray) -> np.ndarray:
    """Mark ``arr`` read-only and return it (results are never changed behind a caller's back).

    Examples
    --------
    >>> import numpy as np
    >>> from shallowlearn.validation import read_only
    >>> read_only(np.zeros(2)).flags.writeable
    False
    """
    arr.setflags(write=False)
    return arr


def check_array(value, name: str, *, ndim: int, shape: tuple | None = None) -> np.ndarray:
    """Return a finite float64 copy of ``value`` after checking its dimension and shape.

    Parameters
    ----------
    value : array_like
        Real numbers (bool, int or float).
    name : str
        The argument's name, used in error messages.
    ndim : int
        The required number of dimensions.
    shape : tuple, optional
        Required shape; an entry ``None`` matches any size. Empty arrays are refused.

    Returns
    -------
    numpy.ndarray
        A new float64 array; changing it never changes ``value``.

    Examples
    --------
    >>> from shallowlearn.validation import check_array
    >>> check_array([[1, 2], [3, 4]], "X", ndim=2).dtype
    dtype('float64')
    """
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain array; got a masked array (its mask would be ignored: "
            "drop or fill the masked entries first, e.g. with value.compressed() or value.filled())"
        )
    try:
        arr = np.array(value, copy=True)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of real numbers; could not convert it: {err}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain real numbers (bool, int or float); got dtype {arr.dtype}"
        )
    if arr.ndim != ndim:
        expected = {1: "a 1-D vector", 2: "a 2-D matrix"}.get(ndim, f"a {ndim}-D array")
        raise ValueError(f"{name} must be {expected}; got an array of shape {arr.shape}")
    if shape is not None:
        for axis, (want, got) in enumerate(zip(shape, arr.shape)):
            if want is not None and want != got:
                raise ValueError(
                    f"{name} must have shape {_fmt_shape(shape)}; got {arr.shape} "
                    f"(axis {axis} has size {got}, expected {want})"
                )
    if 0 in arr.shape:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; it has {bad} NaN or infinite entries")
    return arr


def _fmt_shape(shape: tuple) -> str:
    sizes = ", ".join("any" if s is None else str(s) for s in shape)
    return f"({sizes},)" if len(shape) == 1 else f"({sizes})"
