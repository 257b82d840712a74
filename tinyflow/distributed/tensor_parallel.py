"""Tensor parallelism as Megatron-LM cuts a transformer layer: each weight matrix split
across the workers of a group, so that a block communicates once each way.

- `ColumnParallelLinear`: the output features (rows of the [out, in] weight) split; input
  replicated, output split. Its input passes through `copy_to_group` ("f": identity
  forward, all-reduce of the input's gradient backward).
- `RowParallelLinear`: the input features split; input split, partial products summed by
  `reduce_from_group` ("g": all-reduce forward, identity backward), then the bias.
- `ParallelMLP` (column, GELU, row) and `ParallelSelfAttention` (the heads split: Q, K, V
  column-parallel in one matrix, the output projection row-parallel): one all-reduce in the
  forward pass, one in the backward pass (none when the input needs no gradient).

`from_full(...)` builds a worker's shard from the single-device weights (PyTorch's Linear
layout), so a test can compare with one device. `TensorParallel` runs such a module on a
`Group`; a module runs inside the worker actors, with the worker's communicator.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from ..core.tensor import Tensor
from ..nn import Module, Parameter
from ..nn import functional as F
from ..pytorch.creation import tensor
from .collective import Communicator, Group, GroupJob


def _shard(n: int, comm: Communicator, what: str) -> slice:
    """Worker `rank`'s equal slice of n features (n must divide evenly, as in Megatron)."""
    if n % comm.size:
        raise ValueError(f"{what}: {n} is not divisible by the group size {comm.size}")
    k = n // comm.size
    return slice(comm.rank * k, (comm.rank + 1) * k)


def copy_to_group(x: Tensor, comm: Communicator) -> Tensor:
    """Megatron's f: x itself forward; backward, the gradient summed over the group before it
    flows on into x (each worker's branch saw only its part of the layer)."""
    if not x.requires_grad:
        return x
    leaf = Tensor._eager(x.array, requires_grad=True)

    def reduce_then_continue(t: Tensor) -> None:
        total = comm.all_reduce(t.grad.array)
        x.backward(Tensor._eager(total), retain_graph=True)
    leaf.register_post_accumulate_grad_hook(reduce_then_continue)
    return leaf


def reduce_from_group(x: Tensor, comm: Communicator) -> Tensor:
    """Megatron's g: the sum over the group forward; the gradient passes unchanged to every
    worker's x. Written as sum + (x - x.detach()): exactly the sum's bits (x - x is 0) on
    every worker, derivative 1."""
    total = Tensor._eager(comm.all_reduce(x.array))
    if not x.requires_grad:
        return total
    return total + (x - x.detach())


class _ShardedLinear(Module):
    """This worker's shard of a linear layer's weight (and bias), with its communicator."""

    def __init__(self, comm: Communicator, weight: np.ndarray,
                 bias: Optional[np.ndarray]) -> None:
        super().__init__()
        self.comm = comm
        self.weight = Parameter(np.array(weight))
        self.bias = None if bias is None else Parameter(np.array(bias))


class ColumnParallelLinear(_ShardedLinear):
    """y_i = x W_i^T + b_i for this worker's rows W_i of W [out, in]; the output stays split
    (each worker holds out / N features), for a row-parallel layer to take."""

    @classmethod
    def from_full(cls, comm: Communicator, weight: np.ndarray, bias=None):
        rows = _shard(weight.shape[0], comm, "ColumnParallelLinear out_features")
        return cls(comm, weight[rows], None if bias is None else bias[rows])

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(copy_to_group(x, self.comm), self.weight, self.bias)


class RowParallelLinear(_ShardedLinear):
    """z = sum_i y_i W_i^T + b for this worker's columns W_i of W [out, in] and its split
    input y_i: one all-reduce forward."""

    @classmethod
    def from_full(cls, comm: Communicator, weight: np.ndarray, bias=None):
        cols = _shard(weight.shape[1], comm, "RowParallelLinear in_features")
        return cls(comm, weight[:, cols], bias)

    def forward(self, y: Tensor) -> Tensor:
        z = reduce_from_group(F.linear(y, self.weight), self.comm)
        return z if self.bias is None else z + self.bias


