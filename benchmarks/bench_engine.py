"""Time the reference engine against torch (CPU) and micrograd, side by side in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_engine.py [--write]

(a) the seed's Example 03: forward and backward of a one-neuron BCE loss on 0-d tensors;
(b) one SGD training step of a 784-128-10 MLP (relu, softmax cross-entropy) on a batch of 64.

Each case runs ``--repeats`` times after a warm-up; the table shows median wall times and the
ratio to torch's median from the same run.  micrograd has no exp/log/clamp: (a) adds them in
micrograd's own closure style; for (b) it would need ~6.5M scalar nodes per step, so it runs on
a slice (one sample) and the table says so.  ``--write`` puts the table into
``benchmarks/engine_results.md`` between its ``<!-- results -->`` markers.

Libraries whose timings are compared run in turns (a block of steps of each, then again), so a
change of load on the machine hits all of them alike.  Both BLAS libraries (numpy's OpenBLAS, torch's
MKL) run on ``BENCH_THREADS`` threads, 1 by default: on a small shared machine, threads spinning
against other processes make medians swing by 10x.  Machines here may set
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (tuning numpy's BLAS for another CPU); unset them for this
command only, as above, so numpy's matmul runs as on a learner's laptop.
"""

import os

THREADS = os.environ.get("BENCH_THREADS", "1")
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[_variable] = THREADS  # before numpy and torch load their BLAS

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import micrograd.engine  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(THREADS))

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from autograder.learner.engines import load_reference  # noqa: E402

RESULTS = REPO / "benchmarks" / "engine_results.md"


def median_seconds(steps, repeats, warmup=3, block=20):
    """{name: median seconds of one step}: the libraries take turns, ``block`` steps each, so a
    change of load hits all alike while each still runs with its own code and data in cache."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(max(1, repeats // block)):
        for name, step in steps.items():
            for _ in range(min(block, repeats)):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


# -- (a) the seed's Example 03 -------------------------------------------------------------------

def seed_example_03(lib):
    """One forward + backward of the seed's neuron, written exactly as the seed writes it."""
    def step():
        x, y = lib.tensor(6.7), lib.tensor(0.0)
        w, b = lib.tensor(1.0, requires_grad=True), lib.tensor(0.0, requires_grad=True)
        z = w * x + b
        y_pred = lib.sigmoid(z)
        p = lib.clamp(y_pred, 1e-8, 1 - 1e-8)
        loss = -(y * lib.log(p) + (1 - y) * lib.log(1 - p))
        loss.backward()
        return w.grad, b.grad
    return step


def _micro(data, children, backward):
    out = micrograd.engine.Value(data, children)
    out._backward = lambda: backward(out)
    return out


def micro_exp(v):
    def backward(out):
        v.grad += out.data * out.grad
    return _micro(math.exp(v.data), (v,), backward)


def micro_log(v):
    def backward(out):
        v.grad += out.grad / v.data
    return _micro(math.log(v.data), (v,), backward)


def micro_clamp(v, low, high):
    def backward(out):
        v.grad += out.grad if low <= v.data <= high else 0.0
    return _micro(min(max(v.data, low), high), (v,), backward)


def micrograd_example_03():
    Value = micrograd.engine.Value

    def step():
        x, y = Value(6.7), Value(0.0)
        w, b = Value(1.0), Value(0.0)
        z = w * x + b
        y_pred = 1 / (1 + micro_exp(-z))
        p = micro_clamp(y_pred, 1e-8, 1 - 1e-8)
        loss = -(y * micro_log(p) + (1 - y) * micro_log(1 - p))
        loss.backward()
        return w.grad, b.grad
    return step


# -- (b) an MLP training step ---------------------------------------------------------------------

