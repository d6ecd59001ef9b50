"""The engine's ops as functions: ``thalweg.exp(x)``, ``thalweg.sum(x, axis=0)``, ...

Each is a one-line call into the op's ``Function`` in ``autograd/ops/``, where its
forward and backward live. (Several names shadow Python builtins on purpose, like
NumPy's ``np.sum``; this module therefore never calls the builtins itself.)
"""

from __future__ import annotations

from thalweg.autograd.ops import arithmetic, elementwise, linalg, reduce
from thalweg.autograd.ops import nn as nn_ops
from thalweg.autograd.ops import shape as shape_ops
from thalweg.errors import ShapeError


def add(a, b):
    """Elementwise ``a + b`` with broadcasting."""
    return arithmetic.Add.apply(a, b)


def sub(a, b):
    """Elementwise ``a - b`` with broadcasting."""
    return arithmetic.Sub.apply(a, b)


def mul(a, b):
    """Elementwise ``a * b`` with broadcasting."""
    return arithmetic.Mul.apply(a, b)


def div(a, b):
    """Elementwise ``a / b`` with broadcasting."""
    return arithmetic.Div.apply(a, b)


def pow(a, b):
    """Elementwise ``a ** b`` with broadcasting."""
    return arithmetic.Pow.apply(a, b)


def neg(a):
    """Elementwise ``-a``."""
    return arithmetic.Neg.apply(a)


def exp(x):
    """Elementwise ``e**x``."""
    return elementwise.Exp.apply(x)


def log(x):
    """Elementwise natural logarithm."""
    return elementwise.Log.apply(x)


def log1p(x):
    """Elementwise ``log(1 + x)``, accurate for small x."""
    return elementwise.Log1p.apply(x)


def sqrt(x):
    """Elementwise square root."""
    return elementwise.Sqrt.apply(x)


def abs(x):
    """Elementwise absolute value."""
    return elementwise.Abs.apply(x)


def sin(x):
    """Elementwise sine."""
    return elementwise.Sin.apply(x)


def cos(x):
    """Elementwise cosine."""
    return elementwise.Cos.apply(x)


def tanh(x):
    """Elementwise hyperbolic tangent."""
    return elementwise.Tanh.apply(x)


def sigmoid(x):
    """Elementwise logistic function ``1 / (1 + exp(-x))``, overflow-free."""
    return elementwise.Sigmoid.apply(x)


def relu(x):
    """Elementwise ``max(x, 0)``."""
    return elementwise.ReLU.apply(x)


def leaky_relu(x, negative_slope: float = 0.01):
    """Elementwise ``x if x > 0 else negative_slope * x``."""
    return elementwise.LeakyReLU.apply(x, negative_slope=negative_slope)


def softplus(x):
    """Elementwise ``log(1 + exp(x))``, overflow-free."""
    return elementwise.Softplus.apply(x)


def clip(x, min=None, max=None):
    """Elementwise clamp to ``[min, max]`` (either may be None)."""
    return elementwise.Clip.apply(x, low=min, high=max)


def maximum(a, b):
    """Elementwise maximum of two tensors (broadcasting)."""
    return elementwise.Maximum.apply(a, b)


def minimum(a, b):
    """Elementwise minimum of two tensors (broadcasting)."""
    return elementwise.Minimum.apply(a, b)


def where(condition, a, b):
    """``a`` where ``condition`` is true, else ``b`` (broadcasting); not differentiable in
    ``condition``."""
    return elementwise.Where.apply(condition, a, b)


def sum(x, axis=None, keepdims: bool = False):
    """Sum over ``axis`` (None: all). ``(2, 3) -> ()``, or ``(3,)`` with ``axis=0``."""
    return reduce.Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False):
    """Mean over ``axis`` (None: all)."""
    return reduce.Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False):
    """Maximum over ``axis``; ties share the gradient evenly."""
    return reduce.Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False):
    """Minimum over ``axis``; ties share the gradient evenly."""
    return reduce.Min.apply(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims: bool = False):
    """``log(sum(exp(x), axis))`` computed without overflow."""
    return reduce.LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x, axis: int = -1):
    """Softmax along ``axis``: non-negative, sums to 1."""
    return reduce.Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1):
    """Log of softmax along ``axis``, computed as ``x - logsumexp(x)``."""
    return reduce.LogSoftmax.apply(x, axis=axis)


def matmul(a, b):
    """Matrix product with ``numpy.matmul`` semantics (1-D, 2-D and batched)."""
    return linalg.MatMul.apply(a, b)


def linear(x, weight, bias=None):
    """``x @ weight + bias`` fused: x ``(..., in)``, weight ``(in, out)``, bias ``(out,)``."""
    return linalg.Linear.apply(x, weight, bias)


def reshape(x, shape):
    """Same elements, new shape (one axis may be -1)."""
    return shape_ops.Reshape.apply(
        x, shape=tuple(shape) if not isinstance(shape, int) else (shape,)
    )


def transpose(x, axes=None):
    """Permute axes (reverse them when ``axes`` is None)."""
    return shape_ops.Transpose.apply(x, axes=None if axes is None else tuple(axes))


def permute(x, axes):
    """Permute axes, ``x.permute((1, 0, 2))``."""
    return shape_ops.Transpose.apply(x, axes=tuple(axes))


def squeeze(x, axis=None):
    """Remove size-1 axes."""
    return shape_ops.Squeeze.apply(x, axis=axis)


def unsqueeze(x, axis: int):
    """Insert a size-1 axis."""
    return shape_ops.Unsqueeze.apply(x, axis=axis)


def broadcast_to(x, shape):
    """Broadcast to ``shape`` without copying (alias: ``expand``)."""
    return shape_ops.BroadcastTo.apply(x, shape=tuple(shape))


expand = broadcast_to


def concat(tensors, axis: int = 0):
    """Join a sequence of tensors along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("concat: got an empty list of tensors; pass at least one")
    return shape_ops.Concat.apply(*tensors, axis=axis)


def stack(tensors, axis: int = 0):
    """Join a sequence of equally shaped tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ShapeError("stack: got an empty list of tensors; pass at least one")
    return shape_ops.Stack.apply(*tensors, axis=axis)


def cross_entropy(logits, labels, weight=None, reduction: str = "mean"):
    """Softmax cross-entropy: logits ``(n, C)``, integer labels ``(n,)``."""
    return nn_ops.CrossEntropy.apply(logits, labels, weight, reduction=reduction)


def binary_cross_entropy_with_logits(logits, targets, weight=None, reduction: str = "mean"):
    """Binary cross-entropy on logits (stable): logits and 0/1 targets of one shape."""
    return nn_ops.BinaryCrossEntropyWithLogits.apply(logits, targets, weight, reduction=reduction)


def squared_error(prediction, target, weight=None, reduction: str = "mean"):
    """``(prediction - target)²`` reduced; ``reduction="mean"`` is the MSE."""
    return nn_ops.SquaredError.apply(prediction, target, weight, reduction=reduction)
