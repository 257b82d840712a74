"""What every example shares: a progress-bar training loop, evaluation, curves, checkpoints.

Kept small on purpose: each example script reads like the PyTorch code it mirrors, and this
file only removes the lines they would all repeat.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Optional

import numpy as np
from tqdm import tqdm

import tinyflow as torch
from tinyflow.io import checkpoint


def train_epoch(model, loader: Iterable, step: Callable, desc: str,
                max_steps: Optional[int] = None) -> list[float]:
    """Run `step(x, y) -> loss` over the loader with a tqdm bar of loss and throughput."""
    model.train()
    losses: list[float] = []
    seen, start = 0, time.perf_counter()
    total = len(loader) if max_steps is None else min(len(loader), max_steps)
    with tqdm(loader, total=total, desc=desc, leave=False) as bar:
        for i, (x, y) in enumerate(bar):
            if max_steps is not None and i >= max_steps:
                break
            losses.append(float(step(x, y)))
            seen += len(x)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}",
                            ex_per_s=f"{seen / (time.perf_counter() - start):.0f}")
    return losses


@torch.no_grad()
def accuracy(model, loader: Iterable) -> float:
    """Share of examples whose argmax prediction is the label."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x).argmax(1) == y).sum().item())
        total += len(y)
    return correct / total


def plot_curves(path: str, curves: dict[str, list[float]], title: str) -> None:
    """Save named curves (e.g. train loss, test accuracy per epoch) as one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5))
    for ax, (name, values) in zip(np.atleast_1d(axes), curves.items()):
        ax.plot(values)
        ax.set_title(name)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_model(model, path: str) -> None:
    checkpoint.save(model.state_dict(), path)


def load_model(model, path: str):
    """Load weights; a missing or mis-shaped tensor raises an error naming it."""
    model.load_state_dict(checkpoint.load(path))
    return model
