"""Structured output for RoutingChatModel: tool calling or ``response_format`` json_schema."""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel
from pydantic.v1 import BaseModel as BaseModelV1

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput

    from ._model import RoutingChatModel


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and issubclass(schema, BaseModel | BaseModelV1)


def structured_output(
    model: RoutingChatModel,
    schema: Mapping[str, Any] | type,
    method: Literal["function_calling", "json_schema", "json_mode"],
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """The runnable behind :meth:`RoutingChatModel.with_structured_output`."""
    tool = convert_to_openai_tool(schema, strict=strict)
    name = tool["function"]["name"]
    ls_format = {"kwargs": {"method": method}, "schema": tool}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        llm = model.bind_tools([tool], tool_choice=name, ls_structured_output_format=ls_format)
        if _is_pydantic(schema):
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
        else:
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif method in ("json_schema", "json_mode"):
        if method == "json_schema":
            json_schema: dict[str, Any] = {"name": name, "schema": tool["function"]["parameters"]}
            if strict is not None:
                json_schema["strict"] = strict
            response_format: dict[str, Any] = {"type": "json_schema", "json_schema": json_schema}
        else:
            response_format = {"type": "json_object"}
        llm = model.bind(response_format=response_format, ls_structured_output_format=ls_format)
        parser = (
            PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
            if _is_pydantic(schema)
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"method must be 'function_calling', 'json_schema' or 'json_mode', not {method!r}"
        )
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")
