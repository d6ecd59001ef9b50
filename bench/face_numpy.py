"""The face CNN's training step written by hand in NumPy: the reference for issue 18's
"compiled ≥ 1.0× a hand-written NumPy im2col step" (and a peer in ``bench/compiled.py``).

The network is ``bench/vision.py``'s ``face_cnn`` (``CNNClassifier``'s default for
1×25×25 images, two classes), layer for layer::

    Normalize(0.5, 0.25) → Conv 1→16 3×3 pad 1 → MaxPool 2 → ReLU
      → Conv 16→32 3×3 pad 1 → MaxPool 2 → ReLU → Flatten (C, H, W order)
      → Linear 1152→64 → ReLU → Linear 64→1 → binary cross-entropy on the logit (mean)

then Adam (``bench/reference.py``'s: PyTorch's formula, 12 ufunc passes over one flat
buffer). Written the way a careful NumPy programmer writes it:

* activations **NHWC** (batch, row, column, channel) throughout, so a convolution's
  im2col matrix is ``(N·H·W, 3·3·C)`` and its GEMM output ``(N·H·W, O)`` *is* the next
  NHWC activation — no transposes between layers (one small one at the Flatten, to keep
  the Linear weight in thalweg's and PyTorch's (C, H, W) row order);
* im2col as one copy of a ``sliding_window_view`` of a zero-padded buffer (the border
  written once), col2im as one add per filter tap (9 strided adds), the first conv
  computing no input gradient (its input is data);
* max pooling with **argmax indices**, tap by tap: the window's four pixels are four
  strided views of the image; forward keeps a running maximum and which tap holds it
  (the first maximum in scan order, as thalweg and PyTorch), backward writes the
  gradient into the winning tap's view and 0 into the others (an odd last row or column
  gets no gradient);
* parameters and gradients each in **one flat float32 buffer** (``reference.FlatBuffer``),
  every array preallocated; a step allocates only a few ``(batch, 1)``-sized temporaries
  in the loss.
"""

from __future__ import annotations

import numpy as np

from bench import harness, reference

MEAN, SCALE = 0.5, 0.25  # face_cnn's Normalize layer


class ConvNHWC:
    """A 3×3 (``kernel``) same-padding convolution on NHWC activations, forward and backward.

    ``input`` is where the caller writes the layer's input: the interior of a zero-padded
    ``(N, H+2p, W+2p, C)`` buffer (the border stays 0). The im2col matrix is
    ``(N·H·W, kH·kW·C)``, columns ordered (tap row, tap column, channel) so that both
    the im2col copy and col2im's adds move runs of ``C`` contiguous floats (with the
    channel last in the window, the inner run would be 3 floats, strided: 2–3× slower).
    Weights stay in thalweg's layout ``(O, C, kH, kW)`` (Adam updates them there); each
    step copies them into the order its GEMMs want (4,608 floats for 16→32) and writes
    the weight gradient back the same way.
    """

    def __init__(self, n, h, w, c, o, kernel=3, input_grad=True):
        p = kernel // 2
        self.shape, self.o, self.k, self.p = (n, h, w, c), o, kernel, p
        self.padded = np.zeros((n, h + 2 * p, w + 2 * p, c), np.float32)
        self.input = self.padded[:, p : p + h, p : p + w, :]
        self.cols = np.empty((n, h, w, kernel, kernel, c), np.float32)  # im2col
        self.out = np.empty((n * h * w, o), np.float32)  # = NHWC (n, h, w, o)
        self.weight = np.empty((o, kernel, kernel, c), np.float32)  # (O, kH, kW, C)
        self.grad_weight = np.empty((kernel * kernel * c, o), np.float32)  # (kH·kW·C, O)
        self.ones = np.ones(n * h * w, np.float32)
        self.input_grad = input_grad
        if input_grad:
            self.weight_taps = np.empty((kernel * kernel, o, c), np.float32)
            self.grad_taps = np.empty((kernel * kernel, n * h * w, c), np.float32)
            self.grad_padded = np.zeros_like(self.padded)
            self.grad_input = self.grad_padded[:, p : p + h, p : p + w, :]

    def forward(self, weight, bias) -> np.ndarray:
        """``(N, H, W, O)``: one im2col copy, one GEMM, the bias broadcast."""
        n, h, w, _ = self.shape
        windows = np.lib.stride_tricks.sliding_window_view(
            self.padded, (self.k, self.k), axis=(1, 2)
        )  # (n, h, w, c, kH, kW), a view
        np.copyto(self.cols, windows.transpose(0, 1, 2, 4, 5, 3))
        np.copyto(self.weight, weight.transpose(0, 2, 3, 1))
        cols = self.cols.reshape(n * h * w, -1)
        np.matmul(cols, self.weight.reshape(self.o, -1).T, out=self.out)
        self.out += bias
        return self.out.reshape(n, h, w, self.o)

    def backward(self, grad, weight, grad_weight, grad_bias):
        """``grad`` ``(N, H, W, O)`` contiguous; writes the weight and bias gradients (thalweg's
        layouts) in place and returns the input gradient ``(N, H, W, C)`` (a view of the
        padded buffer's interior), or None for a layer without one."""
        n, h, w, c = self.shape
        k = self.k
        g = grad.reshape(n * h * w, self.o)
        # column sums as a GEMV: np.add.reduce(g, axis=0) runs a short C loop per row
        np.matmul(self.ones, g, out=grad_bias)
        # colsᵀ @ g, not gᵀ @ cols: BLAS runs this orientation ~1.3× faster here
        np.matmul(self.cols.reshape(n * h * w, -1).T, g, out=self.grad_weight)
        np.copyto(grad_weight, self.grad_weight.reshape(k, k, c, self.o).transpose(3, 2, 0, 1))
        if not self.input_grad:
            return None
        # The columns' gradient tap by tap, (kH·kW, N·H·W, C): one batched GEMM, and
        # col2im is then one add per tap of a contiguous (N, H, W, C) block (with the
        # taps inside each row, every add would move runs of C floats: 2× slower).
        np.copyto(self.weight_taps.reshape(k, k, self.o, c), weight.transpose(2, 3, 0, 1))
        np.matmul(g, self.weight_taps, out=self.grad_taps)
        self.grad_padded[...] = 0
        for i in range(k):
            for j in range(k):
                tap = self.grad_taps[i * k + j].reshape(n, h, w, c)
                self.grad_padded[:, i : i + h, j : j + w, :] += tap
        return self.grad_input


