"""MNIST read row by row by an LSTM: each image is a sequence of 28 steps of 28 pixels, and
the last hidden state is classified by a Linear layer.

Adam with a cosine-decayed learning rate and gradients clipped to norm 1.0, on the 55,000
training images; validation accuracy (5,000 held-apart training images) after each epoch,
test accuracy at the end.

    python examples/mnist_lstm.py                 # 4 epochs, then the test accuracy
    python examples/mnist_lstm.py --plot lstm.png --save lstm.safetensors
    python examples/mnist_lstm.py --load lstm.safetensors   # evaluate a saved model
"""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F
from tinyflow.datasets import get_mnist
from tinyflow.utils.data import DataLoader, TensorDataset

from common import accuracy, example_parser, fit, load_model, plot_curves, save_model


class RowLSTM(nn.Module):
    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images [batch, 28, 28] (or [batch, 784]) -> logits [batch, 10]."""
        rows = images.reshape(-1, 28, 28)
        _, (h_n, _) = self.lstm(rows)
        return self.fc(h_n[-1])


def _loader(split, batch_size: int, shuffle: bool = False) -> DataLoader:
    data = TensorDataset(torch.from_numpy(split.images), torch.from_numpy(split.labels))
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle)


def main(argv: Optional[list[str]] = None) -> dict:
    """Train (or load) and evaluate; returns the metrics, so tests can call it in-process."""
    parser = example_parser(__doc__.splitlines()[0], epochs=4, batch_size=128, lr=2e-3)
    parser.add_argument("--hidden", type=int, default=128)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    mnist = get_mnist(flatten=False, onehot=False)
    val_loader = _loader(mnist.validation, 1000)
    test_loader = _loader(mnist.test, 1000)
    model = RowLSTM(args.hidden)

    if args.load:
        load_model(model, args.load)
        acc = accuracy(model, test_loader)
        print(f"{args.load}: test accuracy {acc:.4f}")
        return {"test_accuracy": acc}

    train_loader = _loader(mnist.train, args.batch_size, shuffle=True)
    total = args.epochs * len(train_loader)
    total = max(1, total if args.max_steps is None else min(total, args.max_steps))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: 0.5 * (1 + math.cos(math.pi * min(k, total) / total)))

    def step(x: torch.Tensor, y: torch.Tensor) -> float:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        return loss.item()

    start = time.perf_counter()
    losses, val_accs = fit(model, train_loader, step, args.epochs,
                           lambda: accuracy(model, val_loader), args.max_steps,
                           metric="validation accuracy")
    seconds = time.perf_counter() - start
    test_acc = accuracy(model, test_loader)
    print(f"test accuracy {test_acc:.4f} after {len(losses)} steps of batch "
          f"{args.batch_size} ({seconds:.0f} s, with the per-epoch validation)")
    if args.plot:
        plot_curves(args.plot, {"train loss": losses, "validation accuracy": val_accs},
                    f"LSTM({args.hidden}) reading MNIST rows")
    if args.save:
        save_model(model, args.save)
    return {"test_accuracy": test_acc, "val_accuracies": val_accs, "losses": losses,
            "steps": len(losses), "seconds": seconds,
            "final_loss": float(np.mean(losses[-50:]))}


if __name__ == "__main__":
    main()
