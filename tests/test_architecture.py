"""The package keeps its shape (ARCHITECTURE.md), checked on the source by an AST walk of src/segmask.

* every module sits in a layer and imports only from its own layer or below;
* no import circle;
* no function-level import: an optional package comes through ``_optional.require``,
  the package face loads its names through ``importlib`` (``__init__`` only);
* third-party packages imported at the top are the dependencies, nothing optional;
* no module touches another module's private names;
* ``import segmask`` in a fresh process loads none of the heavy packages, nor the
  modules that need them; the face lists every name for ``dir()``, ``__all__`` and mypy.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import segmask as sm

SRC = Path(sm.__file__).parent

#: The layers, from the leaves up (DESIGN.md): a module imports only from its own layer or below.
#: A new module goes into one of them (the test below says which module is missing).
LAYERS: list[tuple[str, set[str]]] = [
    ("leaves", {"errors", "limits", "rules", "_validate", "_io", "_ragged", "_optional", "_version"}),
    (
        "core",
        {
            "masks",
            "rle",
            "raster",
            "_polygons",
            "boxes",
            "iou",
            "nms",
            "tracing",
            "geometry",
            "_columns",
            "_coco_columns",
        },
    ),
    ("wire", {"response", "_supervision"}),
    ("model", {"predictions"}),
    ("formats and algorithms", {"coco", "yolo", "png", "datasets", "tiling", "draw", "evaluate"}),
    ("apps", {"fetch", "_http", "pipeline", "dask", "cli", "testing", "__main__", "data", "data._make_sample"}),
    ("face", {"__init__"}),
]

#: What may be imported at the top besides the standard library: the run-time dependencies (pyproject.toml).
DEPENDENCIES = {"numpy", "cv2", "shapely", "pycocotools", "requests", "urllib3", "tqdm", "orjson"}

#: What ``import segmask`` must not load: the heavy packages and every segmask module that needs one.
HEAVY = {"requests", "urllib3", "cv2", "shapely", "tqdm", "orjson", "pycocotools"}


def layer_of(module: str) -> int | None:
    if module == "_kernel" or module.startswith(("_kernel.", "_kernel_")):
        return 0  # the compiled kernel and its package: leaves
    for k, (_, names) in enumerate(LAYERS):
        if module in names:
            return k
    return None


@dataclass
class Module:
    name: str  # dotted, relative to segmask: "coco", "data._make_sample", "__init__"
    path: Path
    tree: ast.Module
    imports: list[tuple[str, int, bool]] = field(default_factory=list)  # (segmask module, line, type-checking only)
    third_party: list[tuple[str, int]] = field(default_factory=list)
    nested: list[tuple[str, int]] = field(default_factory=list)  # imports inside a function or class
    private_from: list[tuple[str, str, int]] = field(default_factory=list)  # (module, _name, line)
    module_aliases: dict[str, str] = field(default_factory=dict)  # local name -> segmask module


def module_files() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        name = ".".join(rel.parts)
        out["__init__" if name == "__init__" else name.removesuffix(".__init__")] = path
    return out


FILES = module_files()


def is_module(name: str) -> bool:
    """A module of segmask: a .py file, or a compiled one (its .pyx source or its built extension)."""
    if name in FILES:
        return True
    stem = SRC / name.replace(".", "/")
    return any(p.suffix in (".pyx", ".so", ".pyd") for p in stem.parent.glob(f"{stem.name}.*"))


def resolve(current: str, node: ast.ImportFrom) -> str:
    """The segmask module an ImportFrom reads from ("" for the package face), or "?" for a third-party one."""
    if node.level == 0:
        if node.module is None or not (node.module == "segmask" or node.module.startswith("segmask.")):
            return "?"
        return node.module.removeprefix("segmask").lstrip(".")
    package = current.split(".")[: -1 if current != "__init__" else 0]
    if current in FILES and FILES[current].name == "__init__.py" and current != "__init__":
        package = current.split(".")  # a package's own __init__
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def analyse(name: str, path: Path) -> Module:
    tree = ast.parse(path.read_text(), str(path))
    mod = Module(name, path, tree)

    def visit(node: ast.AST, top: bool, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_top = top and isinstance(node, ast.Module | ast.If | ast.Try)
            if isinstance(child, ast.Import | ast.ImportFrom):
                record(child, child_top, typing_only)
            visit(child, child_top and not isinstance(child, ast.FunctionDef | ast.ClassDef),
                  typing_only or type_checking_block(child))  # fmt: skip

    def record(node: ast.Import | ast.ImportFrom, top: bool, typing_only: bool) -> None:
        if not top:
            mod.nested.append((ast.unparse(node), node.lineno))
        if isinstance(node, ast.Import):
            for alias in node.names:
                root = alias.name.split(".")[0]
                if root == "segmask":
                    target = alias.name.removeprefix("segmask").lstrip(".")
                    mod.imports.append((target or "__init__", node.lineno, typing_only))
                else:
                    mod.third_party.append((root, node.lineno))
            return
        source = resolve(name, node)
        if source == "?":
            if node.module != "__future__":
                mod.third_party.append((str(node.module).split(".")[0], node.lineno))
            return
        for alias in node.names:
            sub = f"{source}.{alias.name}" if source else alias.name
            if is_module(sub):  # from . import _kernel: the module itself
                mod.imports.append((sub, node.lineno, typing_only))
                mod.module_aliases[alias.asname or alias.name] = sub
                continue
            mod.imports.append((source or "__init__", node.lineno, typing_only))
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                mod.private_from.append((source or "__init__", alias.name, node.lineno))

    visit(tree, True, False)
    return mod


MODULES = {name: analyse(name, path) for name, path in FILES.items()}


def private_definitions(mod: Module) -> set[str]:
    """Private names a module defines: at its top level, in its classes, on ``self``, in ``__slots__``."""
    out: set[str] = set()
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            out.add(node.value)  # __slots__ entries, setattr names
    return {n for n in out if n.startswith("_") and not n.startswith("__")}


PRIVATE = {name: private_definitions(mod) for name, mod in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in MODULES if layer_of(name) is None)
    assert not missing, f"add these modules to LAYERS in tests/test_architecture.py (and ARCHITECTURE.md): {missing}"


def test_layers_only_look_down() -> None:
    offenders = []
    for name, mod in MODULES.items():
        own = layer_of(name)
        for target, line, _ in mod.imports:
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                offenders.append(f"{mod.path.name}:{line}: {name} ({LAYERS[own][0]}) imports {target} "
                                 f"({LAYERS[theirs][0]})")  # fmt: skip
    assert not offenders, "\n".join(offenders)


def test_no_import_circle() -> None:
    graph = {name: {t for t, _, typing_only in mod.imports if t != name and t in MODULES}
             for name, mod in MODULES.items()}  # fmt: skip
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not cycles, cycles


def test_imports_are_at_the_top_and_optional_packages_come_through_require() -> None:
    offenders = [f"{mod.path.name}:{line}: {text} (inside a function or class)"
                 for mod in MODULES.values() for text, line in mod.nested]  # fmt: skip
    allowed = DEPENDENCIES | set(sys.stdlib_module_names)
    offenders += [f"{mod.path.name}:{line}: import {root} (not a dependency: use _optional.require)"
                  for mod in MODULES.values() for root, line in mod.third_party if root not in allowed]  # fmt: skip
    for name, mod in MODULES.items():
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            if called in ("importlib.import_module", "__import__", "import_module") and name not in (
                "_optional", "__init__"
            ):  # fmt: skip
                offenders.append(f"{mod.path.name}:{node.lineno}: {called}() outside _optional.require")
    assert not offenders, "\n".join(offenders)


def test_no_module_touches_another_modules_private_names() -> None:
    offenders = [f"{MODULES[n].path.name}:{line}: from {source} import {private}"
                 for n, mod in MODULES.items() for source, private, line in mod.private_from]  # fmt: skip
    elsewhere: dict[str, set[str]] = {}
    for name, names in PRIVATE.items():
        for private in names:
            elsewhere.setdefault(private, set()).add(name)
    for name, mod in MODULES.items():
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in mod.module_aliases:
                offenders.append(f"{mod.path.name}:{node.lineno}: {owner.id}.{node.attr}")
                continue
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue  # its own class's attribute
            if node.attr in PRIVATE[name]:
                continue  # defined here: this module's own
            if elsewhere.get(node.attr):
                where = ", ".join(sorted(elsewhere[node.attr]))
                offenders.append(f"{mod.path.name}:{node.lineno}: .{node.attr} (private to {where})")
    assert not offenders, "\n".join(offenders)


def test_the_face_lists_every_name_it_loads() -> None:
    """``__all__``, the lazy table and the TYPE_CHECKING imports (what mypy and editors read) agree."""
    face = MODULES["__init__"].tree
    checked: set[str] = set()
    eager: set[str] = set()
    for node in face.body:
        if type_checking_block(node):
            checked |= {a.asname or a.name for n in ast.walk(node) if isinstance(n, ast.ImportFrom) for a in n.names}
        elif isinstance(node, ast.ImportFrom):
            eager |= {a.asname or a.name for a in node.names}
    table = next(n.value for n in face.body if isinstance(n, ast.AnnAssign | ast.Assign) and "_LAZY" in ast.unparse(n))
    assert isinstance(table, ast.Dict)
    modules = {ast.literal_eval(k): ast.literal_eval(v) for k, v in zip(table.keys, table.values, strict=True)}  # type: ignore[arg-type]
    lazy = set(modules)
    assert checked == lazy, (sorted(checked - lazy), sorted(lazy - checked))
    assert set(sm.__all__) == lazy | (eager - {"annotations", "TYPE_CHECKING", "Any"}), sorted(
        set(sm.__all__) ^ (lazy | eager)
    )
    assert set(sm.__all__) <= set(dir(sm))
    for name, module in modules.items():
        assert name in vars(importlib.import_module(f"segmask.{module}")), f"{name} is not in segmask.{module}"


def fresh(code: str) -> list[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC.parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_import_segmask_loads_only_its_face() -> None:
    loaded = fresh("import segmask")
    ours = sorted(m for m in loaded if m.startswith("segmask."))
    assert ours == ["segmask._version", "segmask.errors"], ours
    assert not HEAVY & {m.split(".")[0] for m in loaded}, sorted(HEAVY & {m.split(".")[0] for m in loaded})


@pytest.mark.parametrize(
    ("code", "absent"),
    [
        ("import segmask as sm; sm.Masks.from_dense", HEAVY),  # masks and RLE need numpy and the kernel only
        ("import segmask as sm; sm.rasterize", HEAVY - {"shapely"}),
        ("import segmask as sm; sm.Predictions.from_response", {"requests", "urllib3", "cv2", "tqdm"}),
        ("import segmask as sm; sm.from_coco", {"requests", "urllib3", "tqdm"}),
    ],
)
def test_a_name_loads_what_it_needs_and_no_more(code: str, absent: set[str]) -> None:
    loaded = {m.split(".")[0] for m in fresh(code)}
    assert not absent & loaded, sorted(absent & loaded)
