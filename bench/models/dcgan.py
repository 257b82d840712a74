"""The PyTorch DCGAN tutorial's training iteration, in its everyday spelling (written here,
not copied): a Generator of ConvTranspose2d + BatchNorm2d + ReLU(True) ending in Tanh, a
Discriminator of strided Conv2d + BatchNorm2d + LeakyReLU(0.2, inplace=True) ending in
Sigmoid, BCELoss, two Adam(lr=2e-4, betas=(0.5, 0.999)); the discriminator's step on real
and on `fake.detach()` (labels from `torch.full` and `label.fill_`), then the generator's
step through the discriminator. The tutorial's 64x64 images at a tenth of its width
(ngf = ndf = 16 instead of 64) and batch 8, so one step takes ~0.1 s here.

Changed from the tutorial, so the two libraries compute the same numbers: the parameters
come from `load_parameters` instead of `weights_init`'s normal_ draws, and the noise from a
fixed NumPy pool instead of `torch.randn` each step.

Step N's loss may be 1e-2 from torch's (`drift`): the float32 rounding of another summing
order grows to ~1e-3 within ten steps here (tinyflow at one and at two threads differ as much
from each other), where the other rows stay under 2e-3. In float64 the two libraries' first
twelve losses agree to twelve digits (checked by hand, not in the suite).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

from models.common import load_parameters
from models.data import Workload, uniform

NZ, NGF, NDF, NC, BATCH = 100, 16, 16, 3, 8


class Generator(nn.Module):
    def __init__(self):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(NGF * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 8, NGF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 4, NGF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False),
            nn.Tanh())

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super(Discriminator, self).__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, NDF, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, NDF * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 4, NDF * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid())

    def forward(self, input):
        return self.main(input)


def tutorial_dcgan():
    netG, netD = load_parameters(Generator()), load_parameters(Discriminator())
    criterion = nn.BCELoss()
    real_label, fake_label = 1., 0.
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real_cpu = torch.from_numpy(uniform(0, BATCH, NC, 64, 64))
    rng = np.random.default_rng(1)
    noises = [torch.from_numpy(rng.standard_normal((BATCH, NZ, 1, 1)).astype(np.float32))
              for _ in range(4)]
    turn = [0]

    def step():
        noise = noises[turn[0] % len(noises)]
        turn[0] += 1
        # (1) the discriminator: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), real_label, dtype=torch.float)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) the generator: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        return errD.item() + errG.item()
    return step


WORKLOADS = {"tutorial_dcgan_b8": Workload(tutorial_dcgan, 10, drift=1e-2)}
