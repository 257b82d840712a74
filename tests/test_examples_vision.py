"""The vision examples on small budgets: they learn (loss falls, accuracy passes a bar far
above chance), their checkpoints load back to the same accuracy, a checkpoint with a missing
or mis-shaped tensor is refused by name, and the curves are written as PNG.

Each example is trained once (the `trained` fixture) and the checks share the result.
The full-budget numbers are in README.md ("Examples").
"""
import importlib
import pathlib
import re
import sys

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

pytestmark = pytest.mark.slow  # trains four examples: about 200 s here

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
EVAL = "1000"   # test images evaluated: enough to tell learning from chance, and quick

# (module, extra flags, steps, accuracy bar on the first EVAL test images)
CASES = {
    "mlp": ("mnist_mlp", [], 200, 0.90),
    "cnn": ("mnist_cnn", [], 100, 0.85),
    "cnn_tf1": ("mnist_cnn_tf1", [], 100, 0.85),
    "cnn_fashion": ("mnist_cnn", ["--dataset", "fashion"], 60, 0.60),
}


def _example(module: str):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(module)


_RUNS: dict = {}   # case -> (main, flags, metrics, folder, steps, bar): one training each


@pytest.fixture(params=sorted(CASES))
def trained(request, data_dir, tmp_path_factory, monkeypatch):
    """One example trained on a small budget with --plot and --save (once per session)."""
    module, flags, steps, bar = CASES[request.param]
    if "fashion" in flags and not (pathlib.Path(data_dir) / "fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST data not available")
    monkeypatch.setenv("TINYFLOW_DATA_DIR", data_dir)
    if request.param not in _RUNS:
        folder = tmp_path_factory.mktemp(request.param)
        common = flags + ["--eval-examples", EVAL, "--seed", "0"]
        main = _example(module).main
        metrics = main(common + ["--max-steps", str(steps),
                                 "--plot", str(folder / "curves.png"),
                                 "--save", str(folder / "model.safetensors")])
        _RUNS[request.param] = (main, common, metrics, folder, steps, bar)
    return _RUNS[request.param]


def test_loss_falls_and_accuracy_passes_the_bar(trained):
    _, _, metrics, _, steps, bar = trained
    losses = metrics["losses"]
    assert metrics["steps"] == len(losses) == steps
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5]), "training loss did not fall"
    assert metrics["test_accuracy"] >= bar


def test_checkpoint_round_trip_gives_the_same_accuracy(trained):
    main, common, metrics, folder, _, _ = trained
    loaded = main(common + ["--load", str(folder / "model.safetensors")])
    assert loaded["test_accuracy"] == metrics["test_accuracy"]


def test_checkpoint_with_a_missing_tensor_is_refused_by_name(trained):
    main, common, _, folder, _, _ = trained
    tensors = load_file(str(folder / "model.safetensors"))
    name = sorted(tensors)[-1]
    del tensors[name]
    save_file(tensors, str(folder / "missing.safetensors"))
    with pytest.raises(RuntimeError,
                       match=f"keys missing from the (state_dict|checkpoint).*{re.escape(name)}"):
        main(common + ["--load", str(folder / "missing.safetensors")])


def test_checkpoint_with_a_misshaped_tensor_is_refused_by_name(trained):
    main, common, _, folder, _, _ = trained
    tensors = load_file(str(folder / "model.safetensors"))
    name = sorted(tensors)[0]
    tensors[name] = np.zeros(tensors[name].shape[:-1] + (3,), tensors[name].dtype)
    save_file(tensors, str(folder / "misshaped.safetensors"))
    with pytest.raises(RuntimeError,
                       match=f"{re.escape(name)}: the (state_dict|checkpoint) holds shape"):
        main(common + ["--load", str(folder / "misshaped.safetensors")])


def test_curves_are_written_as_png(trained):
    _, _, _, folder, _, _ = trained
    png = (folder / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
