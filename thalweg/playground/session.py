"""A session: one run, plus the controls of its live stream.

The page plays a session through its WebSocket: ``play`` trains ``epochs_per_frame``
epochs, sends a frame, and repeats; the page acknowledges each frame once it has drawn
it, and at most :data:`FRAMES_IN_FLIGHT` frames go unacknowledged, so the epochs per
second follow what the browser can show and frames never pile up.

The controls are set from the server's event loop and read by the engine's worker
thread, under ``Session.lock``. Every method that touches the run (``stream_slice``,
``frame``, ``state``) runs on the worker thread only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from thalweg.playground.config import RunConfig
from thalweg.playground.frames import encode_frame, json_safe, quantize
from thalweg.playground.run import DOMAIN, GRID_SIZE, THUMBNAIL_SIZE, PlaygroundRun

__all__ = ["FRAMES_IN_FLIGHT", "MAX_EPOCHS_PER_FRAME", "MAX_HISTORY_POINTS", "Session"]

FRAMES_IN_FLIGHT = 2
MAX_EPOCHS_PER_FRAME = 1000
MAX_HISTORY_POINTS = 2000  # the state's loss history is thinned to about this many epochs
MAX_FRAME_HISTORY = 20000  # a frame carries at most this many epochs of losses
MAX_POINTS_SHOWN = 2500  # per split, the points the page draws (uploads can have 100,000)


class Session:
    """A :class:`PlaygroundRun` with an id and the state of its stream."""

    def __init__(self, session_id: str, run: PlaygroundRun, dataset_summary: dict | None = None):
        self.id = session_id
        self.run = run
        self.dataset_summary = dataset_summary
        self.lock = threading.Lock()
        self.last_used = time.monotonic()
        # stream controls (under self.lock)
        self.sink: Callable[[bytes], None] | None = None
        self.playing = False
        self.epochs_per_frame = 1
        self.epochs_until_frame = 0
        self.frame_wanted = False
        self.credits = 0
        self.focus: int | None = None
        self.seq = 0
        self.history_sent = -1  # the last epoch whose losses a frame carried

    @property
    def config(self) -> RunConfig:
        """The run's config (its learning rate can change during the run)."""
        return self.run.config

    def touch(self) -> None:
        """Mark the session as used now (idle sessions are reclaimed)."""
        self.last_used = time.monotonic()

    # ------------------------------------------------------------------ controls
    def attach(self, sink: Callable[[bytes], None]) -> None:
        """Send frames to ``sink`` from now on; the first frame carries the whole history."""
        with self.lock:
            self.sink = sink
            self.credits = FRAMES_IN_FLIGHT
            self.frame_wanted = True
            self.history_sent = -1
            self.playing = False
            self.epochs_until_frame = 0

    def detach(self) -> None:
        with self.lock:
            self.sink = None
            self.playing = False
            self.epochs_until_frame = 0
            self.frame_wanted = False

    def play(self, epochs_per_frame: int) -> None:
        with self.lock:
            self.playing = True
            self.epochs_per_frame = epochs_per_frame
            self.epochs_until_frame = min(self.epochs_until_frame, epochs_per_frame)

    def pause(self) -> None:
        with self.lock:
            self.playing = False
            self.epochs_until_frame = 0
            self.frame_wanted = True

    def step(self, epochs: int) -> None:
        """Pause, then train ``epochs`` epochs and send a frame."""
        with self.lock:
            self.playing = False
            self.epochs_until_frame = epochs
            self.frame_wanted = False

    def acknowledge(self) -> None:
        with self.lock:
            self.credits = min(self.credits + 1, FRAMES_IN_FLIGHT)

    def set_focus(self, focus: int | None) -> None:
        with self.lock:
            self.focus = focus
            self.frame_wanted = True

    def want_frame(self) -> None:
        with self.lock:
            self.frame_wanted = self.sink is not None

    def data_changed(self) -> None:
        """After *Regenerate*: the next frame carries the current epoch's new losses."""
        with self.lock:
            self.history_sent = min(self.history_sent, self.run.epoch - 1)
            self.frame_wanted = self.sink is not None

    def wants_engine(self) -> bool:
        """Whether the worker has something to do for this session's stream."""
        with self.lock:
            if self.sink is None:
                return False
            if self.frame_wanted:
                return self.credits > 0
            return self.epochs_until_frame > 0 or self.playing

    # ------------------------------------------------------------------ worker side
    def stream_slice(self, budget: float) -> None:
        """Train and send frames for about ``budget`` seconds, as the controls say."""
        deadline = time.monotonic() + budget
        while True:
            with self.lock:
                sink = self.sink
                if sink is None:
                    return
                if self.frame_wanted:
                    if self.credits <= 0:
                        return  # the page has not drawn the last frames yet
                    self.frame_wanted = False
                    self.credits -= 1
                    action = "frame"
                elif self.epochs_until_frame > 0:
                    action = "train"
                elif self.playing:
                    self.epochs_until_frame = self.epochs_per_frame
                    action = "train"
                else:
                    return
            if action == "frame":
                sink(self.frame())
            else:
                self.run.train_epoch()
                with self.lock:
                    self.epochs_until_frame = max(self.epochs_until_frame - 1, 0)
                    if self.epochs_until_frame == 0:
                        self.frame_wanted = True
            if time.monotonic() > deadline:
                return

    def frame(self) -> bytes:
        """The binary frame of the run as it is now (see :mod:`thalweg.playground.frames`)."""
        run = self.run
        with self.lock:
            focus, since, playing = self.focus, self.history_sent, self.playing
            self.seq += 1
            seq = self.seq
            self.history_sent = run.epoch
        start = max(since + 1, run.epoch + 1 - MAX_FRAME_HISTORY, 0)
        history = np.stack(
            [
                np.frombuffer(run.history["train_loss"], dtype=np.float64)[start:],
                np.frombuffer(run.history["test_loss"], dtype=np.float64)[start:],
            ],
            axis=1,
        )
        header = {
            "type": "frame",
            "seq": seq,
            **run.summary(),
            "playing": playing,
            "focus": focus,
            "grid": GRID_SIZE,
            "thumbnail": THUMBNAIL_SIZE,
            "history_start": start,
        }
        return encode_frame(
            header, run.flat_parameters(), history, quantize(self.heatmap(focus)), self.maps()
        )

    def maps(self) -> np.ndarray:
        """Every node's small heat map, quantized: ``(n_maps, THUMBNAIL_SIZE²)`` uint8."""
        values = self.run.thumbnail_values()
        rows = [self.run.feature_thumbnails.T, *(v.T for v in values)]
        return quantize(np.concatenate(rows, axis=0))

    def n_maps(self) -> int:
        return len(self.run.feature_thumbnails.T) + sum(self.config.hidden) + 1

    def heatmap(self, focus: int | None = None) -> np.ndarray:
        """The big heat map's values ``(GRID_SIZE²,)``: the output, or node ``focus``."""
        run = self.run
        n_features = run.feature_grid.shape[1]
        if focus is not None and focus < n_features:
            return run.feature_grid[:, focus]
        values = run.grid_values()
        if focus is None or focus >= self.n_maps() - 1:
            return values[-1][:, 0]
        index = focus - n_features
        for layer in values[:-1]:
            if index < layer.shape[1]:
                return layer[:, index]
            index -= layer.shape[1]
        raise AssertionError("focus was checked against n_maps")  # pragma: no cover

    def state(self) -> dict:
        """Everything the page needs to draw the session (JSON-ready; heat map as base64)."""
        import base64

        run, data = self.run, self.run.data
        summary = run.summary()
        weights, biases = [], []
        for layer in run.linear_layers:
            weights.append(layer.weight.data.tolist())
            biases.append(layer.bias.data.tolist())
        n = len(run.history["train_loss"])
        every = max(1, -(-n // MAX_HISTORY_POINTS))
        epochs = list(range(0, n, every))
        if epochs[-1] != n - 1:
            epochs.append(n - 1)
        history = {"epoch": epochs}
        for name, values in run.history.items():
            history[name] = [values[e] for e in epochs]
        return json_safe(
            {
                "id": self.id,
                "config": self.config.to_dict(),
                **summary,
                "network": {
                    "layers": [len(self.config.features), *self.config.hidden, 1],
                    "weights": weights,
                    "biases": biases,
                },
                "data": {
                    "train": _points(data.to_plane(data.train_x), data.train_y),
                    "test": _points(data.to_plane(data.test_x), data.test_y),
                    "columns": list(data.columns),
                    "target": data.target,
                    "classes": None if data.classes is None else [str(c) for c in data.classes],
                    "offset": list(data.offset),
                    "scale": list(data.scale),
                    "target_offset": data.target_offset,
                    "target_scale": data.target_scale,
                },
                "history": history,
                "heatmap": {
                    "size": GRID_SIZE,
                    "domain": [-DOMAIN, DOMAIN],
                    "encoding": "uint8, base64, row 0 at the top; see thalweg.playground.frames",
                    "data": base64.b64encode(quantize(self.heatmap()).tobytes()).decode(),
                },
                "dataset": self.dataset_summary,
            }
        )


def _points(plane: np.ndarray, y: np.ndarray) -> dict:
    """Up to MAX_POINTS_SHOWN points, evenly spaced, rounded for the page."""
    n = len(plane)
    keep = (
        np.linspace(0, n - 1, MAX_POINTS_SHOWN).astype(int) if n > MAX_POINTS_SHOWN else slice(None)
    )
    return {
        "x": np.round(plane[keep], 4).tolist(),
        "y": np.round(y[keep].astype(np.float64), 4).tolist(),
        "count": n,
    }
