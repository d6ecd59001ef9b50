"""Micro-costs of thalweg's hot paths, each beside the plain-NumPy floor it could reach.

    python -m bench.micro            # every group
    python -m bench.micro engine     # one group: engine, modules, optim, losses, kernels

Each figure is the best of several ``timeit`` repeats in µs per call (the minimum is
the least disturbed by other jobs on a shared machine). ``docs/performance.md`` quotes
these numbers; rerun this after changing the engine to see what moved.
"""

from __future__ import annotations

import itertools
import sys
import timeit

import numpy as np


def best_us(statement, number: int | None = None, repeat: int = 7) -> float:
    """Best-of-``repeat`` time of ``statement()`` in µs per call."""
    if number is None:  # aim for ~20 ms per repeat
        number, elapsed = 1, 0.0
        while elapsed < 0.02:
            number *= 2
            elapsed = timeit.timeit(statement, number=number)
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6


def show(label: str, us: float, floor: float | None = None) -> None:
    extra = f"   (floor {floor:7.2f} µs, {us / floor:4.1f}×)" if floor else ""
    print(f"  {us:8.2f} µs  {label}{extra}", flush=True)


def engine() -> None:
    import thalweg
    from thalweg.autograd.broadcast import unbroadcast
    from thalweg.autograd.tensor import Tensor

    print("engine: 1-element tensors")
    a, b = np.array([0.5], np.float32), np.array([-1.5], np.float32)
    x = thalweg.tensor([0.5], requires_grad=True)
    w = thalweg.tensor([-1.5], requires_grad=True)
    floor_mul = best_us(lambda: a * b)
    show("numpy a * b", floor_mul)
    show("x * w, recording a node (Mul.apply)", best_us(lambda: x * w), floor_mul)
    with thalweg.no_grad():
        show("x * w under no_grad", best_us(lambda: x * w), floor_mul)
    show("Tensor._from_op(array, None)", best_us(lambda: Tensor._from_op(a, None)))
    show("unbroadcast(g, same shape) (no-op path)", best_us(lambda: unbroadcast(a, (1,))))
    floor_sum = best_us(lambda: np.add.reduce(a * b, axis=None))
    show("(x * w).sum() forward", best_us(lambda: (x * w).sum()), floor_sum)

    def full():
        y = (x * w).sum()
        y.backward()

    total = best_us(full)
    show("y = (x * w).sum(); y.backward()  [the overhead workload]", total)
    y = (x * w).sum()
    show(
        "y.backward(retain_graph=True) on a built 2-node graph",
        best_us(lambda: y.backward(retain_graph=True)),
    )
    show("np.ones_like(y.data) (the seed gradient)", best_us(lambda: np.ones_like(y.data)))

    # The playground network's graph: how the engine's per-node cost grows.
    from thalweg import nn
    from thalweg.losses import binary_cross_entropy_with_logits as bce

    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2), nn.Tanh(), nn.Linear(2, 1))
    xb = thalweg.from_numpy(np.ones((10, 2), np.float32))
    yb = np.ones((10, 1), np.float32)
    forward = best_us(lambda: bce(model(xb), yb))
    show("playground forward: loss = bce(model(x), y), batch 10", forward)
    loss = bce(model(xb), yb)
    show(
        "playground loss.backward(retain_graph=True) (6 nodes)",
        best_us(lambda: loss.backward(retain_graph=True)),
    )

    def forward_backward():
        bce(model(xb), yb).backward()

    show("playground forward + backward, batch 10", best_us(forward_backward))


