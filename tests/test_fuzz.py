"""Malformed calls across the public API: every one gets a named error, nothing is mutated.

Each public function or method is described once by a valid call and the kind of each of its
arguments. The test replaces one argument at a time by malformed values of that kind (wrong
types, shapes and sizes, NaN and infinity, complex and masked arrays, out-of-range numbers,
unknown names) and requires a ``ValueError`` or ``TypeError`` whose message names the
argument. Every array handed to a call is compared before and after: no call, failing or not,
may change it.
"""

from __future__ import annotations

import numpy as np
import pytest

import shallowlearn as sl
from shallowlearn import quadratic as q
from shallowlearn import slices, spectrum

RNG = np.random.default_rng(0)
DATA = sl.planted(n=30, d=3, k=2, activation="tanh", rng=1)
X, Y = np.array(DATA.X), np.array(DATA.y)
OBJ = sl.Objective(X, Y, "tanh", k=2)
OBJ_V = sl.Objective(X, Y, "quadratic", v=np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]))
THETA = RNG.normal(size=OBJ.p) / 2
THETA_V = RNG.normal(size=OBJ_V.p) / 2


def _masked(shape):
    return np.ma.masked_array(np.ones(shape), mask=np.zeros(shape, bool))


def bad_arrays(shape, free=()):
    """Malformed stand-ins for an array argument of the given shape; the axes in ``free``
    may have any size, so a wrong size there is no error."""
    good = np.ones(shape)
    wrong = np.ones(shape + (2,))
    nan, inf = good.copy(), good.copy()
    nan.flat[0], inf.flat[-1] = np.nan, np.inf
    out = [None, "abc", {"a": 1}, wrong, nan, inf, good + 1j, _masked(shape),
           np.array([object()] * int(np.prod(shape)), dtype=object).reshape(shape),
           np.ones(shape[:-1] + (0,))]                       # empty
    if len(shape) - 1 not in free:
        out.append(np.ones(shape[:-1] + (shape[-1] + 1,)))   # one entry too many
    if len(shape) == 2:
        out.append([[1.0] * shape[1], [1.0] * (shape[1] + 1)])  # ragged
    if len(shape) > 1:
        out.append(np.ones(shape[1:]))                       # a dimension missing
    return out


BAD = {
    "posint": [0, -3, 2.5, True, "3", None, np.nan],
    "nonneg": [-1.0, np.nan, np.inf, "x", None, True, 1 + 2j],
    "positive": [0.0, -1.0, np.nan, np.inf, "x", None],
    "probability": [0.0, 1.0, 1.5, -0.1, np.nan],
    "unit_interval": [1.0, 1.5, -0.1, np.nan, "x"],
    "activation": ["swish", 5, None, lambda z: "not a number"],
    "objective": ["objective", None, 3.0, X],
    "rng": ["seed", -1, 1.5, [1, 2, "x"]],
    "bool": ["yes", None, 2.0],
    "callable": [3, "f"],
}


def call_spec(name, fn, args, kinds, choices=None, optional=()):
    """One entry: the function, its valid keyword arguments and the kind of each argument to
    spoil ('array:shape' for arrays, 'array:shape:free' when the last axis may have any size,
    'choice' for a name among ``choices``); ``optional`` names the arguments for which None
    is a valid value."""
    return name, fn, args, kinds, choices or {}, set(optional)


