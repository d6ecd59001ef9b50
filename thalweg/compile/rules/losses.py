"""Replay rules of ``autograd/ops/nn.py``: the fused losses."""

from __future__ import annotations

import math

import numpy as np

from thalweg.autograd.ops import nn as ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import BUFFER, Value
from thalweg.errors import DataError


def _weight(e, weight, dtype):
    """``nn._check_weight``: per-sample weights in the loss's dtype (shapes were checked
    while tracing and are fixed by the signature)."""
    if weight is None:
        return None
    if not isinstance(weight, Value):
        raise Unsupported
    return e.asarray(weight, dtype)


def _expand(e, weight: Value, ndim: int) -> Value:
    return e.view(weight, "reshape", (-1,) + (1,) * (ndim - 1))


def _mean_count(e, loss_shape, weight):
    """``nn.mean_count``: the number of elements, or Σweight × elements per sample."""
    size = math.prod(loss_shape)
    if weight is None:
        return size
    total = e.call(np.add.reduce, weight)
    return e.call(np.multiply, total, size // max(weight.shape[0], 1))


def _reduce(e, losses: Value, weight, reduction: str):
    """``nn._reduce``."""
    if weight is not None:
        losses = e.call(np.multiply, losses, _expand(e, weight, len(losses.shape)))
    if reduction == "none":
        return losses
    total = e.call(np.add.reduce, losses, axis=None)
    if reduction == "mean":
        return e.call(np.true_divide, total, _mean_count(e, losses.shape, weight))
    return total


def _scale(e, grad, weight, reduction, loss_shape, dtype):
    """``nn._scale``: d(reduced loss) / d(each element's loss)."""
    scale = grad
    if reduction == "mean":
        scale = e.call(np.true_divide, grad, _mean_count(e, loss_shape, weight))
    scale = e.asarray(scale, dtype)
    if weight is not None:
        scale = e.call(np.multiply, scale, e.asarray(_expand(e, weight, len(loss_shape)), dtype))
    return scale


def check_labels(labels: np.ndarray, n_classes: int) -> None:
    """The label check of ``CrossEntropy.forward`` (a replay raises the same error)."""
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"cross_entropy: labels must lie in [0, {n_classes - 1}] for {n_classes} "
            f"classes, got values from {labels.min()} to {labels.max()}"
        )


@rule(ops.CrossEntropy)
def cross_entropy(e, op):
    logits, labels, *rest = op.inputs
    weight = rest[0] if rest else op.options.get("weight")
    reduction = op.options.get("reduction", "mean")
    if not isinstance(logits, Value) or not isinstance(labels, Value):
        raise Unsupported
    if labels.dtype.kind not in "iu" or logits.root.kind != BUFFER or logits.view is not None:
        raise Unsupported  # float labels, or logits not in a buffer of ours: run as itself
    n, n_classes = logits.shape
    if labels.kind != "const":
        e.effect(check_labels, labels, n_classes, text="check the labels' range")
    weight = _weight(e, weight, logits.dtype)
    # logits[rows, labels] as a gather from the flat logits (the same numbers, no copy)
    flat_index = e.call(np.add, e.const(np.arange(n) * n_classes), labels)
    flat_logits = e.view(logits, "reshape", (-1,))
    shift = e.call(np.maximum.reduce, logits, axis=1, keepdims=True)
    exp_shifted = e.call(np.subtract, logits, shift)
    e.call(np.exp, exp_shifted, into=exp_shifted)
    total = e.call(np.add.reduce, exp_shifted, axis=1, keepdims=True)
    log_total = e.call(np.add, e.call(np.log, total), shift)
    picked = e.call(np.take, flat_logits, flat_index)
    losses = e.call(np.subtract, e.view(log_total, "getitem", (slice(None), 0)), picked)
    softmax = e.call(np.true_divide, exp_shifted, total)
    op.saved = (softmax, flat_index, weight, reduction)
    return _reduce(e, losses, weight, reduction)


