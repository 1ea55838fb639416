"""Protocols cut into tasks, run on Dask, checkpointed and resumed.

Everything that starts a cluster runs in a subprocess (Dask spawns its worker processes, and
a subprocess can be given a time limit and is cleaned up with its cluster): one script runs
the cluster scenarios against one shared local cluster, and the tests check what it saved.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import shallowlearn
from shallowlearn import get_protocol, load_results, protocol_inputs, run_protocol
from shallowlearn.checkpoints import CheckpointError
from shallowlearn.cli import main
from shallowlearn.tasks import TASK_RUNS, protocol_tasks

# every child process does its arithmetic with one BLAS thread, as Dask's workers do
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def small(name, **change):
    """A reduced protocol, shrunk further: a few seconds in all."""
    base = {"fig3b": dict(max_iter=1500), "fig3a": dict(max_iter=200),
            "fig4b": dict(k=(3, 8), max_iter=400)}[name]
    return dataclasses.replace(get_protocol(name, "reduced"), **{**base, **change})


def same_results(a, b) -> bool:
    """Bit for bit: every column of every run, the curves, the summary and the fit."""
    parts = [(a.runs, b.runs), (a.curves, b.curves), (a.summary, b.summary), (a.fit, b.fit)]
    return all(x.keys() == y.keys() and all(
        np.array_equal(x[k], y[k], equal_nan=np.asarray(x[k]).dtype.kind == "f") for k in x)
        for x, y in parts)


def run_script(path, body: str, *args, timeout: float):
    """Run ``body`` as the main block of a script file (Dask needs a file to spawn from)."""
    path.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(path), *map(str, args)], env=ENV, timeout=timeout,
                          capture_output=True, text=True)


# --- the cut into tasks -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(shallowlearn.PROTOCOLS))
@pytest.mark.parametrize("size", ["full", "reduced"])
def test_tasks_hold_every_teacher_once_within_one_dimension(name, size):
    p = get_protocol(name, size)
    tasks = protocol_tasks(p)
    teachers = [pair for task in tasks for pair in task.teachers]
    assert sorted(teachers) == [(j, i) for j in range(len(p.values)) for i in range(p.teachers)]
    configs = p.configs()
    for task in tasks:
        assert len({configs[j][0] for j, _ in task.teachers}) == 1  # one d
        assert task.runs == len(task.teachers) * p.starts <= max(TASK_RUNS, p.starts)
    # as few tasks as the limit allows, of nearly equal sizes, per group of teachers that can
    # share a batch (one dimension; for a phase protocol, one sample count too)
    for group in p.teacher_groups():
        sizes = [t.runs for t in tasks if set(t.teachers) <= set(group)]
        assert sum(sizes) == len(group) * p.starts
        assert len(sizes) == -(-len(group) // max(1, TASK_RUNS // p.starts))
        assert max(sizes) - min(sizes) <= p.starts


def test_the_runs_come_back_in_the_order_of_the_protocol():
    p = small("fig3a")
    [batch] = protocol_inputs(p)
    res = run_protocol(p, progress=False)
    assert len(protocol_tasks(p)) == 2
    for key in ("value", "teacher", "start", "k"):
        assert res.runs[key].tolist() == list(batch["rows"][key])


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    p = small("fig3a")
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        run_protocol(p, workers=0, checkpoints=tmp_path)
    with pytest.raises(TypeError, match="client must be a distributed.Client; got str"):
        run_protocol(p, client="tcp://127.0.0.1:8786", checkpoints=tmp_path)
    with pytest.raises(ValueError, match="resume=True needs the checkpoints"):
        run_protocol(p, resume=True)
    with pytest.raises(TypeError, match="on_task must be callable"):
        run_protocol(p, on_task=3, checkpoints=tmp_path)
    assert os.listdir(tmp_path) == []


def test_importing_or_running_in_process_does_not_import_dask():
    code = ("import dataclasses, sys, shallowlearn as sl\n"
            "p = dataclasses.replace(sl.get_protocol('fig3a', 'reduced'), max_iter=20)\n"
            "sl.run_protocol(p, progress=False)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_without_dask_the_cluster_path_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "shallowlearn.distributed", raising=False)
    monkeypatch.delattr(shallowlearn, "distributed", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'shallowlearn\[distributed\]'"):
        run_protocol(small("fig3a"), workers=2, progress=False)


# --- checkpoints and resuming, in-process ---------------------------------------------------


class Stop(Exception):
    pass


def interrupted(p, root, after: int):
    """Run p with checkpoints in root and stop it once ``after`` tasks have finished."""
    finished = []

    def stop(task):
        finished.append(task.index)
        if len(finished) == after:
            raise Stop

    with pytest.raises(Stop):
        run_protocol(p, checkpoints=root, on_task=stop, progress=False)
    return finished


def test_resume_recomputes_only_the_unfinished_tasks(tmp_path):
    p = small("fig3b")
    whole = run_protocol(p, progress=False)
    first = interrupted(p, tmp_path, after=3)
    folder = tmp_path / f"{p.name}-{p.size}-seed0"
    kept = {name: os.stat(folder / name).st_mtime_ns for name in os.listdir(folder)
            if name.startswith("task-")}
    assert len(kept) == 3
    again = []
    resumed = run_protocol(p, checkpoints=tmp_path, resume=True, progress=False,
                           on_task=lambda task: again.append(task.index))
    assert sorted(first + again) == list(range(len(protocol_tasks(p))))  # each task once
    assert not set(first) & set(again)
    assert all(os.stat(folder / name).st_mtime_ns == t for name, t in kept.items())
    assert same_results(resumed, whole)


def test_a_run_without_resume_starts_over(tmp_path):
    p = small("fig3b")
    interrupted(p, tmp_path, after=2)
    computed = []
    run_protocol(p, checkpoints=tmp_path, progress=False, on_task=lambda t: computed.append(t))
    assert len(computed) == len(protocol_tasks(p))


def test_resume_after_the_process_is_killed(tmp_path):
    """A killed process (SIGKILL after two tasks, and a save cut short) resumes exactly."""
    p = small("fig3b")
    script = f"""
        import dataclasses, os, signal
        from shallowlearn import get_protocol, run_protocol

        def die(task, seen=[]):
            seen.append(task)
            if len(seen) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        if __name__ == "__main__":
            p = dataclasses.replace(get_protocol("fig3b", "reduced"), max_iter={p.max_iter})
            run_protocol(p, checkpoints={str(tmp_path)!r}, on_task=die, progress=False)
    """
    out = run_script(tmp_path / "die.py", script, timeout=120)
    assert out.returncode == -signal.SIGKILL, out.stderr
    folder = tmp_path / "fig3b-reduced-seed0"
    assert sorted(n for n in os.listdir(folder) if n.startswith("task-")) == [
        "task-0000.npz", "task-0001.npz"]
    # what a save killed between its write and its rename leaves behind
    stray = folder / f".task-0002.npz.{'0' * 32}.tmp"
    stray.write_bytes(b"half a file")
    again = []
    resumed = run_protocol(p, checkpoints=tmp_path, resume=True, progress=False,
                           on_task=lambda task: again.append(task.index))
    assert again == list(range(2, len(protocol_tasks(p))))
    assert not stray.exists()
    assert same_results(resumed, run_protocol(p, progress=False))


@pytest.fixture()
def checkpointed(tmp_path):
    """A fig3b run interrupted after two tasks: (protocol, root, its folder)."""
    p = small("fig3b")
    interrupted(p, tmp_path, after=2)
    return p, tmp_path, tmp_path / "fig3b-reduced-seed0"


def test_checkpoints_of_another_protocol_or_version_are_refused(checkpointed, monkeypatch):
    p, root, folder = checkpointed
    with pytest.raises(CheckpointError, match=r"another run: protocol max_iter 1500 \(this "
                                              r"run: 1000\)"):
        run_protocol(dataclasses.replace(p, max_iter=1000), checkpoints=root, resume=True)
    monkeypatch.setattr(shallowlearn, "__version__", "0.0.1")
    with pytest.raises(CheckpointError, match=r"version \"0.1.0\" \(this run: \"0.0.1\"\)"):
        run_protocol(p, checkpoints=root, resume=True)


@pytest.mark.parametrize("damage, match", [
    ("truncate", "task-0001.npz is corrupt"),
    ("swap", "task-0001.npz holds the results of another task or run"),
    ("manifest", "manifest.json is unreadable"),
    ("no manifest", "it has task files but no manifest.json"),
])
def test_corrupt_or_foreign_checkpoints_are_refused(checkpointed, damage, match):
    p, root, folder = checkpointed
    if damage == "truncate":
        data = (folder / "task-0001.npz").read_bytes()
        (folder / "task-0001.npz").write_bytes(data[: len(data) // 2])
    elif damage == "swap":
        (folder / "task-0001.npz").write_bytes((folder / "task-0000.npz").read_bytes())
    elif damage == "manifest":
        (folder / "manifest.json").write_text("{")
    else:
        (folder / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=match) as info:
        run_protocol(p, checkpoints=root, resume=True, progress=False)
    assert "delete that folder, or run without resume" in str(info.value)


# --- the command line -------------------------------------------------------------------------


@pytest.fixture()
def tiny_local(monkeypatch):
    """The CLI's reduced local protocol shrunk to 4 tasks of 2 runs each, 50 steps."""
    from shallowlearn import protocols, tasks

    monkeypatch.setitem(protocols._REDUCED, "local",
                        dict(teachers=1, starts=2, max_iter=50, record_every=10))
    monkeypatch.setattr(tasks, "TASK_RUNS", 2)
    return get_protocol("local", "reduced")


