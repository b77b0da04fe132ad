"""Peak resident set of PyTorch's backward through a chain of `length` muls (argv[1]), run in a
fresh process by `npm run bench -- torch`. Prints JSON: RSS before building, peak RSS, backward ms."""
import json
import resource
import sys
import time

import torch

from torch_peer import build_chain

torch.set_num_threads(1)
length = int(sys.argv[1])


def rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


before = rss_bytes()
y = build_chain(length)
t0 = time.perf_counter()
y.backward()
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"beforeBytes": before, "peakBytes": peak, "backwardMs": elapsed * 1000}))
