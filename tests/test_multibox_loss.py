"""smooth_l1 and SSD's multibox loss: gradcheck, a NumPy reference, and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import thalweg
from thalweg.errors import DataError, ShapeError
from thalweg.losses import multibox_loss, smooth_l1

PROPERTY = settings(max_examples=25, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def leaf(values, dtype="float64"):
    return thalweg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def smooth_l1_reference(difference, beta):
    size = np.abs(difference)
    return np.where(size < beta, 0.5 * difference**2 / beta, size - 0.5 * beta)


# ------------------------------------------------------------------------ smooth L1


@PROPERTY
@given(
    shape=SHAPES,
    reduction=st.sampled_from(["mean", "sum", "none"]),
    weighted=st.booleans(),
    beta=st.sampled_from([0.5, 1.0, 2.0]),
    seed=SEEDS,
)
def test_smooth_l1_passes_gradcheck_in_prediction_and_target(
    shape, reduction, weighted, beta, seed
):
    rng = np.random.default_rng(seed)
    prediction, target = rng.normal(0, 2, shape), rng.normal(0, 2, shape)
    # stay off the knee |d| = beta, where the second derivative jumps
    near = np.abs(np.abs(prediction - target) - beta) < 1e-3
    prediction[near] += 0.01
    weight = rng.uniform(0.2, 2.0, shape[0]) if weighted else None
    assert thalweg.gradcheck(
        lambda p, t: smooth_l1(p, t, beta=beta, weight=weight, reduction=reduction),
        leaf(prediction),
        leaf(target),
    )


def test_smooth_l1_values_equal_the_formula():
    difference = np.array([-3.0, -1.0, -0.2, 0.0, 0.5, 0.99, 1.01, 4.0])
    for beta in (0.5, 1.0):
        got = smooth_l1(leaf(difference), np.zeros(8), beta=beta, reduction="none")
        np.testing.assert_allclose(got.data, smooth_l1_reference(difference, beta))


def test_smooth_l1_equals_pytorch_values_and_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    prediction, target = rng.normal(0, 2, (6, 4)), rng.normal(0, 2, (6, 4))
    for beta in (0.5, 1.0):
        ours = leaf(prediction)
        loss = smooth_l1(ours, target, beta=beta)
        loss.backward()
        theirs = torch.tensor(prediction, requires_grad=True)
        expected = torch.nn.functional.smooth_l1_loss(theirs, torch.tensor(target), beta=beta)
        expected.backward()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12)


def test_smooth_l1_keeps_float32_and_checks_shapes():
    loss = smooth_l1(thalweg.tensor(np.ones((2, 4), np.float32)), np.zeros((2, 4)))
    assert loss.dtype == np.float32
    with pytest.raises(ShapeError, match="same shape"):
        smooth_l1(thalweg.tensor(np.ones((2, 4))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="beta"):
        smooth_l1(thalweg.tensor(np.ones(2)), np.zeros(2), beta=0)


# --------------------------------------------------------------------- multibox loss


def batch(seed, n_images=3, n_anchors=12, n_classes=3, positive_rate=0.25):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n_images, n_anchors, n_classes + 1))
    offsets = rng.normal(0, 1, (n_images, n_anchors, 4))
    labels = np.where(
        rng.random((n_images, n_anchors)) < positive_rate,
        rng.integers(1, n_classes + 1, (n_images, n_anchors)),
        0,
    )
    targets = rng.normal(0, 1, (n_images, n_anchors, 4))
    return logits, offsets, labels, targets


def multibox_reference(logits, offsets, labels, targets, ratio=3, alpha=0.0, threshold=0.5):
    """SSD's loss written out image by image, anchor by anchor."""
    total_loc, total_conf, n_positive = 0.0, 0.0, 0
    for b in range(len(logits)):
        log_z = np.log(np.exp(logits[b]).sum(axis=1))
        cross_entropy = log_z - logits[b][np.arange(len(labels[b])), labels[b]]
        positives = [a for a in range(len(labels[b])) if labels[b, a] > 0]
        background = [a for a in range(len(labels[b])) if labels[b, a] == 0]
        # hard negatives: the highest background loss first, lower index on ties
        background.sort(key=lambda a: (-(log_z[a] - logits[b, a, 0]), a))
        negatives = background[: min(int(ratio * len(positives)), len(background))]
        for a in positives:
            loc = smooth_l1_reference(offsets[b, a] - targets[b, a], 1.0).sum()
            confidence = np.exp(logits[b, a, labels[b, a]] - log_z[a])
            weight = 1 + alpha if confidence > threshold else 1.0
            total_loc += weight * loc
        total_conf += sum(cross_entropy[a] for a in positives + negatives)
        n_positive += len(positives)
    n = max(n_positive, 1)
    return (total_loc + total_conf) / n


