"""A MobileNetV2-shaped network on CIFAR-sized images, as people write one: inverted
residual blocks (1x1 expansion, 3x3 depthwise, some at stride 2, 1x1 projection, batch norm
after each, ReLU6, a skip where the shapes allow) in an nn.Sequential, a 1x1 head, global
average pooling and a Linear; batch 8 of 3x32x32, CrossEntropyLoss, SGD with momentum and
weight decay, train mode. Its time is in the pointwise and depthwise convolutions at small
channel counts and images, and in batch norm."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform

BATCH = 8


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.skip = stride == 1 and cin == cout
        self.layers = nn.Sequential(
            nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.layers(x)
        return x + out if self.skip else out


class MobileNetish(nn.Module):
    # (expansion, output channels, blocks, stride of the first)
    STAGES = [(1, 16, 1, 1), (4, 24, 2, 1), (4, 32, 2, 2), (4, 64, 2, 2)]

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(32), nn.ReLU6(inplace=True))
        blocks, cin = [], 32
        for expand, cout, n, stride in self.STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(cin, 256, 1, bias=False), nn.BatchNorm2d(256),
                                  nn.ReLU6(inplace=True))
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def mobilenet_step():
    model = load_parameters(MobileNetish()).train()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    x = torch.from_numpy(uniform(2, BATCH, 3, 32, 32))
    y = torch.from_numpy(integers(3, 10, BATCH))
    return train_step(model, opt, lambda out: criterion(out, y), x)


WORKLOADS = {
    "mobilenet_cifar_b8": Workload(mobilenet_step, 10),
}
