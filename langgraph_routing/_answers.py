"""Non-streamed answers read as JSON dicts, not as the openai SDK's models.

ChatOpenAI reads a non-streamed answer with ``raw.parse()``, which builds the SDK's
``ChatCompletion`` (a recursive, unvalidated model construction), then dumps it back to a dict
in ``_create_chat_result``. That round trip is about half a millisecond a call, more than all of
routing's own work (``benchmarks/bench_routing.py``). ChatOpenAI takes a dict as well, so our
clients' ``chat.completions`` are wrapped: a non-streamed raw answer whose body is a JSON
object parses to that object. Streams, ``parse()`` calls (structured output), bodies that are
not JSON objects and every other attribute go to the SDK untouched, so errors are the SDK's.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DictAnswers"]


def _as_dumped(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the keys the SDK's dump always has and ChatOpenAI reads (its
    ``system_fingerprint`` and each choice's ``logprobs``), None when the gateway left them
    out: the message and its metadata are then what ChatOpenAI makes of the SDK's model.

    >>> _as_dumped({"choices": [{"message": {"content": "hi"}}]})
    {'choices': [{'message': {'content': 'hi'}, 'logprobs': None}], 'system_fingerprint': None}
    """
    data.setdefault("system_fingerprint", None)
    choices = data.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict):
                choice.setdefault("logprobs", None)
    return data


class _DictAnswer:
    """One raw answer (the SDK's ``LegacyAPIResponse``) whose ``parse()`` gives its JSON
    object; everything else is the raw answer's."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def parse(self, **kwargs: Any) -> Any:
        if kwargs:
            return self._raw.parse(**kwargs)
        response = self._raw.http_response
        content_type = response.headers.get("content-type", "*").split(";")[0]
        if content_type.endswith("json"):
            data = response.json()  # raises as the SDK's parse() would on a malformed body
            if isinstance(data, dict):
                return _as_dumped(data)
        return self._raw.parse()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _RawCreate:
    """``with_raw_response`` whose ``create`` wraps non-streamed answers (sync or async)."""

    __slots__ = ("_async", "_inner")

    def __init__(self, inner: Any, is_async: bool) -> None:
        self._inner = inner
        self._async = is_async

    def create(self, **kwargs: Any) -> Any:
        if kwargs.get("stream"):
            return self._inner.create(**kwargs)
        if self._async:
            return self._acreate(kwargs)
        return _DictAnswer(self._inner.create(**kwargs))

    async def _acreate(self, kwargs: dict[str, Any]) -> _DictAnswer:
        return _DictAnswer(await self._inner.create(**kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class DictAnswers:
    """An SDK client's ``chat.completions`` (what ChatOpenAI keeps as ``client`` and
    ``async_client``) whose non-streamed raw answers parse to dicts."""

    __slots__ = ("_inner", "with_raw_response")

    def __init__(self, completions: Any, is_async: bool) -> None:
        self._inner = completions
        self.with_raw_response = _RawCreate(completions.with_raw_response, is_async)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
