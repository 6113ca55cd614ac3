"""``python -m langgraph_routing``: the ``langgraph-routing`` command."""

from langgraph_routing._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
