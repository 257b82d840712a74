"""A multi-layer perceptron (784-512-256-10, ReLU) on MNIST, written as in PyTorch.

Adam with a cosine learning-rate decay over the run, batch 64, normalized pixels.

    python examples/mnist_mlp.py                      # 2 epochs, then the test accuracy
    python examples/mnist_mlp.py --plot mlp.png --save mlp.safetensors
    python examples/mnist_mlp.py --load mlp.safetensors   # evaluate a saved model
"""
from __future__ import annotations

import time
from typing import Optional

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F
from tinyflow.datasets import get_mnist
from tinyflow.utils.data import DataLoader, TensorDataset

from common import (accuracy, example_parser, fit, load_model, normalize, report, save_model,
                    step_budget)


class MLP(nn.Module):
    def __init__(self, hidden: tuple[int, ...] = (512, 256)) -> None:
        super().__init__()
        sizes = (28 * 28,) + hidden
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.out = nn.Linear(sizes[-1], 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


def main(argv: Optional[list[str]] = None) -> dict:
    """Train (or load) and evaluate; returns the metrics, so tests can call it in-process."""
    parser = example_parser(__doc__.splitlines()[0], epochs=2, batch_size=64, lr=1e-3)
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="evaluate on the first N test images only (default: all)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    start = time.perf_counter()

    mnist = get_mnist(flatten=True, onehot=False, validation_size=0)
    test_images = normalize(mnist.test.images[:args.eval_examples])
    test_set = TensorDataset(torch.from_numpy(test_images),
                             torch.from_numpy(mnist.test.labels[:len(test_images)]))
    test_loader = DataLoader(test_set, batch_size=1000)
    model = MLP()

    if args.load:
        load_model(model, args.load)
        acc = accuracy(model, test_loader)
        print(f"{args.load}: test accuracy {acc:.4f} on {len(test_set)} images")
        return {"test_accuracy": acc}

    train_set = TensorDataset(torch.from_numpy(normalize(mnist.train.images)),
                              torch.from_numpy(mnist.train.labels))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    total_steps = step_budget(args, len(train_loader))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss.item()

    losses, accs = fit(model, train_loader, step, args.epochs,
                       lambda: accuracy(model, test_loader), args.max_steps)
    return report(args, losses, accs, start, "MNIST MLP", lambda path: save_model(model, path))


if __name__ == "__main__":
    main()
