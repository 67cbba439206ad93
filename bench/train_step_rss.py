# Peak RSS of PyTorch 1.13 running the cnn_train_step_b32 workload of
# ../../shared/peers/workloads.json (the same model, batch and optimizer as
# bench/train_step_rss.ts), for the memory comparison of bench/README.md:
#   /usr/bin/python3 bench/train_step_rss.py [steps]
# Prints one JSON line: steps, ms per step, peak RSS (MiB) before and after.
import json, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = peak()
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.rand(32, 1, 28, 28)
labels = torch.tensor([(i * 7) % 10 for i in range(32)])
t0 = time.perf_counter()
for _ in range(steps):
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), labels).backward()
    opt.step()
ms = (time.perf_counter() - t0) / steps * 1000
print(json.dumps({"peer": "torch-1.13", "steps": steps, "ms_per_step": round(ms, 3),
                  "peak_rss_mib_before": round(before, 1), "peak_rss_mib": round(peak(), 1)}))
