# faiss ships py.typed, but its SWIG-generated stubs describe the base `Index` only, not the IVF and IDMap classes
# erfa builds and downcasts to (nlist, invlists, set_direct_map_type, SearchParameters(sel=...)): mypy reads this
# file first (mypy_path in pyproject.toml) and treats faiss as untyped, instead of dozens of wrong-stub ignores.
from typing import Any

def __getattr__(name: str) -> Any: ...
