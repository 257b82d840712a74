"""Run a PyTorch program on tinyflow without editing it:

    python -m tinyflow.as_torch train.py [its arguments]

`import tinyflow as torch` changes one line, but a program's other imports (`import torch.nn
as nn`, `import torch.nn.functional as F`, `from torch.utils.data import DataLoader`) look
up the package named `torch`, and find PyTorch's when it is installed: the program then mixes
the two libraries. Here every `torch` and `torch.<path>` import gives tinyflow's module at
`tinyflow.<path>`, the same object (`torch.nn is tinyflow.nn`), `torchvision[.path]` gives
`tinyflow.vision[.path]`, and a path tinyflow lacks is an error naming it; so do the
processes the program starts by spawn or forkserver. `install()` does the same inside a
process, before its first `import torch`; PyTorch itself already imported is refused, as the
two cannot share the name.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import multiprocessing.spawn
import os
import runpy
import sys

ALIASES = {"torch": "tinyflow", "torchvision": "tinyflow.vision"}
PROGRAM = "TINYFLOW_AS_TORCH_PROGRAM"   # the program's path, for the processes it starts
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # holds this tinyflow


class _TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A finder of `torch[.path]` whose loader hands back `tinyflow[.path]` unchanged: the
    import system's own attributes (`__spec__`) are put back after it sets them."""

    def find_spec(self, fullname, path=None, target=None):
        alias = fullname.partition(".")[0]
        if alias not in ALIASES:
            return None
        name = ALIASES[alias] + fullname[len(alias):]
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: running as {alias} (tinyflow.as_torch), "
                f"and tinyflow has no {name}", name=fullname) from None
        spec = importlib.machinery.ModuleSpec(fullname, self,
                                              is_package=hasattr(module, "__path__"))
        spec.loader_state = module
        return spec

    def create_module(self, spec):
        module = spec.loader_state
        spec.loader_state = (module, module.__spec__)
        return module

    def exec_module(self, module):
        _, original = module.__spec__.loader_state
        module.__spec__ = original


def install() -> None:
    """From now on, `import torch...` in this process gives tinyflow's modules."""
    if any(isinstance(finder, _TorchAlias) for finder in sys.meta_path):
        return
    for alias, target in ALIASES.items():
        real = sys.modules.get(alias)
        if real is not None and real.__name__ != target:
            raise RuntimeError(f"tinyflow.as_torch: {alias} (PyTorch's) is already imported "
                               f"in this process; install the alias before the program's "
                               f"first `import {alias}`")
    sys.meta_path.insert(0, _TorchAlias())


def _children_as_torch() -> None:
    """A process the program starts by spawn or forkserver (`torch.multiprocessing.spawn`)
    reruns the program's file as `__mp_main__` before its target, in a fresh interpreter
    where `import torch` would find PyTorch: it runs this module instead, whose
    `__mp_main__` branch below installs the alias and then runs the program."""
    prepare = multiprocessing.spawn.get_preparation_data
    if getattr(prepare, "as_torch", False):
        return

    def get_preparation_data(name):
        data = prepare(name)
        if data.pop("init_main_from_path", None) is not None:
            data["init_main_from_name"] = __spec__.name
            data["sys_path"] = [ROOT] + data["sys_path"]  # this tinyflow, not one installed
        return data
    get_preparation_data.as_torch = True
    multiprocessing.spawn.get_preparation_data = get_preparation_data


def main(argv: list) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        sys.exit("usage: python -m tinyflow.as_torch program.py [its arguments]")
    install()
    sys.argv = list(argv)
    os.environ[PROGRAM] = os.path.abspath(argv[0])
    _children_as_torch()
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))   # as `python program.py`: its
    runpy.run_path(argv[0], run_name="__main__")                # own modules beside it


if __name__ == "__main__":
    main(sys.argv[1:])
elif __name__ == "__mp_main__" and PROGRAM in os.environ:   # a child: `_children_as_torch`
    del sys.path[0]     # (ROOT, put first to import this module)
    install()
    _children_as_torch()
    globals().update(runpy.run_path(os.environ[PROGRAM], run_name="__mp_main__"))
