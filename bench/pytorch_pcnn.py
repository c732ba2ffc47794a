#!/usr/bin/python3
"""PyTorch (Debian's python3-torch) on the shapes of bench/step-time.ts, for RESULTS.md: PCNN as the
official code (re-stated from scripts/fixtures/pcnn.py, any width and input size), one training step
(forward, 12 CE + 8 CE, backward, SGD momentum 0.9, weight decay 1e-4) at batch B, and eval-mode
inference (no_grad) at batch 1 and B; median of 7 after 3 warm-up runs, wall ms, torch's default threads.
    /usr/bin/python3 bench/pytorch_pcnn.py [batch=64] [width=16] [size=48] [threads=torch's default]
"""
import json
import os
import statistics
import sys
import time
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts', 'fixtures'))
from torchvision_blocks import layer  # noqa: E402  torchvision's BasicBlock, as the fixtures use it

B, W, SIZE = (int(a) for a in (sys.argv[1:4] + ['64', '16', '48'][len(sys.argv[1:4]):]))
if len(sys.argv) > 4:
    torch.set_num_threads(int(sys.argv[4]))
torch.manual_seed(0)




def trunk():
    return nn.Sequential(nn.Conv2d(1, W, 7, 2, 3, bias=False), nn.BatchNorm2d(W), nn.ReLU(inplace=True),
                         nn.MaxPool2d(3, 2, 1), layer(W, W, 1), layer(W, 2 * W, 2), layer(2 * W, 4 * W, 2))


def down(n, times):
    for _ in range(times):
        n = (n - 1) // 2 + 1
    return n


class PCNN(nn.Module):
    def __init__(self, classes=7):
        super().__init__()
        self.features1, self.features2, self.features3 = trunk(), trunk(), trunk()
        self.features4, self.features6, self.features7 = trunk(), trunk(), trunk()
        self.features8 = nn.Sequential(layer(4 * W, 8 * W, 2))
        l4 = down(SIZE, 5)
        self.fc_loc = nn.Sequential(nn.Linear(8 * W * l4 * l4, 32), nn.ReLU(), nn.Linear(32, 6))
        self.fc = nn.Linear(8 * W, classes)
        self.fc2, self.fc3, self.fc4 = (nn.Linear(4 * W, classes) for _ in range(3))
        self.fc6, self.fc7 = nn.Linear(4 * W, classes), nn.Linear(4 * W, classes)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        with torch.no_grad():
            self.fc_loc[2].weight.zero_()
            self.fc_loc[2].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1, 0]))

    def forward(self, x):  # as the official code
        width, height = x.size(3), x.size(2)
        w_1, h_1, h_2 = int(width * 0.5), int(height * 0.5), int(height * 0.65)
        x2, x3 = x[:, :, 0:h_1, 0:w_1], x[:, :, 0:h_1, w_1:width]
        x4, x6 = x[:, :, h_1:h_2, 0:w_1], x[:, :, h_1:h_2, w_1:width]
        x7 = x[:, :, h_2:height, :]
        x1 = self.features1(x)
        x2, x3, x4 = self.features2(x2), self.features3(x3), self.features4(x4)
        x6, x7 = self.features6(x6), self.features7(x7)
        x8 = F.interpolate(torch.cat([x2, x3], dim=3), size=(x2.size(2), x1.size(3)), mode='bilinear', align_corners=True)
        x9 = F.interpolate(torch.cat([x4, x6], dim=3), size=(x4.size(2), x1.size(3)), mode='bilinear', align_corners=True)
        x10 = F.interpolate(torch.cat([x8, x9, x7], dim=2), size=(x1.size(2), x1.size(3)), mode='bilinear', align_corners=True)
        heads = sum(fc(torch.flatten(self.avgpool(m), 1)) for fc, m in
                    [(self.fc2, x2), (self.fc3, x3), (self.fc4, x4), (self.fc6, x6), (self.fc7, x7)])
        theta = self.fc_loc(self.features8(x10).view(x1.size(0), -1)).view(-1, 2, 3)
        grid = F.affine_grid(theta, x1.size(), align_corners=True)
        x11 = F.grid_sample(x10, grid, align_corners=True)
        return self.fc(torch.flatten(self.avgpool(self.features8(x1 + x11)), 1)), heads


def median_ms(fn, warmup=3, reps=7):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), min(times), max(times)


model = PCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
x = torch.sin(torch.arange(B * SIZE * SIZE, dtype=torch.float32)).view(B, 1, SIZE, SIZE)
y = torch.arange(B) % 7


def step():
    out, heads = model(x)
    loss = 12 * F.cross_entropy(out, y) + 8 * F.cross_entropy(heads, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


model.train()
train = median_ms(step)
model.eval()
x1 = x[:1].clone()
with torch.no_grad():
    infer1 = median_ms(lambda: model(x1)[0].numpy(), warmup=5, reps=21)
    inferB = median_ms(lambda: model(x)[0].numpy())
print(json.dumps({
    'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batch': B, 'width': W, 'size': SIZE,
    'trainStepMs': train, 'inferenceBatch1Ms': infer1, f'inferenceBatch{B}Ms': inferB,
}))
