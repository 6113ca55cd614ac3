"""The graph-state checkpointer adapter.

:class:`RoutingCheckpointer` wraps any LangGraph ``BaseCheckpointSaver``. It delegates every
method to the wrapped saver, gives sync-only savers working async methods (and async-only
savers their own sync bridge), and stamps each checkpoint's metadata with a small JSON-safe
cost summary of the thread, for any graph state (the ``costs`` ledger channel, else the routing
records on the AIMessages, merged with an attached ``CostCallbackHandler``; see ``_summary``),
and the ``stop_reason`` channel, so that
``checkpointer.list(None, filter={"routing_stop_reason": "budget_exhausted"})`` works on any
backend. Nothing else from the state is ever copied into metadata.

Opening a checkpointer from a URL lives in ``_open``; thread listing in ``_threads`` and
resuming in ``_resume``; what is passed through to the wrapped saver in ``_delegation``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from langgraph_routing._callbacks import CostCallbackHandler
from langgraph_routing._errors import CheckpointerError
from langgraph_routing.checkpointing._delegation import DELEGATED, OPTIONAL, Delegate, overrides
from langgraph_routing.checkpointing._intents import CallIntents
from langgraph_routing.checkpointing._summary import (
    LEDGER_CHANNEL,
    STOP_REASON_CHANNEL,
    state_summary,
)
from langgraph_routing.checkpointing._thread_costs import ThreadCosts

__all__ = [
    "LEDGER_CHANNEL",
    "METADATA_KEYS",
    "STOP_REASON_CHANNEL",
    "CheckpointerError",
    "RoutingCheckpointer",
    "routing_summary",
]

METADATA_KEYS = (
    "routing_cost_usd",
    "routing_unknown_cost_calls",
    "routing_models",
    "routing_calls",
    "routing_stop_reason",
)
"""The only metadata keys the adapter ever writes."""


def _stop_reason(channel_values: Mapping[str, Any]) -> dict[str, Any]:
    stop = channel_values.get(STOP_REASON_CHANNEL)
    return {"routing_stop_reason": stop[:200]} if isinstance(stop, str) else {}


def routing_summary(channel_values: Mapping[str, Any]) -> dict[str, Any]:
    """Summarise the cost and stop reason of one checkpoint's channel values.

    Cost comes from the ``costs`` ledger channel when there is one, otherwise from the routing
    records of the AIMessages in any message-list channel (deduplicated by call id). Returns an
    empty dict when there is neither (nor a stop reason). Only numbers, model names and the stop
    reason are read: nothing else of the state can leak into metadata.

    >>> routing_summary({"costs": [{"call_id": "a", "model": "m", "cost_usd": 0.25},
    ...                  {"call_id": "b", "model": "n", "cost_usd": None}],
    ...                  "stop_reason": "done", "messages": ["hi"]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'routing_cost_usd': 0.25, 'routing_unknown_cost_calls': 1,
     'routing_models': ['m', 'n'], 'routing_calls': 2, 'routing_stop_reason': 'done'}
    """
    return {**state_summary(channel_values), **_stop_reason(channel_values)}


def _unwrap(saver: BaseCheckpointSaver[Any]) -> BaseCheckpointSaver[Any]:
    while isinstance(saver, RoutingCheckpointer):
        saver = saver._saver
    return saver


class RoutingCheckpointer(Delegate, BaseCheckpointSaver[Any]):
    """A checkpointer that wraps any LangGraph saver and stamps cost metadata.

    Every method goes to the wrapped saver. On ``put``/``aput`` the checkpoint metadata gains
    the thread's ``routing_cost_usd``, ``routing_unknown_cost_calls``, ``routing_models`` and
    ``routing_calls``, for any graph state: from the ``costs`` ledger channel when the state has
    one, otherwise from the routing records of the AIMessages the thread's checkpoints hold
    (``MessagesState``, ``create_agent``, supervisor and deepagents apps; subgraphs included),
    merged by call id with the entries of ``costs=handler`` (a ``CostCallbackHandler``) for the
    thread, so failed attempts of a node that raised count too. It also gains
    ``routing_stop_reason`` when the state has ``stop_reason``. A put only rescans a channel
    whose version changed, and only messages not seen yet.
    Async methods of a sync-only saver (``SqliteSaver``, ``PostgresSaver``) run the sync method
    in a worker thread; sync methods of an async saver use the saver's own bridge (callable from
    another thread than its event loop, as the saver itself requires).

    Example::

        from langgraph.checkpoint.memory import InMemorySaver

        checkpointer = RoutingCheckpointer(InMemorySaver(), costs=handler)  # handler optional
        graph = builder.compile(checkpointer=checkpointer)
        graph.invoke(inputs, {"configurable": {"thread_id": "t1"}})
        spent = checkpointer.get_tuple({"configurable": {"thread_id": "t1"}}).metadata[
            "routing_cost_usd"
        ]
        stopped = list(checkpointer.list(None, filter={"routing_stop_reason": "budget_exhausted"}))
    """

    _variants: ClassVar[dict[frozenset[str], type[RoutingCheckpointer]]] = {}

    def __new__(
        cls, saver: BaseCheckpointSaver[Any] | None = None, *, costs: Any = None
    ) -> RoutingCheckpointer:
        if cls is RoutingCheckpointer and saver is not None:
            cls = cls._variant_for(type(_unwrap(saver)))
        return super().__new__(cls)

    @classmethod
    def _variant_for(cls, saver_type: type) -> type[RoutingCheckpointer]:
        caps = frozenset(
            name
            for name, _ in OPTIONAL
            if overrides(saver_type, name) or overrides(saver_type, "a" + name)
        )
        if not caps:
            return cls
        variant = cls._variants.get(caps)
        if variant is None:
            mixins = tuple(mixin for name, mixin in OPTIONAL if name in caps)
            variant = type(cls.__name__, (*mixins, cls), {"__module__": cls.__module__})
            cls._variants[caps] = variant
        return variant

    def __init__(
        self, saver: BaseCheckpointSaver[Any], *, costs: CostCallbackHandler | None = None
    ) -> None:
        if not isinstance(saver, BaseCheckpointSaver):
            raise CheckpointerError(
                f"RoutingCheckpointer wraps a LangGraph BaseCheckpointSaver, got {type(saver).__name__}"
            )
        if costs is None and isinstance(saver, RoutingCheckpointer):
            costs = saver.costs
        saver = _unwrap(saver)
        self._saver = saver
        self.serde = saver.serde
        saver_type = type(saver)
        self._native_async = {name: overrides(saver_type, "a" + name) for name in DELEGATED}
        self._costs = ThreadCosts(costs)
        self.intents: CallIntents | None = None
        """Where routed calls note their intents (set by ``open_checkpointer`` on SQLite
        files and PostgreSQL; see ``_intents``)."""

    @property
    def costs(self) -> CostCallbackHandler | None:
        """The cost handler whose entries (by ``thread_id``) are merged into the stamp."""
        handler: CostCallbackHandler | None = self._costs.handler
        return handler

    @property
    def saver(self) -> BaseCheckpointSaver[Any]:
        """The wrapped saver."""
        return self._saver

    def __repr__(self) -> str:
        return f"RoutingCheckpointer({type(self._saver).__name__})"

    @property
    def config_specs(self) -> list[Any]:
        return list(self._saver.config_specs)

    def with_allowlist(
        self, extra_allowlist: Collection[tuple[str, ...]]
    ) -> BaseCheckpointSaver[Any]:
        inner = self._saver.with_allowlist(extra_allowlist)
        if inner is self._saver:
            return self
        wrapped = RoutingCheckpointer(inner, costs=self.costs)
        wrapped.intents = self.intents
        return wrapped

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self._saver.get_next_version(current, channel)

    def _stamp(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions | None = None,
    ) -> CheckpointMetadata:
        values = checkpoint.get("channel_values") or {}
        conf = config.get("configurable") or {}
        thread_id = conf.get("thread_id")
        if thread_id is None:
            summary = state_summary(values)
        else:
            summary = self._costs.summary(
                thread_id if type(thread_id) is str else str(thread_id),
                conf.get("checkpoint_ns", ""),
                checkpoint,
                new_versions,
            )
        stop = values.get(STOP_REASON_CHANNEL)
        if isinstance(stop, str):  # StopReason members too, stored as plain text
            stamped: dict[str, Any] = {
                **metadata,
                **summary,
                "routing_stop_reason": str(stop)[:200],
            }
        elif summary:  # (its models list is never mutated: sharing it is safe)
            stamped = {**metadata, **summary}
        else:
            return metadata
        return stamped  # type: ignore[return-value]

    # -- sync -------------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._saver.get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._saver.list(config, filter=filter, before=before, limit=limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._saver.put(
            config,
            checkpoint,
            self._stamp(config, checkpoint, metadata, new_versions),
            new_versions,
        )

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        # routed messages written by a task: a ``DeltaChannel`` (deepagents' ``messages``)
        # keeps them out of the checkpoint's channel values, so they are read here
        self._costs.observe_writes(config, writes)
        self._saver.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self._saver.delete_thread(thread_id)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._saver.get_delta_channel_history(config=config, channels=channels)

    # -- async ------------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = await self._acall("get_tuple", config)
        return result

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        if self._native_async["list"]:
            items = self._saver.alist(config, filter=filter, before=before, limit=limit)
            try:
                first = await anext(items)
            except StopAsyncIteration:
                return
            except NotImplementedError:
                pass  # sync-only saver: fall through to the thread path
            else:
                yield first
                async for item in items:
                    yield item
                return

        # Materialise in the worker thread: a sync saver may hold its lock while iterating
        # (SqliteSaver does), so handing the iterator back and forth could deadlock.
        def _collect() -> list[CheckpointTuple]:
            return list(self._saver.list(config, filter=filter, before=before, limit=limit))

        collected = await asyncio.to_thread(_collect)
        self._native_async["list"] = False
        for item in collected:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stamped = self._stamp(config, checkpoint, metadata, new_versions)
        result: RunnableConfig = await self._acall("put", config, checkpoint, stamped, new_versions)
        return result

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._costs.observe_writes(config, writes)
        await self._acall("put_writes", config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._acall("delete_thread", thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        result: Mapping[str, DeltaChannelHistory] = await self._acall(
            "get_delta_channel_history", config=config, channels=channels
        )
        return result
