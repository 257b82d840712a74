"""A parameter server on Ray: sharded, replicated parameters; BSP / SSP / asynchronous
consistency through a clock table; stragglers on purpose; a training loop (`PSTrainer`).

    import tinyflow.distributed as dist
    dist.init()                          # this machine; dist.init(address="auto") joins a cluster
    trainer = dist.PSTrainer(make_model, (x, y), num_workers=4,
                             consistency=dist.ssp(3), rule=dist.SGD(0.1))
    result = trainer.train(steps=500, evaluate=trainer.accuracy(x_test, y_test))
"""
from __future__ import annotations

import os
from typing import Optional

import ray

from ..pytorch.process_group import (destroy_process_group, init_process_group,
                                      is_available, is_initialized)
from .devices import devices, release_devices, reset_transfer_stats, transfer_stats
from .transfers import DeviceError
from .client import Consistency, PSClient, Stats, asynchronous, bsp, ssp
from .collective import CollectiveError, CommStats, Communicator, Group
from .data_parallel import DataParallel
from .pipeline import Pipeline, PipelineError, PipelineTimeout, StepReport
from .pipeline_schedule import Interval, Work, simulate, theoretical_bubble
from .pipeline_stage import Delayed
from .ps import ParameterServer
from .rules import SGD, Adam, Custom, Momentum, UpdateRule
from .sharding import Layout, Piece
from .straggler import RoamingStraggler, Straggler, roaming
from .tensor_parallel import (ColumnParallelLinear, ParallelMLP, ParallelSelfAttention,
                              RowParallelLinear, TensorParallel, copy_to_group,
                              reduce_from_group)
from .trainer import GraphModel, ModuleModel, PSTrainer, TrainResult


def init(address: Optional[str] = None, num_cpus: Optional[int] = None, **kwargs) -> None:
    """Start Ray on this machine (`address=None`) or join a running cluster
    (`address="auto"` or "host:port"); a no-op when Ray is already up."""
    if not ray.is_initialized():
        if address not in (None, "auto", "local"):
            _use_configured_token()
        ray.init(address=address, num_cpus=num_cpus, include_dashboard=False,
                 log_to_driver=False, **kwargs)


def _use_configured_token() -> None:
    """Ray turns token authentication on by itself only for address None or "auto", so
    joining by "host:port" a head that requires the token configured here would fail."""
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return                                   # set explicitly: Ray respects it
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available)
    except ImportError:                          # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def shutdown() -> None:
    ray.shutdown()


__all__ = ["Adam", "Consistency", "Custom", "GraphModel", "Layout", "ModuleModel", "Momentum",
           "PSClient", "PSTrainer", "ParameterServer", "Piece", "RoamingStraggler", "SGD", "Stats",
           "Straggler", "TrainResult", "UpdateRule", "asynchronous", "bsp", "init", "roaming",
           "shutdown", "ssp"]
__all__ += ["CollectiveError", "ColumnParallelLinear", "CommStats", "Communicator",
            "DataParallel", "Group", "ParallelMLP", "ParallelSelfAttention", "RowParallelLinear",
            "TensorParallel", "copy_to_group", "reduce_from_group"]
__all__ += ["Delayed", "Interval", "Pipeline", "PipelineError", "PipelineTimeout", "StepReport",
            "Work", "simulate", "theoretical_bubble"]
__all__ += ["destroy_process_group", "init_process_group", "is_available", "is_initialized"]
__all__ += ["DeviceError", "devices", "release_devices", "reset_transfer_stats",
            "transfer_stats"]