SPECS = [
    call_spec("planted", sl.planted, dict(n=20, d=3, k=2, activation="tanh", noise=0.1, rng=0),
              dict(n="posint", d="posint", k="posint", activation="activation", noise="nonneg",
                   rng="rng"),
              optional={'rng'}),
    call_spec("random_labels", sl.random_labels, dict(n=20, d=3, rng=0),
              dict(n="posint", d="posint", rng="rng"),
              optional={'rng'}),
    call_spec("Dataset", sl.Dataset, dict(X=X, y=Y),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}")),
    call_spec("Teacher", sl.Teacher, dict(W=np.ones((2, 3)), v=np.ones(2), activation="tanh"),
              dict(W="array:(2, 3):free", v="array:(2,)", activation="activation")),
    call_spec("Objective", sl.Objective, dict(X=X, y=Y, activation="tanh", k=2),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}", activation="activation",
                   k="posint")),
    call_spec("Objective(v=)", sl.Objective, dict(X=X, y=Y, activation="tanh", v=np.ones(2)),
              dict(v="array:(2,):free")),
    call_spec("Objective.value", OBJ.value, dict(theta=THETA), dict(theta=f"array:{THETA.shape}")),
    call_spec("Objective.grad", OBJ.grad, dict(theta=THETA), dict(theta=f"array:{THETA.shape}")),
    call_spec("Objective.hvp", OBJ.hvp, dict(theta=THETA, u=THETA),
              dict(theta=f"array:{THETA.shape}", u=f"array:{THETA.shape}")),
    call_spec("Objective.hessian", OBJ.hessian, dict(theta=THETA, method="fused"),
              dict(theta=f"array:{THETA.shape}", method="choice"),
              dict(method=["fast", 3, None])),
    call_spec("Objective.at", OBJ.at, dict(theta=THETA), dict(theta=f"array:{THETA.shape}")),
    call_spec("Objective.pack", OBJ.pack, dict(W=np.ones((2, 3)), v=np.ones(2)),
              dict(W="array:(2, 3)", v="array:(2,)")),
    call_spec("Objective.predict", OBJ.predict, dict(theta=THETA, X=X),
              dict(X=f"array:{X.shape}"),
              optional={'X'}),
    call_spec("Objective.losses", OBJ.losses, dict(thetas=np.tile(THETA, (3, 1))),
              dict(thetas=f"array:{(3, THETA.size)}")),
    call_spec("get_activation", sl.get_activation, dict(spec="softplus", b=2.0),
              dict(spec="activation", b="positive")),
    call_spec("gradient_descent", sl.gradient_descent,
              dict(objective=OBJ, theta0=THETA, step=0.01, max_iter=5, grad_tol=1e-6,
                   loss_tol=0.0, history_stride=1, rng=0, line_search=False),
              dict(objective="objective", theta0=f"array:{THETA.shape}", step="positive",
                   max_iter="posint", grad_tol="nonneg", loss_tol="nonneg",
                   history_stride="posint", rng="rng", line_search="bool"),
              optional={'rng'}),
    call_spec("trust_region", sl.trust_region, dict(objective=OBJ_V, theta0=THETA_V, max_iter=3),
              dict(objective="objective", theta0=f"array:{THETA_V.shape}", max_iter="posint",
                   radius="positive", curvature_tol="nonneg", callback="callable"),
              optional={'callback', 'curvature_tol'}),
    call_spec("cubic_regularization", sl.cubic_regularization,
              dict(objective=OBJ_V, theta0=THETA_V, max_iter=3),
              dict(sigma="positive", theta0=f"array:{THETA_V.shape}")),
    call_spec("sgd", sl.sgd, dict(objective=OBJ, theta0=THETA, max_iter=2, rng=0),
              dict(batch_size="posint", momentum="unit_interval", step="positive"),
              optional={'batch_size'}),
    call_spec("perturbed_gradient_descent", sl.perturbed_gradient_descent,
              dict(objective=OBJ, theta0=THETA, max_iter=3, rng=0),
              dict(r="positive", t_thres="posint", f_thres="nonneg")),
    call_spec("pgd_theory_parameters", sl.pgd_theory_parameters,
              dict(ell=1.0, rho=1.0, epsilon=0.1, delta_f=1.0, dim=10, c=1.0, delta=0.1),
              dict(ell="positive", rho="positive", epsilon="positive", delta_f="positive",
                   dim="posint", c="positive", delta="probability")),
    call_spec("hessian_spectrum", sl.hessian_spectrum, dict(objective=OBJ, theta=THETA),
              dict(objective="objective", theta=f"array:{THETA.shape}", method="choice",
                   n_bottom="posint", n_top="posint", rtol="positive", maxiter="posint"),
              dict(method=["fastest", 1])),
    call_spec("HessianOperator", spectrum.HessianOperator, dict(objective=OBJ, theta=THETA),
              dict(objective="objective", theta=f"array:{THETA.shape}")),
    call_spec("eigenvalue_density", sl.eigenvalue_density, dict(eigenvalues=np.arange(4.0)),
              dict(eigenvalues="array:(4,):free", width="positive"),
              optional={'width'}),
    call_spec("classify_point", sl.classify_point, dict(objective=OBJ, theta=THETA),
              dict(objective="objective", theta=f"array:{THETA.shape}", grad_rtol="positive",
                   eig_rtol="positive"),
              optional={'rng'}),
    call_spec("symmetry_directions", sl.symmetry_directions, dict(objective=OBJ_V, theta=THETA_V),
              dict(objective="objective", theta=f"array:{THETA_V.shape}")),
    call_spec("check_derivatives", sl.check_derivatives, dict(objective=OBJ, theta=THETA, rng=0),
              dict(objective="objective", theta=f"array:{THETA.shape}", eps="positive",
                   rng="rng"),
              optional={'eps', 'rng'}),
    call_spec("slice_1d", sl.slice_1d,
              dict(objective=OBJ, theta=THETA, direction=THETA, t=np.linspace(-1, 1, 3)),
              dict(objective="objective", theta=f"array:{THETA.shape}",
                   direction=f"array:{THETA.shape}", t="array:(3,):free")),
    call_spec("slice_2d", sl.slice_2d,
              dict(objective=OBJ, theta=THETA, direction1=THETA, direction2=THETA,
                   s=np.linspace(-1, 1, 3), t=np.linspace(-1, 1, 2)),
              dict(direction2=f"array:{THETA.shape}", s="array:(3,):free")),
    call_spec("random_direction", sl.random_direction, dict(objective=OBJ, theta=THETA, rng=0),
              dict(objective="objective", theta=f"array:{THETA.shape}", rng="rng",
                   per_unit="bool"),
              optional={'rng'}),
    call_spec("project_trajectory", sl.project_trajectory, dict(thetas=np.ones((4, 3)) * [[1], [2], [3], [4]]),
              dict(thetas="array:(4, 3):free")),
    call_spec("random_init", sl.random_init, dict(k=2, d=3, size=4, rng=0),
              dict(k="posint", d="posint", size="posint", rng="rng"),
              optional={'size', 'rng'}),
    call_spec("near_planted", sl.near_planted,
              dict(W=np.ones((2, 3)), v=np.ones(2), radius=0.1, rng=0),
              dict(W="array:(2, 3):free", v="array:(2,)", radius="nonneg", v_radius="nonneg"),
              optional={'rng'}),
    call_spec("spectral_init", sl.spectral_init, dict(X=X, y=Y, v=np.ones(2), rng=0),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}", v="array:(2,):free", fill="positive"),
              optional={'rng'}),
    call_spec("tensor_init", sl.tensor_init, dict(X=X, y=Y, k=2, activation="tanh", rng=0),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}", k="posint",
                   activation="activation", rng="rng"),
              optional={'rng'}),
    call_spec("batched_gradient_descent", sl.batched_gradient_descent,
              dict(X=X, y=Y, activation="tanh", W0=np.ones((2, 2, 3)) / 3, v0=np.ones((2, 2)),
                   step=0.01, max_iter=3),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}", activation="activation",
                   W0="array:(2, 2, 3)", v0="array:(2, 2)", step="positive", max_iter="posint",
                   loss_tol="nonneg", grad_tol="nonneg", record_every="posint", train_v="bool"),
              optional={'record_every'}),
    call_spec("fit_logistic", sl.fit_logistic,
              dict(x=np.arange(5.0), successes=np.array([0, 1, 2, 4, 5]), trials=5),
              dict(x="array:(5,)", successes="array:(5,)", trials="posint")),
    call_spec("get_protocol", sl.get_protocol, dict(name="fig3a", size="reduced"),
              dict(name="choice", size="choice"),
              dict(name=["fig9", 3, None], size=["huge", 1, None])),
    call_spec("khatri_rao", q.khatri_rao, dict(X=X), dict(X=f"array:{X.shape}:free")),
    call_spec("lift", q.lift, dict(W=np.ones((2, 3)), v=np.ones(2)),
              dict(W="array:(2, 3):free", v="array:(2,)")),
    call_spec("lifted_optimum", q.lifted_optimum, dict(X=X, y=Y),
              dict(X=f"array:{X.shape}:free", y=f"array:{Y.shape}", cone="choice", tol="positive",
                   maxiter="posint"), dict(cone=["cone", 2])),
    call_spec("factorize", q.factorize, dict(M=np.eye(3), v=np.r_[np.ones(3), -np.ones(3)]),
              dict(M="array:(3, 3)", v="array:(6,):free")),
    call_spec("optimality_certificate", q.optimality_certificate,
              dict(objective=OBJ_V, theta=THETA_V),
              dict(objective="objective", theta=f"array:{THETA_V.shape}")),
    call_spec("case_two_direction", q.case_two_direction, dict(objective=OBJ_V, theta=THETA_V),
              dict(objective="objective", theta=f"array:{THETA_V.shape}")),
]


