"""`python -m tinyflow.as_torch program.py`: a PyTorch program's every `import torch...` line
gives tinyflow's module of the same path, with the program's own text unchanged."""
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent   # `-m` finds this checkout's tinyflow

PROGRAM = textwrap.dedent("""
    import sys
    import torch
    from helper import LAYERS    # a module beside the program, as `python program.py` finds
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset
    from torchvision import transforms

    torch.manual_seed(0)
    x = transforms.Normalize((0.5,), (2.0,))(torch.randn(1, 32, 4))[0]
    y = (x.sum(dim=1) > 0).long()
    model = nn.Sequential(*LAYERS(nn))
    opt = optim.SGD(model.parameters(), lr=0.5)
    for epoch in range(20):
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    print(torch.__name__, nn.Linear.__module__.split(".")[0], type(loss).__module__,
          transforms.__name__, sys.argv[1:], round(loss.item(), 3) < 0.69)
""")


def run(tmp_path, source, *args, env=None):
    path = tmp_path / "program.py"
    path.write_text(source)
    (tmp_path / "helper.py").write_text(
        "def LAYERS(nn):\n    return nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)\n")
    return subprocess.run([sys.executable, "-m", "tinyflow.as_torch", str(path), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def test_a_pytorch_program_runs_on_tinyflow_unchanged(tmp_path):
    done = run(tmp_path, PROGRAM, "--epochs", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == (
        "tinyflow tinyflow tinyflow.core.tensor tinyflow.datasets.vision.transforms "
        "['--epochs', '3'] True")


def test_a_path_tinyflow_lacks_is_an_error_naming_it(tmp_path):
    done = run(tmp_path, "import torch.no_such_module\n")
    assert done.returncode != 0
    assert ("No module named 'torch.no_such_module': running as torch (tinyflow.as_torch), "
            "and tinyflow has no tinyflow.no_such_module") in done.stderr


def test_install_refuses_when_pytorch_is_already_imported():
    pytest.importorskip("torch")
    from tinyflow import as_torch
    with pytest.raises(RuntimeError, match=r"torch \(PyTorch.s\) is already imported"):
        as_torch.install()
    assert not any(isinstance(f, as_torch._TorchAlias) for f in sys.meta_path)


def test_processes_the_program_starts_by_spawn_run_it_on_tinyflow_too(tmp_path):
    """A spawn (or forkserver) child reruns the program's file before its target: its
    `import torch` must give tinyflow there too (`torch.multiprocessing.spawn`'s way), this
    checkout's (found from the working directory, PYTHONPATH unset), not one installed."""
    done = run(tmp_path, textwrap.dedent("""
        import torch
        import torch.multiprocessing as mp
        from helper import LAYERS

        def child(rank, queue):
            queue.put((rank, torch.__name__, type(LAYERS(torch.nn)[0]).__module__,
                       torch.__file__))

        if __name__ == "__main__":
            queue = mp.get_context("spawn").SimpleQueue()
            mp.spawn(child, args=(queue,), nprocs=1)
            print(queue.get())
    """), env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == str(
        (0, "tinyflow", "tinyflow.nn.modules.linear", str(ROOT / "tinyflow" / "__init__.py")))
