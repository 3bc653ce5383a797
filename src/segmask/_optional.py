"""Optional packages, imported when a call needs them; absent, a :class:`MissingDependencyError` says how to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, message: str) -> ModuleType:
    """``import module``, or a :class:`MissingDependencyError` with ``message`` (what needs it, how to install)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(message) from None
