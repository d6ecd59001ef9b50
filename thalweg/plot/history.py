"""Training: the generalization curve of a :class:`~thalweg.train.History`."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from thalweg.errors import DataError
from thalweg.plot._figure import BLUE, GREY, INK, ORANGE, _new_figure, _styled, _text
from thalweg.train.history import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@_styled
def plot_history(
    history: History | Mapping,
    *,
    metric: str = "loss",
    log_scale: bool | None = None,
    show_stop_reason: bool = True,
) -> Figure:
    """Training and validation ``metric`` per epoch on one plot: the generalization curve.

    The epoch that early stopping kept (``history.best_epoch``) is marked, and why
    training stopped (``history.stop_reason``) is written under the plot.

    Parameters
    ----------
    history : History or dict
        A model's ``history_`` (or ``History.to_dict()``), with columns ``epoch``,
        ``metric`` and, when there was validation data, ``"val_" + metric``.
    metric : str, default "loss"
        Which column to draw, e.g. ``"accuracy"``.
    log_scale : bool, optional
        Logarithmic y axis. Default: on when the values span more than a factor of 50.
    show_stop_reason : bool, default True
        Write ``history.stop_reason`` under the plot.

    Examples
    --------
    >>> from thalweg.train import History
    >>> h = History()
    >>> for epoch, (loss, val) in enumerate([(0.9, 1.0), (0.5, 0.6), (0.3, 0.7)], 1):
    ...     h.append({"epoch": epoch, "loss": loss, "val_loss": val})
    >>> fig = plot_history(h)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['training', 'validation']
    """
    from matplotlib.ticker import MaxNLocator

    if isinstance(history, Mapping):
        history = History.from_dict(history)
    if len(history) == 0:
        raise DataError("plot_history: the history is empty; train for at least one epoch")
    epochs = np.asarray(history["epoch"], dtype=float)
    train = np.asarray(history[metric], dtype=float)
    val_key = f"val_{metric}"
    val = np.asarray(history[val_key], dtype=float) if val_key in history.keys() else None
    has_val = val is not None and bool(np.isfinite(val).any())

    figure, ax = _new_figure()
    marker = "o" if len(epochs) < 30 else None  # a few epochs read better as dots
    ax.plot(epochs, train, color=BLUE, marker=marker, markersize=3.5, label="training")
    if has_val:
        ax.plot(epochs, val, color=ORANGE, marker=marker, markersize=3.5, label="validation")

    best = history.best_epoch
    if best is not None and best in epochs:
        at = int(np.flatnonzero(epochs == best)[0])
        ax.axvline(best, color=GREY, linestyle="--", linewidth=1.0, label=f"best epoch ({best})")
        curve = val if has_val else train
        ax.plot([best], [curve[at]], marker="*", markersize=13, color=INK, linestyle="none")

    values = np.concatenate([train, val[np.isfinite(val)] if has_val else []])
    values = values[np.isfinite(values)]
    if log_scale is None:
        log_scale = bool(values.size and values.min() > 0 and values.max() / values.min() > 50.0)
    if log_scale:
        ax.set_yscale("log")

    name = metric.replace("_", " ")
    ax.set_title(
        f"Generalization curve: training vs validation {name}" if has_val else f"Training {name}"
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{name} (log scale)" if log_scale else name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best")
    if show_stop_reason and history.stop_reason:
        figure.supxlabel(
            textwrap.fill(f"Stopped: {_text(history.stop_reason)}", 95),
            fontsize=8,
            color=GREY,
            x=0.02,
            ha="left",
        )
    return figure
