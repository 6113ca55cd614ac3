"""Requests held open by the ``hang`` fault, released by timeout, ``release_holds()`` or stop."""

from __future__ import annotations

import threading
import time

__all__ = ["Holds"]

_SAFETY_CAP_S = 600.0  # a hang without ``seconds`` still ends eventually


class Holds:
    """Count held requests and release them together.

    >>> h = Holds()
    >>> h.release_all()
    >>> h.hold(0.0), h.held
    (False, 0)
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._held = 0

    @property
    def held(self) -> int:
        """Number of requests currently held."""
        with self._cond:
            return self._held

    def hold(self, seconds: float | None) -> bool:
        """Block the calling thread for ``seconds`` (None: until released); True if released."""
        with self._cond:
            event = self._release
            self._held += 1
            self._cond.notify_all()
        try:
            return event.wait(_SAFETY_CAP_S if seconds is None else seconds)
        finally:
            with self._cond:
                self._held -= 1
                self._cond.notify_all()

    def release_all(self) -> None:
        """Wake every held request; later holds block again."""
        with self._cond:
            self._release.set()
            self._release = threading.Event()

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
