"""Running a protocol's tasks on a Dask cluster (needs ``pip install 'shallowlearn[distributed]'``).

:func:`shallowlearn.runner.run_protocol` uses this module when it is given a
``distributed.Client`` or a number of local workers; importing :mod:`shallowlearn` does not
import it, nor Dask.

* :func:`local_client` starts a cluster of worker processes on this machine, one thread and
  one BLAS thread (``OPENBLAS_NUM_THREADS=1``) each.
* :func:`connect` reaches an existing cluster through its scheduler's address.
* :func:`run_tasks` submits the tasks and yields their results as they finish. Dask reruns
  the task of a worker that is lost (up to its ``allowed-failures`` setting, 3 by default),
  and resubmits a task that raised up to :data:`RETRIES` times; a task's result does not
  depend on where it ran, so neither changes the results.

Nothing waits without a limit: connecting gives up after :data:`CONNECT_TIMEOUT` seconds, and
a run stops with a :class:`ClusterError` once the cluster has had no worker for
:data:`WORKER_TIMEOUT` seconds. Every worker must run the caller's versions of
``shallowlearn`` and numpy (checked before any task is submitted), and should use one BLAS
thread, as Dask's nanny sets by default, for the results to equal those of an in-process run
bit for bit.
"""

from __future__ import annotations

import contextlib
import gc
import time
import uuid

try:
    import distributed
except ImportError as err:  # the optional extra is not installed
    raise ImportError(
        "running protocols on Dask needs dask.distributed: pip install "
        "'shallowlearn[distributed]'") from err

from .protocols import Protocol
from .tasks import Task

__all__ = ["CONNECT_TIMEOUT", "ClusterError", "RETRIES", "WORKER_TIMEOUT", "check_client",
           "check_workers", "connect", "local_client", "run_tasks"]

#: Seconds to wait for the scheduler to answer.
CONNECT_TIMEOUT = 10.0
#: Seconds a run waits for a worker, at the start and whenever the cluster has none left.
WORKER_TIMEOUT = 60.0
#: Resubmissions of a task that raised an exception.
RETRIES = 2
# how often the wait for finished tasks looks at the cluster
_POLL = 1.0
# what the workers' processes get in their environment
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class ClusterError(RuntimeError):
    """A Dask cluster that cannot be reached or cannot run the tasks."""


@contextlib.contextmanager
def local_client(workers: int):
    """A client of a new cluster of ``workers`` processes on this machine, closed on exit.

    Each worker has one thread and one BLAS thread. The processes are spawned, so a script
    that calls this must do so under ``if __name__ == "__main__":``.

    Examples
    --------
    >>> from shallowlearn.distributed import local_client
    >>> with local_client(2) as client:  # doctest: +SKIP
    ...     len(client.nthreads())
    2
    """
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        # no dashboard, and the scheduler's HTTP routes on a free local port (not 8787, which
        # another cluster may hold)
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, env=dict(_WORKER_ENV))
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close(timeout=30)


def connect(address: str, timeout: float | None = None):
    """A client of the running Dask cluster whose scheduler is at ``address``.

    Parameters
    ----------
    address : str
        The scheduler's address, for example ``"tcp://10.0.0.5:8786"``.
    timeout : float, optional
        Seconds to wait for the scheduler (default :data:`CONNECT_TIMEOUT`).

    Raises
    ------
    ClusterError
        When the address is malformed or the scheduler does not answer in time.

    Examples
    --------
    >>> from shallowlearn.distributed import ClusterError, connect
    >>> try:
    ...     connect("tcp://127.0.0.1:1", timeout=0.5)
    ... except ClusterError as err:
    ...     print(str(err).split(" (")[0])
    cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'
    """
    timeout = CONNECT_TIMEOUT if timeout is None else timeout
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, ValueError, TypeError) as err:
        message = f"cannot reach the Dask scheduler at {address!r} ({err})"
    # the half-made client closes now, while its event loop runs, rather than complaining
    # when the interpreter exits
    gc.collect()
    raise ClusterError(message)


