"""TF1's `tf.train.Saver`: variables to and from a checkpoint file, which is one safetensors
file ({variable name: value}, see io/checkpoint.py) rather than TF's .index/.data pair, and a
`checkpoint` text file in its folder naming the latest one (`tf.train.latest_checkpoint`).
Errors name the file and the variable."""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

import numpy as np

from ..core.tensor import Tensor
from ..io import checkpoint
from .variables import Variable, global_variables

_STATE_FILE = "checkpoint"


class Saver:
    """Saves and restores `var_list` (default: every global variable when the Saver is made;
    a dict gives the names in the file, a list uses the variables' own names)."""

    def __init__(self, var_list=None, max_to_keep: int = 5, **unused) -> None:
        if var_list is None:
            var_list = global_variables()
        if isinstance(var_list, dict):
            pairs = list(var_list.items())
        else:
            pairs = [(getattr(v, "_name", None), v) for v in var_list]
        for name, var in pairs:
            if not isinstance(var, Variable):
                raise TypeError(f"Saver: {var!r} ({name}) is not a variable")
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"Saver: two variables are saved under one name in {names}")
        if not pairs:
            raise ValueError("Saver: no variables to save")
        self._pairs = pairs
        self.max_to_keep = max_to_keep
        self.last_checkpoints: list = []

    def save(self, sess, save_path: str, global_step=None, **unused) -> str:
        """Write the variables' values in `sess` to `save_path` (`save_path-<step>` with
        `global_step`); returns the path written."""
        if global_step is not None:
            step = sess.run(global_step) if isinstance(global_step, Tensor) else global_step
            save_path = f"{save_path}-{int(step)}"
        folder = os.path.dirname(save_path)
        if folder and not os.path.isdir(folder):
            raise ValueError(f"Saver.save: the folder of {save_path} does not exist; create "
                             f"it first")
        values = sess.run([var for _, var in self._pairs])
        checkpoint.save({name: value for (name, _), value in zip(self._pairs, values)},
                        save_path)
        self._remember(save_path)
        return save_path

    def restore(self, sess, save_path: Optional[str]) -> None:
        """Set every variable of the Saver in `sess` from the file at `save_path`."""
        if save_path is None:
            raise ValueError("Saver.restore: save_path is None (did "
                             "tf.train.latest_checkpoint find no checkpoint?)")
        if not os.path.isfile(save_path):
            raise ValueError(f"Saver.restore: no checkpoint file at {save_path}")
        state = checkpoint.load(save_path)
        for name, var in self._pairs:
            if name not in state:
                raise KeyError(f"restore: variable {name} not found in checkpoint {save_path} "
                               f"(it holds {sorted(state)})")
            value = state[name].numpy()
            if value.shape != tuple(var.shape):
                raise ValueError(f"restore: variable {name} has shape {tuple(var.shape)} but "
                                 f"checkpoint {save_path} holds shape {value.shape}")
            if value.dtype != var.dtype.np:
                raise TypeError(f"restore: variable {name} is {var.dtype.name} but checkpoint "
                                f"{save_path} holds {value.dtype}")
            var.load(np.asarray(value), sess)

    def _remember(self, save_path: str) -> None:
        """Keep the newest `max_to_keep` files and name the latest in the `checkpoint` file."""
        if save_path in self.last_checkpoints:
            self.last_checkpoints.remove(save_path)
        self.last_checkpoints.append(save_path)
        while self.max_to_keep and len(self.last_checkpoints) > self.max_to_keep:
            old = self.last_checkpoints.pop(0)
            if os.path.exists(old):
                os.unlink(old)
        folder = os.path.dirname(os.path.abspath(save_path))
        lines = [f'model_checkpoint_path: "{os.path.abspath(save_path)}"'] + [
            f'all_model_checkpoint_paths: "{os.path.abspath(p)}"' for p in self.last_checkpoints]
        with open(os.path.join(folder, _STATE_FILE), "w") as f:
            f.write("\n".join(lines) + "\n")


class CheckpointState(NamedTuple):
    """TF1's CheckpointState proto, as `tf.train.get_checkpoint_state` reads it."""
    model_checkpoint_path: str
    all_model_checkpoint_paths: list


def get_checkpoint_state(checkpoint_dir: str,
                         latest_filename: Optional[str] = None) -> Optional[CheckpointState]:
    """The `checkpoint` file a Saver keeps in `checkpoint_dir`, or None if there is none;
    relative paths in it are taken relative to the folder, as TF1 does."""
    state = os.path.join(checkpoint_dir, latest_filename or _STATE_FILE)
    if not os.path.isfile(state):
        return None
    latest, every = None, []
    with open(state) as f:
        for line in f:
            key, _, value = line.partition(":")
            path = os.path.join(checkpoint_dir, value.strip().strip('"'))
            if key == "model_checkpoint_path":
                latest = path
            elif key == "all_model_checkpoint_paths":
                every.append(path)
    if latest is None:
        raise ValueError(f"get_checkpoint_state: {state} names no model_checkpoint_path")
    return CheckpointState(latest, every)


def checkpoint_exists(checkpoint_path: str) -> bool:
    """Whether a Saver's checkpoint is at `checkpoint_path` (one file here, not TF1's
    .index/.data pair)."""
    return os.path.isfile(checkpoint_path)


def latest_checkpoint(checkpoint_dir: str, latest_filename: Optional[str] = None
                      ) -> Optional[str]:
    """The path of the latest checkpoint a Saver wrote into `checkpoint_dir`, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not checkpoint_exists(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path
