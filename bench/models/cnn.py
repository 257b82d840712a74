"""CNNs on 28x28 images: LeNet-style 5x5 convolutions, and 3x3 ones, with and without
batch norm; SGD with momentum and AdamW."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform

BATCH = 64


def conv_block(cin, cout, k, bn):
    layers = [nn.Conv2d(cin, cout, k, padding=k // 2)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(), nn.MaxPool2d(2)]


def make_cnn(k, bn, width=(32, 64)):
    return load_parameters(nn.Sequential(*conv_block(1, width[0], k, bn),
                                         *conv_block(width[0], width[1], k, bn),
                                         nn.Flatten(), nn.Linear(width[1] * 49, 128), nn.ReLU(),
                                         nn.Linear(128, 10)))


def cnn_step(k, bn, optimizer):
    model = make_cnn(k, bn)
    opt = optimizer(model.parameters())
    x = torch.from_numpy(uniform(0, BATCH, 1, 28, 28))
    y = torch.from_numpy(integers(1, 10, BATCH))
    return train_step(model, opt, lambda out: F.cross_entropy(out, y), x)


def sgdm(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def adamw(params):
    return torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)


WORKLOADS = {
    "cnn5_sgdm": Workload(lambda: cnn_step(5, False, sgdm), 8),
    "cnn5_bn_adamw": Workload(lambda: cnn_step(5, True, adamw), 8),
    "cnn3_sgdm": Workload(lambda: cnn_step(3, False, sgdm), 8),
    "cnn3_bn_adamw": Workload(lambda: cnn_step(3, True, adamw), 8),
}