def check_client(client):
    """Return ``client`` after checking that it is a ``distributed.Client``.

    Examples
    --------
    >>> from shallowlearn.distributed import check_client
    >>> check_client("tcp://10.0.0.5:8786")
    Traceback (most recent call last):
    ...
    TypeError: client must be a distributed.Client; got str (connect to an address with shallowlearn.distributed.connect)
    """
    if not isinstance(client, distributed.Client):
        raise TypeError(f"client must be a distributed.Client; got {type(client).__name__} "
                        f"(connect to an address with shallowlearn.distributed.connect)")
    return client


def _environment() -> tuple[str, str]:
    """The versions of shallowlearn and numpy where this runs (called on the workers)."""
    import numpy

    from . import __version__

    return __version__, numpy.__version__


def check_workers(client, timeout: float | None = None) -> int:
    """Wait for a worker, check that every worker runs this process's versions of shallowlearn
    and numpy, and return the number of workers.

    Raises
    ------
    ClusterError
        When no worker joins within ``timeout`` seconds (default :data:`WORKER_TIMEOUT`), or
        a worker cannot import shallowlearn or runs other versions.

    Examples
    --------
    >>> from shallowlearn.distributed import check_workers, local_client
    >>> with local_client(2) as client:  # doctest: +SKIP
    ...     check_workers(client)
    2
    """
    timeout = WORKER_TIMEOUT if timeout is None else timeout
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise ClusterError(f"no worker joined the Dask cluster within {timeout:g} s") from None
    here = _environment()
    try:
        found = client.run(_environment)
    except Exception as err:  # an unpickling error on a worker without shallowlearn
        raise ClusterError(
            f"the Dask workers cannot run shallowlearn ({type(err).__name__}: {err}); install "
            f"shallowlearn {here[0]} on each of them") from None
    other = {worker: env for worker, env in found.items() if tuple(env) != here}
    if other:
        worker, (version, numpy_version) = next(iter(other.items()))
        raise ClusterError(
            f"{len(other)} Dask worker(s) run other versions (e.g. {worker}: shallowlearn "
            f"{version}, numpy {numpy_version}; here: shallowlearn {here[0]}, numpy "
            f"{here[1]})")
    return len(found)


def run_tasks(client, function, protocol: Protocol, tasks: list[Task], seed: int):
    """Submit ``function(protocol, task, seed)`` for each task; yield (task, result) as each
    finishes, in the order they finish.

    Tasks still pending when the caller stops iterating (or an error is raised) are
    cancelled.

    Raises
    ------
    ClusterError
        When the cluster cannot run the tasks (see :func:`check_workers`) or has had no worker
        for :data:`WORKER_TIMEOUT` seconds.

    Examples
    --------
    >>> from shallowlearn import get_protocol
    >>> from shallowlearn.distributed import local_client, run_tasks
    >>> from shallowlearn.tasks import protocol_tasks, run_task
    >>> p = get_protocol("fig3b", "reduced")
    >>> with local_client(2) as client:  # doctest: +SKIP
    ...     finished = [task.index for task, _ in run_tasks(client, run_task, p,
    ...                                                      protocol_tasks(p), seed=0)]
    >>> sorted(finished)  # doctest: +SKIP
    [0, 1, 2, 3, 4, 5, 6]
    """
    check_client(client)
    check_workers(client)
    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(function, protocol, task, seed, retries=RETRIES, pure=False,
                      key=f"shallowlearn-{protocol.name}-seed{seed}-task{task.index}-{run}"): task
        for task in tasks
    }
    pending = set(futures)
    idle_since = None
    try:
        with client.as_current():
            while pending:
                try:
                    done, pending = distributed.wait(pending, timeout=_POLL,
                                                     return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = ()
                for future in done:
                    yield futures[future], future.result()
                if done or client.nthreads():
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > WORKER_TIMEOUT:
                    raise ClusterError(
                        f"the Dask cluster has had no worker for {WORKER_TIMEOUT:g} s; "
                        f"{len(pending)} task(s) unfinished")
    finally:
        if pending:
            client.cancel(list(pending))

