"""The CNNs of two tutorials people start from, in their everyday spelling (written here,
not copied), with small synthetic data of the tutorials' shapes:

- the PyTorch CIFAR-10 tutorial's LeNet: a module with conv1, pool, conv2, three Linear
  layers and F.relu in forward, x.view to flatten; batch 4 of 3x32x32 images,
  CrossEntropyLoss, SGD(lr=0.001, momentum=0.9). Its convolutions have few channels
  (3 -> 6, 6 -> 16 at 5x5), where im2col's GEMM has N = 6;
- yunjey/pytorch-tutorial's ConvNet on MNIST: two Sequential layers of Conv2d(5x5,
  padding 2) + BatchNorm2d + ReLU + MaxPool2d(2) (1 -> 16 -> 32), then Linear(7*7*32, 10);
  batch 100, CrossEntropyLoss, Adam(lr=0.001).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(16, 32, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7 * 7 * 32, num_classes)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.reshape(out.size(0), -1)
        return self.fc(out)


def lenet_step():
    model = load_parameters(LeNet())
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    x = torch.from_numpy(uniform(0, 4, 3, 32, 32))
    y = torch.from_numpy(integers(1, 10, 4))
    return train_step(model, opt, lambda out: criterion(out, y), x)


def convnet_step():
    model = load_parameters(ConvNet())
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    x = torch.from_numpy(uniform(0, 100, 1, 28, 28))
    y = torch.from_numpy(integers(1, 10, 100))
    return train_step(model, opt, lambda out: criterion(out, y), x)


WORKLOADS = {
    "tutorial_cifar_lenet_b4": Workload(lenet_step, 40),
    "tutorial_mnist_convnet_b100": Workload(convnet_step, 10),
}
