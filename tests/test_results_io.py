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
from shallowlearn.diagnosis import CATEGORIES
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
    with pytest.raises(ValueError, match="checksum"):
        load_results(path)
    with pytest.raises(ValueError, match="incomplete or corrupt"):
        results_io.reseal(path)


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
    assert set(res.runs["outcome"]) <= set(CATEGORIES)
    path = results_io.resources.files("shallowlearn") / "results" / f"{name}-full.json"
    # a file grows with its runs (about 170 bytes each) and its recorded curve points (about 20)
    points = np.size(res.curves["loss"]) if res.curves else 0
    assert len(path.read_bytes()) < 100_000 + 200 * len(res.runs["loss"]) + 25 * points
    assert plot_results(res)[1].get_xlabel() in ("k", "d", "iteration", "k = d",
                                                    "κ = m*/d")


def _edited(tiny_results, tmp_path, change):
    """A saved file, edited by ``change(payload)`` and re-sealed so that only the schema checks
    stand between it and the reader."""
    path = tmp_path / "edited.json"
    save_results(tiny_results, path)
    payload = json.loads(path.read_text())
    change(payload)
    payload["sha256"] = results_io._checksum(payload)
    path.write_text(json.dumps(payload))
    return path


@pytest.mark.parametrize("change, match", [
    (lambda p: p.update(format_version=True), "format version True"),
    (lambda p: p.update(format_version=9), "format version 9"),
    (lambda p: p.update(seed=1.7), "seed"),
    (lambda p: p["protocol"].update(step="fast"), "step"),
    (lambda p: p["protocol"].update(teachers=0), "teachers"),
    (lambda p: p["runs"].update(loss="abc"), "runs.loss"),
    (lambda p: p["runs"]["loss"].__setitem__(0, "abc"), "runs.loss"),
    (lambda p: p["runs"]["loss"].pop(), "entries"),
    (lambda p: p["runs"]["iterations"].__setitem__(0, 2.5), "runs.iterations"),
    (lambda p: p["runs"]["status"].__setitem__(0, "done"), "runs.status"),
    (lambda p: p["runs"]["outcome"].__setitem__(0, "fine"), "runs.outcome"),
    (lambda p: p["runs"]["loss"].__setitem__(0, -1.0), "non-negative"),
    (lambda p: p["summary"].update(rate=[0.5]), "summary.rate"),
    (lambda p: p.update(fit={"crossing": "x"}), "fit"),
])
def test_every_field_is_checked(tiny_results, tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        load_results(_edited(tiny_results, tmp_path, change))


def test_an_edit_is_detected_and_a_deliberate_one_resealed(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    save_results(tiny_results, path)
    payload = json.loads(path.read_text())
    payload["runs"]["loss"] = [1000 * x for x in payload["runs"]["loss"]]
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="checksum.*reseal"):
        load_results(path)
    results_io.reseal(path)
    np.testing.assert_allclose(load_results(path).runs["loss"], 1000 * tiny_results.runs["loss"])


def test_files_that_are_not_results_get_clear_errors(tiny_results, tmp_path, monkeypatch):
    latin = tmp_path / "latin.json"
    latin.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="latin.json.*UTF-8"):
        load_results(latin)
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nested"):
        load_results(nested)
    big = tmp_path / "big.json"
    save_results(tiny_results, big)
    monkeypatch.setattr(results_io, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="more than a results file may be"):
        load_results(big)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="more than"):
            load_results("/dev/zero")
    with pytest.raises(TypeError, match="protocol must be"):
        load_results(big, protocol=5)


def test_a_killed_save_leaves_a_temporary_file_that_the_next_save_removes(tiny_results, tmp_path):
    path = tmp_path / "out.json"
    stale = tmp_path / ".out.json.0123abcd.tmp"
    stale.write_text("half a file")
    save_results(tiny_results, path)
    assert sorted(os.listdir(tmp_path)) == ["out.json"]
    assert load_results(path).seed == tiny_results.seed
