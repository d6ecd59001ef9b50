"""One thread does all the engine work of every session, round-robin.

The server's event loop never trains: it hands work to :class:`EngineWorker` and awaits
the result. One thread is enough on a small machine (and right for the engine, whose
grad mode is process-wide): a training step is mostly Python, which one core runs at a
time anyway, and a single worker keeps every session's results independent of the
others'.

The worker runs, in turn:

* **jobs** (create a run, read its state, export it, train N epochs for ``POST
  .../step``): a job is a function called with a time budget that returns ``(done,
  result)``; a long one (10,000 epochs) gives way after its slice and continues next
  round, so it never starves the others;
* **streams**: each session with a page attached gets one slice per round
  (:meth:`~thalweg.playground.session.Session.stream_slice`).

A slice is :data:`SLICE_SECONDS` long, so with four sessions playing each gets a turn
about every 4 × 15 ms.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from thalweg.playground.session import Session

__all__ = ["SLICE_SECONDS", "EngineWorker"]

SLICE_SECONDS = 0.015

Job = Callable[[float], tuple[bool, Any]]


class EngineWorker:
    """The engine's thread: ``submit`` work, ``attach`` streams; ``stop`` ends it.

    >>> worker = EngineWorker()
    >>> worker.call(lambda: 6 * 7).result()
    42
    >>> worker.stop()
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._jobs: collections.deque[tuple[Job, Future]] = collections.deque()
        self._streams: list[Session] = []
        self._turn = 0
        self._stopping = False
        self._thread = threading.Thread(
            target=self._loop, name="thalweg-playground-engine", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ from other threads
    def submit(self, job: Job) -> Future:
        """Run ``job(budget)`` repeatedly on the worker until it returns ``(True, result)``."""
        future: Future = Future()
        with self._condition:
            if self._stopping:
                raise RuntimeError("the playground's engine worker has stopped")
            self._jobs.append((job, future))
            self._condition.notify()
        return future

    def call(self, function: Callable[[], Any]) -> Future:
        """Run ``function()`` once on the worker."""
        return self.submit(lambda budget: (True, function()))

    def attach(self, session: Session) -> None:
        """Give ``session``'s stream a slice every round from now on."""
        with self._condition:
            if session not in self._streams:
                self._streams.append(session)
            self._condition.notify()

    def detach(self, session: Session) -> None:
        with self._condition:
            if session in self._streams:
                self._streams.remove(session)

    def wake(self) -> None:
        """Tell the worker that a stream's controls changed."""
        with self._condition:
            self._condition.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the slice in progress, fail the jobs still queued, end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join(timeout)
        while self._jobs:
            _, future = self._jobs.popleft()
            if not future.done():
                future.set_exception(RuntimeError("the playground server is shutting down"))

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ on the worker
    def _busy_streams(self) -> list[Session]:
        return [session for session in self._streams if session.wants_engine()]

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and not self._jobs and not self._busy_streams():
                    self._condition.wait(timeout=1.0)
                if self._stopping:
                    return
                jobs = list(self._jobs)
                self._jobs.clear()
                streams = list(self._streams)
            for job, future in jobs:
                self._run_job(job, future)
            if streams:  # start with a different stream each round: fair to all
                self._turn = (self._turn + 1) % len(streams)
                for session in streams[self._turn :] + streams[: self._turn]:
                    try:
                        if session.wants_engine():
                            session.stream_slice(SLICE_SECONDS)
                    except Exception:  # a bug in one session must not stop the others
                        import traceback

                        traceback.print_exc()
                        session.detach()
                        self.detach(session)

    def _run_job(self, job: Job, future: Future) -> None:
        if future.cancelled():
            return
        try:
            done, result = job(SLICE_SECONDS)
        except BaseException as error:  # handed to whoever awaits the future
            future.set_exception(error)
            return
        if done:
            future.set_result(result)
            return
        with self._condition:  # not done: after everyone else has had a turn
            self._jobs.append((job, future))
