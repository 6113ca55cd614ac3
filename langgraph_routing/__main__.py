"""``python -m langgraph_routing``: the ``langgraph-routing`` command."""

from langgraph_routing.cli._main import main

if __name__ == "__main__":
    raise SystemExit(main())