class MaxPoolNHWC:
    """2×2 max pooling, stride 2, on an NHWC array held in a fixed buffer ``x``.

    Works on the four *taps* of the window — the strided views ``x[:, i::2, j::2, :]``,
    each a whole ``(N, H//2, W//2, C)`` array — so every pass is one vectorized ufunc
    (``np.argmax`` over a length-4 axis runs a C loop per window: ~50× slower here).
    Forward keeps the running maximum and, as ``index`` (0–3, scan order), the argmax of
    each window: a later tap wins only if strictly greater, so ties go to the first, as
    in thalweg and PyTorch. Backward sends each gradient to the pixel ``index`` names.
    """

    def __init__(self, x: np.ndarray):
        n, h, w, c = x.shape
        ho, wo = h // 2, w // 2
        self.out = np.empty((n, ho, wo, c), np.float32)
        self.index = np.empty((n, ho, wo, c), np.int8)
        self.flags = np.empty((n, ho, wo, c), bool)
        self.candidate = np.empty_like(self.index)
        self.grad_x = np.zeros_like(x)  # an odd last row/column never gets a gradient
        self.taps = [_tap(x, i, j, ho, wo) for i in (0, 1) for j in (0, 1)]
        self.grad_taps = [_tap(self.grad_x, i, j, ho, wo) for i in (0, 1) for j in (0, 1)]

    def forward(self, training: bool = True) -> np.ndarray:
        """The pooled ``(N, H//2, W//2, C)``; the argmax only with ``training``."""
        out, index, greater = self.out, self.index, self.flags
        np.copyto(out, self.taps[0])
        if not training:
            for pixels in self.taps[1:]:
                np.maximum(out, pixels, out=out)
            return out
        index[...] = 0
        for tap, pixels in enumerate(self.taps[1:], start=1):
            np.greater(pixels, out, out=greater)
            # index ← tap where greater: taps come in increasing order, so that is
            # max(index, greater·tap) (np.copyto with where= is ~40× slower here)
            np.multiply(greater, np.int8(tap), out=self.candidate)
            np.maximum(index, self.candidate, out=index)
            np.maximum(out, pixels, out=out)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        for tap, grad_pixels in enumerate(self.grad_taps):
            np.equal(self.index, tap, out=self.flags)
            np.multiply(grad, self.flags, out=grad_pixels)  # 0 where another tap won
        return self.grad_x


