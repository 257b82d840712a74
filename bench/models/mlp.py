"""MLPs: a training step with SGD + momentum, and inference at batch 1."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform


def make_mlp():
    return load_parameters(nn.Sequential(nn.Linear(784, 1024), nn.ReLU(),
                                         nn.Linear(1024, 1024), nn.ReLU(),
                                         nn.Linear(1024, 10)))


def mlp_train_sgdm():
    model = make_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(uniform(0, 128, 784)), torch.from_numpy(integers(1, 10, 128))
    return train_step(model, opt, lambda out: F.cross_entropy(out, y), x)


def mlp_infer_b1():
    model = make_mlp().eval()
    x = torch.from_numpy(uniform(0, 1, 784))

    def step():
        with torch.no_grad():
            return model(x).sum().item()
    return step


WORKLOADS = {"mlp_train_sgdm": Workload(mlp_train_sgdm, 20),
             "mlp_infer_b1": Workload(mlp_infer_b1, 300, "infer")}
