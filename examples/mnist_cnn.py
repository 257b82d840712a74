"""A LeNet-style CNN on MNIST (or Fashion-MNIST with --dataset fashion), written as in PyTorch.

conv 5x5 1->32, ReLU, max-pool 2, conv 5x5 32->64, ReLU, max-pool 2, fc 3136->128, ReLU,
fc 128->10; Adam with a cosine learning-rate decay over the run, batch 64, normalized pixels.

    python examples/mnist_cnn.py                      # 2 epochs, then the test accuracy
    python examples/mnist_cnn.py --dataset fashion --plot cnn.png --save cnn.safetensors
    python examples/mnist_cnn.py --dataset fashion --load cnn.safetensors
"""
from __future__ import annotations

import time
from typing import Optional

import tinyflow as torch
import tinyflow.nn as nn
import tinyflow.nn.functional as F
from tinyflow.datasets import get_fashion_mnist, get_mnist
from tinyflow.utils.data import DataLoader, TensorDataset

from common import (accuracy, example_parser, fit, load_model, normalize, report, save_model,
                    step_budget)

# name, loader, and the mean and standard deviation of the training pixels
DATASETS = {"mnist": ("MNIST", get_mnist, 0.1307, 0.3081),
            "fashion": ("Fashion-MNIST", get_fashion_mnist, 0.2860, 0.3530)}


class LeNet(nn.Module):
    def __init__(self, channels: tuple[int, int] = (32, 64), hidden: int = 128) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel_size=5, padding=2)
        self.fc1 = nn.Linear(channels[1] * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # [N, 32, 14, 14]
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # [N, 64, 7, 7]
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def main(argv: Optional[list[str]] = None) -> dict:
    """Train (or load) and evaluate; returns the metrics, so tests can call it in-process."""
    parser = example_parser(__doc__.splitlines()[0], epochs=2, batch_size=64, lr=1e-3)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help="evaluate on the first N test images only (default: all)")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    start = time.perf_counter()

    name, load_data, mean, std = DATASETS[args.dataset]
    data = load_data(flatten=False, onehot=False, validation_size=0)
    test_images = normalize(data.test.images[:args.eval_examples, None], mean, std)  # NCHW
    test_set = TensorDataset(torch.from_numpy(test_images),
                             torch.from_numpy(data.test.labels[:len(test_images)]))
    test_loader = DataLoader(test_set, batch_size=500)
    model = LeNet()

    if args.load:
        load_model(model, args.load)
        acc = accuracy(model, test_loader)
        print(f"{args.load}: test accuracy {acc:.4f} on {len(test_set)} images")
        return {"test_accuracy": acc}

    train_set = TensorDataset(torch.from_numpy(normalize(data.train.images[:, None], mean, std)),
                              torch.from_numpy(data.train.labels))
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
    return report(args, losses, accs, start, f"{name} LeNet",
                  lambda path: save_model(model, path))


if __name__ == "__main__":
    main()
