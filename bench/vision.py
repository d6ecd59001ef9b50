"""Convolutional networks: training steps, one conv layer, batch-1 inference, step memory.

Workloads (issue 13), each timed interleaved in worker processes (``bench/harness.py``):

* **LeNet-5** (1×28×28, conv 6@5×5 → pool → conv 16@5×5 → pool → 120 → 84 → 10, ReLU),
  batch 64, SGD: a training step, thalweg vs PyTorch CPU eager;
* **the face CNN**, ``CNNClassifier``'s default network for 1×25×25 images and two
  classes, batch 32, Adam: a training step, thalweg vs PyTorch;
* **one conv layer**, 16→32 channels, 3×3, padding 1, on 32×32, batch 32: forward and
  backward (input, weight and bias gradients), thalweg vs a hand-written NumPy im2col
  (``NumpyConv``, the way a careful NumPy programmer writes it: preallocated buffers,
  one GEMM per product, col2im as one add per filter tap) and PyTorch; plus the three
  matrix products alone, to state the GEMM share of thalweg's time;
* **inference at batch 1** with the face CNN (``no_grad``, eval mode), thalweg eager
  and the same forward under ``thalweg.compile`` (issue 18) vs PyTorch eager; and, for
  scale, the forward of the hand-written NumPy training step (``bench/face_numpy.py``,
  NHWC; written for batch 32, not tuned for batch 1) vs PyTorch.

PyTorch builds the same network from thalweg's (``torch_mirror``: same layers, weights
copied; conv weights need no change, PyTorch's layout is thalweg's), and every
contestant must reach the same loss (or output) before it is timed.

The memory table (not a timing) reports, for the two training steps, the peak of the
memory a step allocates on top of what the model already holds (``tracemalloc``, which
sees NumPy's buffers), and the size of the layers' reused im2col workspaces.
"""

from __future__ import annotations

import sys
import tracemalloc

import numpy as np

from bench import harness

CHECK_STEPS = 10


# ---------------------------------------------------------------------- networks


def lenet(rng: int = 0):
    from thalweg import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng + 1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120, rng=rng + 2),
        nn.ReLU(),
        nn.Linear(120, 84, rng=rng + 3),
        nn.ReLU(),
        nn.Linear(84, 10, rng=rng + 4),
    )


def face_cnn(rng: int = 0):
    """CNNClassifier's default network for 1×25×25 images and two classes, its
    ``Normalize`` preprocessing layer included (pixels in [0, 1] -> mean 0.5, scale 0.25)."""
    try:
        from thalweg.models.cnn import default_layers
    except ImportError as error:
        raise harness.Pending(f"thalweg.models.cnn: {error}") from None
    from thalweg import nn

    layers = default_layers((1, 25, 25), 1, np.random.default_rng(rng))
    return nn.Sequential(nn.Normalize([0.5], [0.25]), *layers)


def torch_mirror(module):
    """The same network in PyTorch, with thalweg's weights (Linear weights transposed)."""
    import torch

    from thalweg import nn

    layers = []
    for layer in module.layers:
        if isinstance(layer, nn.Conv2d):
            mirror = torch.nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                layer.stride,
                layer.padding,
                layer.dilation,
                layer.groups,
                bias=layer.bias is not None,
            )
            weights = [layer.weight.data, None if layer.bias is None else layer.bias.data]
        elif isinstance(layer, nn.Linear):
            mirror = torch.nn.Linear(layer.in_features, layer.out_features)
            weights = [layer.weight.data.T, layer.bias.data]
        elif isinstance(layer, nn.MaxPool2d):
            mirror = torch.nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)
            weights = []
        elif isinstance(layer, nn.ReLU):
            mirror, weights = torch.nn.ReLU(), []
        elif isinstance(layer, nn.Flatten):
            mirror, weights = torch.nn.Flatten(), []
        elif isinstance(layer, nn.Dropout):
            mirror, weights = torch.nn.Dropout(layer.p), []
        elif isinstance(layer, nn.Normalize):
            mirror, weights = _TorchNormalize(layer.mean, layer.scale), []
        else:
            raise TypeError(f"torch_mirror: no mirror for {type(layer).__name__}")
        with torch.no_grad():
            present = [w for w in weights if w is not None]
            for param, value in zip(mirror.parameters(), present, strict=True):
                param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        layers.append(mirror)
    return torch.nn.Sequential(*layers)


def _TorchNormalize(mean, scale):
    """``(x - mean) / scale`` per channel, as a torch module (what nn.Normalize does)."""
    import torch

    class Normalize(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean).reshape(1, -1, 1, 1))
            self.register_buffer("inverse", 1 / torch.tensor(scale).reshape(1, -1, 1, 1))

        def forward(self, x):
            return (x - self.mean) * self.inverse

    return Normalize()


