"""The hand-written NumPy face CNN of ``bench/face_numpy.py`` (a benchmark reference)
computes what thalweg computes: a speed ratio against a reference that does different
arithmetic would be meaningless."""

from __future__ import annotations

import numpy as np

import thalweg
from bench import face_numpy, vision
from thalweg import losses
from thalweg.nn import functional as F


def test_hand_written_face_cnn_gradients_match_thalweg():
    model, x, targets, lr = face_numpy.face_setup()
    params = list(model.parameters())
    net = face_numpy.NumpyFaceCNN([p.data.copy() for p in params], len(x), lr)
    loss = losses.binary_cross_entropy_with_logits(model(thalweg.from_numpy(x)), targets)
    loss.backward()
    ours = net.forward_backward(x, targets)
    assert abs(ours - loss.item()) <= 1e-6 * abs(loss.item())
    for mine, p in zip(net.grads, params, strict=True):
        assert mine.shape == p.grad.shape
        scale = np.abs(p.grad).max()
        assert scale > 0  # every parameter gets a gradient: a dropped term would show
        np.testing.assert_allclose(mine, p.grad, rtol=0, atol=1e-4 * scale)


def test_hand_written_face_cnn_adam_steps_match_thalweg():
    loss_diff, weight_diff = face_numpy.compare_with_thalweg(steps=3)
    assert loss_diff <= 1e-5
    assert weight_diff <= 1e-5


def test_hand_written_face_cnn_inference_matches_thalweg():
    model = vision.face_cnn().eval()
    x = vision.make_batch((1, 1, 25, 25), 2)[0]
    net = face_numpy.NumpyFaceCNN([p.data.copy() for p in model.parameters()], 1)
    with thalweg.no_grad():
        expected = model(thalweg.from_numpy(x)).data
    np.testing.assert_allclose(net.forward(x, training=False), expected, rtol=1e-5, atol=1e-6)


def test_max_pool_with_ties_sends_the_gradient_to_the_first_maximum():
    # Ties everywhere (a tiny integer range) and an odd size (its last row and column
    # are never pooled): thalweg's op is the reference.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 3, (2, 3, 7, 5)).astype(np.float32)  # NCHW
    grad = rng.standard_normal((2, 3, 3, 2)).astype(np.float32)
    x = thalweg.tensor(image, requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(grad)
    buffer = np.ascontiguousarray(image.transpose(0, 2, 3, 1))  # NHWC
    pool = face_numpy.MaxPoolNHWC(buffer)
    np.testing.assert_array_equal(pool.forward(), out.data.transpose(0, 2, 3, 1))
    grad_x = pool.backward(np.ascontiguousarray(grad.transpose(0, 2, 3, 1)))
    np.testing.assert_array_equal(grad_x, x.grad.transpose(0, 2, 3, 1))