def test_cli_resumes_and_removes_the_checkpoints_once_saved(tmp_path, tiny_local):
    root = tmp_path / ".checkpoints"
    assert len(protocol_tasks(tiny_local)) == 4
    interrupted(tiny_local, root, after=1)
    assert main(["run", "local", "--out", str(tmp_path), "--resume", "--no-progress"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["local-reduced.json", "local-reduced.png"]
    saved = load_results(tmp_path / "local-reduced.json", protocol=tiny_local)
    assert same_results(saved, run_protocol(tiny_local, progress=False))


def test_cli_refuses_foreign_checkpoints_in_one_line(tmp_path, tiny_local, capsys):
    interrupted(dataclasses.replace(tiny_local, step=0.01), tmp_path / ".checkpoints", after=1)
    assert main(["run", "local", "--out", str(tmp_path), "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m shallowlearn run: error: cannot resume from ")
    assert "protocol step 0.01 (this run: 0.02)" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv, match", [
    (["--workers", "0"], "--workers: expected a positive integer; got 0"),
    (["--workers", "two"], "--workers: expected a positive integer; got 'two'"),
    (["--workers", "100000"], "--workers: expected at most"),
    (["--scheduler", "localhost"], "--scheduler: expected a scheduler address"),
    (["--workers", "1", "--scheduler", "tcp://h:1"], "not allowed with argument"),
])
def test_cli_bad_cluster_arguments_exit_2(argv, match, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "fig3a", "--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_cli_unreachable_scheduler_exits_2_without_traceback(tmp_path):
    code = ("import shallowlearn.distributed as d; d.CONNECT_TIMEOUT = 1.0\n"
            "from shallowlearn.cli import main\n"
            f"raise SystemExit(main(['run', 'fig3a', '--out', {str(tmp_path)!r}, "
            "'--scheduler', 'tcp://127.0.0.1:9']))")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == ("python -m shallowlearn run: error: cannot reach the Dask "
                                  "scheduler at 'tcp://127.0.0.1:9' (Timed out trying to "
                                  "connect to tcp://127.0.0.1:9 after 1 s)")
    assert os.listdir(tmp_path) == []


# --- on a cluster -----------------------------------------------------------------------------

CLUSTER_SCRIPT = """
    import dataclasses, json, os, signal, sys
    from shallowlearn import get_protocol, run_protocol, save_results
    from shallowlearn.distributed import local_client

    class Stop(Exception):
        pass

    if __name__ == "__main__":
        out = sys.argv[1]
        fig3b = dataclasses.replace(get_protocol("fig3b", "reduced"), max_iter={fig3b})
        fig4b = dataclasses.replace(get_protocol("fig4b", "reduced"), k=(3, 8), max_iter={fig4b})
        info = {{}}
        save_results(run_protocol(fig3b, workers=2, progress=False), f"{{out}}/workers.json")
        with local_client(2) as client:
            info["workers"] = len(client.nthreads())
            save_results(run_protocol(fig4b, client=client, progress=False),
                         f"{{out}}/curves.json")

            # a worker killed (SIGKILL) mid-run, once the first task has finished
            pids = client.run(os.getpid)
            def kill(task):
                if "killed" not in info:
                    busy = {{w: len(t) for w, t in client.processing().items() if t}}
                    victim = next(iter(busy))
                    info["killed"] = dict(pid=pids[victim], tasks=busy[victim])
                    os.kill(pids[victim], signal.SIGKILL)
            save_results(run_protocol(fig3b, client=client, on_task=kill, progress=False),
                         f"{{out}}/killed.json")
            info["pids_after"] = list(client.run(os.getpid).values())

            # interrupted after two tasks, then resumed, on the cluster
            first, again = [], []
            def stop(task):
                first.append(task.index)
                if len(first) == 2:
                    raise Stop
            try:
                run_protocol(fig3b, client=client, checkpoints=out, on_task=stop, progress=False)
            except Stop:
                pass
            save_results(run_protocol(fig3b, client=client, checkpoints=out, resume=True,
                                      on_task=lambda t: again.append(t.index), progress=False),
                         f"{{out}}/resumed.json")
            info.update(first=first, again=again)

        # the benchmark's rows (on a protocol cut short: the rows, not the timing)
        from shallowlearn import bench
        bench._QUICK_MAX_ITER = 300
        info["bench"] = bench.dask_rows(repeat=1)
        with open(f"{{out}}/info.json", "w") as handle:
            json.dump(info, handle)
"""


@pytest.fixture(scope="module")
def cluster_runs(tmp_path_factory):
    """Run the cluster scenarios once; return (folder of their results, info)."""
    out = tmp_path_factory.mktemp("cluster")
    script = CLUSTER_SCRIPT.format(fig3b=small("fig3b").max_iter, fig4b=small("fig4b").max_iter)
    done = run_script(out / "scenarios.py", script, out, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "info.json").read_text())


def test_two_worker_processes_give_the_in_process_results(cluster_runs):
    out, info = cluster_runs
    assert info["workers"] == 2
    assert len(protocol_tasks(small("fig3b"))) == 7
    assert same_results(load_results(out / "workers.json"), run_protocol(small("fig3b"),
                                                                         progress=False))
    curves = load_results(out / "curves.json")
    assert curves.curves["loss"].shape[0] == 2 and same_results(
        curves, run_protocol(small("fig4b"), progress=False))


def test_a_worker_killed_mid_run_changes_nothing(cluster_runs):
    out, info = cluster_runs
    assert info["killed"]["tasks"] >= 1  # it held unfinished tasks when it was killed
    assert info["killed"]["pid"] not in info["pids_after"]
    assert same_results(load_results(out / "killed.json"), run_protocol(small("fig3b"),
                                                                        progress=False))


def test_resume_on_the_cluster_recomputes_only_the_rest(cluster_runs):
    out, info = cluster_runs
    assert len(info["first"]) == 2
    assert sorted(info["first"] + info["again"]) == list(range(7))
    assert same_results(load_results(out / "resumed.json"), run_protocol(small("fig3b"),
                                                                         progress=False))


def test_the_dask_benchmark_compares_2_workers_with_1_on_identical_results(cluster_runs):
    _, info = cluster_runs
    rows = {label.strip(): (value, target, passed) for label, value, target, passed
            in info["bench"]}
    speedup = rows["speed-up of 2 workers over 1"]
    assert speedup[1] == ">= 1.7x" and isinstance(speedup[2], bool)
    assert float(speedup[0].rstrip("x")) > 0
    assert rows["results of 1 and 2 workers and in-process"] == ("identical", "identical", True)