def _bad_values(kind, choices):
    if kind.startswith("array:"):
        shape, _, free = kind[6:].partition(":")
        shape = tuple(eval(shape))  # noqa: S307 - shapes written in this file
        return bad_arrays(shape, free=(len(shape) - 1,) if free else ())
    if kind == "choice":
        return choices
    return BAD[kind]


CASES = []
for name, fn, args, kinds, choices, optional in SPECS:
    for arg, kind in kinds.items():
        for i, bad in enumerate(_bad_values(kind, choices.get(arg, []))):
            if bad is None and arg in optional:
                continue
            names = (arg, "activation") if kind == "activation" else (arg,)
            CASES.append(pytest.param(fn, args, arg, bad, names, id=f"{name}-{arg}-{i}"))


def test_there_are_enough_malformed_calls():
    assert len(CASES) >= 200


def _arrays(values):
    return [v for v in values if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("fn, args, arg, bad, names", CASES)
def test_malformed_call_is_a_named_error(fn, args, arg, bad, names):
    call = {**args, arg: bad}
    before = [a.copy() for a in _arrays(call.values())]
    with np.errstate(all="raise"), pytest.raises((ValueError, TypeError)) as info:
        fn(**call)
    message = str(info.value)
    assert any(name in message for name in names), (
        f"the error does not name {arg!r}: {type(info.value).__name__}: {message}")
    for a, b in zip(before, _arrays(call.values())):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name, fn, args, kinds, choices, optional", SPECS,
                         ids=[spec[0] for spec in SPECS])
