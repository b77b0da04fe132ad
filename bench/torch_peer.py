"""The PyTorch side of `npm run bench -- torch`: one long-lived process, float64, one thread.

It reads one JSON request a line on stdin and answers one JSON line on stdout. The benchmark asks
it to set up a case ("setup": tensors read from raw float64 files the benchmark wrote, so both
sides work on the same numbers), to time runs of it ("time": `repeat` runs in a row, per run; it measures itself with
time.perf_counter, so the pipe's latency is in neither side's figure), or to write a case's
gradients for the benchmark to compare ("result").
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
EPS = 1e-5


def read(path, shape, requires_grad=False):
    t = torch.from_numpy(np.fromfile(path, dtype=np.float64).reshape(shape))
    return t.requires_grad_(requires_grad)


def bn_problem(req):
    n, d = req["n"], req["d"]
    files = req["files"]
    return (read(files["x"], (n, d), True), read(files["gamma"], (d,), True),
            read(files["beta"], (d,), True), read(files["dout"], (n, d)))


def explicit_bn(x, gamma, beta):
    mean = x.mean(0, keepdim=True)
    centred = x - mean
    variance = (centred * centred).mean(0, keepdim=True)
    return centred / torch.sqrt(variance + EPS) * gamma + beta


def fused_bn(x, gamma, beta):
    return F.batch_norm(x, None, None, gamma, beta, training=True, eps=EPS)


def bn_case(forward):
    def setup(req):
        x, gamma, beta, dout = bn_problem(req)
        return lambda: torch.autograd.grad(forward(x, gamma, beta), (x, gamma, beta), dout)
    return setup


def training_step(optimizer, loss):
    """One step of training: gradients zeroed, `loss()` computed and differentiated, the optimizer stepped."""
    def step():
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
        return (value.detach(),)
    return step


def mlp_case(req):
    n = req["n"]
    x = read(req["files"]["x"], (n, 2))
    y = read(req["files"]["y"], (n, 1))
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.BatchNorm1d(64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=req["lr"])
    return training_step(optimizer, lambda: F.binary_cross_entropy_with_logits(model(x), y))


def cnn_case(req):
    """bench/conv.ts's cnnStep: Conv2d → BatchNorm2d → ReLU → MaxPool2d(2) → Linear, SGD, cross-entropy."""
    n = req["n"]
    x = read(req["files"]["x"], (n, 1, 28, 28))
    labels = torch.arange(n) % 10
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=req["lr"])
    return training_step(optimizer, lambda: F.cross_entropy(model(x), labels))


def gradcheck_case(req):
    x, gamma, beta, _ = bn_problem(req)

    def check():
        if not torch.autograd.gradcheck(explicit_bn, (x, gamma, beta)):
            raise RuntimeError("torch.autograd.gradcheck of BN failed")
        return ()
    return check


def build_chain(length):
    """y = x * 1.0000001 repeated `length` times on a 4-element x, summed: bench/chain.ts's chain."""
    y = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64, requires_grad=True)
    for _ in range(length):
        y = y * 1.0000001
    return y.sum()


def chain_case(req):
    """Times the backward alone; the chain is built outside the timed part, as on our side."""
    length = req["length"]

    def backward():
        y = build_chain(length)
        t0 = time.perf_counter()
        y.backward()
        return time.perf_counter() - t0
    return backward


def max_pool_case(req):
    """F.max_pool2d forward and backward: x's gradient for the upstream gradient g."""
    x = read(req["files"]["x"], req["shape"], True)
    g = read(req["files"]["g"], req["pooledShape"])
    return lambda: torch.autograd.grad(F.max_pool2d(x, req["kernel"]), (x,), g)


SETUPS = {"fused": bn_case(fused_bn), "explicit": bn_case(explicit_bn), "mlp": mlp_case, "cnn": cnn_case,
          "gradcheck": gradcheck_case, "chain": chain_case, "maxPool": max_pool_case}


def main():
    cases = {}
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "setup":
                cases[req["id"]] = (req["case"], SETUPS[req["case"]](req))
                answer = {"ok": True}
            elif req["cmd"] == "time":
                kind, run = cases[req["id"]]
                repeat = req.get("repeat", 1)
                backward_seconds = 0.0
                t0 = time.perf_counter()
                for _ in range(repeat):
                    result = run()
                    if kind == "chain":
                        backward_seconds += result
                    # Freed now, as a loop's step results are, so the next run may reuse the memory.
                    del result
                elapsed = time.perf_counter() - t0
                # The chain case times its own backward, leaving out building the chain.
                answer = {"ms": (backward_seconds if kind == "chain" else elapsed) / repeat * 1000}
            elif req["cmd"] == "steps":
                # Each run timed on its own: how a sample's steps recover after the other side's turn.
                _, run = cases[req["id"]]
                times = []
                for _ in range(req["repeat"]):
                    t0 = time.perf_counter()
                    result = run()
                    del result
                    times.append((time.perf_counter() - t0) * 1000)
                answer = {"ms": times}
            elif req["cmd"] == "result":
                _, run = cases[req["id"]]
                for i, t in enumerate(run()):
                    t.detach().numpy().astype(np.float64).tofile(f"{req['prefix']}{i}")
                answer = {"ok": True}
            elif req["cmd"] == "drop":
                cases.pop(req["id"], None)
                answer = {"ok": True}
            elif req["cmd"] == "version":
                answer = {"torch": torch.__version__, "threads": torch.get_num_threads()}
            else:
                answer = {"error": f"torch_peer: unknown cmd {req['cmd']!r}"}
        except Exception as error:  # reported to the benchmark, which stops with it
            answer = {"error": f"torch_peer: {req.get('cmd')} {req.get('case', req.get('id'))}: {type(error).__name__}: {error}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
