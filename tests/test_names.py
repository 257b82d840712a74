"""Every public name of `tinyflow` and of its PyTorch front end has exactly one definition.

The top-level namespace is assembled from core/, ops/, autodiff/, symbolic/ and pytorch/;
nn/, io/, optim/, ... are namespaces of their own (`F.relu` is not `torch.relu`). A top-level
`def`, `class` or assignment of a computed value (`add = _binary(Add)`) is a definition; an
assignment of a name or attribute (`clip = clamp`, `div = ops.divide`) is an alias. The one
exception is pytorch/shared_names.py: a name TF1 and PyTorch both use may be defined there and
once more as the op function in ops/ (`ops.split` is TF1's split, `tinyflow.split` decides).
"""
from __future__ import annotations

import ast
import pathlib
import types
from collections import defaultdict

import pytest

import tinyflow
from tinyflow import pytorch

PACKAGE = pathlib.Path(tinyflow.__file__).parent
SOURCES = ("core", "ops", "autodiff", "symbolic", "pytorch")
SHARED = "tinyflow.pytorch.shared_names"
# internal helpers that a public torch.* function of the same name does not re-export:
# core.op.as_tensor (wrap a value, tensors pass through) vs torch.as_tensor (casts, devices)
# and the op functions conv2d, max_pool2d, layer_norm (the ops alone) vs torch.conv2d & co., which
# are torch.nn.functional's (pytorch/aliases.py)
INTERNAL = {("as_tensor", "tinyflow.core.op"), ("conv2d", "tinyflow.ops.conv"),
            ("max_pool2d", "tinyflow.ops.pool"), ("layer_norm", "tinyflow.ops.normalization"),
            ("broadcast_shapes", "tinyflow.core.shapes")}   # (static shapes; torch's: a Size)


def definitions_in(source: str) -> set:
    """The names a module defines at its top level (aliases and imports excluded)."""
    names = set()
    for node in _top_level(ast.parse(source).body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            if isinstance(node.value, (ast.Name, ast.Attribute)):
                continue   # an alias of something defined elsewhere
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _top_level(body):
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _top_level(node.body + getattr(node, "orelse", [])
                                  + getattr(node, "finalbody", []))


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def definition_index(paths) -> dict:
    """name -> the modules that define it."""
    index = defaultdict(list)
    for path in paths:
        for name in definitions_in(path.read_text()):
            index[name].append(module_name(path))
    return index


def namespace_paths():
    yield PACKAGE / "__init__.py"
    for sub in SOURCES:
        yield from sorted((PACKAGE / sub).rglob("*.py"))


def duplicates(index: dict, exported: dict) -> list:
    """Exported names with more than one definition, allowing a shared name one op twin."""
    problems = []
    for name, obj in exported.items():
        modules = [m for m in index.get(name, []) if (name, m) not in INTERNAL]
        if SHARED in modules:
            others = [m for m in modules if m != SHARED]
            if len(others) > 1 or any(not m.startswith("tinyflow.ops") for m in others):
                problems.append(f"{name}: {modules}")
        elif len(modules) > 1:
            problems.append(f"{name}: {modules}")
        elif modules and getattr(obj, "__module__", modules[0]) != modules[0]:
            problems.append(f"{name}: exported from {obj.__module__}, defined in {modules[0]}")
    return problems


def public_names(namespace) -> dict:
    return {n: getattr(namespace, n) for n in dir(namespace)
            if not n.startswith("_") and not isinstance(getattr(namespace, n), types.ModuleType)}


def test_each_exported_name_is_defined_once():
    problems = duplicates(definition_index(namespace_paths()), public_names(tinyflow))
    assert not problems, "defined in more than one module:\n" + "\n".join(problems)


def test_each_front_end_name_is_defined_once_in_the_package():
    index = definition_index(sorted((PACKAGE / "pytorch").glob("*.py")))
    twice = {name: modules for name, modules in index.items()
             if len(modules) > 1 and name not in ("METHODS", "__all__")}   # each kind
    # module's method table; a module's export list
    assert not twice, f"defined in more than one pytorch/ module: {twice}"
    assert set(pytorch.__all__) <= set(dir(tinyflow))


def test_shared_names_are_the_top_level_functions():
    shared = definitions_in((PACKAGE / "pytorch" / "shared_names.py").read_text())
    for name in shared - {"METHODS"}:
        assert getattr(tinyflow, name).__module__ == SHARED, name


def test_the_check_sees_a_duplicate_and_an_alias():
    index = definition_index([])
    for module, source in [("tinyflow.ops.math", "def fmod(x, y): pass\nclip = clamp\n"),
                           ("tinyflow.pytorch.math", "def fmod(x, y): pass\n"),
                           ("tinyflow.pytorch.other", "clip = ops.clamp\n")]:
        for name in definitions_in(source):
            index[name].append(module)
    assert duplicates(index, {"fmod": None, "clip": None}) == [
        "fmod: ['tinyflow.ops.math', 'tinyflow.pytorch.math']"]


def test_a_method_defined_twice_is_refused_at_binding():
    with pytest.raises(TypeError, match="defined twice"):
        pytorch.install_tensor_methods(type("Clash", (), {"exp": None}))
