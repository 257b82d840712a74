"""Shapes from pytorch/examples that measured far behind torch (session 12), written here
as their everyday spelling (not the examples' code):

- a ResNet-18-shaped feature extractor on MNIST-sized images in eval (the siamese network
  example's): 3x3 layers whose outputs shrink to 2x2 and 1x1, where Winograd's 6x6
  windows did more work than im2col;
- two LSTMCells stepped in a Python loop over a long float64 sequence, outputs joined by
  torch.cat (the time-sequence prediction example's): per-step op overhead, and a concat
  of T pieces whose gradient cost T^2;
- a word-level LSTM language model of the word_language_model example's shapes (session
  20: 1.84x torch before its fix, and no row guarded it): embedding of a 33278-word
  vocabulary, nn.LSTM of 2 layers and 200 units, time-major, batch 20 x 35 steps, the
  decoder back to the vocabulary, log_softmax + nll_loss, the state carried detached from
  step to step, gradients clipped to norm 0.25, plain SGD written by hand.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.common import load_parameters, train_step
from models.data import Workload, integers, uniform


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm, and a 1x1 projection when the shape changes."""
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


def resnet18_features():
    layers = [nn.Conv2d(1, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def resnet_eval():
    model = load_parameters(resnet18_features()).eval()
    x = torch.from_numpy(uniform(0, 64, 1, 28, 28))

    def step():
        with torch.no_grad():
            return model(x).sum().item()
    return step


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, x):
        h1 = c1 = h2 = c2 = torch.zeros(x.size(0), 51, dtype=torch.double)
        outputs = []
        for x_t in x.split(1, dim=1):
            h1, c1 = self.lstm1(x_t, (h1, c1))
            h2, c2 = self.lstm2(h1, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


def lstmcell_sequence():
    model = load_parameters(Sequence()).double()
    x = torch.from_numpy(uniform(0, 97, 200).astype("float64"))
    y = torch.from_numpy(uniform(1, 97, 200).astype("float64"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return train_step(model, opt, lambda out: F.mse_loss(out, y), x)


class WordLSTM(nn.Module):
    """Tokens [T, B] -> log-probabilities of the next word [T * B, vocab], and the state."""
    def __init__(self, vocab, width, layers):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, layers)
        self.decoder = nn.Linear(width, vocab)

    def forward(self, tokens, state):
        out, state = self.lstm(self.embed(tokens), state)
        scores = self.decoder(out)
        return F.log_softmax(scores.view(-1, scores.shape[-1]), dim=1), state


def word_lstm():
    vocab, width, layers, steps, batch = 33278, 200, 2, 35, 20
    model = load_parameters(WordLSTM(vocab, width, layers))
    tokens = torch.from_numpy(integers(0, vocab, steps, batch))
    targets = torch.from_numpy(integers(1, vocab, steps * batch))
    state = [(torch.zeros(layers, batch, width), torch.zeros(layers, batch, width))]

    def step():
        model.zero_grad()
        h, c = state[0]
        logp, state[0] = model(tokens, (h.detach(), c.detach()))
        loss = F.nll_loss(logp, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-20.0)
        return loss.item()
    return step


WORKLOADS = {"resnet18_mnist_eval_b64": Workload(resnet_eval, 5, "infer"),
             "lstmcell_seq200_f64_sgd": Workload(lstmcell_sequence, 3),
             "wlm_lstm2_vocab33k": Workload(word_lstm, 3)}
