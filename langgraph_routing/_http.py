"""The HTTP library the installed openai SDK speaks: ``httpx2`` (openai 3.x) or ``httpx``.

openai 3.x is built on ``httpx2``, its fork of httpx; handed a plain ``httpx`` client it still
works, but converts every request and response between the two libraries (a fifth of a
millisecond per call, measured with ``benchmarks/bench_routing.py``). Our clients are built on
the SDK's own library, with its ``httpcore`` twin underneath, and fall back to ``httpx`` for
openai 1.x-2.x.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import httpcore as _httpcore
import httpx as _httpx
import openai

__all__ = ["TRANSPORT_ERRORS", "core", "http", "library_name"]


def _sdk_library() -> tuple[ModuleType, ModuleType]:
    """``(httpx-like module, httpcore-like module)`` of ``openai.DefaultHttpxClient``."""
    roots = {cls.__module__.split(".")[0] for cls in openai.DefaultHttpxClient.__mro__}
    if "httpx2" in roots:
        try:
            return importlib.import_module("httpx2"), importlib.import_module("httpcore2")
        except ImportError:  # a broken install: httpx still works, through the SDK's adapter
            pass
    return _httpx, _httpcore


http, core = _sdk_library()
library_name: str = http.__name__
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = tuple(
    {_httpx.TransportError, http.TransportError}
)
"""Transport failures of either library (the failure table calls them transient)."""