@pytest.mark.parametrize("weighting", [False, True])
def test_multibox_loss_equals_the_written_out_reference(weighting):
    logits, offsets, labels, targets = batch(1)
    loss = multibox_loss(
        leaf(logits), leaf(offsets), labels, targets, confidence_weighting=weighting, alpha=1.0
    )
    expected = multibox_reference(logits, offsets, labels, targets, alpha=1.0 if weighting else 0.0)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    seed=SEEDS,
    n_images=st.integers(1, 3),
    n_anchors=st.integers(2, 8),
    n_classes=st.integers(1, 3),
    weighting=st.booleans(),
    ratio=st.sampled_from([1.0, 3.0]),
)
def test_multibox_loss_passes_gradcheck(seed, n_images, n_anchors, n_classes, weighting, ratio):
    logits, offsets, labels, targets = batch(seed, n_images, n_anchors, n_classes, 0.4)
    assert thalweg.gradcheck(
        lambda z, o: multibox_loss(
            z,
            o,
            labels,
            targets,
            negatives_per_positive=ratio,
            confidence_weighting=weighting,
            alpha=1.0,
            confidence_threshold=0.3,
        ),
        leaf(logits),
        leaf(offsets),
    )


def torch_multibox(torch, logits, offsets, labels, targets, ratio=3, alpha=0.0, threshold=0.5):
    """The loss as ssd.pytorch's MultiBoxLoss computes it, plus the confidence weight."""
    F = torch.nn.functional
    labels = torch.as_tensor(labels)
    positive = labels > 0
    n_positive = positive.sum(dim=1, keepdim=True)
    with torch.no_grad():
        log_z = torch.logsumexp(logits, dim=2)
        mining = log_z - logits[..., 0]
        mining[positive] = 0
        _, order = mining.sort(dim=1, descending=True, stable=True)
        _, rank = order.sort(dim=1)
        n_negative = torch.clamp(ratio * n_positive, max=positive.shape[1] - n_positive)
        negative = rank < n_negative
        confidence = torch.exp(logits.gather(2, labels[..., None])[..., 0] - log_z)
        weight = 1 + alpha * ((confidence > threshold) & positive).double()
    loc = F.smooth_l1_loss(offsets, torch.as_tensor(targets), reduction="none").sum(dim=2)
    loc = (loc * weight)[positive].sum()
    chosen = positive | negative
    conf = F.cross_entropy(logits[chosen], labels[chosen], reduction="sum")
    n = max(int(n_positive.sum()), 1)
    return (loc + conf) / n


@pytest.mark.parametrize("weighting", [False, True])
def test_multibox_loss_equals_pytorch_values_and_gradients(weighting):
    torch = pytest.importorskip("torch")
    logits, offsets, labels, targets = batch(2, n_images=4, n_anchors=30)
    alpha = 1.0 if weighting else 0.0
    z, o = leaf(logits), leaf(offsets)
    loss = multibox_loss(z, o, labels, targets, confidence_weighting=weighting, alpha=alpha)
    loss.backward()
    tz = torch.tensor(logits, requires_grad=True)
    to = torch.tensor(offsets, requires_grad=True)
    expected = torch_multibox(torch, tz, to, labels, targets, alpha=alpha)
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(z.grad, tz.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(o.grad, to.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_confidence_weighting_multiplies_confident_positives_localization_by_one_plus_alpha():
    logits = np.zeros((1, 3, 2))
    logits[0, 0, 1] = 5.0  # anchor 0: positive, confident (p ≈ 0.993)
    labels = np.array([[1, 1, 0]])  # anchor 1: positive, p = 0.5
    offsets, targets = np.zeros((1, 3, 4)), np.full((1, 3, 4), 0.5)
    parts = {
        alpha: multibox_loss(
            leaf(logits), leaf(offsets), labels, targets,
            confidence_weighting=True, alpha=alpha, confidence_threshold=0.6, parts=True,
        )
        for alpha in (0.0, 1.0, 9.0)
    }  # fmt: skip
    one_anchor = 4 * 0.125 / 2  # four offsets of smooth_l1(0.5) = 0.125, over 2 positives
    for alpha, result in parts.items():
        assert result.localization.item() == pytest.approx(one_anchor * (1 + alpha) + one_anchor)
    assert parts[1.0].confidence.item() == parts[0.0].confidence.item()


def test_hard_negative_mining_counts_three_negatives_per_positive_per_image():
    logits = np.zeros((2, 10, 2))
    logits[:, :, 0] = -np.arange(10)  # background loss grows with the anchor index
    labels = np.zeros((2, 10), np.int64)
    labels[0, 0] = 1  # image 0: one positive -> the 3 hardest negatives (anchors 9, 8, 7)
    z = leaf(logits)
    loss = multibox_loss(z, leaf(np.zeros((2, 10, 4))), labels, np.zeros((2, 10, 4)))
    loss.backward()
    used = np.abs(z.grad).sum(axis=2) > 0
    assert np.flatnonzero(used[0]).tolist() == [0, 7, 8, 9]
    assert not used[1].any()  # image 1: no positives, no negatives
    assert np.isfinite(loss.item())


def test_multibox_loss_checks_its_inputs():
    logits, offsets, labels, targets = batch(0)
    with pytest.raises(ShapeError, match="box_offsets"):
        multibox_loss(leaf(logits), leaf(offsets[:, :5]), labels, targets)
    with pytest.raises(DataError, match="labels must be integers"):
        multibox_loss(leaf(logits), leaf(offsets), labels + 10, targets)
    with pytest.raises(ShapeError, match="class_logits"):
        multibox_loss(leaf(logits[0]), leaf(offsets), labels, targets)
