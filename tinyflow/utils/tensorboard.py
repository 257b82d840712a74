"""`torch.utils.tensorboard.SummaryWriter` over the TF1 writer's event files (io/events.py):
scalars, groups of scalars and histograms, so training scripts that log (makemore, most
tutorials) run unchanged and TensorBoard reads what they wrote."""
from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Optional

import numpy as np

from ..backend.numpy.summary import encode_histogram, encode_scalar
from ..io.events import EventFileWriter, event


def _number(value) -> float:
    """A Python number, a NumPy scalar or a one-element tensor, as PyTorch's writer takes."""
    if hasattr(value, "numpy"):
        value = value.numpy(force=True)
    return float(np.asarray(value).reshape(()))


class SummaryWriter:
    """Writes events into `log_dir` (default `runs/<date>_<host><comment>`, as PyTorch);
    each event is written through at once, so `flush` has nothing left to do."""

    def __init__(self, log_dir: Optional[str] = None, comment: str = "", purge_step=None,
                 max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""):
        if log_dir is None:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir, self._suffix = str(log_dir), filename_suffix
        self._writer = EventFileWriter(self.log_dir, filename_suffix)
        self._groups: dict = {}

    def get_logdir(self) -> str:
        return self.log_dir

    def _add(self, summary: bytes, global_step, walltime, writer=None) -> None:
        (writer or self._writer).add(event(int(global_step or 0), walltime, summary=summary))

    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None,
                   new_style: bool = False, double_precision: bool = False) -> None:
        self._add(encode_scalar(tag, _number(scalar_value)), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None,
                    walltime=None) -> None:
        """One run per key, in `log_dir/<main_tag>_<key>`, tagged `main_tag`, as PyTorch."""
        for key, value in tag_scalar_dict.items():
            run = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{key}")
            if run not in self._groups:
                self._groups[run] = EventFileWriter(run, self._suffix)
            self._add(encode_scalar(main_tag, _number(value)), global_step, walltime,
                      self._groups[run])

    def add_histogram(self, tag: str, values, global_step=None, bins="tensorflow",
                      walltime=None, max_bins=None) -> None:
        if hasattr(values, "numpy"):
            values = values.numpy(force=True)
        self._add(encode_histogram(tag, np.asarray(values)), global_step, walltime)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        for writer in (self._writer, *self._groups.values()):
            writer.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
