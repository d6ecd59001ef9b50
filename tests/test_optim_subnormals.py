"""Adam's moments never linger in the subnormal range (where x86 arithmetic is slow),
and flushing them changes no weight."""

import numpy as np
import pytest

from thalweg import optim
from thalweg.nn import Parameter
from thalweg.numerics import flush_subnormals
from thalweg.optim.scratch import WORK_BUFFER

TINY32 = np.finfo(np.float32).tiny


def subnormal_count(a: np.ndarray) -> int:
    return int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_zeroes_subnormals_and_keeps_everything_else_bitwise(dtype):
    info = np.finfo(dtype)
    rng = np.random.default_rng(0)
    normal = (rng.standard_normal(200) * 10.0 ** rng.integers(-30, 30, 200)).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, info.tiny, -info.tiny], dtype=dtype)
    subnormal = (info.tiny * np.array([0.5, -0.25, 1e-3], dtype=dtype)).astype(dtype)
    assert subnormal_count(subnormal) == 3
    a = np.concatenate([normal, special, subnormal, np.array([np.nan], dtype=dtype)])
    assert a.dtype == dtype and subnormal_count(a) == 3
    before = a.copy()
    flush_subnormals(a, np.empty_like(a))
    keep = slice(0, len(normal) + len(special))
    assert np.array_equal(a[keep], before[keep])  # bitwise: × 1.0
    assert np.all(a[keep.stop : -1] == 0) and subnormal_count(a) == 0
    assert np.isnan(a[-1])


OPTIMIZERS = {
    "adam": (lambda params, packed: optim.Adam(params, lr=1e-3, packed=packed), ("m", "v")),
    "adamw": (lambda params, packed: optim.AdamW(params, lr=1e-3, packed=packed), ("m", "v")),
    "sgd momentum": (
        lambda params, packed: optim.SGD(params, lr=1e-3, momentum=0.9, packed=packed),
        ("velocity",),
    ),
    "rmsprop momentum": (
        lambda params, packed: optim.RMSProp(params, lr=1e-3, momentum=0.9, packed=packed),
        ("mean_square", "momentum_buffer"),
    ),
}


def train_a_dead_unit(make, packed, steps=1200):
    """One gradient, then zeros for ``a`` (a unit that died); ``b`` keeps learning.
    Returns the optimizer, the weights and the steps on which a state was subnormal."""
    a = Parameter(np.ones(4, dtype=np.float32))
    b = Parameter(np.ones(3, dtype=np.float32))
    opt = make([a, b], packed)
    subnormal_steps = []
    for step in range(1, steps + 1):
        a.grad = np.full(4, 1.0 if step == 1 else 0.0, np.float32)
        b.grad = np.ones(3, dtype=np.float32)
        opt.step()
        states = [value for key, value in opt.state[a].items() if key != WORK_BUFFER]
        if any(subnormal_count(v) for v in states if isinstance(v, np.ndarray)):
            subnormal_steps.append(step)
    return opt, a, b, subnormal_steps


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_decaying_state_of_a_dead_weight_does_not_stay_subnormal(name, packed, monkeypatch):
    make, keys = OPTIMIZERS[name]
    opt, a, b, subnormal_steps = train_a_dead_unit(make, packed)
    for key in keys:
        assert subnormal_count(opt.state[a][key]) == 0 or opt.global_step % 16
    # a decay of 0.9 a step spends ~350 steps in the subnormal range; flushed every 16
    # steps, a state is subnormal on at most 15 steps in a row
    runs = np.split(subnormal_steps, np.flatnonzero(np.diff(subnormal_steps) != 1) + 1)
    assert max((len(r) for r in runs), default=0) <= 15

    # the same run without flushing: subnormal for hundreds of steps, same weights
    monkeypatch.setattr(optim.Optimizer, "flush_subnormals_every", 10**9)
    _, a_unflushed, b_unflushed, unflushed_steps = train_a_dead_unit(make, packed)
    assert len(unflushed_steps) > 100
    assert np.array_equal(a.data, a_unflushed.data)  # flushing moved no weight
    assert np.array_equal(b.data, b_unflushed.data)
