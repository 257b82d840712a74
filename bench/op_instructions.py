"""Instructions per call of single eager ops (the seed step's and the batch-1 MLP's), under
valgrind's callgrind, tinyflow or torch: where a step's count (bench/instructions.py) goes,
op by op. Counting is on only around each snippet's loop and dumped per snippet, so the
counts are exact on a loaded machine (see instructions.py for the caveats: OpenBLAS runs
its AVX2 kernels under valgrind, and memory stalls are not counted).

    .venv/bin/python bench/op_instructions.py                 # every snippet, tinyflow
    .venv/bin/python bench/op_instructions.py --torch softmax_dim1 sum_dim1
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile

from instructions import TOGGLES, count_around, count_toggles, dumped_counts, run_under_callgrind

CALLS = 200
SNIPPETS = {   # name -> one call, on the tensors SETUP makes (as the seed step's shapes)
    "add_16": "a + b",
    "mul_scalar_16": "a * 1.0001",
    "neg_100": "-v",
    "matmul_100x784x10": "X @ Wg",
    "softmax_dim1_100x10": "F.softmax(Z, dim=1)",
    "log_100x10": "torch.log(Z)",
    "sum_dim1_100x10": "torch.sum(Z, dim=1)",
    "mean_100": "torch.mean(v)",
    "item": "s.item()",
    "linear_b1_784x1024": "lin(x1)",
    "relu_b1_1024": "F.relu(h1)",
    "mlp_b1": "mlp(x1)",
    "no_grad_enter_exit": "enter_no_grad()",
    "zero_784x10": "Wc.zero_()",
    # the char-RNN tutorial's letter step (bench/models/char_rnn.py): one sample, with grad
    "cat3_b1_grad": "torch.cat((c3, x60, h128), 1)",
    "linear_b1_191x128_grad": "i2h(xh)",
    "log_softmax_b1_60_grad": "F.log_softmax(o60, dim=1)",
    "nll_b1_60_grad": "crit(lo60, t1)",
    "loss_iadd_grad": "loss0.add_(l60)",
    "getitem_int_row": "t5[3]",
    "tensor_list_0": "torch.Tensor([0])",
    "sgd_data_add": "i2h.weight.data.add_(i2h.weight.grad.data, alpha=-0.0005)",
    "zero_grad_linear": "i2h.zero_grad()",
    "char_rnn_letter": "letter()",
}
SETUP = """
import numpy as np
if framework == "torch":
    import torch
    torch.set_num_threads(1)
else:
    import tinyflow as torch
F, nn = torch.nn.functional, torch.nn
def ones(*shape):
    return torch.from_numpy(np.ones(shape, np.float32))
a, b, v, s, Z = ones(16), ones(16), ones(100), ones(), ones(100, 10)
X, Wg = ones(100, 784), torch.zeros(784, 10, requires_grad=True)
x1, h1, Wc = ones(1, 784), ones(1, 1024), torch.zeros(784, 10)
lin = nn.Linear(784, 1024)
mlp = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                    nn.Linear(1024, 10))
c3, x60, h128 = ones(1, 3), ones(1, 60), torch.zeros(1, 128, requires_grad=True) * 1
i2h, crit, xh = nn.Linear(191, 128), nn.NLLLoss(), torch.zeros(1, 191, requires_grad=True) * 1
o60 = torch.zeros(1, 60, requires_grad=True) * 1
lo60, t1 = F.log_softmax(o60, dim=1), torch.LongTensor([[5]])[0]
loss0, l60 = torch.zeros(1) * 1, crit(lo60, t1)
t5 = torch.LongTensor([1, 2, 3, 4, 5])
t5.unsqueeze_(-1)
i2h.weight.grad = torch.ones(128, 191)
i2o, o2o, lsm = nn.Linear(191, 60), nn.Linear(188, 60), nn.LogSoftmax(dim=1)
drop = nn.Dropout(0.1).eval()
def letter():   # one letter of the tutorial's step: forward, loss, `loss += l`
    xc = torch.cat((c3, x60, h128), 1)
    h, o = i2h(xc), i2o(xc)
    o = lsm(drop(o2o(torch.cat((h, o), 1))))
    l = crit(o, t5[2])
    loss0.add_(l)
def enter_no_grad():
    with torch.no_grad():
        pass
"""


def worker(tree: str, framework: str, names: list) -> None:
    """Runs each snippet's loop with callgrind's instrumentation on, then dumps its count."""
    sys.path.insert(0, tree)
    env = {"framework": framework}
    exec(SETUP, env)
    gc.collect()
    gc.freeze()   # a full collection of the set-up's objects inside a count was ~14M
    count_toggles()
    for name in names:
        loop = compile(f"for _ in range({CALLS}): {SNIPPETS[name]}", name, "exec")
        exec(loop, env)   # warm: first-call imports and caches are not counted
        count_around(name, lambda: exec(loop, env))


def counts(tree: str, framework: str, names: list) -> dict:
    """Instructions per call of each snippet, from one valgrind run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        run_under_callgrind(__file__, [tree, framework, *names], out, framework)
        dumps = dumped_counts(out)
        return {name: (total - dumps[TOGGLES]) // CALLS for name, total in dumps.items()
                if name in SNIPPETS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snippets", nargs="*", help=f"some of: {', '.join(SNIPPETS)}")
    parser.add_argument("--torch", action="store_true", help="count torch's calls too")
    parser.add_argument("--tree", default=os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), help="the checkout whose tinyflow is counted")
    args = parser.parse_args()
    names = args.snippets or list(SNIPPETS)
    unknown = set(names) - set(SNIPPETS)
    if unknown:
        parser.error(f"unknown snippets {sorted(unknown)}; known: {', '.join(SNIPPETS)}")
    columns = {"tinyflow": counts(args.tree, "tinyflow", names)}
    if args.torch:
        columns["torch"] = counts(args.tree, "torch", names)
    print(f"{'op (one call)':<22}" + "".join(f"{k:>12}" for k in columns)
          + ("   tf/torch" if args.torch else ""))
    for name in names:
        row = [columns[k].get(name) for k in columns]
        ratio = (f"   {row[0] / row[1]:.2f}x" if args.torch and row[0] and row[1] else "")
        print(f"{name:<22}" + "".join(f"{c:>12,}" if c else f"{'-':>12}" for c in row)
              + ratio)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        main()