def _tap(x: np.ndarray, i: int, j: int, ho: int, wo: int) -> np.ndarray:
    """Pixel ``(i, j)`` of every 2×2 window: a strided ``(N, Ho, Wo, C)`` view of ``x``."""
    return x[:, i : i + 2 * ho : 2, j : j + 2 * wo : 2, :]


class NumpyFaceCNN:
    """The face CNN's forward, backward and Adam update by hand, for one batch shape.

    ``weights``: thalweg's ``face_cnn().parameters()`` as arrays, in order (conv1 weight,
    bias, conv2 weight, bias, Linear 1152→64 weight ``(in, out)``, bias, Linear 64→1).
    """

    def __init__(self, weights, batch: int, lr: float = 1e-3, size: int = 25):
        shapes = [w.shape for w in weights]
        params, grads = reference.FlatBuffer(shapes), reference.FlatBuffer(shapes)
        for view, w in zip(params.views, weights, strict=True):
            view[...] = w
        self.params, self.grads = params.views, grads.views
        self.opt = reference.Adam(params, grads, lr=lr)
        n, half, quarter = batch, size // 2, size // 4
        self.conv1 = ConvNHWC(n, size, size, 1, 16, input_grad=False)
        self.pool1 = MaxPoolNHWC(self.conv1.out.reshape(n, size, size, 16))
        self.conv2 = ConvNHWC(n, half, half, 16, 32)
        self.pool2 = MaxPoolNHWC(self.conv2.out.reshape(n, half, half, 32))
        self.mask1 = np.empty((n, half, half, 16), bool)
        self.mask2 = np.empty((n, quarter, quarter, 32), bool)
        self.act2 = np.empty((n, quarter, quarter, 32), np.float32)
        self.grad_act2 = np.empty_like(self.act2)
        self.flat = np.empty((n, 32 * quarter * quarter), np.float32)  # (C, H, W) order
        self.grad_flat = np.empty_like(self.flat)
        self.hidden = np.empty((n, 64), np.float32)
        self.grad_hidden = np.empty_like(self.hidden)
        self.logits = np.empty((n, 1), np.float32)

    def step(self, x: np.ndarray, targets: np.ndarray) -> float:
        """One training step on ``x`` ``(N, 1, H, W)`` and 0/1 ``targets`` ``(N, 1)``
        (float32); returns the loss before the update."""
        loss = self.forward_backward(x, targets)
        self.opt.step()
        return loss

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        """The logits ``(N, 1)`` for ``x`` ``(N, 1, H, W)``; with ``training`` it also keeps
        what backward needs (the pools' argmax, the ReLUs' masks), else skips that work."""
        c1w, c1b, c2w, c2b, w3, b3, w4, b4 = self.params
        conv1, pool1, conv2, pool2 = self.conv1, self.pool1, self.conv2, self.pool2
        # Normalize straight into conv1's padded input (one channel: NCHW = NHWC)
        np.subtract(x[:, 0], MEAN, out=conv1.input[..., 0])
        conv1.input *= 1.0 / SCALE
        conv1.forward(c1w, c1b)
        pooled1 = pool1.forward(training)
        if training:
            np.greater(pooled1, 0, out=self.mask1)
        np.maximum(pooled1, 0, out=conv2.input)  # ReLU, written into conv2's padded input
        conv2.forward(c2w, c2b)
        pooled2 = pool2.forward(training)
        if training:
            np.greater(pooled2, 0, out=self.mask2)
        np.maximum(pooled2, 0, out=self.act2)
        n, h, w, c = self.act2.shape  # Flatten in (C, H, W) order, as thalweg's
        np.copyto(self.flat.reshape(n, c, h, w), self.act2.transpose(0, 3, 1, 2))
        hidden, z = self.hidden, self.logits
        np.matmul(self.flat, w3, out=hidden)
        hidden += b3
        np.maximum(hidden, 0, out=hidden)
        np.matmul(hidden, w4, out=z)
        z += b4
        return z

    def forward_backward(self, x: np.ndarray, targets: np.ndarray) -> float:
        """Forward and backward only: the gradients land in ``self.grads``."""
        c1w, _, c2w, _, w3, _, w4, _ = self.params
        g_c1w, g_c1b, g_c2w, g_c2b, g_w3, g_b3, g_w4, g_b4 = self.grads
        conv1, pool1, conv2, pool2 = self.conv1, self.pool1, self.conv2, self.pool2
        n = len(x)
        z, hidden = self.forward(x), self.hidden
        # binary cross-entropy on the logit, mean: max(z,0) - z·y + log(1 + e^-|z|)
        e = np.exp(-np.abs(z))
        loss = float(np.mean(np.maximum(z, 0) - z * targets + np.log1p(e)))
        # backward: dz = (σ(z) - y) / n, σ(z) = e^min(z,0) / (1 + e)
        dz = (np.exp(np.minimum(z, 0)) / (1 + e) - targets) * (1.0 / n)
        np.matmul(hidden.T, dz, out=g_w4)
        np.add.reduce(dz, axis=0, out=g_b4)
        np.matmul(dz, w4.T, out=self.grad_hidden)
        self.grad_hidden *= hidden > 0
        np.matmul(self.flat.T, self.grad_hidden, out=g_w3)
        np.add.reduce(self.grad_hidden, axis=0, out=g_b3)
        np.matmul(self.grad_hidden, w3.T, out=self.grad_flat)
        flat_nchw = self.grad_flat.reshape(n, 32, *self.act2.shape[1:3])
        np.copyto(self.grad_act2, flat_nchw.transpose(0, 2, 3, 1))
        self.grad_act2 *= self.mask2
        grad_conv2 = pool2.backward(self.grad_act2)
        grad_act1 = conv2.backward(grad_conv2, c2w, g_c2w, g_c2b)
        grad_act1 *= self.mask1
        grad_conv1 = pool1.backward(grad_act1)
        conv1.backward(grad_conv1, c1w, g_c1w, g_c1b)
        return loss


