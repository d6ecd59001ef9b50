"""Library errors name parameters; the command line names flags.

The library words a fix in terms of its own API (``missing='mean'``,
``ignore=['city']``, ``stream=True``); :func:`as_flags` rewrites those to the flags of
``thalweg train`` (``--missing mean``, ``--ignore city``, ``--stream``) when a message
reaches the terminal. A new command whose options mirror library parameters adds them to
:data:`PARAMETER_FLAGS`.

>>> as_flags("choose missing='drop' or missing='mean'")
'choose --missing drop or --missing mean'
>>> as_flags("leave it out (ignore=['city']) or use split=(0.8, 0.2) with stream=True")
'leave it out (--ignore city) or use --split 0.8,0.2 with --stream'
>>> as_flags("train every epoch with early_stopping=False")
'train every epoch with --no-early-stopping'
"""

from __future__ import annotations

import re

# parameter -> flag, for every library parameter a command-line option mirrors
PARAMETER_FLAGS = {
    name: "--" + name.replace("_", "-")
    for name in (
        "target",
        "model",
        "task",
        "hidden",
        "activation",
        "optimizer",
        "learning_rate",
        "batch_size",
        "epochs",
        "l1",
        "l2",
        "early_stopping",
        "crosses",
        "missing",
        "unknown",
        "categorical",
        "ignore",
        "keep",
        "min_frequency",
        "split",
        "seed",
        "stream",
        "dask",
        "solver",
        "shuffle_buffer",
        "resume",
        "balance",
        "threshold",
        # thalweg train DIR/ (images)
        "size",
        "layers",
        "augment",
        "workers",
        "cache",
        # thalweg train-detector
        "channels",
        "feature_maps",
    )
} | {"max_epochs": "--epochs", "random_state": "--seed", "n_iter_no_change": "--patience"}

# Boolean options that also have a --no- form.
NEGATABLE = {"early_stopping"}

_VALUE = r"""True|False|'[^']*'|"[^"]*"|\[[^\]]*\]|\([^)]*\)|[-+\w.]+"""
_PARAMETER = re.compile(rf"\b({'|'.join(PARAMETER_FLAGS)})=({_VALUE})?")


def as_flags(message: str) -> str:
    """``message`` with every ``parameter=value`` of :data:`PARAMETER_FLAGS` written as
    its flag (``True`` is the bare flag; lists and tuples become comma lists)."""
    return _PARAMETER.sub(_flag, message)


def _flag(match: re.Match) -> str:
    flag, value = PARAMETER_FLAGS[match.group(1)], match.group(2)
    if value is None or value == "True":
        return flag
    if value == "False":
        return f"--no-{flag[2:]}" if match.group(1) in NEGATABLE else f"no {flag}"
    if value[0] in "[(":
        items = [item.strip().strip("'\"") for item in value[1:-1].split(",")]
        value = ",".join(item for item in items if item)
    return f"{flag} {value.strip(chr(39) + chr(34))}"
