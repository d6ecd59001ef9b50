"""Replay rules of ``autograd/ops/random.py``: the draws come from the same generator,
in the same order, as in the eager step (while tracing, from a copy of it as it was
before the op drew, so the tracer's check does not consume any numbers)."""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.ops import random as ops
from thalweg.compile.program import Step
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import BUFFER, LOCAL, Value


class Draw(Step):
    """``rng.<method>(*args, out=buffer)``: random numbers from a generator (the global
    one, looked up each call, when ``rng`` is None)."""

    side_effect = True  # it advances the generator, used or not

    def __init__(self, rng, trace_rng, method: str, args: tuple, out: Value | None, result, label):
        self.rng = rng
        self.trace_rng = trace_rng
        self.method = method
        self.args = args
        self.out = out
        self.result = result
        self.label = label

    def writes(self):
        return [self.out or self.result]

    def run_trace(self):
        method = getattr(self.trace_rng, self.method)
        if self.out is not None:
            method(*self.args, out=self.out.trace)
        else:
            self.result.array = self.result.trace = method(*self.args)

    def lines(self, names):
        if self.rng is None:
            rng = f"{names.bind(backend.default_generator, 'default_generator')}()"
        else:
            rng = names.bind(self.rng, "rng")
        args = [names.expression(a) for a in self.args]
        if self.out is not None:
            args.append(f"out={names.value(self.out)}")
            return [f"{rng}.{self.method}({', '.join(args)})"]
        return [f"{names.value(self.result)} = {rng}.{self.method}({', '.join(args)})"]


def _draw(e, op, method, args, out=None) -> Value:
    result = None if out is not None else Value(LOCAL, None, label=e.label)
    step = Draw(op.options.get("rng"), op.trace_rng, method, args, out, result, e.label)
    e.program.add(step)
    step.run_trace()
    return out if out is not None else result


@rule(ops.Dropout, random=True)
def dropout(e, op):
    x = op.inputs[0]
    p = op.options["p"]
    if not isinstance(x, Value):
        raise Unsupported
    uniform = _draw(e, op, "random", (), out=Value(BUFFER, np.empty(x.shape), label="dropout draw"))
    keep = e.call(np.greater_equal, uniform, p)
    mask = e.astype(e.call(np.multiply, keep, 1.0 / (1.0 - p)), x.dtype)
    x, mask = e.promote(x, mask)
    op.saved = mask
    return e.call(np.multiply, x, mask)


@backward_rule(ops.Dropout)
def dropout_backward(e, op, grad):
    return (e.call(np.multiply, grad, op.saved),)


@rule(ops.GaussianNoise, random=True)
def gaussian_noise(e, op):
    x = op.inputs[0]
    if not isinstance(x, Value):
        raise Unsupported
    draws = _draw(e, op, "normal", (0.0, op.options["std"], x.shape))  # (no out= form)
    noise = e.astype(draws, x.dtype)
    x, noise = e.promote(x, noise)
    return e.call(np.add, x, noise)


@backward_rule(ops.GaussianNoise)
def gaussian_noise_backward(e, op, grad):
    return (grad,)
