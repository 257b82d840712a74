"""The MNIST MLP (784-512-256-10) or LeNet CNN (--model cnn) trained in float32, under
bfloat16 autocast, under float16 autocast with a GradScaler, and with fp8 products (e4m3
forward, e5m2 gradients; scaled by each tensor's current amax, or by the max of its last 16
steps' amaxes: "fp8-delayed"): the same seed, data order and step budget each, as a PyTorch
AMP user writes it.

    python examples/mnist_precision.py --epochs 2                  # all four, then a table
    python examples/mnist_precision.py --modes float32,bfloat16 --max-steps 300
    python examples/mnist_precision.py --model cnn --modes float32,bfloat16 --max-steps 400
"""
from __future__ import annotations

import time
from typing import Optional

import tinyflow as torch
import tinyflow.nn.functional as F
from tinyflow.datasets import get_mnist
from tinyflow.utils.data import DataLoader, TensorDataset

from common import PRECISIONS as MODES
from common import accuracy, example_parser, fit, normalize, precision, step_budget
from mnist_cnn import LeNet
from mnist_mlp import MLP

MODELS = {"mlp": MLP, "cnn": LeNet}


def train(mode: str, args, train_set, test_loader) -> dict:
    torch.manual_seed(args.seed)
    model = MODELS[args.model]()
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
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="evaluate on the first N test images only (default: all)")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    flat = args.model == "mlp"
    mnist = get_mnist(flatten=flat, onehot=False, validation_size=0)
    train_images, test_images = (mnist.train.images, mnist.test.images[:args.eval_examples]) \
        if flat else (mnist.train.images[:, None], mnist.test.images[:args.eval_examples, None])
    train_set = TensorDataset(torch.from_numpy(normalize(train_images)),
                              torch.from_numpy(mnist.train.labels))
    test_loader = DataLoader(TensorDataset(torch.from_numpy(normalize(test_images)),
                                           torch.from_numpy(mnist.test.labels[:len(test_images)])),
                             batch_size=1000 if flat else 500)
    results = {mode: train(mode, args, train_set, test_loader) for mode in modes}
    base = results.get("float32")
    print(f"\n{args.model}")
    print(f"{'mode':<12}{'steps':>7}{'test acc':>10}{'vs float32':>12}{'seconds':>9}")
    for r in results.values():
        gap = None if base is None else r["test_accuracy"] - base["test_accuracy"]
        delta = "" if gap is None else f"{100 * gap:+.2f} %"
        print(f"{r['mode']:<12}{r['steps']:>7}{r['test_accuracy']:>10.4f}{delta:>12}"
              f"{r['seconds']:>9.1f}")
    return results


if __name__ == "__main__":
    main()
