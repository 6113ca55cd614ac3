"""Cache affinity through real HTTP on LocalGateway's emulated prompt cache.

Every call inside a thread carries a cache key derived from the thread id (``prompt_cache_key``
for models that take it, LiteLLM's ``x-litellm-session-id`` header for all), so a conversation
that stays on its model reads its growing prefix from cache; a router that bounces between
models finds the cache cold every turn. Cached tokens are priced at the cached-input price, in
the gateway's charge and in the ledger alike.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.graph import START, MessagesState, StateGraph

from langgraph_routing import (
    CostCallbackHandler,
    RoutingChatModel,
    RoutingPolicy,
    open_checkpointer,
)
from langgraph_routing.shared_state import MemoryRoutingState
from langgraph_routing.testing import LocalGateway

TURNS = 20
SYSTEM = SystemMessage("You are a careful travel assistant. " + "Follow the house rules. " * 800)


def _conversation(
    gw: LocalGateway, handler: CostCallbackHandler, thread: str, pick: Any = None
) -> list[BaseMessage]:
    model = RoutingChatModel(base_url=gw.base_url, api_key=gw.master_key, task="tool_select")
    history: list[BaseMessage] = [SYSTEM]
    for turn in range(TURNS):
        history.append(HumanMessage(f"Turn {turn}: what should I see next in Kyoto?"))
        kwargs = {"model": pick(turn)} if pick else {}
        config: Any = {"callbacks": [handler], "metadata": {"thread_id": thread}}
        reply = model.invoke(history, config, **kwargs)
        history.append(AIMessage(str(reply.content)))
    return history


def _hit_rate(handler: CostCallbackHandler) -> float:
    prompt = sum(e.prompt_tokens for e in handler.entries)
    return sum(e.cached_tokens for e in handler.entries) / prompt


def test_a_thread_that_keeps_its_model_reads_its_prefix_from_cache() -> None:
    with LocalGateway() as gw:
        handler = CostCallbackHandler()
        _conversation(gw, handler, "conv-1")
        log = gw.log
    assert {r.model for r in log} == {"gpt-4o-mini"}
    assert log[0].cached_tokens == 0 and all(r.cached_tokens > 0 for r in log[1:])
    assert _hit_rate(handler) > 0.9
    report = handler.report()
    assert report.cache_hit_rate("model")["gpt-4o-mini"] > 0.9
    assert report.cache_hit_rate("thread")["conv-1"] > 0.9
    # the gateway priced the cached tokens at the cached-input price, and the ledger agrees
    assert math.isclose(report.total_usd, gw.total_spend, rel_tol=1e-12)
    full_price = sum(gw.models[r.model].cost(r.prompt_tokens, r.completion_tokens) for r in log)
    assert gw.total_spend < 0.6 * full_price


def test_a_router_that_bounces_between_models_finds_the_cache_cold() -> None:
    rotation = ["gpt-4o-mini", "gpt-4o", "o3-mini"]
    with LocalGateway() as gw:
        handler = CostCallbackHandler()
        _conversation(gw, handler, "conv-rr", pick=lambda turn: rotation[turn % 3])
        assert [r.model for r in gw.log] == [rotation[t % 3] for t in range(TURNS)]
    assert _hit_rate(handler) < 0.2


def test_each_thread_has_its_own_cache_key() -> None:
    """Two conversations interleaved on one model: each thread's key keeps its own prefix."""
    with LocalGateway() as gw:
        handlers = [CostCallbackHandler(), CostCallbackHandler()]
        model = RoutingChatModel(base_url=gw.base_url, api_key=gw.master_key, task="tool_select")
        histories: list[list[BaseMessage]] = [[SYSTEM], [SYSTEM]]
        for turn in range(TURNS // 2):
            for i, (history, handler) in enumerate(zip(histories, handlers, strict=True)):
                history.append(HumanMessage(f"Thread {i}, turn {turn}: and then?"))
                config: Any = {"callbacks": [handler], "metadata": {"thread_id": f"t{i}"}}
                history.append(AIMessage(str(model.invoke(history, config).content)))
        keys = {r.headers.get("x-litellm-session-id") for r in gw.log}
    assert len(keys) == 2 and None not in keys
    assert all(_hit_rate(h) > 0.85 for h in handlers)


def _sticky_model(
    gw: LocalGateway, sticky: bool, tool_select: str | None = None
) -> RoutingChatModel:
    # Falls back to gpt-4o, a model that caches on its own (Claude caches only marked prefixes).
    update: dict[str, Any] = {"sticky": sticky, "fallbacks": {"gpt-4o-mini": ["gpt-4o"]}}
    if tool_select:
        update["tasks"] = {"tool_select": {"model": tool_select}}
    policy = RoutingPolicy.default().updated(update)
    return RoutingChatModel(
        policy=policy,
        base_url=gw.base_url,
        api_key=gw.master_key,
        task="tool_select",
        routing_state=MemoryRoutingState(),
    )


@pytest.mark.parametrize("sticky", [True, False])
def test_a_sticky_thread_stays_on_the_model_that_has_its_cache(sticky: bool) -> None:
    """Turn 1's model fails once and its fallback answers; a sticky thread stays there (its
    cache is warm), a plain one goes back to the task's model and starts cold."""
    with LocalGateway() as gw:
        gw.add_fault("server_error", model="gpt-4o-mini", status=503, times=1)
        model = _sticky_model(gw, sticky)
        history: list[BaseMessage] = [SYSTEM]
        for turn in range(5):
            history.append(HumanMessage(f"Turn {turn}: and then?"))
            reply = model.invoke(history, {"metadata": {"thread_id": "sticky"}})
            history.append(reply)
        answered = [(r.model, r.cached_tokens > 0) for r in gw.log if r.status == 200]
    fallback, mini = "gpt-4o", "gpt-4o-mini"
    if sticky:
        assert answered == [(fallback, False)] + [(fallback, True)] * 4
        assert "sticky: gpt-4o" in reply.response_metadata["routing"]["reason"]
    else:
        assert answered == [(fallback, False), (mini, False)] + [(mini, True)] * 3


def test_stickiness_survives_a_resume_on_another_checkpointer(tmp_path: Path) -> None:
    """The sticky model is read from the thread's saved messages: a new process (here a new
    checkpointer connection and graph) keeps it."""
    db = f"sqlite:///{tmp_path / 'threads.db'}"
    config: Any = {"configurable": {"thread_id": "resumed"}}
    with LocalGateway() as gw:
        gw.add_fault("server_error", model="gpt-4o-mini", status=503, times=1)
        for turn in range(2):
            model = _sticky_model(gw, True)

            def agent(state: MessagesState) -> dict[str, Any]:
                return {"messages": [model.invoke([SYSTEM, *state["messages"]])]}  # noqa: B023

            builder = StateGraph(MessagesState)
            builder.add_node("agent", agent)
            builder.add_edge(START, "agent")
            with open_checkpointer(db) as cp:
                graph = builder.compile(checkpointer=cp)
                graph.invoke({"messages": [("user", f"turn {turn}")]}, config)
        answered = [(r.model, r.cached_tokens > 0) for r in gw.log if r.status == 200]
    assert answered == [("gpt-4o", False), ("gpt-4o", True)]


def test_claude_reads_from_cache_only_up_to_a_cache_control_mark() -> None:
    """As Anthropic's prompt caching: a plain request to Claude is never cached (a frontier
    baseline is not made cheaper than it is); a prefix ending at a ``cache_control`` block is,
    marks left out of the prefix's identity. gpt-4o-mini caches the same prompt on its own."""
    import openai

    rules = {"role": "system", "content": str(SYSTEM.content)}
    marked = {
        "role": "system",
        "content": [{"type": "text", "text": rules["content"], "cache_control": {"type": "x"}}],
    }
    plain_marked = {"role": "system", "content": [{"type": "text", "text": rules["content"]}]}
    with LocalGateway() as gw:
        client = openai.OpenAI(base_url=gw.base_url, api_key=gw.master_key, max_retries=0)

        def ask(model: str, system: Any, turn: int) -> None:
            client.chat.completions.create(
                model=model,
                messages=[system, {"role": "user", "content": f"turn {turn}"}],
                extra_body={"prompt_cache_key": f"k-{model}"},
            )

        for turn in range(3):
            ask("claude-3-5-sonnet-20241022", rules, turn)
            ask("gpt-4o-mini", rules, turn)
        for turn, system in enumerate([marked, marked, plain_marked]):
            ask("claude-3-5-haiku-20241022", system, turn)
        cached = [(r.model, r.cached_tokens > 0) for r in gw.log]
        costs = {r.model: r.cost_usd for r in gw.log}
    sonnet, mini, haiku = "claude-3-5-sonnet-20241022", "gpt-4o-mini", "claude-3-5-haiku-20241022"
    assert cached == [
        (sonnet, False),
        (mini, False),
        (sonnet, False),
        (mini, True),
        (sonnet, False),
        (mini, True),
        (haiku, False),
        (haiku, True),  # the mark matched the cached prefix
        (haiku, False),  # no mark on this request: nothing read
    ]
    assert all(cost is not None and cost > 0 for cost in costs.values())


def test_a_model_with_an_unknown_cache_mode_is_refused() -> None:
    from langgraph_routing.testing import GatewayConfigError, GatewayModel

    with pytest.raises(GatewayConfigError, match="prompt_cache must be one of auto, explicit"):
        GatewayModel("m", 1000, 100, 1.0, 1.0, prompt_cache="always")


def _claude_turns(
    model: RoutingChatModel, handler: CostCallbackHandler, turns: int
) -> list[BaseMessage]:
    """A conversation of ``turns`` turns on one thread, the history grown by each reply."""
    history: list[BaseMessage] = [SYSTEM]
    for turn in range(turns):
        history.append(HumanMessage(f"Turn {turn}: and then?"))
        config: Any = {"callbacks": [handler], "metadata": {"thread_id": "claude"}}
        history.append(AIMessage(str(model.invoke(history, config).content)))
    return history


@pytest.mark.parametrize("sticky", [True, False])
def test_a_sticky_claude_thread_marks_its_prompt_for_the_cache(sticky: bool) -> None:
    """Claude caches only marked prefixes: a sticky thread's calls mark their last user
    message (a copy: the caller's history is untouched), so each turn reads the previous one
    from cache; without stickiness nothing is marked and nothing is cached."""
    haiku = "claude-3-5-haiku-20241022"
    with LocalGateway() as gw:
        handler = CostCallbackHandler()
        history = _claude_turns(_sticky_model(gw, sticky, tool_select=haiku), handler, 5)
        cached = [(r.model, r.cached_tokens > 0) for r in gw.log]
    assert all(isinstance(m.content, str) for m in history)
    assert cached == [(haiku, False)] + [(haiku, sticky)] * 4
    if sticky:  # the ledger prices what was read from cache at the cached price
        assert all(e.cached_tokens > 0 for e in handler.entries[1:])


def test_claude_charges_the_tokens_it_writes_to_the_cache() -> None:
    """As Anthropic (and LiteLLM's price of it): a marked prefix is written to the cache at
    the cache-write price (1.25x the input price), then read at the cached price; the usage
    says both, and the ledger agrees with the gateway's charge."""
    haiku = "claude-3-5-haiku-20241022"
    with LocalGateway() as gw:
        handler = CostCallbackHandler()
        _claude_turns(_sticky_model(gw, True, tool_select=haiku), handler, 3)
        log = list(gw.log)
        spec = gw.models[haiku]
        total = gw.total_spend
    first = log[0]
    assert first.cache_write_tokens > 4000 and first.cached_tokens == 0
    plain = spec.cost(first.prompt_tokens, first.completion_tokens)
    assert first.cost_usd == pytest.approx(
        plain + first.cache_write_tokens * (1.00 - 0.80) / 1e6, rel=1e-9
    )
    assert all(r.cached_tokens > 3500 and 0 < r.cache_write_tokens < 200 for r in log[1:])
    assert math.isclose(handler.total_usd, total, rel_tol=1e-9)


def _budgeted_sticky_call(
    budget_of: Any, handler_knows_policy: bool = True
) -> tuple[BaseException | None, int, float, float]:
    """One sticky Claude call under a run budget computed by ``budget_of(input-price worst
    case, write-price worst case)``: (what it raised, requests sent, gateway spend, budget).
    ``handler_knows_policy=False``: the handler keeps the default policy (not sticky), so it
    cannot know the prompt will be marked; the model must re-price its grant."""
    from langgraph_routing import BudgetExceededError
    from langgraph_routing._budget import reservation_usd
    from langgraph_routing._tokens import TokenCounter

    haiku = "claude-3-5-haiku-20241022"
    prompt = [SYSTEM, HumanMessage("Turn 0: where first?")]
    with LocalGateway() as gw:
        model = _sticky_model(gw, True, tool_select=haiku)
        spec = model.policy.models[haiku]
        tokens = TokenCounter().count(prompt).tokens
        floor = model.policy.budget.min_output_tokens
        budget = budget_of(
            reservation_usd(spec, tokens, floor), reservation_usd(spec, tokens, floor, tokens)
        )
        gw.script(haiku, ["Kyoto at length. " * 2000])  # uses every output token it is given
        handler = CostCallbackHandler(
            model.policy if handler_knows_policy else None, budget_usd=budget
        )
        config: Any = {"callbacks": [handler], "metadata": {"thread_id": "budget"}}
        raised: BaseException | None = None
        try:
            model.invoke(prompt, config)
        except BudgetExceededError as exc:
            raised = exc
        return raised, len(gw.log), gw.total_spend, budget


def test_a_budget_reserves_the_cache_write_premium_of_a_marked_prompt() -> None:
    """A sticky thread's Claude call writes its prompt to the cache at 1.25x the input price.
    A budget between the two worst cases once let it through at the input price, and the
    gateway then charged more than the budget had (a strict budget must never overshoot):
    the write premium is reserved, so it is refused before any request."""
    raised, sent, spend, budget = _budgeted_sticky_call(lambda cheap, dear: (cheap + dear) / 2)
    assert raised is not None and "needs $" in str(raised)
    assert sent == 0 and spend == 0.0
    raised, sent, spend, budget = _budgeted_sticky_call(lambda cheap, dear: dear * 1.01)
    assert raised is None and sent == 1
    assert 0 < spend <= budget  # what the gateway charged, premium included, fits
    # a handler built with the default policy reserves at the input price: the routed call
    # re-prices its grant with the premium and stops before any request
    raised, sent, spend, budget = _budgeted_sticky_call(lambda c, d: (c + d) / 2, False)
    assert raised is not None and "written to the cache" in str(raised)
    assert sent == 0 and spend == 0.0