def make_batch(shape, classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, classes, shape[0])
    return x, y


# ---------------------------------------------------------------------- training steps

TRAINING = {
    # name: (network, input shape, classes, optimizer, learning rate)
    "lenet": (lenet, (64, 1, 28, 28), 10, "sgd", 0.05),
    "face": (face_cnn, (32, 1, 25, 25), 2, "adam", 1e-3),
}


def _loss_thalweg(classes):
    from thalweg import losses

    if classes == 2:
        return lambda out, y: losses.binary_cross_entropy_with_logits(
            out, y.reshape(-1, 1).astype(np.float32)
        )
    return losses.cross_entropy


def thalweg_train_step(workload: str):
    import thalweg
    from thalweg import optim

    build, shape, classes, optimizer, lr = TRAINING[workload]
    model = build()
    x, y = make_batch(shape, classes)
    opt = {"sgd": optim.SGD, "adam": optim.Adam}[optimizer](model.parameters(), lr=lr)
    loss_fn = _loss_thalweg(classes)
    x = thalweg.from_numpy(x)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_train_step(workload: str):
    import torch

    build, shape, classes, optimizer, lr = TRAINING[workload]
    model = torch_mirror(build())
    x, y = make_batch(shape, classes)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer](model.parameters(), lr=lr)
    x = torch.from_numpy(x)
    if classes == 2:
        target = torch.from_numpy(y.reshape(-1, 1).astype(np.float32))
        loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    else:
        target = torch.from_numpy(y)
        loss_fn = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        return loss

    return step


# ---------------------------------------------------------------------- one conv layer

LAYER = {"batch": 32, "in": 16, "out": 32, "size": 32, "kernel": 3}


def layer_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    b, c, o, s, k = (LAYER[key] for key in ("batch", "in", "out", "size", "kernel"))
    x = rng.standard_normal((b, c, s, s), dtype=np.float32)
    w = (rng.standard_normal((o, c, k, k), dtype=np.float32) * 0.1).astype(np.float32)
    bias = rng.standard_normal(o, dtype=np.float32)
    grad = rng.standard_normal((b, o, s, s), dtype=np.float32)
    return x, w, bias, grad


def thalweg_layer_step():
    import thalweg
    from thalweg import nn

    x, w, bias, grad = layer_data()
    layer = nn.Conv2d(LAYER["in"], LAYER["out"], LAYER["kernel"], padding=1)
    layer.weight.data[...] = w
    layer.bias.data[...] = bias
    x = thalweg.tensor(x, requires_grad=True)

    def step():
        x.grad = None
        layer.zero_grad()
        layer(x).backward(grad)
        return _layer_check(x.grad, layer.weight.grad, layer.bias.grad)

    return step


def torch_layer_step():
    import torch

    x, w, bias, grad = layer_data()
    layer = torch.nn.Conv2d(LAYER["in"], LAYER["out"], LAYER["kernel"], padding=1)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(bias))
    x = torch.tensor(x, requires_grad=True)
    grad = torch.from_numpy(grad)

    def step():
        x.grad = None
        layer.zero_grad()
        layer(x).backward(grad)
        return _layer_check(x.grad.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy())

    return step


def _layer_check(*grads) -> harness.Lazy:
    return harness.Lazy(lambda: sum(float(np.abs(g).sum()) for g in grads))


