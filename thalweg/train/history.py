"""``History``: what happened during training, epoch by epoch.

One row per epoch: ``epoch``, ``loss`` (mean training loss over the epoch's steps),
``val_loss`` when there is validation data, any metrics (``accuracy``,
``val_accuracy``, ...), ``lr`` (the learning rate at the end of the epoch), ``seconds``
and ``examples_per_second``. Reports and plots are drawn from it.

>>> h = History()
>>> h.append({"epoch": 1, "loss": 0.9})
>>> h.append({"epoch": 2, "loss": 0.5})
>>> h["loss"]
[0.9, 0.5]
"""

from __future__ import annotations

import math

from thalweg.schema import Integer, ListOf, Number, Optional, Record, Text


def history_schema(columns=("epoch",)) -> Record:
    """What :meth:`History.to_dict` writes, each row holding at least ``columns``
    (checked when a model file or a checkpoint is read)."""
    row = Record(
        required={name: Integer(minimum=1) if name == "epoch" else Number() for name in columns},
        extra=Optional(Number()),
        name="an epoch's row",
    )
    return Record(
        optional={
            "rows": ListOf(row),
            "step_losses": Optional(ListOf(Number())),
            "stop_reason": Optional(Text(max_length=1000)),
            "best_epoch": Optional(Integer(minimum=0)),
        },
        name="a training history",
    )


#: A model file's history: rows with an epoch number, and numbers.
HISTORY_DATA = history_schema()


class History:
    """Per-epoch training records, optional per-step losses, and why training stopped."""

    def __init__(self, record_steps: bool = False):
        self.rows: list[dict] = []
        self.step_losses: list[float] | None = [] if record_steps else None
        self.stop_reason: str | None = None
        self.best_epoch: int | None = None  # set by EarlyStopping
        self.input_balance = None  # set by fit when batches come from a stream or pipeline

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list:
        """All epochs' values of one column, e.g. ``history["val_loss"]``."""
        if self.rows and key not in self.keys():
            raise KeyError(f"history has no column {key!r}; it has {self.keys()}")
        return [row.get(key, math.nan) for row in self.rows]

    def keys(self) -> list[str]:
        names: list[str] = []
        for row in self.rows:
            names.extend(k for k in row if k not in names)
        return names

    @property
    def epochs_run(self) -> int:
        return len(self.rows)

    def last(self, key: str, default=None):
        """The most recent value of ``key`` (``default`` if never recorded)."""
        for row in reversed(self.rows):
            if key in row:
                return row[key]
        return default

    def to_dict(self) -> dict:
        """A JSON-able dict (used by checkpoints and reports)."""
        return {
            "rows": self.rows,
            "step_losses": self.step_losses,
            "stop_reason": self.stop_reason,
            "best_epoch": self.best_epoch,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        history = cls()
        history.rows = [dict(row) for row in data.get("rows", [])]
        history.step_losses = data.get("step_losses")
        history.stop_reason = data.get("stop_reason")
        history.best_epoch = data.get("best_epoch")
        return history

    def __repr__(self) -> str:
        if not self.rows:
            return "History(empty)"
        columns = [k for k in self.keys() if k != "epoch"]
        last = self.rows[-1]
        shown = ", ".join(
            f"{k}={last[k]:.4g}" if isinstance(last.get(k), float) else f"{k}={last.get(k)}"
            for k in columns
            if k in last
        )
        reason = f", stopped: {self.stop_reason}" if self.stop_reason else ""
        return f"History({len(self.rows)} epochs; last: {shown}{reason})"