def test_the_valid_call_works_and_mutates_nothing(name, fn, args, kinds, choices, optional):
    before = [a.copy() for a in _arrays(args.values())]
    fn(**args)
    for a, b in zip(before, _arrays(args.values())):
        np.testing.assert_array_equal(a, b)


SPECIAL = [
    ("value at an overflowing point", lambda: OBJ.value(np.full(OBJ.p, 1e200)), "theta"),
    ("gradient at an overflowing point", lambda: OBJ_V.grad(np.full(OBJ_V.p, 1e200)), "theta"),
    ("Hessian at an overflowing point", lambda: OBJ_V.hessian(np.full(OBJ_V.p, 1e200)), "theta"),
    ("classify_point at an overflowing point",
     lambda: sl.classify_point(OBJ_V, np.full(OBJ_V.p, 1e200)), "theta"),
    ("recovery error of a zero teacher",
     lambda: sl.Teacher(W=np.zeros((2, 3)), v=np.ones(2), activation="tanh").recovery_error(
         np.ones((2, 3)), np.ones(2)), "teacher"),
    ("tensor_init with constant labels",
     lambda: sl.tensor_init(X, np.ones(X.shape[0]), 2, "tanh", rng=0), "y"),
    ("Dataset with a teacher that is not one",
     lambda: sl.Dataset(X=X, y=Y, teacher="abc"), "teacher"),
    ("batched engine with no units",
     lambda: sl.batched_gradient_descent(X, Y, "tanh", np.ones((2, 0, 3)), np.ones((2, 0)),
                                         step=0.1, max_iter=2), "W0"),
    ("batched engine with no runs",
     lambda: sl.batched_gradient_descent(X, Y, "tanh", [], [], step=0.1, max_iter=2), "W0"),
    ("a protocol with no teachers",
     lambda: sl.run_protocol(__import__("dataclasses").replace(sl.get_protocol("fig3a", "reduced"),
                                                               teachers=0), progress=False),
     "teachers"),
]


@pytest.mark.parametrize("what, call, name", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_hostile_values_get_named_errors(what, call, name):
    with np.errstate(all="raise"), pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), f"{what}: {type(info.value).__name__}: {info.value}"


def test_theory_parameters_for_a_vanishing_epsilon_are_computed_not_divided_by_zero():
    params = sl.pgd_theory_parameters(ell=1.0, rho=1.0, epsilon=1e-200, delta_f=1.0, dim=10, c=1.0)
    assert all(np.isfinite(float(value)) and value >= 0 for value in params.values())
    assert 0 < params["grad_tol"] < 1e-200 and params["t_thres"] > 1e99
