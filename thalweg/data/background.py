"""Read a stream in another process, so reading never waits for the training loop's lock.

Python runs one thread at a time per process (the interpreter lock, the GIL). A reading
thread spends most of its time in Arrow and NumPy calls that let go of the lock, but it
needs the lock back between them, and a training loop, which is Python between small
array operations, holds it nearly all the time. Measured on a 2-core machine: a stream
that reads at 190 ns per row of CPU took 410 ns per row of wall-clock time beside the
training loop, so reading and training took turns instead of overlapping.

:class:`BackgroundReader` runs the stream in a child process, which has an interpreter
(and lock) of its own. Blocks come back through a few slots of shared memory: the child
writes a block into a free slot and says so over a pipe; the parent copies it out (a
plain memory copy, ~20 ns per row), hands the slot back and yields the copy::

    child:   read, prepare, shuffle -> write block into slot i -> ("block", i, rows, ...)
    parent:  copy slot i out -> ("free", i) -> yield (X, y) to the training loop

The stream travels to the child by pickle (its files, settings and ``map`` function,
which must therefore be importable, as for :meth:`thalweg.data.Pipeline.map`); only
numbers come back. The child is started once (``spawn``, ~1 s) and serves every epoch
until :meth:`BackgroundReader.close`.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing import shared_memory

import numpy as np

from thalweg.errors import DataError

__all__ = ["BackgroundReader"]

TARGET_BYTES_PER_ROW = 8  # room for a float64/int64 label or a float32 target column


class BackgroundReader:
    """A batch source that reads ``stream`` in a child process (see the module docstring).

    Parameters
    ----------
    stream : Stream
        Usually ``stream.unbatched()``: the child then hands over shuffled blocks and the
        training side cuts batches (``Pipeline(reader).batch(B)``).
    slots : int
        Blocks in flight: the child reads ahead by up to this many.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from thalweg.data import stream
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npy")
    >>> np.save(path, np.arange(20.0).reshape(10, 2))
    >>> with BackgroundReader(stream(path, target=1, batch_size=4, shuffle_buffer=0)) as r:
    ...     [X.ravel().tolist() for X, y in r.epoch_batches(np.random.default_rng(0))][0]
    [0.0, 2.0, 4.0, 6.0]
    """

    def __init__(self, stream, slots: int = 4):
        self.stream = stream
        self.slots = slots
        self.n_samples = stream.n_samples
        self.batch_size = stream.batch_size
        # The largest block the stream hands out: a batch, a shuffle round or a chunk.
        self.slot_rows = max(stream.read_rows, stream.batch_size or 0)
        self._process = None
        self._seconds = 0.0
        self._examples = 0

    def __enter__(self) -> BackgroundReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        if self._process is not None:
            return
        row_bytes = self.stream.n_features * self.stream.dtype.itemsize
        self._segments = [
            (
                shared_memory.SharedMemory(create=True, size=self.slot_rows * row_bytes),
                shared_memory.SharedMemory(create=True, size=self.slot_rows * TARGET_BYTES_PER_ROW),
            )
            for _ in range(self.slots)
        ]
        names = [(x.name, y.name) for x, y in self._segments]
        # spawn: a fresh interpreter; forking a process that runs threads can deadlock.
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child_end, names, self.slot_rows, self.stream.n_features, self.stream.dtype),
            name="thalweg-reader",
            daemon=True,
        )
        self._process.start()
        child_end.close()

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator:
        """One epoch of the stream's batches (or blocks), read by the child process."""
        self._start()
        self._pipe.send(("epoch", self.stream, int(rng.integers(2**63)), skip))
        finished = False
        try:
            while True:
                message = self._pipe.recv()
                if message[0] == "end":
                    finished = True
                    return
                if message[0] == "error":
                    finished = True
                    raise message[1]
                _, slot, rows, y_dtype, y_shape, seconds = message
                X_memory, y_memory = self._segments[slot]
                X = np.ndarray((rows, self.stream.n_features), self.stream.dtype, X_memory.buf)
                y = np.ndarray((rows, *y_shape), np.dtype(y_dtype), y_memory.buf)
                X, y = X.copy(), y.copy()  # ours now: the slot can be written again
                self._pipe.send(("free", slot))
                self._seconds += seconds
                self._examples += rows
                yield X, y
        finally:
            if not finished:  # stopped mid-epoch: the child is still writing; start afresh
                self.close()

    def input_stats(self) -> dict:
        """Seconds the child spent making blocks and rows made (balance diagnostic)."""
        return {
            "seconds": self._seconds,
            "examples": self._examples,
            "workers": 1,
            "cached": False,
            "mapped": False,
        }

    def close(self) -> None:
        """Stop the child process and free the shared memory."""
        if self._process is None:
            return
        try:
            self._pipe.send(("quit",))
        except (BrokenPipeError, OSError):
            pass
        self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._pipe.close()
        for segments in self._segments:
            for segment in segments:
                segment.close()
                segment.unlink()
        self._process = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutting down: the OS reclaims the rest
            pass


def _serve(pipe, names, slot_rows: int, n_features: int, dtype) -> None:
    """The child: run epochs on request, writing blocks into free slots."""
    segments = [
        (shared_memory.SharedMemory(name=x), shared_memory.SharedMemory(name=y)) for x, y in names
    ]
    free = list(range(len(segments)))
    try:
        while True:
            command = pipe.recv()
            if command[0] == "quit":
                return
            if command[0] == "free":  # a slot returned after the parent stopped early
                free.append(command[1])
                continue
            _, stream, seed, skip = command
            try:
                started = time.perf_counter()
                for X, y in stream.epoch_batches(np.random.default_rng(seed), skip):
                    while not free:
                        reply = pipe.recv()
                        if reply[0] == "quit":
                            return
                        free.append(reply[1])
                    slot = free.pop()
                    y = np.asarray(y)
                    too_wide = y.nbytes > len(y) * TARGET_BYTES_PER_ROW
                    if len(X) > slot_rows or y.dtype.kind not in "biuf" or too_wide:
                        raise DataError(
                            "BackgroundReader: blocks must have at most read_rows rows and "
                            f"numeric targets of at most {TARGET_BYTES_PER_ROW} bytes per row"
                        )
                    X_memory, y_memory = segments[slot]
                    np.ndarray(X.shape, dtype, X_memory.buf)[...] = X
                    np.ndarray(y.shape, y.dtype, y_memory.buf)[...] = y
                    seconds = time.perf_counter() - started
                    pipe.send(("block", slot, len(X), y.dtype.str, y.shape[1:], seconds))
                    started = time.perf_counter()
                pipe.send(("end",))
            except Exception as error:  # the parent raises it, with its type and message
                pipe.send(("error", error))
    except (EOFError, BrokenPipeError):  # the parent went away
        return
    finally:
        for segments_pair in segments:
            for segment in segments_pair:
                segment.close()
