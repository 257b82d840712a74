"""The MNIST MLP (784-512-256-10) trained in float32, under bfloat16 autocast, under float16
autocast with a GradScaler, and with fp8 products (e4m3 forward, e5m2 gradients; scaled by
each tensor's current amax, or by the max of its last 16 steps' amaxes: "fp8-delayed"): the
same seed, data order and step budget each, as a PyTorch AMP user writes it.

    python examples/mnist_precision.py --epochs 2                  # all four, then a table
    python examples/mnist_precision.py --modes float32,bfloat16 --max-steps 300
"""
from __future__ import annotations

import contextlib
import time
from typing import Optional

import tinyflow as torch
import tinyflow.nn.functional as F
from tinyflow.datasets import get_mnist
from tinyflow.utils.data import DataLoader, TensorDataset

from common import accuracy, example_parser, fit, normalize, step_budget
from mnist_mlp import MLP

MODES = ("float32", "bfloat16", "float16", "fp8", "fp8-delayed")


def precision(mode: str):
    """The context a step's forward pass runs in, and whether it scales the loss."""
    if mode == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16), False
    if mode == "float16":
        return torch.autocast("cpu", dtype=torch.float16), True
    if mode == "fp8":
        return torch.fp8_autocast(fp8_recipe=torch.Fp8Recipe()), False
    if mode == "fp8-delayed":
        return torch.fp8_autocast(fp8_recipe=torch.Fp8Recipe(amax_history_len=16)), False
    return contextlib.nullcontext(), False


def train(mode: str, args, train_set, test_loader) -> dict:
    torch.manual_seed(args.seed)
    model = MLP()
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    total_steps = step_budget(args, len(loader))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    context, scaled = precision(mode)
    scaler = torch.amp.GradScaler("cpu", enabled=scaled)

    def step(x, y) -> float:
        optimizer.zero_grad()
        with context:
            loss = F.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        return loss.item()

    def evaluate() -> float:
        with torch.no_grad(), context:
            return accuracy(model, test_loader)

    start = time.perf_counter()
    losses, accs = fit(model, loader, step, args.epochs, evaluate, args.max_steps)
    return {"mode": mode, "test_accuracy": accs[-1], "steps": len(losses),
            "seconds": time.perf_counter() - start, "final_loss": sum(losses[-100:]) / 100}


def main(argv: Optional[list[str]] = None) -> dict:
    parser = example_parser(__doc__.splitlines()[0], epochs=2, batch_size=64, lr=1e-3)
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, of {', '.join(MODES)}")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    mnist = get_mnist(flatten=True, onehot=False, validation_size=0)
    train_set = TensorDataset(torch.from_numpy(normalize(mnist.train.images)),
                              torch.from_numpy(mnist.train.labels))
    test_loader = DataLoader(TensorDataset(torch.from_numpy(normalize(mnist.test.images)),
                                           torch.from_numpy(mnist.test.labels)),
                             batch_size=1000)
    results = {mode: train(mode, args, train_set, test_loader) for mode in modes}
    base = results.get("float32")
    print(f"\n{'mode':<12}{'steps':>7}{'test acc':>10}{'vs float32':>12}{'seconds':>9}")
    for r in results.values():
        gap = None if base is None else r["test_accuracy"] - base["test_accuracy"]
        delta = "" if gap is None else f"{100 * gap:+.2f} %"
        print(f"{r['mode']:<12}{r['steps']:>7}{r['test_accuracy']:>10.4f}{delta:>12}"
              f"{r['seconds']:>9.1f}")
    return results


if __name__ == "__main__":
    main()
