"""Optimizers: each update matches its written formula, step by step."""

import math

import numpy as np
import pytest

import thalweg
from thalweg import optim


def quadratic_setup(dtype=np.float64, seed=0):
    """A weight vector and a loss whose gradient changes every step: sum(c * w^3 / 3 + w)."""
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=5).astype(dtype)
    c = rng.uniform(0.5, 2.0, size=5).astype(dtype)
    w = thalweg.tensor(w0, requires_grad=True)

    def loss_fn():
        return (c * w**3 / 3 + w).sum()

    def grad_of(values):
        return c * values**2 + 1

    return w, w0.copy(), loss_fn, grad_of


def run(opt_factory, steps=5, habit="torch"):
    w, w_ref, loss_fn, grad_of = quadratic_setup()
    opt = opt_factory([w])
    history = []
    for _ in range(steps):
        loss = loss_fn()
        if habit == "torch":
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            opt.minimize(loss)
        history.append(w.data.copy())
    return history, w_ref, grad_of


def test_sgd_matches_formula_for_several_steps():
    history, w, grad_of = run(lambda p: optim.SGD(p, lr=0.1))
    for got in history:
        w = w - 0.1 * grad_of(w)
        np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_formula(nesterov):
    lr, mu, wd = 0.05, 0.9, 0.01
    history, w, grad_of = run(
        lambda p: optim.SGD(p, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd)
    )
    v = None
    for got in history:
        g = grad_of(w) + wd * w
        v = g.copy() if v is None else mu * v + g
        w = w - lr * (g + mu * v if nesterov else v)
        np.testing.assert_allclose(got, w, rtol=1e-12)


def test_adagrad_matches_formula():
    lr, eps = 0.1, 1e-10
    history, w, grad_of = run(lambda p: optim.Adagrad(p, lr=lr, eps=eps))
    total = np.zeros_like(w)
    for got in history:
        g = grad_of(w)
        total = total + g * g
        w = w - lr * g / (np.sqrt(total) + eps)
        np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_matches_formula(momentum):
    lr, rho, eps = 0.01, 0.9, 1e-7
    history, w, grad_of = run(
        lambda p: optim.RMSProp(p, lr=lr, rho=rho, eps=eps, momentum=momentum)
    )
    s = np.zeros_like(w)
    b = np.zeros_like(w)
    for got in history:
        g = grad_of(w)
        s = rho * s + (1 - rho) * g * g
        step = g / (np.sqrt(s) + eps)
        if momentum:
            b = momentum * b + step
            step = b
        w = w - lr * step
        np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_paper_formula(weight_decay):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    history, w, grad_of = run(lambda p: optim.Adam(p, lr=lr, weight_decay=weight_decay), steps=8)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, got in enumerate(history, start=1):
        g = grad_of(w) + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(got, w, rtol=1e-10)


def test_adamw_decays_weights_outside_the_adaptive_step():
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
    history, w, grad_of = run(lambda p: optim.AdamW(p, lr=lr, weight_decay=wd), steps=6)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, got in enumerate(history, start=1):
        g = grad_of(w)
        w = w * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(got, w, rtol=1e-10)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSProp", "Adam", "AdamW"])
def test_minimize_equals_compute_then_apply_and_the_torch_habit(name):
    factory = lambda p: optim.OPTIMIZERS[name](p, lr=0.05)  # noqa: E731
    torch_habit, _, _ = run(factory, habit="torch")
    tf_habit, _, _ = run(factory, habit="tf")
    for a, b in zip(torch_habit, tf_habit, strict=True):
        np.testing.assert_array_equal(a, b)


def test_compute_gradients_touches_neither_weights_nor_grad():
    w, w0, loss_fn, grad_of = quadratic_setup()
    opt = optim.SGD([w], lr=0.1)
    pairs = opt.compute_gradients(loss_fn())
    assert w.grad is None
    np.testing.assert_array_equal(w.data, w0)
    ((grad, param),) = pairs
    assert param is w
    np.testing.assert_allclose(grad, grad_of(w0))
    assert opt.global_step == 0


def test_global_step_counts_applied_updates():
    w, _, loss_fn, _ = quadratic_setup()
    opt = optim.Adam([w], lr=0.01)
    for expected in range(1, 4):
        opt.minimize(loss_fn())
        assert opt.global_step == expected
    opt.apply_gradients(opt.compute_gradients(loss_fn()))
    assert opt.global_step == 4


