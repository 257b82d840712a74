"""What PyTorch's 0-d dims cost the common call: `x.sum(1)`, `x.softmax(-1)`, `x.max(1)` go
through pytorch/zero_dim.py's wrapper (a type test and a shape test before the function);
timed against the function it wraps, on the same tensor, repeats interleaved.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /work/main/.venv/bin/python bench/zero_dim_dispatch.py
"""
import statistics
import timeit

import tinyflow as torch
from tinyflow.pytorch import reduce, shared_names

CALLS = (("x.sum(1)", "reduce.sum(x, 1)"), ("x.softmax(-1)", "shared_names.softmax(x, -1)"),
         ("x.max(1)", "reduce.max(x, 1)"))
NUMBER, REPEATS = 20000, 9


def main() -> None:
    x = torch.randn(8, 8)
    names = {"x": x, "reduce": reduce, "shared_names": shared_names}
    print(f"{'call':16s} {'wrapped us':>11s} {'direct us':>10s} {'extra ns':>9s} {'spread ns':>10s}")
    for wrapped, direct in CALLS:
        extra, w_all, d_all = [], [], []
        for _ in range(REPEATS):
            w = timeit.timeit(wrapped, globals=names, number=NUMBER) / NUMBER * 1e9
            d = timeit.timeit(direct, globals=names, number=NUMBER) / NUMBER * 1e9
            w_all.append(w)
            d_all.append(d)
            extra.append(w - d)
        quartiles = statistics.quantiles(extra, n=4)
        print(f"{wrapped:16s} {statistics.median(w_all) / 1e3:11.2f} "
              f"{statistics.median(d_all) / 1e3:10.2f} {statistics.median(extra):9.0f} "
              f"{quartiles[2] - quartiles[0]:10.0f}")


if __name__ == "__main__":
    main()
