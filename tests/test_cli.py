"""The command line: each command, its argument checks and its exit codes."""

import os

import pytest

from shallowlearn import (
    load_results,
    shipped_results,
)
from shallowlearn import protocols
from shallowlearn.cli import main




def test_cli_run_saves_results_and_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(protocols._REDUCED, "local", dict(teachers=1, starts=1, max_iter=50))
    assert main(["run", "local", "--out", str(tmp_path), "--no-progress", "--seed", "2"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["local-reduced.json", "local-reduced.png"]
    assert load_results(tmp_path / "local-reduced.json", protocol="local").seed == 2
    assert "Theorem 2.5" in capsys.readouterr().out


def test_cli_unknown_protocol(capsys):
    with pytest.raises(SystemExit):
        main(["run", "fig9"])
    message = capsys.readouterr().err
    assert "fig9" in message and "fig3a" in message and "local" in message


@pytest.mark.parametrize(
    "argv, match",
    [
        (["run", "fig3a", "--seed", "-1"], "non-negative integer"),
        (["run", "fig3a", "--seed", "x"], "non-negative integer"),
        (["run", "fig3a", "--out", ""], "empty path"),
        (["run", "fig3a", "--size", "huge"], "full, reduced"),
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_traceback(argv, match, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_out_that_is_a_file_or_unwritable_is_refused_before_any_work(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    cases = [(a_file, "not a folder")]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cases.append((locked / "sub", "not writable"))
    for out, match in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["run", "fig3a", "--no-progress", "--out", str(out)])
        assert exit_info.value.code == 2
        assert match in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["file"] or sorted(os.listdir(tmp_path)) == ["file", "locked"]


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "(default: .)" in out and "(default: 0)" in out and "(default: reduced)" in out


def test_report_names_each_fit():
    from shallowlearn.cli import report

    text = report(shipped_results("fig3a"))
    assert "logistic fit to the teachers passing:" in text
    assert "logistic fit to the runs succeeding: 50% at k = " in text