def test_updates_happen_in_place_on_the_parameter_array():
    w, _, loss_fn, _ = quadratic_setup()
    array_before = w.data
    for name in optim.OPTIMIZERS:
        opt = optim.OPTIMIZERS[name]([w], lr=0.01)
        opt.minimize(loss_fn())
        assert w.data is array_before


def test_float32_weights_stay_float32_under_every_optimizer():
    for name, cls in optim.OPTIMIZERS.items():
        w = thalweg.tensor([1.0, -2.0], requires_grad=True)
        cls([w], lr=0.1).minimize((w * w).sum())
        assert w.dtype == np.float32, name


def test_schedule_learning_rate_follows_global_step():
    w = thalweg.tensor([1.0], requires_grad=True, dtype="float64")
    schedule = optim.exponential_decay(0.1, decay_rate=0.5, decay_steps=1)
    opt = optim.SGD([w], lr=schedule)
    values = [1.0]
    for step in range(3):
        assert opt.learning_rate == pytest.approx(0.1 * 0.5**step)
        opt.minimize((w * 1.0).sum())  # gradient 1, so w decreases by the learning rate
        values.append(w.item())
    np.testing.assert_allclose(np.diff(values), [-0.1, -0.05, -0.025])


@pytest.mark.parametrize(
    ("schedule", "step", "expected"),
    [
        (optim.constant(0.3), 1000, 0.3),
        (optim.step_decay(1.0, drop=0.5, every=10), 25, 0.25),
        (optim.exponential_decay(1.0, 0.1, 10, staircase=True), 19, 0.1),
        (optim.exponential_decay(1.0, 0.1, 10), 5, 0.1**0.5),
        (optim.inverse_scaling(1.0, power=1.0, decay_steps=1), 3, 0.25),
        (optim.cosine_decay(1.0, 100), 50, 0.5),
        (optim.cosine_decay(1.0, 100, alpha=0.1), 500, 0.1),
    ],
)
def test_schedules_are_pure_functions_of_the_step(schedule, step, expected):
    assert schedule(step) == pytest.approx(expected)
    assert schedule(step) == schedule(step)


def test_clip_by_global_norm_scales_all_gradients_by_one_factor():
    w1 = thalweg.tensor([0.0, 0.0], requires_grad=True)
    w2 = thalweg.tensor([0.0], requires_grad=True)
    pairs = [(np.array([3.0, 0.0]), w1), (np.array([4.0]), w2)]
    clipped, norm = optim.clip_by_global_norm(pairs, max_norm=1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped[0][0], [0.6, 0.0])
    np.testing.assert_allclose(clipped[1][0], [0.8])
    assert clipped[0][1] is w1
    unchanged, _ = optim.clip_by_global_norm(pairs, max_norm=10.0)
    np.testing.assert_array_equal(unchanged[0][0], [3.0, 0.0])


def test_proximal_l1_sets_small_weights_to_exact_zero_and_shrinks_large_ones():
    w = thalweg.tensor([0.05, -0.05, 1.0, -2.0, 0.0], requires_grad=True, dtype="float64")
    optim.proximal_l1([w], 0.1)
    np.testing.assert_allclose(w.data, [0.0, 0.0, 0.9, -1.9, 0.0])
    assert np.sum(w.data == 0) == 3


def test_state_dict_round_trip_resumes_identically():
    w_a, _, loss_fn_a, _ = quadratic_setup()
    opt_a = optim.Adam([w_a], lr=0.01)
    for _ in range(3):
        opt_a.minimize(loss_fn_a())
    saved = opt_a.state_dict()
    w_b, _, loss_fn_b, _ = quadratic_setup()
    w_b.data[...] = w_a.data
    opt_b = optim.Adam([w_b], lr=0.5)
    opt_b.load_state_dict(saved)
    assert opt_b.global_step == 3 and opt_b.lr == 0.01
    for _ in range(3):
        opt_a.minimize(loss_fn_a())
        opt_b.minimize(loss_fn_b())
    np.testing.assert_array_equal(w_a.data, w_b.data)


def test_bad_construction_gets_clear_errors():
    w = thalweg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="requires_grad=True"):
        optim.SGD([thalweg.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w], lr=0.1)
    other = thalweg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="not built with"):
        optim.SGD([w], lr=0.1).apply_gradients([(np.ones(1, np.float32), other)])
    with pytest.raises(thalweg.ShapeError, match="gradient of shape"):
        optim.SGD([w], lr=0.1).apply_gradients([(np.ones(2, np.float32), w)])