@backward_rule(ops.CrossEntropy)
def cross_entropy_backward(e, op, grad):
    softmax, flat_index, weight, reduction = op.saved
    n = softmax.shape[0]
    scale = _scale(e, grad, weight, reduction, (n,), softmax.dtype)
    column = e.view(scale, "getitem", (slice(None), None)) if len(scale.shape) else scale
    grad_logits = e.call(np.multiply, softmax, column)
    # grad_logits[rows, labels] -= scale: gather, subtract, scatter back
    flat = e.view(grad_logits, "reshape", (-1,))
    picked = e.call(np.take, flat, flat_index)
    e.call(np.subtract, picked, scale, into=picked)
    e.write(np.put, flat, flat_index, picked, target=grad_logits)
    return grad_logits, None, None


@rule(ops.BinaryCrossEntropyWithLogits)
def binary_cross_entropy_with_logits(e, op):
    logits, targets, *rest = op.inputs
    weight = rest[0] if rest else op.options.get("weight")
    reduction = op.options.get("reduction", "mean")
    if not isinstance(logits, Value) or not isinstance(targets, Value):
        raise Unsupported
    targets = e.asarray(targets, logits.dtype)
    weight = _weight(e, weight, logits.dtype)
    exp = e.call(np.abs, logits)  # e = exp(-|z|)
    e.call(np.negative, exp, into=exp)
    e.call(np.exp, exp, into=exp)
    one_plus_e = e.call(np.add, exp, 1)
    tail = e.call(np.log1p, exp, into=exp)
    losses = e.call(np.maximum, logits, 0)
    e.call(np.subtract, losses, e.call(np.multiply, logits, targets), into=losses)
    e.call(np.add, losses, tail, into=losses)
    residual = e.call(np.minimum, logits, 0)  # becomes σ(z) - y
    e.call(np.exp, residual, into=residual)
    e.call(np.true_divide, residual, one_plus_e, into=residual)
    e.call(np.subtract, residual, targets, into=residual)
    op.saved = (residual, logits, weight, reduction)
    return _reduce(e, losses, weight, reduction)


@backward_rule(ops.BinaryCrossEntropyWithLogits)
def binary_cross_entropy_with_logits_backward(e, op, grad):
    residual, logits, weight, reduction = op.saved
    scale = _scale(e, grad, weight, reduction, residual.shape, residual.dtype)
    grad_targets = None
    if op.needs[1]:
        grad_targets = e.call(np.multiply, e.call(np.negative, logits), scale)
    return e.call(np.multiply, residual, scale), grad_targets, None


@rule(ops.SquaredError)
def squared_error(e, op):
    prediction, target, *rest = op.inputs
    weight = rest[0] if rest else op.options.get("weight")
    reduction = op.options.get("reduction", "mean")
    if not isinstance(prediction, Value) or not isinstance(target, Value):
        raise Unsupported
    target = e.asarray(target, prediction.dtype)
    weight = _weight(e, weight, prediction.dtype)
    difference = e.call(np.subtract, prediction, target)
    op.saved = (difference, weight, reduction)
    if weight is None and reduction != "none":
        total = e.host(np.vdot, difference, difference)  # Σ d², one pass (a NumPy scalar)
        if reduction == "mean":
            return e.call(np.true_divide, total, math.prod(difference.shape))
        return total
    return _reduce(e, e.call(np.multiply, difference, difference), weight, reduction)


@backward_rule(ops.SquaredError)
def squared_error_backward(e, op, grad):
    difference, weight, reduction = op.saved
    scale = _scale(e, grad, weight, reduction, difference.shape, difference.dtype)
    grad_prediction = e.call(np.multiply, e.call(np.multiply, 2, difference), scale)
    grad_target = e.call(np.negative, grad_prediction) if op.needs[1] else None
    return grad_prediction, grad_target, None