def modules() -> None:
    import thalweg
    from thalweg import nn
    from thalweg.autograd.ops import elementwise, linalg

    print("modules: the playground network, batch 10, forward only")
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2), nn.Tanh(), nn.Linear(2, 1))
    x = thalweg.from_numpy(np.ones((10, 2), np.float32))
    layers = list(model.children())
    params = [(layer.weight, layer.bias) for layer in layers[::2]]

    def direct():
        h = linalg.Linear.apply(x, *params[0])
        h = elementwise.Tanh.apply(h)
        h = linalg.Linear.apply(h, *params[1])
        h = elementwise.Tanh.apply(h)
        return linalg.Linear.apply(h, *params[2])

    floor = best_us(direct)
    show("the five ops applied directly", floor)
    show("model(x) (Sequential -> Module.__call__ -> forward)", best_us(lambda: model(x)), floor)
    show(
        "list(model.children()) (vars() scan, per forward)", best_us(lambda: list(model.children()))
    )
    w, b = params[0]
    show(
        "Linear.apply(x, W, b) (shape checks + x @ W + b)",
        best_us(lambda: linalg.Linear.apply(x, w, b)),
        best_us(lambda: x.data @ w.data + b.data),
    )


def optim() -> None:
    from bench import mlp

    _optimizers("playground 2-8-2-1", (2, 8, 2, 1))
    _optimizers("MLP 784-256-128-10", mlp.SIZES)


def _optimizers(title: str, sizes: tuple[int, ...]) -> None:
    from bench import reference
    from thalweg import nn
    from thalweg import optim as thalweg_optim

    layers = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    params = [p for layer in layers for p in (layer.weight, layer.bias)]
    count = sum(p.size for p in params)
    print(f"optimizers: {title} ({len(params)} arrays, {count:,} weights)")
    for p in params:
        p.grad = np.full(p.shape, 1e-3, np.float32)
    shapes = [p.shape for p in params]
    flat_w, flat_g = reference.FlatBuffer(shapes), reference.FlatBuffer(shapes)
    flat_g.flat[:] = 1e-3
    for name, thalweg_cls, ref_cls, lr in (
        ("SGD", thalweg_optim.SGD, reference.SGD, 1e-9),
        ("Adam", thalweg_optim.Adam, reference.Adam, 1e-9),
    ):
        opt = thalweg_cls(params, lr=lr)
        ref = ref_cls(flat_w, flat_g, lr=lr)
        floor = best_us(ref.step)
        show(f"{name}: opt.step() (per-parameter update)", best_us(opt.step), floor)
        show(f"{name}: hand-written, one flat buffer (the floor)", floor)
    opt = thalweg_optim.SGD(params, lr=1e-9)
    show(
        "SGD: apply_gradients bookkeeping only (update() replaced by a no-op)",
        best_us(lambda o=opt: _bookkeeping_only(o)),
    )
    big = max(params, key=lambda p: p.size)
    weight, grad = big.data, big.grad
    show(
        f"SGD update of the largest array {big.shape}: weight -= lr * grad (temporary)",
        best_us(lambda: weight.__isub__(1e-9 * grad)),
    )
    scratch = np.empty_like(weight)

    def in_place():
        np.multiply(grad, 1e-9, out=scratch)
        weight.__isub__(scratch)

    show("   same with a preallocated scratch (out=)", best_us(in_place))


def _bookkeeping_only(opt) -> None:
    update = opt.update
    opt.update = lambda *args: None
    try:
        opt.step()
    finally:
        opt.update = update


def losses() -> None:
    for n in (32, 512):
        _cross_entropy(n)
    for n in (10, 100):
        _bce(n)


def _cross_entropy(n: int) -> None:
    import thalweg
    from thalweg.autograd.ops import nn as nn_ops

    print(f"losses: softmax cross-entropy, logits ({n}, 10)")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, 10)).astype(np.float32)
    y = rng.integers(0, 10, n)
    logits = thalweg.tensor(z, requires_grad=True)
    rows = np.arange(n)

    def numpy_forward():
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        return np.log(total).mean() - shifted[rows, y].mean(), e / total

    floor = best_us(numpy_forward)
    show(
        "CrossEntropy forward (apply, with label checks)",
        best_us(lambda: nn_ops.CrossEntropy.apply(logits, y)),
        floor,
    )
    show(
        "   of which label validation (asarray, dtype, min, max)",
        best_us(lambda: (np.asarray(y).dtype.kind, y.min() < 0 or y.max() >= 10)),
    )
    probabilities = numpy_forward()[1]

    def numpy_backward():
        g = probabilities * (1.0 / n)
        g[rows, y] -= 1.0 / n
        return g

    def thalweg_backward():
        loss = nn_ops.CrossEntropy.apply(logits, y)
        return loss.grad_fn.backward(np.ones((), np.float32))

    floor_back = best_us(numpy_backward)
    show(
        "CrossEntropy forward + backward (node's backward only)",
        best_us(thalweg_backward),
        floor + floor_back,
    )


