"""Fixtures shared by the test modules: small protocols that run in a second or two."""

import dataclasses

import pytest

from shallowlearn import get_protocol, run_protocol


def _tiny(name="fig3a", **change):
    base = dict(k=(3, 8), max_iter=150) if name == "fig3a" else {}
    return dataclasses.replace(get_protocol(name, "reduced"), **{**base, **change})


@pytest.fixture(scope="session")
def tiny():
    """``tiny(name, **change)``: the reduced protocol ``name`` (fig3a: k = 3 and 8, 150 steps),
    with ``change`` applied."""
    return _tiny


@pytest.fixture(scope="session")
def tiny_results():
    """The tiny Figure 3a protocol, run with seed 3."""
    return run_protocol(_tiny(), seed=3, progress=False)
