"""The PyTorch char-RNN generation tutorial's training step, in its everyday spelling
(written here, not copied): a conditional RNN of three Linear layers over
cat(category, letter, hidden), LogSoftmax, NLLLoss summed into `loss += ...` one letter at
a time, `target.unsqueeze_(-1)`, and the hand-written SGD `p.data.add_(p.grad.data,
alpha=-lr)`. Every op is tiny (hidden 128, one sample): it measures per-op overhead and
the in-place sum over a sequence, on code people write. Dropout is in the model but off
(eval mode): the two libraries draw different masks, and the losses must agree.
"""
import string

import torch
import torch.nn as nn

from models.common import load_parameters
from models.data import Workload

LETTERS = string.ascii_letters + " .,;'-"
N_LETTERS = len(LETTERS) + 1   # + end of name
CATEGORIES = ("Arabic", "English", "Japanese")
NAMES = (("Arabic", "Nader"), ("English", "Whitfield"), ("Japanese", "Takahashi"),
         ("Arabic", "Haddad"), ("English", "Ashworth"), ("Japanese", "Yamamoto"))


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()
        self.hidden_size = hidden_size
        n = len(CATEGORIES) + input_size + hidden_size
        self.i2h = nn.Linear(n, hidden_size)
        self.i2o = nn.Linear(n, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(0.1)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, input, hidden):
        input_combined = torch.cat((category, input, hidden), 1)
        hidden = self.i2h(input_combined)
        output = self.i2o(input_combined)
        output_combined = torch.cat((hidden, output), 1)
        output = self.o2o(output_combined)
        output = self.dropout(output)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def category_tensor(category):
    tensor = torch.zeros(1, len(CATEGORIES))
    tensor[0][CATEGORIES.index(category)] = 1
    return tensor


def input_tensor(line):
    tensor = torch.zeros(len(line), 1, N_LETTERS)
    for li in range(len(line)):
        tensor[li][0][LETTERS.find(line[li])] = 1
    return tensor


def target_indices(line):
    return [LETTERS.find(line[li]) for li in range(1, len(line))] + [N_LETTERS - 1]


def tutorial_char_rnn_gen():
    rnn = load_parameters(RNN(N_LETTERS, 128, N_LETTERS)).eval()
    criterion = nn.NLLLoss()
    lr = 0.0005
    examples = [(category_tensor(c), input_tensor(n), target_indices(n)) for c, n in NAMES]
    turn = [0]

    def step():
        category, line, indices = examples[turn[0] % len(examples)]
        turn[0] += 1
        target = torch.LongTensor(indices)
        target.unsqueeze_(-1)
        hidden = rnn.initHidden()
        rnn.zero_grad()
        loss = torch.Tensor([0])
        for i in range(line.size(0)):
            output, hidden = rnn(category, line[i], hidden)
            l = criterion(output, target[i])
            loss += l
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-lr)
        return loss.item() / line.size(0)
    return step


WORKLOADS = {"tutorial_char_rnn_gen": Workload(tutorial_char_rnn_gen, 60)}
