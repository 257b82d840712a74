"""mlp_infer_b1 written by hand in NumPy, with the same parameters (the baseline a tinyflow
user could write instead). Weights stay in PyTorch's [out, in] layout and the product is
`h @ w.T`: at 2 threads OpenBLAS runs that GEMV about 3x faster than over a contiguous
[in, out] copy (75 vs 22 us on 784 -> 1024), so this is the faster, fairer baseline."""
import numpy as np

from models.data import Workload, param_array, uniform


def mlp_infer_b1(sizes=(784, 1024, 1024, 10)):
    """The step; other `sizes` (bench/infer_split.py's hidden sizes) keep its code."""
    layers = [(param_array(f"{2 * i}.weight", (b, a)), param_array(f"{2 * i}.bias", (b,)))
              for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    x = uniform(0, 1, sizes[0])

    def step():
        h = x
        for i, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if i < len(layers) - 1:
                np.maximum(h, 0, out=h)
        return float(h.sum())
    return step


WORKLOADS = {"mlp_infer_b1": Workload(mlp_infer_b1, 300, "infer")}
