"""The ``langgraph-routing`` command line (``python -m langgraph_routing``).

Private modules: ``_main`` (parser, commands, entry point), ``_common`` (configuration, running
a thread), ``_render`` (rich tables), ``_demo_run`` (the offline demo).
"""

from langgraph_routing.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