class NumpyConv:
    """A conv layer's forward and backward, hand-written in NumPy the usual way.

    NCHW throughout; ``cols`` is ``(N·Ho·Wo, C·kH·kW)`` gathered from a
    ``sliding_window_view`` of a preallocated zero-padded copy; one GEMM forward, two
    backward; col2im as one add per filter tap. Every buffer is allocated once.
    """

    def __init__(self, x, w, bias, padding: int = 1):
        n, c, h, width = x.shape
        o, _, k, _ = w.shape
        self.x, self.w, self.bias, self.k, self.p = x, w, bias, k, padding
        self.out_hw = (h + 2 * padding - k + 1, width + 2 * padding - k + 1)
        self.padded = np.zeros((n, c, h + 2 * padding, width + 2 * padding), np.float32)
        positions = n * self.out_hw[0] * self.out_hw[1]
        self.cols = np.empty((n, *self.out_hw, c, k, k), np.float32)
        self.grad_cols = np.empty((positions, c * k * k), np.float32)
        self.grad_padded = np.empty_like(self.padded)
        self.grad_w = np.empty((o, c * k * k), np.float32)

    def forward(self) -> np.ndarray:
        n, c, h, w = self.x.shape
        p, k = self.p, self.k
        self.padded[:, :, p : p + h, p : p + w] = self.x
        windows = np.lib.stride_tricks.sliding_window_view(self.padded, (k, k), axis=(2, 3))
        np.copyto(self.cols, windows.transpose(0, 2, 3, 1, 4, 5))
        cols = self.cols.reshape(-1, c * k * k)
        out = cols @ self.w.reshape(len(self.w), -1).T  # (N·Ho·Wo, O)
        out += self.bias
        return out.reshape(n, *self.out_hw, -1).transpose(0, 3, 1, 2)

    def backward(self, grad: np.ndarray):
        n, c, h, w = self.x.shape
        p, k = self.p, self.k
        grad_2d = grad.transpose(0, 2, 3, 1).reshape(-1, grad.shape[1])  # (N·Ho·Wo, O)
        grad_bias = grad_2d.sum(axis=0)
        cols = self.cols.reshape(-1, c * k * k)
        np.matmul(grad_2d.T, cols, out=self.grad_w)
        np.matmul(grad_2d, self.w.reshape(len(self.w), -1), out=self.grad_cols)
        taps = self.grad_cols.reshape(n, *self.out_hw, c, k, k)
        self.grad_padded[...] = 0
        ho, wo = self.out_hw
        for i in range(k):
            for j in range(k):
                self.grad_padded[:, :, i : i + ho, j : j + wo] += taps[..., i, j].transpose(
                    0, 3, 1, 2
                )
        grad_x = self.grad_padded[:, :, p : p + h, p : p + w]
        return grad_x, self.grad_w.reshape(self.w.shape), grad_bias


def numpy_layer_step():
    x, w, bias, grad = layer_data()
    conv = NumpyConv(x, w, bias)

    def step():
        conv.forward()
        return _layer_check(*conv.backward(grad))

    return step


def gemm_only_step():
    """The three matrix products of the layer alone (forward, weight and input gradients)."""
    w = layer_data()[1]
    n, c, s, k, o = LAYER["batch"], LAYER["in"], LAYER["size"], LAYER["kernel"], LAYER["out"]
    rng = np.random.default_rng(1)
    cols = rng.standard_normal((c * k * k, n * s * s), dtype=np.float32)
    g2 = rng.standard_normal((o, n * s * s), dtype=np.float32)
    w2 = w.reshape(o, -1)
    out = np.empty((o, n * s * s), np.float32)
    grad_cols = np.empty_like(cols)

    def step():
        np.matmul(w2, cols, out=out)
        grad_w = (cols @ g2.T).T
        np.matmul(w2.T, g2, out=grad_cols)
        return harness.Lazy(lambda: float(grad_w.sum()))

    return step


# ---------------------------------------------------------------------- inference


def thalweg_infer_step():
    import thalweg

    model = face_cnn().eval()
    x = thalweg.from_numpy(make_batch((1, 1, 25, 25), 2)[0])

    def step():
        with thalweg.no_grad():
            out = model(x)
        return harness.Lazy(lambda: float(out.data.sum()))

    return step


def compiled_infer_step():
    """``thalweg_infer_step`` with the forward wrapped in ``thalweg.compile``: the same
    eval-mode model under ``no_grad``, replayed as its NumPy kernels (docs/compile.md)."""
    import thalweg

    model = face_cnn().eval()
    x = thalweg.from_numpy(make_batch((1, 1, 25, 25), 2)[0])
    infer = thalweg.compile(lambda x: model(x))

    def step():
        with thalweg.no_grad():
            out = infer(x)
        return harness.Lazy(lambda: float(out.data.sum()))

    return step


def torch_infer_step():
    import torch

    model = torch_mirror(face_cnn()).eval()
    x = torch.from_numpy(make_batch((1, 1, 25, 25), 2)[0])

    def step():
        with torch.no_grad():
            out = model(x)
        return harness.Lazy(lambda: float(out.sum()))

    return step


# ---------------------------------------------------------------------- memory


def step_memory(workload: str) -> tuple[float, float, int]:
    """Peak MB a training step allocates beyond what is held before it, the MB held by
    the layers' workspaces, and how many workspace arrays were made in 20 more steps
    (0: the im2col buffers are reused, not reallocated)."""
    step = thalweg_train_step(workload)
    for _ in range(3):
        step()
    model = _closure_model(step)
    spaces = [layer.workspace for layer in model.layers if hasattr(layer, "workspace")]
    made = sum(space.allocations for space in spaces)
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    for _ in range(20):
        step()
    again = sum(space.allocations for space in spaces) - made
    return peak / 1e6, sum(space.nbytes for space in spaces) / 1e6, again


def _closure_model(step):
    names = step.__code__.co_freevars
    return dict(zip(names, (c.cell_contents for c in step.__closure__), strict=True))["model"]


# ---------------------------------------------------------------------- the workload

