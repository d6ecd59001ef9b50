"""The server's sessions and uploads, with the caps that keep its memory bounded.

At most ``max_sessions`` sessions live at once (a new one past the cap is refused with
HTTP 429 after idle ones are reclaimed); a session nobody has used for ``idle_seconds``
(10 minutes) is reclaimed; at most ``max_uploads`` uploaded datasets are kept (the
oldest goes first; sessions already made from it keep their copy of the data).

Everything here runs on the server's event loop; building a run is engine work and goes
to the :class:`~thalweg.playground.worker.EngineWorker`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from thalweg.errors import ThalwegError
from thalweg.playground.config import normalize_config, shown
from thalweg.playground.run import PlaygroundRun
from thalweg.playground.session import Session
from thalweg.playground.uploads import UploadedDataset
from thalweg.playground.worker import EngineWorker

__all__ = [
    "IDLE_SECONDS",
    "MAX_SESSIONS",
    "MAX_UPLOADS",
    "SessionStore",
    "TooManySessions",
    "UnknownSession",
]

MAX_SESSIONS = 32
MAX_UPLOADS = 16
IDLE_SECONDS = 600.0


class UnknownSession(ThalwegError, KeyError):
    """No session has this id (never made, deleted, or reclaimed after 10 idle minutes)."""

    def __str__(self) -> str:
        return self.args[0]


class TooManySessions(ThalwegError, RuntimeError):
    """The server already holds its maximum number of sessions."""


class SessionStore:
    """Sessions by id and uploads by id, capped (see the module docstring)."""

    def __init__(
        self,
        worker: EngineWorker,
        max_sessions: int = MAX_SESSIONS,
        idle_seconds: float = IDLE_SECONDS,
        max_uploads: int = MAX_UPLOADS,
    ):
        self.worker = worker
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self.max_uploads = max_uploads
        self.sessions: dict[str, Session] = {}
        self.uploads: OrderedDict[str, UploadedDataset] = OrderedDict()
        self._being_made = 0
        # called with a session when it is reclaimed or deleted (closes its stream)
        self.on_close: dict[str, Callable[[str], None]] = {}

    # ------------------------------------------------------------------ uploads
    def add_upload(self, dataset: UploadedDataset) -> str:
        """Keep ``dataset`` and return its id (usable as a config's ``dataset``)."""
        dataset.id = "upload-" + secrets.token_hex(4)
        self.uploads[dataset.id] = dataset
        while len(self.uploads) > self.max_uploads:
            self.uploads.popitem(last=False)
        return dataset.id

    def upload_problem(self, name: str) -> str | None:
        upload = self.uploads.get(name)
        return None if upload is None else upload.problem

    # ------------------------------------------------------------------ sessions
    async def create(self, raw_config) -> Session:
        """Check ``raw_config``, build its run on the worker, and keep the new session.

        Raises ConfigError (400) or TooManySessions (429).
        """
        config = normalize_config(raw_config, self.upload_problem)
        if len(self.sessions) + self._being_made >= self.max_sessions:
            self.reclaim_idle()
        if len(self.sessions) + self._being_made >= self.max_sessions:
            raise TooManySessions(
                f"the server already has {self.max_sessions} sessions; close other playground "
                "tabs, or wait: sessions idle for 10 minutes are closed"
            )
        upload = self.uploads.get(config.dataset)
        self._being_made += 1
        try:
            run = await asyncio.wrap_future(self.worker.call(lambda: PlaygroundRun(config, upload)))
        finally:
            self._being_made -= 1
        session_id = secrets.token_urlsafe(9)
        session = Session(session_id, run, upload.summary() if upload is not None else None)
        self.sessions[session_id] = session
        return session

    def get(self, session_id: str) -> Session:
        """The session with this id, marked as used now; UnknownSession (404) if none."""
        session = self.sessions.get(session_id)
        if session is None:
            raise UnknownSession(
                f"session: no session {shown(session_id)} (sessions close after 10 idle minutes "
                "or when the server restarts); create one with POST /api/sessions"
            )
        session.touch()
        return session

    def delete(self, session_id: str, reason: str = "deleted") -> bool:
        """Forget a session and close its stream; False if there was none."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.detach()
        self.worker.detach(session)
        close = self.on_close.pop(session_id, None)
        if close is not None:
            close(reason)
        return True

    def reclaim_idle(self, now: float | None = None) -> list[str]:
        """Delete every session unused for ``idle_seconds``; return their ids."""
        now = time.monotonic() if now is None else now
        idle = [sid for sid, s in self.sessions.items() if now - s.last_used >= self.idle_seconds]
        for session_id in idle:
            self.delete(session_id, reason="idle")
        return idle

    def close_all(self) -> None:
        for session_id in list(self.sessions):
            self.delete(session_id, reason="shutdown")
