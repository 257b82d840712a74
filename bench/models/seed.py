"""The specification's MNIST softmax regression, as a PyTorch user writes it by hand."""
import torch
import torch.nn.functional as F

from models.data import Workload, integers, uniform

LR = 0.05


def seed_logreg():
    xs = [torch.from_numpy((uniform(i, 100, 784) + 1) / 2) for i in range(10)]
    ys = [F.one_hot(torch.from_numpy(integers(100 + i, 10, 100)), 10).float()
          for i in range(10)]
    W = torch.zeros(784, 10, requires_grad=True)
    state = {"i": 0}

    def step():
        nonlocal W
        i = state["i"] = (state["i"] + 1) % len(xs)
        y = F.softmax(xs[i] @ W, dim=1)
        loss = torch.mean(-torch.sum(ys[i] * torch.log(y), dim=1))
        loss.backward()
        with torch.no_grad():
            W -= LR * W.grad
            W.grad.zero_()
        return loss.item()
    return step


WORKLOADS = {"seed_logreg": Workload(seed_logreg, 100)}