def mlp_step(lib, batch=64, sizes=(784, 128, 10), lr=0.01, seed=0):
    rng = np.random.default_rng(seed)
    x = lib.tensor(rng.normal(size=(batch, sizes[0])).astype(np.float32))
    onehot = lib.tensor(np.eye(sizes[2], dtype=np.float32)[rng.integers(0, sizes[2], batch)])
    params = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        scale = 1 / math.sqrt(n_in)
        params.append(lib.tensor(rng.uniform(-scale, scale, (n_in, n_out)).astype(np.float32), requires_grad=True))
        params.append(lib.tensor(np.zeros(n_out, np.float32), requires_grad=True))
    w1, b1, w2, b2 = params

    def step():
        logits = lib.relu(x @ w1 + b1) @ w2 + b2
        log_probs = logits - lib.log(lib.exp(logits).sum(1, keepdim=True))
        loss = -(onehot * log_probs).sum(1).mean()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()
        return loss
    return step


def micrograd_mlp_slice(sizes=(784, 128, 10), seed=0):
    """One sample through micrograd's own MLP (squared error: it has no exp/log), as a slice of (b)."""
    import random

    from micrograd.nn import MLP
    random.seed(seed)
    model = MLP(sizes[0], list(sizes[1:]))
    sample = [random.uniform(-1, 1) for _ in range(sizes[0])]

    def step():
        out = model(sample)
        loss = sum((o - (1.0 if i == 3 else 0.0)) ** 2 for i, o in enumerate(out))
        loss.backward()
        for p in model.parameters():
            p.data -= 0.01 * p.grad
            p.grad = 0
    return step


# -- the run ---------------------------------------------------------------------------------------

def check_same_numbers(engine):
    """Sanity: the timed code computes the same things in each library."""
    ours = [float(g) for g in seed_example_03(engine)()]
    theirs = [float(g) for g in seed_example_03(torch)()]
    micro = list(micrograd_example_03()())
    assert np.allclose(ours, theirs, rtol=1e-5) and np.allclose(micro, theirs, rtol=1e-4), (ours, theirs, micro)
    ours, theirs = mlp_step(engine)().item(), mlp_step(torch)().item()
    assert np.isclose(ours, theirs, rtol=1e-4), (ours, theirs)


def run(repeats):
    engine = load_reference()
    check_same_numbers(engine)
    seed = median_seconds({"torch": seed_example_03(torch), "tinygrad_course": seed_example_03(engine),
                           "micrograd": micrograd_example_03()}, repeats)
    mlp = median_seconds({"torch": mlp_step(torch), "tinygrad_course": mlp_step(engine)}, mlp_repeats(repeats))
    # about 10 s a step: one timed run, after the warm-up that builds the model
    mlp["micrograd, 1 sample of the 64 (a slice)"] = median_seconds({"m": micrograd_mlp_slice()}, 1, warmup=0)["m"]
    rows = [("(a) seed Example 03, forward + backward", name, seconds, seed["torch"])
            for name, seconds in seed.items()]
    rows += [("(b) MLP 784-128-10, batch 64, one SGD step", name, seconds, mlp["torch"])
             for name, seconds in mlp.items()]
    return rows


def mlp_repeats(repeats):
    return max(repeats // 10, 20)


def table(rows, repeats):
    lines = ["| case | library | median time | time / torch's |", "|---|---|---:|---:|"]
    previous = None
    for case, library, seconds, torch_seconds in rows:
        shown, previous = ("" if case == previous else case), case
        lines.append(f"| {shown} | {library} | {seconds * 1e6:,.0f} µs | {seconds / torch_seconds:.2f}x |")
    blas = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += ["", f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores "
              f"(load average {load:.1f} at the end), Python {platform.python_version()}, torch "
              f"{torch.__version__}, numpy {np.__version__}; BLAS threads {THREADS}; {repeats} rounds for (a), "
              f"{mlp_repeats(repeats)} for (b); OpenBLAS overrides: {blas or 'none'}."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help=f"update the table in {RESULTS.name}")
    args = parser.parse_args(argv)
    text = table(run(args.repeats), args.repeats)
    print(text)
    if args.write:
        results = RESULTS.read_text()
        marked = re.compile(r"(<!-- results -->\n).*?(\n<!-- /results -->)", re.S)
        if not marked.search(results):
            sys.exit(f"{RESULTS} has no <!-- results --> ... <!-- /results --> block to fill")
        RESULTS.write_text(marked.sub(lambda m: m[1] + text + m[2], results))
        print(f"updated {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
