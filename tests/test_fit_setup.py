"""The pieces a gradient-descent fit runs before (and inside) its epochs, after issue 16c
made them cheaper: each checked against the plain computation it replaced."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg
from thalweg.errors import DataError
from thalweg.models import checks
from thalweg.train.optimizers import largest_curvature


def _curvature_reference(rows, sample_weight=None) -> float:
    """λmax([X, 1]ᵀ W [X, 1] / Σw) with [X, 1] built whole, in float64."""
    design = np.column_stack([np.asarray(rows, np.float64), np.ones(len(rows))])
    weight = np.ones(len(rows)) if sample_weight is None else np.asarray(sample_weight, float)
    weight = weight / weight.mean()
    return float(np.linalg.eigvalsh(design.T @ (design * weight[:, None]) / len(rows))[-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 7, 40])
@pytest.mark.parametrize("weighted", [False, True])
def test_largest_curvature_by_blocks_equals_the_whole_design_matrix(dtype, n_features, weighted):
    rng = np.random.default_rng(n_features)
    rows = (rng.standard_normal((300, n_features)) * rng.uniform(0.1, 5, n_features) + 2).astype(
        dtype
    )
    weight = rng.uniform(0, 3, 300) if weighted else None
    assert largest_curvature(rows, weight) == pytest.approx(
        _curvature_reference(rows, weight), rel=1e-12
    )


def test_largest_curvature_power_iteration_for_wide_rows():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((800, 600)) + 3.0  # a dominant direction: the mean
    weight = rng.uniform(0.5, 2, 800)
    assert largest_curvature(rows, weight) == pytest.approx(
        _curvature_reference(rows, weight), rel=1e-6
    )


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int64])
def test_label_codes_of_labels_zero_to_k_are_the_labels(dtype):
    y = np.random.default_rng(1).integers(0, 4, 500).astype(dtype)
    classes = np.arange(4, dtype=dtype)
    codes = checks.label_codes(y, classes, "m")
    np.testing.assert_array_equal(codes, np.searchsorted(classes, y))
    assert codes.dtype == np.intp and not np.shares_memory(codes, y)


@pytest.mark.parametrize(
    "y, classes",
    [
        (np.array([7, 3, 7, 3]), np.array([3, 7])),  # not 0..k-1: searched
        (np.array([1, 2, 2]), np.array([1, 2])),
        (np.array(["b", "a", "b"]), np.array(["a", "b"])),
        (np.array([0.0, 1.0, 1.0]), np.array([0.0, 1.0])),
    ],
)
def test_label_codes_of_other_labels_are_their_positions(y, classes):
    np.testing.assert_array_equal(checks.label_codes(y, classes, "m"), np.searchsorted(classes, y))


@pytest.mark.parametrize("y", [np.array([0, 1, 2]), np.array([0, -1, 1]), np.array([0, 5])])
def test_label_codes_refuse_labels_outside_the_classes(y):
    with pytest.raises(DataError, match="not in the classes"):
        checks.label_codes(y, np.array([0, 1]), "m")


@pytest.mark.parametrize(
    "y", [np.array([3, 1, 3, 1, 2]), np.array(["no", "yes", "no"]), np.array([1.0, 0.0, 1.0])]
)
def test_checked_labels_give_the_labels_and_their_sorted_distinct_values(y):
    labels, classes = checks.checked_labels(y, len(y), "m")
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_array_equal(classes, np.unique(y))


def test_checked_labels_refuse_a_regression_target_and_a_single_class():
    with pytest.raises(DataError, match="continuous"):
        checks.checked_labels(np.array([0.5, 1.0]), 2, "m")
    with pytest.raises(DataError, match="only one class"):
        checks.checked_labels(np.array([2, 2]), 2, "m")


def test_bce_losses_keep_their_values_through_backward():
    """The op reuses its working arrays: the per-element losses it returns must not be
    one of them (nor the residual the backward reads)."""
    z = thalweg.tensor(np.array([[-3.0], [0.5], [4.0]], np.float32), requires_grad=True)
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    losses = thalweg.binary_cross_entropy_with_logits(z, y, reduction="none")
    before = losses.data.copy()
    losses.sum().backward()
    np.testing.assert_array_equal(losses.data, before)
    z64 = z.data.astype(np.float64)
    expected = np.logaddexp(0, z64) - z64 * y
    np.testing.assert_allclose(before, expected, rtol=1e-6)
    # σ(z) - y in float32: ~1e-7 absolute where σ(z) nears y
    np.testing.assert_allclose(z.grad, 1 / (1 + np.exp(-z64)) - y, rtol=1e-6, atol=1e-7)
