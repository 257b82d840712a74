"""The package layers of docs/ARCHITECTURE.md, checked on the source: no import points up.

Every `import`/`from ... import` in tinyflow/ (at the top of a module or inside a function,
relative or absolute) is an edge from its package to another; an edge to a package of the
same or a higher layer fails, naming the file and the line.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "tinyflow"

# Lowest first, as docs/ARCHITECTURE.md draws them. A package may import its own modules and
# any package of a lower layer; packages of one layer do not import each other.
LAYERS = [
    ("core",),                          # Tensor, Op + apply, Graph, dtypes, modes, kernel tables
    ("ops",),                           # one class per op
    ("autodiff", "backend", "io"),      # reverse/forward mode + tape; NumPy kernels; files
    ("passes", "func"),                 # the compiler: IR and rewrites; torch.func transforms
    ("runtime", "viz"),                 # Session plans over the kernel table; pictures
    ("optim", "datasets",               # update rules and optimizers; data sets;
     "backends", "processes"),    # torch.backends' flags; torch.multiprocessing
    ("symbolic", "pytorch", "examples"),  # TF1: Session, Variable; PyTorch: methods, torch.*;
                                        # TF1 tutorial loaders
    ("nn", "distributions", "utils",   # Modules and F.*, tf.nn; torch.distributions;
     "testing"),                        # torch.utils (data, checkpoint); torch.testing
    ("distributed", "onnx", "jit", "contrib", "vision"),  # parameter server on Ray; ONNX
                                        # export; compile; TF1's tf.contrib (rnn); models
    ("autograd",),                      # `tinyflow.autograd` as a module path
    ("__init__",),                      # the `tinyflow` namespace itself
    ("as_torch",),                      # a PyTorch program's `import torch...` -> tinyflow
]
LAYER = {package: level for level, group in enumerate(LAYERS) for package in group}


def package_of(parts: tuple) -> str:
    """'tinyflow.ops.math' -> 'ops'; 'tinyflow' (the __init__) -> '__init__'."""
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else "__init__"


def imported_modules(path: pathlib.Path, root: pathlib.Path) -> list:
    """(line, dotted parts) of every tinyflow module `path` imports."""
    package = ("tinyflow",) + path.relative_to(root).parent.parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + tuple((node.module or "").split(".") if node.module else ())
            else:
                target = tuple(node.module.split("."))
            if target == ("tinyflow",):   # `from tinyflow import x`: a module, or a name
                found += [(node.lineno, ("tinyflow", a.name) if is_module(root, a.name)
                           else target) for a in node.names]
            elif target[0] == "tinyflow":
                found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, tuple(a.name.split("."))) for a in node.names
                      if a.name.startswith("tinyflow.")]
    return found


def is_module(root: pathlib.Path, name: str) -> bool:
    return (root / name).is_dir() or (root / f"{name}.py").is_file()


def sources() -> list:
    return sorted(ROOT.rglob("*.py"))


def upward_edges(path: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    rel = path.relative_to(root)
    source = package_of(("tinyflow",) + rel.with_suffix("").parts)
    bad = []
    for line, target in imported_modules(path, root):
        to = package_of(target)
        if to == source:
            continue
        if LAYER[to] >= LAYER[source]:
            bad.append(f"tinyflow/{rel}:{line} ({source}, layer {LAYER[source]}) imports "
                       f"{'.'.join(target)} ({to}, layer {LAYER[to]})")
    return bad


def test_every_package_has_a_layer():
    packages = {package_of(("tinyflow",) + p.relative_to(ROOT).with_suffix("").parts)
                for p in sources()}
    assert packages <= set(LAYER), f"packages missing from LAYERS: {packages - set(LAYER)}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_points_up(path):
    assert upward_edges(path) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    """The check itself can fail: a core module importing autodiff inside a function."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text(
        "def f():\n    from ..autodiff.reverse import backward\n")
    assert upward_edges(tmp_path / "core" / "bad.py", tmp_path) == [
        "tinyflow/core/bad.py:2 (core, layer 0) imports tinyflow.autodiff.reverse "
        "(autodiff, layer 2)"]