TARGETS = {"lenet": 0.8, "face": 1.2, "layer": 0.9, "infer": 2.0}


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Convolutional networks (float32)",
        note=(
            "Seconds per step (median over rounds) and thalweg's speed over each peer's "
            "(median of per-round paired ratios, quartiles in parentheses; > 1: thalweg "
            "faster). Targets (issue 13): LeNet-5 train step ≥ 0.8× PyTorch; face CNN train "
            "step ≥ 1.2× PyTorch; conv layer forward+backward ≥ 0.9× hand-written NumPy "
            "im2col; face CNN inference at batch 1 ≥ 2× PyTorch eager."
        ),
        columns=[
            "workload",
            "thalweg",
            "peer",
            "peer time",
            "thalweg/peer",
            "target met",
            "rounds",
        ],
    )
    with harness.Workers(["thalweg", "pytorch", "numpy", "gemm", "compiled"]) as workers:
        for workload, title in (
            ("lenet", "LeNet-5 1×28×28, batch 64, SGD, train step"),
            ("face", "face CNN 1×25×25, batch 32, Adam, train step"),
        ):
            entrants = [
                harness.Contestant("thalweg", "bench.vision:thalweg_train_step", (workload,)),
                harness.Contestant("pytorch", "bench.vision:torch_train_step", (workload,)),
            ]
            timing = harness.check_then_time(
                workers, entrants, f"{workload}, loss at step {CHECK_STEPS}", CHECK_STEPS,
                settings, table,
            )  # fmt: skip
            _row(table, title, timing, "pytorch", "PyTorch", TARGETS[workload])

        entrants = [
            harness.Contestant("thalweg", "bench.vision:thalweg_layer_step"),
            harness.Contestant("numpy", "bench.vision:numpy_layer_step"),
            harness.Contestant("pytorch", "bench.vision:torch_layer_step"),
            harness.Contestant("gemm", "bench.vision:gemm_only_step"),
        ]
        check = workers.check(entrants[:3], 1)
        line = harness.assert_close("conv layer, Σ|gradients|", check, rtol=1e-4)
        print("  check", line, flush=True)
        table.checks.append(line)
        timing = workers.interleave(entrants, settings)
        title = "conv 16→32 3×3 on 32×32, batch 32, forward+backward"
        _row(table, title, timing, "numpy", "NumPy im2col", TARGETS["layer"])
        _row(table, title, timing, "pytorch", "PyTorch", None)
        share = timing.median("gemm") / timing.median("thalweg")
        table.rows.append(
            [
                "… of which the three GEMMs",
                _seconds(timing.median("gemm")),
                "",
                "",
                f"{share:.0%} of thalweg's time",
                "",
                timing.rounds_note,
            ]
        )
        print("  " + " | ".join(table.rows[-1]), flush=True)

        entrants = [
            harness.Contestant("thalweg", "bench.vision:thalweg_infer_step"),
            harness.Contestant("pytorch", "bench.vision:torch_infer_step"),
            harness.Contestant("compiled", "bench.vision:compiled_infer_step"),
            harness.Contestant("numpy", "bench.face_numpy:numpy_infer_step"),
        ]
        # 4 calls: the compiled one traces twice, checks its plan, then replays
        line = harness.assert_close("face CNN, Σ output", workers.check(entrants, 4), rtol=1e-4)
        print("  check", line, flush=True)
        table.checks.append(line)
        timing = workers.interleave(entrants, settings)
        title = "face CNN inference, batch 1"
        for name, suffix, peer, peer_name, target in (
            ("thalweg", "", "pytorch", "PyTorch", TARGETS["infer"]),
            ("compiled", ", thalweg.compile", "pytorch", "PyTorch", TARGETS["infer"]),
            ("compiled", ", thalweg.compile", "thalweg", "thalweg eager", None),
            ("numpy", ", hand-written NumPy", "pytorch", "PyTorch", None),
        ):
            _row(table, title + suffix, timing, peer, peer_name, target, name=name)

    for workload in TRAINING:
        peak, held, again = step_memory(workload)
        table.checks.append(
            f"memory, {workload} train step: peak {peak:.1f} MB allocated during one step; "
            f"workspaces hold {held:.1f} MB; {again} workspace arrays made in 20 more steps"
        )
        print("  " + table.checks[-1], flush=True)
    return table


def _seconds(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def _row(table, title, timing, peer, peer_name, target, name="thalweg") -> None:
    ratio = timing.speed_ratio(name, peer)
    table.rows.append(
        [
            title,
            _seconds(timing.median(name)),
            peer_name,
            _seconds(timing.median(peer)),
            harness.fmt_ratio(ratio),
            "" if target is None else f"{harness.verdict(ratio, target)} (≥ {target}×)",
            timing.rounds_note,
        ]
    )
    print("  " + " | ".join(table.rows[-1]), flush=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