class ParallelMLP(Module):
    """fc2(gelu(fc1(x))) with fc1 column- and fc2 row-parallel: the hidden activations never
    leave their worker."""

    def __init__(self, fc1: ColumnParallelLinear, fc2: RowParallelLinear) -> None:
        super().__init__()
        self.fc1, self.fc2 = fc1, fc2

    @classmethod
    def from_full(cls, comm: Communicator, w1, b1, w2, b2) -> "ParallelMLP":
        return cls(ColumnParallelLinear.from_full(comm, w1, b1),
                   RowParallelLinear.from_full(comm, w2, b2))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ParallelSelfAttention(Module):
    """Multi-head self-attention over x [batch, time, d] with `num_heads` heads, num_heads / N
    of them on each worker: the Q, K, V projections column-parallel (one matrix), the output
    projection row-parallel. `causal` masks the future."""

    def __init__(self, comm: Communicator, qkv: ColumnParallelLinear, out: RowParallelLinear,
                 local_heads: int, head_dim: int, causal: bool = False) -> None:
        super().__init__()
        self.comm, self.qkv, self.out = comm, qkv, out
        self.local_heads, self.head_dim, self.causal = local_heads, head_dim, causal

    @classmethod
    def from_full(cls, comm: Communicator, num_heads: int, wq, wk, wv, wo, bq=None, bk=None,
                  bv=None, bo=None, causal: bool = False) -> "ParallelSelfAttention":
        """Weights in PyTorch's [out, in] layout, heads in consecutive rows of wq, wk, wv."""
        d = wq.shape[0]
        heads = _shard(num_heads, comm, "ParallelSelfAttention num_heads")
        head_dim = d // num_heads
        rows = slice(heads.start * head_dim, heads.stop * head_dim)
        weight = np.concatenate([wq[rows], wk[rows], wv[rows]])
        bias = None if bq is None else np.concatenate([bq[rows], bk[rows], bv[rows]])
        local = heads.stop - heads.start
        return cls(comm, ColumnParallelLinear(comm, weight, bias),
                   RowParallelLinear(comm, wo[:, rows], bo), local, head_dim, causal)

    def forward(self, x: Tensor) -> Tensor:
        b, t, _ = x.shape
        h, dh = self.local_heads, self.head_dim
        qkv = self.qkv(x).reshape(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)   # 3, b, h, t, dh
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if self.causal:
            future = np.triu(np.ones((t, t), bool), 1)
            scores = scores.masked_fill(tensor(future), float("-inf"))
        heads = F.softmax(scores, dim=-1) @ v                                 # b, h, t, dh
        return self.out(heads.transpose(1, 2).reshape(b, t, h * dh))


class Sharded:
    """Worker side of `TensorParallel`: the module `make_module(comm)` and one
    forward/backward at a time, with the all-reduces each pass made."""

    def __init__(self, comm: Communicator, make_module: Callable) -> None:
        self.comm, self.module = comm, make_module(comm)

    def _all_reduces(self) -> int:
        return self.comm.stats.calls.get("all_reduce", 0)

    def forward_backward(self, x: np.ndarray, grad_out: Optional[np.ndarray]) -> dict:
        """out = module(x); with `grad_out`, backward of sum(out * grad_out). Returns the
        output, x's gradient, the parameters' gradients (this worker's shards) and the
        all-reduces of each pass."""
        self.module.zero_grad()
        xt = Tensor._eager(np.array(x), requires_grad=grad_out is not None)
        before = self._all_reduces()
        out = self.module(xt)
        forward = self._all_reduces() - before
        result = {"out": out.numpy(force=True), "forward_all_reduces": forward}
        if grad_out is not None:
            out.backward(Tensor._eager(np.asarray(grad_out, out.dtype.np)))
            result["backward_all_reduces"] = self._all_reduces() - before - forward
            result["x_grad"] = xt.grad.numpy()
            result["grads"] = {k: p.grad.numpy() for k, p in self.module.named_parameters()}
        return result


class TensorParallel(GroupJob):
    """Run `make_module(comm)` (e.g. `functools.partial(ParallelMLP.from_full, w1=...)`)
    on every worker of `group` (or of a new group of `num_workers`)."""

    def __init__(self, make_module: Callable, num_workers: int = 2,
                 group: Optional[Group] = None, timeout: float = 30.0) -> None:
        super().__init__(group, lambda: Group(num_workers, timeout), "tensor_parallel",
                         Sharded, make_module)

    def forward_backward(self, x: np.ndarray, grad_out: Optional[np.ndarray] = None) -> list:
        """Every worker's `Sharded.forward_backward` result, in rank order."""
        n = self.group.size
        return self.group.invoke(self.key, "forward_backward", [x] * n, [grad_out] * n)

