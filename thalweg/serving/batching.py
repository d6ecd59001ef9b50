"""Micro-batching: small requests that arrive together are predicted together.

A model call has a fixed cost (typing the columns, one matrix product, the softmax)
that dwarfs the work of one row: predicting 30 rows takes about as long as predicting
one. Under load, many single-row requests are ready at the same moment. The batcher
collects the requests that become ready in one turn of the event loop and hands them
to one function call, then gives each request its own answer.

It adds no waiting: the first request of a turn schedules the call for the *next* turn
(``loop.call_soon``), so a lone request is answered as soon as it would be without
batching, and a burst is answered in one call. Everything runs on the event loop's
thread; nothing here is shared with other threads.

>>> import asyncio
>>> calls = []
>>> def double(items):
...     calls.append(len(items))
...     return [2 * item for item in items]
>>> async def main():
...     batcher = MicroBatcher(double)
...     return await asyncio.gather(*(batcher.submit(i) for i in range(5)))
>>> asyncio.run(main()), calls
([0, 2, 4, 6, 8], [5])
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any


class MicroBatcher:
    """Run ``handle(items) -> results`` (one result per item, in order; a result that is
    an Exception is raised to that item's caller) once per turn of the event loop.

    ``max_items``: a batch is run at once when it reaches this many items (bounds the
    latency a burst adds to its first request).
    """

    def __init__(self, handle: Callable[[Sequence[Any]], Sequence[Any]], max_items: int = 256):
        self.handle = handle
        self.max_items = max_items
        self.batches = 0  # calls of handle, for /healthz
        self.items = 0
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._scheduled = False

    def submit(self, item: Any) -> asyncio.Future:
        """A future for ``item``'s result (call from a coroutine on the loop)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self.max_items:
            self._run()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run)
        return future

    def _run(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, []
        if not waiting:
            return
        self.batches += 1
        self.items += len(waiting)
        try:
            results = self.handle([item for item, _ in waiting])
        except Exception as error:  # a bug in handle: every caller hears of it
            results = [error] * len(waiting)
        for (_, future), result in zip(waiting, results, strict=True):
            if future.cancelled():  # the client went away meanwhile
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