def test_sgd_on_a_convex_problem_converges_to_the_minimum():
    target = np.array([1.0, -2.0, 3.0])
    w = thalweg.zeros(3, dtype="float64", requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    for _ in range(1000):
        opt.minimize(((w - target) ** 2).sum())
    np.testing.assert_allclose(w.data, target, atol=1e-8)
    assert math.isfinite(opt.learning_rate)


@pytest.mark.parametrize(
    "make",
    [
        lambda p, **kw: optim.SGD(p, lr=0.1, **kw),
        lambda p, **kw: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, **kw),
        lambda p, **kw: optim.Adagrad(p, lr=0.1, **kw),
        lambda p, **kw: optim.RMSProp(p, lr=0.01, momentum=0.5, **kw),
        lambda p, **kw: optim.Adam(p, lr=0.01, weight_decay=0.01, **kw),
        lambda p, **kw: optim.AdamW(p, lr=0.01, **kw),
    ],
)
@pytest.mark.parametrize("packed", [False, True])
def test_one_optimizer_over_many_parameters_matches_one_optimizer_per_parameter(make, packed):
    # Every update formula is elementwise, so one optimizer updating a whole small model
    # (however it stores its state: packed=True runs the formula once over one flat
    # buffer) must move each parameter exactly as an optimizer of that parameter alone.
    from thalweg import nn

    def model_and_batch():
        thalweg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        return model, thalweg.tensor(np.random.default_rng(0).normal(size=(8, 3)))

    together, x = model_and_batch()
    joint = make(together.parameters(), packed=packed)
    alone, _ = model_and_batch()
    singles = [make([p]) for p in alone.parameters()]
    for _ in range(5):
        joint.zero_grad()
        (together(x) ** 2).mean().backward()
        joint.step()
        for opt in singles:
            opt.zero_grad()
        (alone(x) ** 2).mean().backward()
        for opt in singles:
            opt.step()
    if packed:
        assert together.parameters()[0].data.base is joint._packed.weights
    scratch = {"work_buffer"}
    for a, b, single in zip(together.parameters(), alone.parameters(), singles, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        state, alone_state = joint.state[a], single.state[b]
        assert state.keys() - scratch == alone_state.keys() - scratch
        for key in state.keys() - scratch:
            np.testing.assert_array_equal(state[key], alone_state[key])


def test_an_optimizer_follows_a_parameter_whose_data_is_replaced():
    from thalweg import nn

    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Linear(2, 1, rng=1))
    opt = optim.SGD(model.parameters(), lr=0.1, packed=True)
    model[0].weight.data = np.ones((2, 2), dtype=np.float32)  # rebinding, not in place
    x = thalweg.ones(1, 2)
    for _ in range(2):
        opt.zero_grad()
        model(x).sum().backward()
        expected = model[0].weight.data - 0.1 * model[0].weight.grad
        opt.step()
        np.testing.assert_allclose(model[0].weight.data, expected, rtol=1e-6)
    assert model[0].weight.data.base is opt._packed.weights  # packed again, its values kept


def test_optimizer_state_round_trips_with_flat_packing():
    from thalweg import nn

    def make():
        thalweg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1))
        return model, optim.Adam(model.parameters(), lr=0.01, packed=True)

    x = thalweg.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    model_a, opt_a = make()
    for _ in range(3):
        opt_a.minimize((model_a(x) ** 2).mean())
    model_b, opt_b = make()
    model_b.load_state_dict(model_a.state_dict())
    opt_b.load_state_dict(opt_a.state_dict())
    for _ in range(3):
        opt_a.minimize((model_a(x) ** 2).mean())
        opt_b.minimize((model_b(x) ** 2).mean())
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("packed", [False, True])
def test_setting_lr_changes_the_next_update(packed):
    w = thalweg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, packed=packed)
    (w * w).sum().backward()  # gradient 2w
    opt.step()
    np.testing.assert_allclose(w.data, [0.8, -1.6])
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.learning_rate == 0.5
    opt.zero_grad()
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.8 - 0.5 * 1.6, -1.6 + 0.5 * 3.2])
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1.0
    assert opt.lr == 0.5
