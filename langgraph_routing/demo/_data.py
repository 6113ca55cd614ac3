"""Access to the bundled demo data files (read lazily, never at import)."""

from __future__ import annotations

from importlib.resources import files

__all__ = ["data_names", "read_data"]


def read_data(name: str) -> str:
    """Text of a bundled file under ``langgraph_routing/demo/data/``."""
    return files(__package__ or "langgraph_routing.demo").joinpath("data", name).read_text("utf-8")


def data_names(suffix: str = "") -> list[str]:
    """Sorted names of the bundled data files ending with ``suffix``."""
    root = files(__package__ or "langgraph_routing.demo").joinpath("data")
    return sorted(p.name for p in root.iterdir() if p.name.endswith(suffix))
