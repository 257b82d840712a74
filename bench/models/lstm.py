"""LSTM classifiers: time-major using only h_n, batch-first using the whole output."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform

SEQ, BATCH, FEATURES, HIDDEN, CLASSES = 50, 32, 128, 256, 10


class LastState(nn.Module):
    """Time-major input [T, B, F]; classifies from the final hidden state h_n."""
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, HIDDEN)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


class WholeOutput(nn.Module):
    """Batch-first input [B, T, F]; classifies from the mean of every step's output."""
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output.mean(dim=1))


def lstm_step(net, shape, optimizer):
    model = load_parameters(net())
    opt = optimizer(model.parameters())
    x = torch.from_numpy(uniform(0, *shape))
    y = torch.from_numpy(integers(1, CLASSES, BATCH))
    return train_step(model, opt, lambda out: F.cross_entropy(out, y), x)


WORKLOADS = {
    "lstm_tm_hn_sgdm": Workload(lambda: lstm_step(
        LastState, (SEQ, BATCH, FEATURES),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)), 6),
    "lstm_bf_out_adamw": Workload(lambda: lstm_step(
        WholeOutput, (BATCH, SEQ, FEATURES),
        lambda p: torch.optim.AdamW(p, lr=1e-3)), 6),
}
