"""PyTorch's L-BFGS (`torch.optim.LBFGS`) with a fixed step (`line_search_fn=None`).

Unlike the other optimizers it works on all parameters as one flat vector and calls the
closure several times per `step` (its two-loop recursion needs the gradient at each new
point), so it is written on NumPy vectors here, not as a rule in rules.py: TF1 has no
closure to call.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np

from ..core.modes import enable_grad
from .optimizer import Optimizer, check_options


class LBFGS(Optimizer):
    """`torch.optim.LBFGS`: `step(closure)` runs up to `max_iter` quasi-Newton iterations
    from the last `history_size` curvature pairs. The strong-Wolfe line search is not
    implemented (refused by name)."""

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: Optional[int] = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None) -> None:
        check_options(lr)
        if line_search_fn is not None:
            if line_search_fn != "strong_wolfe":
                raise RuntimeError("only 'strong_wolfe' is supported")
            raise NotImplementedError("LBFGS(line_search_fn='strong_wolfe') is not "
                                      "implemented in tinyflow; use line_search_fn=None")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: takes one param group (no per-parameter options)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([np.zeros(p.numel(), p.dtype.np) if p.grad is None
                               else p.grad.numpy().reshape(-1) for p in self._params])

    def _add(self, step: float, direction: np.ndarray) -> None:
        """params += step * direction, each parameter's slice in place."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.array[...] += (step * direction[offset:offset + n]).reshape(p.shape).astype(
                p.dtype.np)
            p._version[0] += 1
            offset += n

    def step(self, closure: Optional[Callable] = None):
        if closure is None:
            raise RuntimeError("LBFGS.step(closure): closure is needed; it must clear the "
                               "gradients, compute the loss, call backward() and return it")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        def evaluate():
            with enable_grad():
                return closure()

        orig_loss = evaluate()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        grad = self._flat_grad()
        if np.abs(grad).max() <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        dirs, steps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get(
            "ro", [])
        h_diag, prev_grad, prev_loss = state.get("H_diag", 1), state.get(
            "prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, dirs, steps, ro, h_diag = -grad, [], [], [], 1
            else:
                d, h_diag = self._direction(grad, prev_grad, d, t, dirs, steps, ro, h_diag,
                                            group["history_size"])
            prev_grad, prev_loss = grad.copy(), loss
            t = (min(1.0, 1.0 / np.abs(grad).sum()) if state["n_iter"] == 1 else 1.0) * lr
            if grad.dot(d) > -tol_change:
                break
            self._add(t, d)
            converged = False
            if n_iter != max_iter:
                loss = float(evaluate())
                grad = self._flat_grad()
                converged = np.abs(grad).max() <= tol_grad
                evals += 1
                state["func_evals"] += 1
            if (n_iter == max_iter or evals >= max_eval or converged
                    or np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change):
                break
        state.update(d=d, t=t, old_dirs=dirs, old_stps=steps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _direction(grad, prev_grad, d, t, dirs, steps, ro, h_diag, history_size):
        """The two-loop recursion: -H grad, H built from the kept (y, s) pairs."""
        y, s = grad - prev_grad, d * t
        ys = y.dot(s)
        if ys > 1e-10:
            if len(dirs) == history_size:
                dirs.pop(0), steps.pop(0), ro.pop(0)
            dirs.append(y), steps.append(s), ro.append(1.0 / ys)
            h_diag = ys / y.dot(y)
        alphas = [0.0] * len(dirs)
        q = -grad
        for i in range(len(dirs) - 1, -1, -1):
            alphas[i] = steps[i].dot(q) * ro[i]
            q = q - alphas[i] * dirs[i]
        r = q * h_diag
        for i in range(len(dirs)):
            beta = dirs[i].dot(r) * ro[i]
            r = r + (alphas[i] - beta) * steps[i]
        return r, h_diag
