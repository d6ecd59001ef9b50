"""Memory limits: refuse, in one line, a request that would exhaust this machine's memory.

A handful of bytes can ask for terabytes: ``--hidden 100000,100000`` (10¹⁰ weights),
``--shuffle-buffer 1000000000000``, an NPZ member that declares a shape of (10¹²,), a
2.9 MB gzip file that expands to 100 million rows. Each of those is checked here
*before* anything is allocated, against the memory this machine has available, and
refused with the numbers and the way around it instead of freezing the machine or
dying with a ``MemoryError`` traceback.

Available memory is the smallest of: ``MemAvailable`` in ``/proc/meminfo``, the cgroup
limit (containers), and ``ulimit -v``; elsewhere whatever the OS reports. Set
``THALWEG_MEMORY_LIMIT`` (bytes, or with a unit: ``512M``, ``4G``) to impose a lower
limit, e.g. on a shared machine (the tests use it).

>>> check_memory(10**3, "a tiny array", "never mind")  # fits: nothing happens
>>> format_bytes(37 * 2**30)
'37.0 GiB'
"""

from __future__ import annotations

import itertools
import os
import re

from thalweg.errors import ResourceLimitError

__all__ = [
    "MEMORY_FRACTION",
    "available_memory",
    "check_memory",
    "check_network_size",
    "check_rows",
    "format_bytes",
    "parse_bytes",
]

# A request may use at most this share of the available memory: the rest is for the
# copies every real computation makes (gradients, optimizer state, temporaries).
MEMORY_FRACTION = 0.5
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; plain numbers are bytes.

    >>> parse_bytes("4G"), parse_bytes("1000")
    (4294967296, 1000)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text.upper())
    if match is None:
        raise ValueError(f"{text!r} is not a size; write it like 4G or 512M")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def format_bytes(count: float) -> str:
    """A byte count for people: ``'1.5 GiB'``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} bytes"


def available_memory() -> int:
    """Bytes this process can still allocate (see the module docstring for how)."""
    candidates = []
    override = os.environ.get("THALWEG_MEMORY_LIMIT")
    if override:
        candidates.append(parse_bytes(override))
    candidates.extend(_meminfo_available() + _cgroup_available() + _rlimit_available())
    if not candidates:
        candidates.append(_sysconf_available())
    return max(min(candidates), 0)


def _meminfo_available() -> list[int]:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return [int(line.split()[1]) * 1024]
    except (OSError, ValueError, IndexError):
        pass
    return []


def _cgroup_available() -> list[int]:
    pairs = (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    )
    for limit_file, usage_file in pairs:
        try:
            with open(limit_file) as handle:
                limit = handle.read().strip()
            with open(usage_file) as handle:
                usage = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            return [int(limit) - usage]
    return []


def _rlimit_available() -> list[int]:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return []
    return [] if soft == resource.RLIM_INFINITY else [soft]


def _sysconf_available() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**34  # cannot tell: assume 16 GiB


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Raise ResourceLimitError if ``nbytes`` exceed :data:`MEMORY_FRACTION` of the
    available memory. ``what`` names the request, ``fix`` says how to ask for less.

    >>> check_memory(2**80, "a test", "ask for less")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    thalweg.errors.ResourceLimitError: a test needs 1099511627776.0 TiB, but ... ask for less
    """
    available = available_memory()
    limit = MEMORY_FRACTION * available
    if nbytes > limit:
        raise ResourceLimitError(
            f"{what} needs {format_bytes(nbytes)}, but this machine has "
            f"{format_bytes(available)} of memory available (limit {format_bytes(limit)}); "
            f"{fix}"
        )


def check_rows(rows: int, row_bytes: int, what: str, fix: str) -> None:
    """Check that ``rows`` rows of ``row_bytes`` bytes each fit in memory.

    For options that size a block of rows: a batch, a shuffle buffer, a generated
    dataset.

    >>> check_rows(256, 80, "--batch-size 256", "use a smaller batch")
    """
    check_memory(float(rows) * float(row_bytes), what, fix)


def check_network_size(
    widths, *, batch_rows: int = 256, itemsize: int = 4, what: str = "the network"
) -> None:
    """Check that a network of dense layers with these widths can be trained here.

    ``widths`` are the layer sizes from the inputs to the outputs, e.g. ``[4, 100000,
    100000, 1]``. Training holds each weight four times (the weight, its gradient and
    two optimizer moments) and, per batch row, each layer's activation twice.

    >>> check_network_size([4, 16, 1])
    """
    widths = [int(w) for w in widths]
    weights = sum((a + 1) * b for a, b in itertools.pairwise(widths))
    activations = batch_rows * sum(widths)
    nbytes = (4 * weights + 2 * activations) * itemsize
    shown = ",".join(str(w) for w in widths[1:-1])
    check_memory(
        nbytes,
        f"{what} ({weights:,} weights{f', hidden {shown}' if shown else ''})",
        "use fewer or narrower hidden layers",
    )
