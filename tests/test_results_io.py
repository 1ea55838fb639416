"""Saving and loading results: round trips, refusals, atomic saves, the shipped results."""

import dataclasses
import json
import os

import numpy as np
import pytest

from shallowlearn import (
    PROTOCOLS,
    Results,
    get_protocol,
    load_results,
    save_results,
    shipped_results,
)
from shallowlearn import results_io
from shallowlearn.plotting import plot_results




def test_save_and_load_roundtrip(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    loaded = load_results(path, protocol=tiny_results.protocol)
    assert loaded.protocol == tiny_results.protocol
    assert (loaded.seed, loaded.version) == (tiny_results.seed, tiny_results.version)
    for key, column in tiny_results.runs.items():
        np.testing.assert_array_equal(loaded.runs[key], column)
    np.testing.assert_equal(loaded.fit, tiny_results.fit)
    assert load_results(path, protocol="fig3a").seed == 3
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind


def test_load_refuses_another_protocol(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    with pytest.raises(ValueError, match="fig3b"):
        load_results(path, protocol="fig3b")
    with pytest.raises(ValueError, match="max_iter"):
        load_results(path, protocol=dataclasses.replace(tiny_results.protocol, max_iter=7))


def test_load_refuses_corrupt_files(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])  # a half-written file
    with pytest.raises(ValueError, match="corrupt"):
        load_results(path)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="not a shallowlearn results file"):
        load_results(path)
    payload = json.loads(text)
    del payload["runs"]
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="incomplete or corrupt"):
        load_results(path)


def test_interrupted_save_keeps_the_old_file(tiny_results, tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    before = path.read_text()

    def broken_dump(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results_io.json, "dump", broken_dump)
    with pytest.raises(KeyboardInterrupt):
        save_results(tiny_results, path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["out.json"]
    with pytest.raises(TypeError, match="Results"):
        save_results({"runs": {}}, path)


def test_shipped_results_load():
    res = shipped_results("fig3a", "reduced")
    assert isinstance(res, Results) and res.protocol == get_protocol("fig3a", "reduced")
    with pytest.raises(FileNotFoundError, match="python -m shallowlearn run fig2b"):
        shipped_results("fig2b", "reduced")


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_shipped_full_results_load_and_are_small(name):
    # every full protocol ships its results, made with the protocol as defined now
    res = shipped_results(name, "full")
    assert res.protocol == get_protocol(name, "full")
    p = res.protocol
    assert len(res.runs["loss"]) == len(p.values) * p.teachers * p.starts
    assert set(res.runs["outcome"]) <= {"success", "slow", "stuck", "diverged"}
    path = results_io.resources.files("shallowlearn") / "results" / f"{name}-full.json"
    assert len(path.read_bytes()) < 200_000
    assert plot_results(res)[1].get_xlabel() in ("k", "d", "iteration")
