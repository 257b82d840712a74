"""Per-op overhead: 1000 small elementwise ops on a [16] tensor, forward and forward+backward."""
import torch

from models.data import Workload, uniform

OPS = 1000


def chain(x):
    for _ in range(OPS // 2):
        x = x * 1.0001 + 0.0001
    return x


def chain_fwd():
    x = torch.from_numpy(uniform(0, 16))
    return lambda: chain(x).sum().item()


def chain_fwd_bwd():
    x = torch.from_numpy(uniform(0, 16)).requires_grad_()

    def step():
        x.grad = None
        chain(x).sum().backward()
        return x.grad.sum().item()
    return step


WORKLOADS = {"chain_fwd": Workload(chain_fwd, 20, "infer"),
             "chain_fwd_bwd": Workload(chain_fwd_bwd, 20)}
