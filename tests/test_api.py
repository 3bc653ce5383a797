"""The public API keeps its conventions: every function in ``segmask.__all__`` is checked.

* ``image_size`` comes right after the data arguments, and is never keyword-only;
* options (anything with a default, but ``image_size``) are keyword-only;
* ``rule`` takes the named rules, ``format`` the named box formats (default ``"xywh"``),
  and every function that takes boxes takes ``format``;
* every public function has a docstring with an example or a "See Also";
* no module but ``masks.py`` touches a private attribute of ``Masks``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import segmask as sm

SRC = Path(sm.__file__).parent

#: Data arguments that may be left out, so they have a default yet stay positional.
OPTIONAL_DATA = {"image_size", "groups"}


def public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in sm.__all__:
        obj = getattr(sm, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and not issubclass(obj, BaseException):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if attr == "__init__" and (dataclasses.is_dataclass(obj) or issubclass(obj, tuple)):
                    continue  # a value type's fields, not a function's options
                func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                if inspect.isfunction(func):
                    yield f"{name}.{attr}", func


CALLABLES = sorted(public_callables())


@pytest.mark.parametrize(("name", "func"), CALLABLES, ids=[n for n, _ in CALLABLES])
def test_signature_conventions(name: str, func: Callable[..., Any]) -> None:
    params = [p for p in inspect.signature(func).parameters.values() if p.name not in ("self", "cls")]
    kinds = inspect.Parameter
    for i, p in enumerate(params):
        if p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD):
            continue
        if p.name == "image_size":
            assert p.kind != kinds.KEYWORD_ONLY, f"{name}: image_size must be positional"
            before = params[:i]
            assert all(q.default is q.empty or q.name in OPTIONAL_DATA for q in before), (
                f"{name}: image_size must come right after the data arguments"
            )
            assert all(q.kind == kinds.KEYWORD_ONLY for q in params[i + 1 :] if q.kind != kinds.VAR_KEYWORD), (
                f"{name}: what follows image_size must be keyword-only"
            )
        elif p.default is not p.empty and p.name not in OPTIONAL_DATA:
            assert p.kind == kinds.KEYWORD_ONLY, f"{name}: the option {p.name!r} must be keyword-only"
        if p.name == "rule":
            assert p.default in (None, "contour"), f"{name}: rule defaults to 'contour' (or the object's own)"
        if p.name == "format":
            assert p.default == "xywh", f"{name}: box format defaults to 'xywh'"


@pytest.mark.parametrize("name", ["box_iou", "box_nms"])
def test_every_box_function_takes_a_format(name: str) -> None:
    assert "format" in inspect.signature(getattr(sm, name)).parameters


@pytest.mark.parametrize(("name", "func"), CALLABLES, ids=[n for n, _ in CALLABLES])
def test_documented(name: str, func: Callable[..., Any]) -> None:
    doc = inspect.getdoc(func) or ""
    assert doc, f"{name} has no docstring"


@pytest.mark.parametrize(
    "name",
    [n for n in sm.__all__ if inspect.isfunction(getattr(sm, n)) or inspect.isclass(getattr(sm, n))],
)
def test_public_names_have_an_example_or_see_also(name: str) -> None:
    obj = getattr(sm, name)
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc or "See Also" in doc, f"{name}: no example and no See Also"


MASKS_PRIVATE = {name for name in vars(sm.Masks) if name.startswith("_") and not name.startswith("__")} | set(
    sm.Masks.__slots__
)


def test_no_module_but_masks_touches_private_attributes_of_masks() -> None:
    offenders = []
    for path in sorted(SRC.glob("*.py")):
        if path.name == "masks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in MASKS_PRIVATE:
                owner = node.value
                # self._x inside another class is that class's own attribute
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert not offenders, offenders
    assert {"_counts", "_offsets", "_boxes", "_of"} <= MASKS_PRIVATE  # the check looks for these
