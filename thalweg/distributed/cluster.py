"""Getting a Dask client: from a spec string such as ``"local:2"`` or ``"tcp://host:8786"``.

Dask is an optional dependency (``pip install "thalweg[dask]"``). Nothing in this package
imports it at module level, so ``import thalweg.distributed`` works without it and only
the functions that need a cluster ask for it, with an error that says how to install it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from thalweg.errors import ThalwegError

INSTALL_HINT = 'install it with: pip install "thalweg[dask]"'

# How long to wait for a remote scheduler to answer, and for its first worker to join.
CONNECT_TIMEOUT_SECONDS = 10
WORKER_TIMEOUT_SECONDS = 60


class ClusterError(ThalwegError, ValueError):
    """A cluster spec that cannot be parsed, or a scheduler that cannot be reached."""


class DaskNotInstalled(ThalwegError, ImportError):
    """``thalweg.distributed`` was used without its optional dependency, Dask."""


def require_dask():
    """Import and return ``dask.distributed``; without Dask, raise :class:`DaskNotInstalled`
    (a ThalwegError: the CLI prints its one line) saying how to install it."""
    try:
        import dask.distributed
    except ImportError as error:
        raise DaskNotInstalled(
            f"thalweg.distributed needs Dask ({error}); {INSTALL_HINT}"
        ) from None
    return dask.distributed


@dataclass(frozen=True)
class ClusterSpec:
    """What a spec string asks for: a new local cluster, or a scheduler's address.

    ``kind`` is ``"local"`` (then ``n_workers`` is set) or ``"address"`` (then
    ``address`` is set).
    """

    kind: str
    n_workers: int | None = None
    address: str | None = None


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def parse_spec(spec: str) -> ClusterSpec:
    """Read a cluster spec string; no cluster is started.

    ``"local"``       a LocalCluster with one worker per CPU core;
    ``"local:N"``     a LocalCluster with N worker processes (one thread each);
    ``"tcp://h:p"``   the running scheduler at that address (also ``tls://``, ...);
    ``"h:p"``         the same as ``"tcp://h:p"``.

    >>> parse_spec("local:2")
    ClusterSpec(kind='local', n_workers=2, address=None)
    >>> parse_spec("scheduler:8786").address
    'tcp://scheduler:8786'
    """
    text = spec.strip()
    if text == "local":
        return ClusterSpec("local", n_workers=os.cpu_count() or 1)
    match = re.fullmatch(r"local:(\d+)", text)
    if match:
        n_workers = int(match.group(1))
        if n_workers < 1:
            raise ClusterError(f"--dask {spec}: use local:N with N ≥ 1 worker")
        return ClusterSpec("local", n_workers=n_workers)
    match = re.fullmatch(r"(?:(\w+)://)?([\w.\-\[\]:]+):(\d+)", text)
    if match and (match.group(1) or "tcp") in _SCHEMES:
        scheme = match.group(1) or "tcp"
        return ClusterSpec("address", address=f"{scheme}://{match.group(2)}:{match.group(3)}")
    raise ClusterError(
        f"--dask {spec!r} is not a cluster spec; use 'local', 'local:N' (N worker processes) "
        "or a scheduler address such as 'tcp://host:8786'"
    )


def connect(spec: str, *, silence_logs: bool = True):
    """A ``dask.distributed.Client`` for a spec string (see :func:`parse_spec`).

    For ``"local:N"`` the client starts, and on ``close()`` stops, its own LocalCluster
    of N worker *processes* with one thread each: gradient code holds the GIL, so
    processes (not threads) are what run partitions in parallel. Use it as a context
    manager so the cluster is shut down::

        with connect("local:2") as client:
            thalweg.distributed.fit(model, X, y, client=client)

    Parameters
    ----------
    spec : str
        ``"local"``, ``"local:N"``, ``"tcp://host:port"`` or ``"host:port"``.
    silence_logs : bool
        Keep a local cluster's workers quiet: a task's error (bad data, say) is raised
        in the driver anyway, so the workers' own log of it would only repeat it.

    Raises
    ------
    ClusterError
        The spec is malformed or the scheduler cannot be reached (one-line message).
    DaskNotInstalled
        Dask is not installed (an ImportError and a ThalwegError).
    """
    parsed = parse_spec(spec)
    distributed = require_dask()
    if parsed.kind == "local":
        import dask

        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, to hand freed memory back
        # to the OS sooner. Setting it also turns off glibc's adaptive mmap threshold, so
        # every temporary array over 128 KiB is a fresh mmap and page faults: measured,
        # a 50,000-row gradient took 1.8 ms instead of 0.3 ms. Training allocates the
        # same temporaries every step, so the workers keep glibc's defaults.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            return distributed.Client(
                n_workers=parsed.n_workers,
                threads_per_worker=1,
                processes=True,
                # None means the default :8787 (on every interface): a second cluster on
                # the machine then warns "Port 8787 is already in use". A random port on
                # the loopback is never taken and is not reachable from outside.
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.CRITICAL if silence_logs else logging.INFO,
            )
    try:
        return distributed.Client(parsed.address, timeout=f"{CONNECT_TIMEOUT_SECONDS}s")
    except (OSError, TimeoutError) as error:
        raise ClusterError(
            f"could not reach the Dask scheduler at {parsed.address} ({error}); start one "
            "with `dask scheduler` and workers with `dask worker ADDRESS`, or use --dask local:N"
        ) from None


def worker_addresses(client) -> list[str]:
    """The addresses of the client's workers, sorted (waits for the first one to join)."""
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT_SECONDS)
    except TimeoutError:
        raise ClusterError(
            f"the Dask cluster has no workers after {WORKER_TIMEOUT_SECONDS} s; start some "
            "with `dask worker SCHEDULER_ADDRESS`"
        ) from None
    return sorted(client.nthreads())