def _bce(n: int) -> None:
    import thalweg
    from thalweg.autograd.ops import nn as nn_ops

    print(f"losses: BCE with logits, ({n}, 1)")
    z = np.linspace(-2, 2, n, dtype=np.float32)[:, None]
    t = (z > 0).astype(np.float32)
    logits = thalweg.tensor(z, requires_grad=True)

    def numpy_bce():
        e = np.exp(-np.abs(z))
        loss = (np.maximum(z, 0) - z * t + np.log1p(e)).mean()
        inverse = 1 / (1 + e)
        return loss, np.where(z >= 0, inverse, e * inverse) - t

    show(
        "BinaryCrossEntropyWithLogits forward (apply)",
        best_us(lambda: nn_ops.BinaryCrossEntropyWithLogits.apply(logits, t)),
        best_us(numpy_bce),
    )
    show(
        "   of which mean_count -> int(np.prod(shape)) (fromnumeric wrapper)",
        best_us(lambda: int(np.prod((n, 1)))),
        best_us(lambda: n * 1),
    )


def kernels() -> None:
    print("kernels: ReLU backward and the Linear layer's pieces")
    rng = np.random.default_rng(0)
    for n in (32, 512):
        out = np.maximum(rng.standard_normal((n, 256)).astype(np.float32), 0)
        grad = rng.standard_normal((n, 256)).astype(np.float32)
        new = best_us(lambda out=out, grad=grad: grad * (out > 0))
        show(f"ReLU backward ({n}, 256): grad * (out > 0), new array", new)
        work = grad.copy()
        show(
            f"ReLU backward ({n}, 256): in place, np.multiply(g, out > 0, out=g)",
            best_us(lambda out=out, work=work: np.multiply(work, out > 0, out=work)),
        )
        show(
            f"bias gradient ({n}, 256): np.add.reduce(grad, axis=0)",
            best_us(lambda grad=grad: np.add.reduce(grad, axis=0)),
        )
        x = rng.standard_normal((n, 784)).astype(np.float32)
        w = rng.standard_normal((784, 256)).astype(np.float32)
        show(f"GEMM x @ W ({n}, 784) @ (784, 256)", best_us(lambda x=x, w=w: x @ w))
        show(f"GEMM xᵀ @ g (784, {n}) @ ({n}, 256)", best_us(lambda x=x, grad=grad: x.T @ grad))


def torch_optim() -> None:
    """PyTorch's optimizer steps on the MLP's parameters, for scale (2 intra-op threads)."""
    import torch

    from bench import mlp

    print(f"PyTorch optimizers: MLP 784-256-128-10, {torch.get_num_threads()} threads")
    params = [torch.nn.Parameter(torch.zeros(b, a)) for a, b in itertools.pairwise(mlp.SIZES)] + [
        torch.nn.Parameter(torch.zeros(b)) for b in mlp.SIZES[1:]
    ]
    for p in params:
        p.grad = torch.full_like(p, 1e-3)
    for label, make in (
        ("SGD (default)", lambda: torch.optim.SGD(params, lr=1e-9)),
        ("Adam (default: for-loop)", lambda: torch.optim.Adam(params, lr=1e-9)),
        ("Adam foreach=True", lambda: torch.optim.Adam(params, lr=1e-9, foreach=True)),
        ("Adam fused=True", lambda: torch.optim.Adam(params, lr=1e-9, fused=True)),
    ):
        opt = make()
        show(f"torch {label}: opt.step()", best_us(opt.step))


GROUPS = {
    "engine": engine,
    "modules": modules,
    "optim": optim,
    "losses": losses,
    "kernels": kernels,
    "torch": torch_optim,
}


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(GROUPS)
    for name in names:
        GROUPS[name]()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
