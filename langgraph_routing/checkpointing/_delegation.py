"""What :class:`~langgraph_routing.checkpointing._adapter.RoutingCheckpointer` passes
through to the saver it wraps, and how its async methods reach a sync-only saver.

:class:`Delegate` bridges ``a<name>`` to the saver's native async method, or runs the sync one
in a worker thread (sync-only savers such as ``SqliteSaver``). The optional capabilities
(``delete_for_runs``, ``copy_thread``, ``prune``) are mixins the adapter takes on only when the
wrapped saver implements them, so capability detection sees the truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

__all__ = ["DELEGATED", "OPTIONAL", "Delegate", "overrides"]


def overrides(cls: type, name: str) -> bool:
    return getattr(cls, name, None) is not getattr(BaseCheckpointSaver, name, None)


class Delegate:
    """Shared plumbing: the wrapped saver and the sync -> async bridge."""

    _saver: BaseCheckpointSaver[Any]
    _native_async: dict[str, bool]

    async def _acall(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``a<name>`` natively, or ``<name>`` in a worker thread for sync-only savers."""
        if self._native_async.get(name, False):
            try:
                return await getattr(self._saver, "a" + name)(*args, **kwargs)
            except NotImplementedError:
                # e.g. SqliteSaver: its async methods exist only to raise. Try the thread path;
                # remember the answer only when it works.
                result = await asyncio.to_thread(getattr(self._saver, name), *args, **kwargs)
                self._native_async[name] = False
                return result
        return await asyncio.to_thread(getattr(self._saver, name), *args, **kwargs)


class _DeleteForRuns(Delegate):
    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._saver.delete_for_runs(run_ids)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._acall("delete_for_runs", run_ids)


class _CopyThread(Delegate):
    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._saver.copy_thread(source_thread_id, target_thread_id)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._acall("copy_thread", source_thread_id, target_thread_id)


class _Prune(Delegate):
    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._saver.prune(thread_ids, strategy=strategy)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._acall("prune", thread_ids, strategy=strategy)


# Optional capabilities: the adapter offers one only when the wrapped saver implements it
# (sync or async), so capability detection (e.g. the conformance suite) sees the truth.
OPTIONAL: tuple[tuple[str, type[Delegate]], ...] = (
    ("delete_for_runs", _DeleteForRuns),
    ("copy_thread", _CopyThread),
    ("prune", _Prune),
)
DELEGATED = (
    "get_tuple",
    "list",
    "put",
    "put_writes",
    "delete_thread",
    "get_delta_channel_history",
    *(name for name, _ in OPTIONAL),
)
