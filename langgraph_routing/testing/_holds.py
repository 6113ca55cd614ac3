"""Requests held open by the ``hang`` fault, released by timeout, ``release_holds()`` or stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

__all__ = ["Holds"]

_SAFETY_CAP_S = 600.0  # a hang without ``seconds`` still ends eventually


class Holds:
    """Count held requests (visible from any thread) and release them together.

    Holding happens on the server's event loop; counting and releasing work from any thread.

    >>> h = Holds()
    >>> h.release_all()
    >>> h.held, h.wait_for(1, timeout=0.0)
    (0, False)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future[None]] = set()  # touched only on the loop

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach the event loop the holds run on."""
        self._loop = loop

    @property
    def held(self) -> int:
        """Number of requests currently held."""
        with self._cond:
            return self._held

    def _count(self, delta: int) -> None:
        with self._cond:
            self._held += delta
            self._cond.notify_all()

    async def hold_async(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: until released); True if released early."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(future)
        self._count(+1)
        try:
            await asyncio.wait_for(future, _SAFETY_CAP_S if seconds is None else seconds)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(future)
            self._count(-1)

    def _release_on_loop(self) -> None:
        for future in list(self._waiters):
            if not future.done():
                future.set_result(None)
        self._waiters.clear()

    def release_all(self) -> None:
        """Wake every held request (callable from any thread); later holds block again."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed: nothing is held
                loop.call_soon_threadsafe(self._release_on_loop)

    def wait_for(self, n: int = 1, timeout: float = 10.0) -> bool:
        """Wait until at least ``n`` requests are held; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._held < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True