# ---------------------------------------------------------------------- contestants


def face_setup():
    """The face CNN workload of ``bench/vision.py``: thalweg's model, the batch, targets."""
    from bench import vision

    build, shape, classes, optimizer, lr = vision.TRAINING["face"]
    assert optimizer == "adam", "the hand-written face step implements Adam only"
    model = build()
    x, y = vision.make_batch(shape, classes)
    return model, x, y.reshape(-1, 1).astype(np.float32), lr


def numpy_train_step():
    """Harness factory: the hand-written step on ``bench/vision.py``'s face batch."""
    model, x, targets, lr = face_setup()
    net = NumpyFaceCNN([p.data.copy() for p in model.parameters()], len(x), lr)

    def step():
        return net.step(x, targets)

    return step


def numpy_infer_step():
    """Harness factory: the hand-written forward at batch 1 (``bench/vision.py``'s
    inference row: the face CNN in eval mode on one image)."""
    from bench import vision

    model = vision.face_cnn()
    x = vision.make_batch((1, 1, 25, 25), 2)[0]
    net = NumpyFaceCNN([p.data.copy() for p in model.parameters()], 1)

    def step():
        out = net.forward(x, training=False)
        return harness.Lazy(lambda: float(out.sum()))

    return step


def compare_with_thalweg(steps: int = 10) -> tuple[float, float]:
    """Run ``steps`` Adam steps of thalweg's eager face CNN and of the hand-written one
    from the same weights on the same batch; return the largest relative difference of
    the losses and of the weights (each parameter's ``max|Δ| / max|w|``)."""
    import thalweg
    from thalweg import losses, optim

    model, x, targets, lr = face_setup()
    params = list(model.parameters())
    net = NumpyFaceCNN([p.data.copy() for p in params], len(x), lr)
    opt = optim.Adam(params, lr=lr)
    x_tensor = thalweg.from_numpy(x)
    loss_diff = 0.0
    for _ in range(steps):
        opt.zero_grad()
        loss = losses.binary_cross_entropy_with_logits(model(x_tensor), targets)
        loss.backward()
        opt.step()
        ours = net.step(x, targets)
        loss_diff = max(loss_diff, abs(ours - loss.item()) / abs(loss.item()))
    weight_diff = max(
        float(np.abs(mine - p.data).max() / np.abs(p.data).max())
        for mine, p in zip(net.params, params, strict=True)
    )
    return loss_diff, weight_diff


def check_line(steps: int = 10, rtol: float = 1e-4) -> str:
    """The same-result check the bench prints: raises AssertionError past ``rtol``."""
    loss_diff, weight_diff = compare_with_thalweg(steps)
    line = (
        f"hand NumPy face CNN vs thalweg eager, {steps} Adam steps from the same weights: "
        f"losses max rel. diff {loss_diff:.1e}, weights {weight_diff:.1e} "
        f"(tolerance {rtol:.0e})"
    )
    if not max(loss_diff, weight_diff) <= rtol:
        raise AssertionError(f"the hand-written face CNN disagrees with thalweg: {line}")
    return line + " OK"
