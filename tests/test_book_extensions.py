"""The book's own Sphinx extensions in ``book/_ext/`` (those without a test file of their own)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "book" / "_ext"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"book_ext_{name}", EXT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- kernel_encryption: no "running over TCP without encryption" per chapter ---------------------

RUN_A_KERNEL = textwrap.dedent("""
    import sys
    import nbformat
    from nbclient import NotebookClient
    if sys.argv[1] == "with-extension":
        sys.path.insert(0, sys.argv[2])
        import kernel_encryption
        assert kernel_encryption.encrypt_kernel_transport()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    km = NotebookClient(nb, kernel_name="python3").create_kernel_manager()
    print("policy", km.transport_encryption)
    NotebookClient(nb, timeout=60, km=km).execute()
    print("output", nb.cells[0].outputs[0]["text"].strip())
""")


def _run_kernel(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUN_A_KERNEL, mode, str(EXT)], capture_output=True,
                          text=True, timeout=120)


def test_kernels_of_the_build_run_with_encrypted_transport():
    import zmq

    if not zmq.has("curve"):
        pytest.skip("this pyzmq has no CurveZMQ (libzmq without libsodium)")
    done = _run_kernel("with-extension")
    assert done.returncode == 0, done.stderr
    assert "policy auto" in done.stdout and "output 42" in done.stdout
    assert "without encryption" not in done.stderr, done.stderr
    plain = _run_kernel("without")  # the same kernel as jupyter_client starts it by default
    assert plain.returncode == 0, plain.stderr
    assert "policy disabled" in plain.stdout and "output 42" in plain.stdout
    if "without encryption" not in plain.stderr:
        pytest.skip("this ipykernel does not warn about unencrypted TCP: nothing to compare")
