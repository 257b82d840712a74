"""What every example shares: a progress-bar training loop, evaluation, curves, checkpoints.

Kept small on purpose: each example script reads like the PyTorch code it mirrors, and this
file only removes the lines they would all repeat.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
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
    total = len(loader) if max_steps is None else min(len(loader), max_steps)
    return run_steps(itertools.islice(loader, total), step, desc, total)


def run_steps(batches: Iterable, step: Callable, desc: str, total: int) -> list[float]:
    """Run `step(x, y) -> loss` over `total` batches with a tqdm bar of loss and throughput
    (the loop of `train_epoch`, for code without a Module, such as a TF1 session)."""
    losses: list[float] = []
    seen, start = 0, time.perf_counter()
    with tqdm(batches, total=total, desc=desc, leave=False) as bar:
        for x, y in bar:
            losses.append(float(step(x, y)))
            seen += len(x)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}",
                            ex_per_s=f"{seen / (time.perf_counter() - start):.0f}",
                            refresh=False)  # redraw at tqdm's pace, not every step
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


def plot_curves(path: str, curves: dict, title: str) -> None:
    """Save named curves (e.g. train loss, test accuracy per epoch) as one PNG; a curve is a
    list of values (plotted at 1, 2, ...: step or epoch) or a pair (x values, values)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.5))
    for ax, (name, values) in zip(np.atleast_1d(axes), curves.items()):
        xs, values = values if isinstance(values, tuple) else (
            range(1, len(values) + 1), values)
        ax.plot(xs, values, marker="o" if len(values) < 30 else None)  # few points: show them
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


PRECISIONS = ("float32", "bfloat16", "float16", "fp8", "fp8-delayed")


def precision(mode: str):
    """The context a step's forward pass runs in under a `PRECISIONS` mode, and whether the
    loss is scaled (float16: a GradScaler; bfloat16 has float32's range)."""
    if mode == "bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16), False
    if mode == "float16":
        return torch.autocast("cpu", dtype=torch.float16), True
    if mode == "fp8":
        return torch.fp8_autocast(fp8_recipe=torch.Fp8Recipe()), False
    if mode == "fp8-delayed":
        return torch.fp8_autocast(fp8_recipe=torch.Fp8Recipe(amax_history_len=16)), False
    if mode != "float32":
        raise ValueError(f"unknown precision {mode!r}; choose from {', '.join(PRECISIONS)}")
    return contextlib.nullcontext(), False


def example_parser(description: str, epochs: int, batch_size: int,
                   lr: float) -> argparse.ArgumentParser:
    """The flags every example takes: budget, seed, optimizer, curves and checkpoints."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--max-steps", type=int, default=None,
                        help="stop after this many training steps in all (small budgets)")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", metavar="PNG", help="save the training curves as a PNG")
    parser.add_argument("--save", metavar="PATH", help="save the weights (safetensors)")
    parser.add_argument("--load", metavar="PATH",
                        help="evaluate the weights of a checkpoint instead of training")
    return parser


def fit(model, loader: Iterable, step: Callable, epochs: int, evaluate: Callable[[], float],
        max_steps: Optional[int] = None, metric: str = "test accuracy"
        ) -> tuple[list[float], list[float]]:
    """Train for `epochs` (or `max_steps` steps in all, if fewer) and evaluate after each epoch.

    Returns:
        The loss of every step and the value of `evaluate()` after every epoch.
    """
    losses: list[float] = []
    scores: list[float] = []
    for epoch in range(1, epochs + 1):
        left = None if max_steps is None else max_steps - len(losses)
        losses += train_epoch(model, loader, step, f"epoch {epoch}/{epochs}", left)
        scores.append(evaluate())
        print(f"epoch {epoch}: {len(losses)} steps, train loss "
              f"{np.mean(losses[-100:]):.4f}, {metric} {scores[-1]:.4f}")
        if max_steps is not None and len(losses) >= max_steps:
            break
    return losses, scores


def step_budget(args: argparse.Namespace, steps_per_epoch: int) -> int:
    """Steps the run will take: `--epochs` of the data, cut at `--max-steps` if given."""
    total = args.epochs * steps_per_epoch
    return total if args.max_steps is None else min(total, args.max_steps)


def report(args: argparse.Namespace, losses: list[float], accs: list[float], start: float,
           title: str, save: Callable[[str], None]) -> dict:
    """Print the final test accuracy, write the curves and checkpoint the flags ask for, and
    return the figures the tests read."""
    seconds = time.perf_counter() - start
    print(f"test accuracy {accs[-1]:.4f} after {len(losses)} steps ({seconds:.1f} s)")
    if args.plot:
        plot_curves(args.plot, {"train loss": losses, "test accuracy per epoch": accs}, title)
    if args.save:
        save(args.save)
    return {"test_accuracy": accs[-1], "losses": losses, "accuracies": accs,
            "steps": len(losses), "seconds": seconds, "final_loss": float(np.mean(losses[-50:]))}


def save_variables(sess, variables: Iterable, path: str) -> None:
    """TF1: save the session's values of `variables` under their names (without ':0')."""
    checkpoint.save({_key(v): sess.run(v) for v in variables}, path)


def load_variables(sess, variables: Iterable, path: str) -> None:
    """TF1: set `variables` in `sess` from a checkpoint; a missing or mis-shaped tensor raises
    an error naming it, before any variable is changed."""
    saved = checkpoint.load(path)
    variables = list(variables)
    missing = ", ".join(f'"{_key(v)}"' for v in variables if _key(v) not in saved)
    errors = [f"keys missing from the checkpoint: {missing}"] if missing else []
    errors += [f"{_key(v)}: the checkpoint holds shape {list(saved[_key(v)].shape)}, the "
               f"variable {list(v.shape)}"
               for v in variables if _key(v) in saved and saved[_key(v)].shape != v.shape]
    if errors:
        raise RuntimeError(f"loading variables from {path}:\n\t" + "\n\t".join(errors))
    for v in variables:
        v.load(saved[_key(v)].numpy(), sess)


def _key(variable) -> str:
    return variable.name.split(":")[0]


MNIST_MEAN, MNIST_STD = 0.1307, 0.3081   # of the MNIST training pixels in [0, 1]


def normalize(images: np.ndarray, mean: float = MNIST_MEAN, std: float = MNIST_STD
              ) -> np.ndarray:
    """torchvision's `transforms.Normalize((0.1307,), (0.3081,))`, done once on the array."""
    return ((images - mean) / std).astype(np.float32)
