"""PyTorch twin of the tfjs measurement (bench/train-throughput/tfjs-child.ts).

Same backbone as model.ts / lib/model/backbone.ts, same windows (read from the files the Node side
prepared), batch 64, Adam lr 1e-3, categorical cross-entropy, same thread budget. Prints one JSON line.
argv: <dataDir> <trainBatches> <inferBatches> <threads> [batch]
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn

data_dir, train_batches, infer_batches, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.set_num_interop_threads(threads)
# TensorFlow runs its CPU kernels with flush-to-zero/denormals-are-zero; give PyTorch the same, otherwise
# tiny gradients on real (standardized) vibration data hit the slow denormal path.
torch.set_flush_denormal(True)
WINDOW, CH, NCLS = 1024, 2, 10
BATCH = int(sys.argv[5]) if len(sys.argv) > 5 else 64


def block(cin, cout, k, stride, pad):
    # Keras BatchNormalization defaults: momentum 0.99 (= torch 0.01), epsilon 1e-3.
    # bias=False as in lib/model/backbone.ts (useBias: false): BatchNorm's beta subsumes it.
    return [nn.Conv1d(cin, cout, k, stride=stride, padding=pad, bias=False), nn.BatchNorm1d(cout, eps=1e-3, momentum=0.01),
            nn.ReLU(), nn.MaxPool1d(2)]


model = nn.Sequential(
    # TF 'same' with k=64, s=8 on 1024 samples pads 28 + 28 -> 128 outputs; k=3, s=1 pads 1 + 1.
    *block(CH, 16, 64, 8, 28), *block(16, 32, 3, 1, 1), *block(32, 64, 3, 1, 1), *block(64, 64, 3, 1, 1),
    nn.AdaptiveAvgPool1d(1), nn.Flatten(),  # 'features'
    nn.Linear(64, NCLS),  # softmax is folded into the loss (CrossEntropyLoss = log_softmax + NLL)
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

meta = json.load(open(f"{data_dir}/meta.json"))
n = meta["n"]
x = np.fromfile(f"{data_dir}/x.f32", dtype="<f4").reshape(n, WINDOW, CH)
y = np.fromfile(f"{data_dir}/y.i32", dtype="<i4")
rng = np.random.default_rng(0)
order = rng.permutation(n)
nb = n // BATCH
pool = []
for b in range(min(nb, max(train_batches, infer_batches))):
    idx = order[b * BATCH:(b + 1) * BATCH]
    # Channels-first is PyTorch's native Conv1d layout; transposed once here, outside the timed loop.
    pool.append((torch.from_numpy(np.ascontiguousarray(x[idx].transpose(0, 2, 1))), torch.from_numpy(y[idx].astype(np.int64))))


def train_step(xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


model.train()
for i in range(3):
    train_step(*pool[i % len(pool)])
t0 = time.perf_counter()
for i in range(train_batches):
    train_step(*pool[i % len(pool)]).item()  # one read-back per batch, like tfjs trainOnBatch
train_wps = train_batches * BATCH / (time.perf_counter() - t0)

model.eval()
with torch.inference_mode():
    for i in range(3):
        model(pool[i % len(pool)][0]).numpy()
    t0 = time.perf_counter()
    for i in range(infer_batches):
        torch.softmax(model(pool[i % len(pool)][0]), dim=1).numpy()
    infer_wps = infer_batches * BATCH / (time.perf_counter() - t0)

print(json.dumps({"torch": torch.__version__, "threads": threads, "interop": torch.get_num_interop_threads(),
                  "mkldnn": torch.backends.mkldnn.is_available(), "n": n, "batch": BATCH,
                  "results": {"train": train_wps, "infer": infer_wps}}))
