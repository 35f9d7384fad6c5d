"""Deferred imports for route modules.

Chalice needs every route registered when app.py is imported, so route modules are imported at cold
start. The services behind most routes are not needed by the request that woke the function; a route
module binds them with

    if TYPE_CHECKING:
        from chalicelib.cases import service
    else:
        service = lazy_module("chalicelib.cases.service")

so the type checker sees the real module and the import happens on first use.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


def lazy_module(name: str) -> Any:
    return _LazyModule(name)
