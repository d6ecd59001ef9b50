"""thalweg.compile: a traced and replayed step gives the eager step's numbers, bit for bit,
and everything it cannot replay retraces under a guard or refuses with a CompileError."""

import tracemalloc
import warnings

import numpy as np
import pytest

import thalweg
from thalweg import losses, nn, optim
from thalweg.errors import CompileError, CompileWarning, ThalwegError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 16, 4)).astype(np.float32)  # 5 batches of 16 rows
Y = RNG.integers(0, 3, size=(5, 16))


def make_step(optimizer: str, dropout: bool = False, penalty=None, packed=False, seed=0):
    """A small classifier and its training step (forward, loss, backward, update)."""
    thalweg.manual_seed(seed)
    layers = [nn.Linear(4, 8, rng=1), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(0.3))  # draws from the global generator
    layers += [nn.Linear(8, 8, rng=2), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(0.2, rng=5))  # a generator of its own
    layers.append(nn.Linear(8, 3, rng=3))
    model = nn.Sequential(*layers)
    params = model.parameters()
    schedule = optim.ExponentialDecay(0.05, 0.5, 200)  # the learning rate moves every step
    opt = {
        "sgd": lambda: optim.SGD(params, lr=schedule, packed=packed),
        "momentum": lambda: optim.SGD(params, lr=schedule, momentum=0.9, packed=packed),
        "adam": lambda: optim.Adam(params, lr=0.01, packed=packed),
        "adamw": lambda: optim.AdamW(params, lr=0.01, packed=packed),
    }[optimizer]()

    def step(x, y):
        loss = losses.cross_entropy(model(x), y)
        if penalty == "l1":
            loss = loss + 1e-3 * losses.l1_penalty(params)
        elif penalty == "l2":
            loss = loss + 1e-3 * losses.l2_penalty(params)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def train(step, n_steps: int):
    losses_seen = []
    for i in range(n_steps):
        losses_seen.append(step(X[i % 5], Y[i % 5]).data.copy())
    return losses_seen


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("dropout,penalty", [(False, None), (True, "l1"), (True, "l2")])
def test_compiled_training_is_bitwise_identical_to_eager_after_1000_steps(
    optimizer, dropout, penalty
):
    model_a, opt_a, step_a = make_step(optimizer, dropout, penalty)
    eager_losses = train(step_a, 1000)
    eager_rng = thalweg.backend.default_generator().bit_generator.state
    model_b, opt_b, step_b = make_step(optimizer, dropout, penalty)
    compiled = thalweg.compile(step_b)
    compiled_losses = train(compiled, 1000)
    assert compiled.replays >= 990  # it really replayed
    assert opt_a.global_step == opt_b.global_step == 1000
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert same_bits(a.data, b.data)
        assert same_bits(a.grad, b.grad)
    assert all(map(same_bits, eager_losses, compiled_losses))
    assert thalweg.backend.default_generator().bit_generator.state == eager_rng
    if optimizer in ("adam", "adamw"):
        for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
            assert same_bits(opt_a.state[a]["m"], opt_b.state[b]["m"])


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_packed_optimizers_replay_bitwise_identically(optimizer):
    model_a, _, step_a = make_step(optimizer, dropout=True, penalty="l2", packed=True)
    train(step_a, 300)
    model_b, _, step_b = make_step(optimizer, dropout=True, penalty="l2", packed=True)
    compiled = thalweg.compile(step_b)
    train(compiled, 300)
    assert compiled.replays >= 290
    for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True):
        assert same_bits(a.data, b.data)


def test_compiled_step_differs_from_an_untrained_one():
    # guards the test above against comparing two things that never moved
    model, _, step = make_step("adam")
    before = [p.data.copy() for p in model.parameters()]
    train(thalweg.compile(step), 20)
    assert not all(map(same_bits, before, [p.data for p in model.parameters()]))


# ---------------------------------------------------------------------- the cache
def test_decorator_forms_and_call_counts():
    model = nn.Linear(2, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1)

    @thalweg.compile
    def step(x, y):
        loss = losses.mse(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    @thalweg.compile(cache_size=3)
    def predict(x):
        return model(x)

    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    values = [step(x, y) for _ in range(6)]
    assert (step.traces, step.checks, step.replays) == (2, 1, 3)
    assert all(isinstance(v, float) for v in values) and values[0] > values[-1]
    with thalweg.no_grad():
        out = [predict(x).data.copy() for _ in range(4)]
    assert predict.replays == 1 and predict.cache_size == 3
    assert same_bits(out[-1], model(x).data)


def test_new_shapes_dtypes_grad_mode_and_mode_retrace():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Dropout(0.5, rng=1), nn.Linear(4, 2, rng=2))
    predict = thalweg.compile(lambda x: model(x), cache_size=8)
    x = np.ones((5, 3), np.float32)

    def calls(x, n=4):
        out = [predict(x) for _ in range(n)]
        reference = model(x)  # the eager answer for the same call
        return out, reference

    calls(x)
    assert predict.traces == 2
    calls(x[:2])  # a new shape
    assert predict.traces == 4
    calls(x.astype(np.float64))  # a new dtype
    assert predict.traces == 6
    with thalweg.no_grad():  # a new grad mode
        calls(x)
    assert predict.traces == 8
    model.eval()  # a module changes mode: the guard fails, the call traces again
    out, reference = calls(x)
    assert predict.traces == 10
    assert same_bits(out[-1].data, reference.data)  # no dropout in eval mode


def test_the_cache_is_bounded():
    model = nn.Linear(3, 1, rng=0)
    predict = thalweg.compile(lambda x: model(x), cache_size=2)
    for n in (1, 2, 3, 4):
        predict(np.ones((n, 3), np.float32))
    assert len(predict._cache) == 2
    with pytest.raises(ValueError, match="cache_size"):
        thalweg.compile(lambda x: x, cache_size=0)


def test_explain_shows_kernels_buffers_and_bytes():
    _, _, step = make_step("adam", dropout=True)
    compiled = thalweg.compile(step)
    assert "not called yet" in compiled.explain()
    train(compiled, 4)
    text = compiled.explain()
    assert "NumPy kernels" in text and "buffers" in text and "allocated once" in text
    assert "np_matmul" in text and "def replay(" in text
    assert "KiB" in text or " B" in text


# ---------------------------------------------------------------------- refusals
def refusal(body, calls=4):
    """The CompileError a step refuses with (after running eagerly)."""
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    compiled = thalweg.compile(lambda x, y: body(model, opt, x, y))
    x, y = np.ones((5, 3), np.float32), np.zeros((5, 1), np.float32)
    with pytest.raises(CompileError) as error:
        for _ in range(calls):
            compiled(x, y)
    assert isinstance(error.value, ThalwegError)
    assert "\n" not in str(error.value)
    return str(error.value)


def update(opt, loss):
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def test_item_read_mid_step_refuses():
    def step(model, opt, x, y):
        loss = losses.mse(model(x), y)
        if loss.item() > 1e6:
            return loss
        return update(opt, loss)

    assert "item()" in refusal(step)


def test_python_control_flow_on_a_tensor_refuses():
    def step(model, opt, x, y):
        out = model(x)
        if out.sum() > 0:
            out = out * 2
        return update(opt, losses.mse(out, y))

    assert "bool()" in refusal(step)


def test_numpy_randomness_outside_thalweg_generators_refuses():
    numpy_rng = np.random.default_rng(0)  # not a thalweg generator: the draws are unseen

    def noisy_input(model, opt, x, y):
        noise = numpy_rng.normal(size=x.shape).astype(np.float32)
        return update(opt, losses.mse(model(x + noise), y))

    def noisy_scale(model, opt, x, y):
        return update(opt, losses.mse(model(x), y) * float(numpy_rng.random()))

    assert "different array" in refusal(noisy_input)
    assert "constant" in refusal(noisy_scale)


def test_a_numpy_write_into_weights_inside_the_step_refuses():
    def step(model, opt, x, y):
        loss = update(opt, losses.mse(model(x), y))
        model[0].weight.data[...] *= 0.5  # invisible to the engine; caught by the check
        return loss

    assert "outside thalweg's ops" in refusal(step)


def test_fallback_warns_once_and_runs_eagerly_with_eager_results():
    def build():
        model = nn.Linear(3, 1, rng=0)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            loss = losses.mse(model(x), y)
            if loss.item() > 1e6:  # a value read mid-step
                return loss
            return update(opt, loss)

        return model, step

    x, y = np.ones((5, 3), np.float32), np.zeros((5, 1), np.float32)
    model_a, step_a = build()
    for _ in range(10):
        step_a(x, y)
    model_b, step_b = build()
    compiled = thalweg.compile(step_b, fallback=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            compiled(x, y)
    assert sum(issubclass(w.category, CompileWarning) for w in caught) == 1
    assert "runs eagerly" in compiled.explain()
    assert same_bits(model_a.weight.data, model_b.weight.data)


# ---------------------------------------------------------------------- guards
def test_replaced_parameter_or_data_retraces_and_matches_eager():
    def build():
        model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 1, rng=1))
        opt = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            return update(opt, losses.mse(model(x), y))

        return model, step

    x, y = np.ones((5, 3), np.float32), np.zeros((5, 1), np.float32)
    results = []
    for compiled in (False, True):
        model, step = build()
        run = thalweg.compile(step) if compiled else step
        for _ in range(4):
            run(x, y)
        model[2].weight.data = np.full((4, 1), 0.5, np.float32)  # new array: guard
        for _ in range(4):
            run(x, y)
        model[0].bias = nn.Parameter(np.ones(4, np.float32))  # new parameter: guard
        outputs = [run(x, y).data.copy() for _ in range(4)]
        results.append((outputs, [p.data.copy() for p in model.parameters()]))
        if compiled:  # (the new bias is not the optimizer's: its gradient accumulates,
            assert 6 <= run.traces <= 7  # a mode of its own)
    (eager_out, eager_w), (compiled_out, compiled_w) = results
    assert all(map(same_bits, eager_out, compiled_out))
    assert all(map(same_bits, eager_w, compiled_w))


def test_changed_layer_setting_retraces():
    drop = nn.Dropout(0.5, rng=0)
    compiled = thalweg.compile(lambda x: drop(x))
    x = np.ones((4, 8), np.float32)
    for _ in range(4):
        compiled(x)
    drop.p = 0.0
    assert same_bits(compiled(x).data, x)


# ---------------------------------------------------------------------- memory
def test_a_replayed_mlp_step_allocates_no_arrays():
    model = nn.Sequential(
        nn.Linear(784, 256, rng=0), nn.ReLU(), nn.Linear(256, 128, rng=1), nn.ReLU(),
        nn.Linear(128, 10, rng=2),
    )  # fmt: skip
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        return update(opt, losses.cross_entropy(model(x), y))

    x = RNG.normal(size=(256, 784)).astype(np.float32)
    y = RNG.integers(0, 10, 256)
    compiled = thalweg.compile(step)

    def peak_of(run, n=5):
        run(x, y)
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            for _ in range(n):
                run(x, y)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak - start, current - start

    for _ in range(4):
        compiled(x, y)
    eager_peak, _ = peak_of(step, n=2)
    compiled_peak, growth = peak_of(compiled, n=10)
    activations = 256 * (256 + 128 + 10) * 4  # 394 KiB
    assert eager_peak > activations  # the eager step allocates its activations
    # the replay writes into its buffers; what is left does not grow with the batch:
    # NumPy's own ufunc scratch for a broadcast add or a bool mask (~33 KiB), Python objects
    assert compiled_peak < 100 * 1024
    assert growth < 4096


# ---------------------------------------------------------------------- fit and estimators
def test_fit_with_compile_gives_the_eager_weights_and_history():
    from thalweg.train import fit

    X = RNG.normal(size=(203, 4)).astype(np.float32)  # 203 rows: a last, partial batch
    y = 2 * X[:, :1] + 1
    runs = []
    for compile_step in (False, True):
        thalweg.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(4, 8, rng=0), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 1, rng=1)
        )
        opt = optim.Adam(model.parameters(), lr=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)  # no silent fallback either
            history = fit(
                model, losses.mse, opt, X, y, epochs=4, batch_size=16, seed=1, verbose=0,
                validation_fraction=0.2, compile=compile_step,
            )  # fmt: skip
        runs.append(([p.data.copy() for p in model.parameters()], history.rows))
    (eager_w, eager_rows), (compiled_w, compiled_rows) = runs
    assert all(map(same_bits, eager_w, compiled_w))
    for a, b in zip(eager_rows, compiled_rows, strict=True):
        assert a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"]


def test_estimator_compile_option_trains_the_same_model_and_survives_save(tmp_path):
    from thalweg.models import MLPClassifier, load_model

    X = RNG.normal(size=(120, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    settings = dict(hidden=(8,), max_epochs=4, tol=None, random_state=0, l2=0.01)
    eager = MLPClassifier(**settings).fit(X, y)
    compiled = MLPClassifier(**settings, compile=True).fit(X, y)
    assert same_bits(eager.predict_proba(X), compiled.predict_proba(X))
    assert compiled.get_params()["compile"] is True
    compiled.save(tmp_path / "model.thalweg")
    loaded = load_model(tmp_path / "model.thalweg")
    assert loaded.compile is True
    assert same_bits(loaded.predict_proba(X), compiled.predict_proba(X))


def test_two_batch_shapes_and_an_eager_step_share_a_packed_optimizer_exactly():
    def run(compiled: bool):
        model, _, step = make_step("adam", dropout=True, packed=True)
        fast = thalweg.compile(step) if compiled else step
        for i in range(120):
            x, y = X[i % 5], Y[i % 5]
            if i % 3 == 2:
                x, y = x[:7], y[:7]  # a second signature stepping the same optimizer
            (step if i % 40 == 39 else fast)(x, y)  # now and then an eager step
        return model, fast

    eager, _ = run(False)
    compiled, fast = run(True)
    assert fast.replays > 60
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert same_bits(a.data, b.data)


def test_cnn_classifier_compile_option_trains_the_same_model():
    from thalweg.datasets import shapes
    from thalweg.models import CNNClassifier

    images, labels, _ = shapes(n=80, size=10, noise=0.05, seed=0)
    settings = dict(
        layers=("conv4", "pool", "bn", "dropout0.25", "dense8"),
        learning_rate=0.01, max_epochs=2, tol=None, batch_size=16, random_state=0,
    )  # fmt: skip
    eager = CNNClassifier(**settings).fit(images, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        compiled = CNNClassifier(**settings, compile=True).fit(images, labels)
    assert same_bits(eager.predict_proba(images), compiled.predict_proba(images))


def test_playground_run_compiled_by_default_matches_its_eager_step():
    from thalweg.playground.config import normalize_config
    from thalweg.playground.run import PlaygroundRun

    config = normalize_config(
        {"dataset": "spiral", "seed": 1, "regularization": "l2", "regularization_rate": 0.01}
    )
    eager, compiled = PlaygroundRun(config, compile=False), PlaygroundRun(config)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        eager.train(5)
        compiled.train(5)
    assert compiled._compiled_step.replays > 0
    for a, b in zip(eager.model.parameters(), compiled.model.parameters(), strict=True):
        assert same_bits(a.data, b.data)
    assert list(eager.history["test_loss"]) == list(compiled.history["test_loss"])


# ---------------------------------------------------------------------- op coverage
MASK = np.arange(30).reshape(5, 6) % 3 == 0
ONES, ZEROS = np.ones((5, 6), np.float32), np.zeros((5, 6), np.float32)


def _op_cases():
    from thalweg.autograd import functional as F

    return {
        "elementwise": lambda x, W, V: (
            F.sigmoid(x @ W) * V + F.softplus(x @ W) - F.leaky_relu(x @ W)
            + F.exp(-F.abs(x @ W)) + F.sqrt(V * V + 1) + F.log1p(F.abs(x @ W))
            + F.sin(x @ W) * F.cos(V)
        ).sum(),
        "reduce": lambda x, W, V: (
            F.max(x @ W, axis=1).sum() + F.min(x @ W * V, axis=0).mean()
            + F.logsumexp(x @ W, axis=1).mean() + F.softmax(x @ W).sum() * 0.5
            + F.log_softmax(x @ W).mean()
        ),
        "shape": lambda x, W, V: (
            (F.concat([x @ W, F.transpose(x @ W)[:, :1].reshape(1, -1)[:, :6]], axis=0)
             * F.unsqueeze(V, 0)).sum()
            + F.stack([V, V * 2]).mean() + (x @ W)[1:3, ::2].sum()
            + F.broadcast_to(V, (3, 6)).sum()
        ),
        "clip_where_and_host_ops": lambda x, W, V: (
            F.clip(x @ W, -0.5, 0.5) + F.maximum(x @ W, V) - F.minimum(x @ W, 0.1)
            + F.where(MASK, x @ W, V)
        ).sum(),
        "losses_and_powers": lambda x, W, V: (
            losses.mae(x @ W, ONES) + losses.huber(x @ W, ZEROS)
            + losses.smooth_l1(x @ W, ZEROS) + ((x @ W) ** 2).mean()
            + ((x @ W) / (V + 2)).mean() + ((x @ W) ** 3).mean()
        ),
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(_op_cases()))
def test_every_op_family_replays_bitwise(case):
    loss_of = _op_cases()[case]
    batches = [RNG.normal(size=(5, 4)).astype(np.float32) for _ in range(3)]
    results = []
    for compiled in (False, True):
        W = nn.Parameter(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6))
        V = nn.Parameter(np.linspace(0.5, 1.5, 6, dtype=np.float32))
        opt = optim.Adam([W, V], lr=0.01)

        def step(x, W=W, V=V, opt=opt):
            return update(opt, loss_of(x, W, V))

        run = thalweg.compile(step) if compiled else step
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback, no NumPy warning
            for i in range(12):
                run(batches[i % 3])
        results.append((W.data.copy(), V.data.copy()))
        if compiled:
            assert run.replays == 9
    assert all(map(same_bits, *results))


# ---------------------------------------------------------------------- several modes
def test_alternating_train_and_eval_keeps_a_plan_for_each():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Dropout(0.5, rng=1), nn.Linear(4, 2, rng=2))
    twin = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Dropout(0.5, rng=1), nn.Linear(4, 2, rng=2))
    predict = thalweg.compile(lambda x: model(x))
    x = np.ones((5, 3), np.float32)
    for i in range(30):
        mode = i % 2 == 0
        model.train(mode)
        twin.train(mode)
        assert same_bits(predict(x).data, twin(x).data)
    assert predict.replays >= 20


def test_gradient_accumulation_across_calls_matches_eager():
    results = []
    for compiled in (False, True):
        model = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def accumulate(x, y, scale=1.0, model=model):
            loss = losses.cross_entropy(model(x), y) * scale
            loss.backward()  # no zero_grad: gradients add up over two calls
            return loss

        run = thalweg.compile(accumulate) if compiled else accumulate
        for i in range(60):
            if i % 2 == 0:
                opt.zero_grad()
            run(X[i % 5], Y[i % 5], scale=0.5)
            if i % 2 == 1:
                opt.step()
        results.append([p.data.copy() for p in model.parameters()])
        if compiled:
            assert run.replays > 40
    assert all(map(same_bits, *results))


def test_a_step_whose_guards_never_hold_warns_and_runs_eagerly():
    model = nn.Linear(3, 1, rng=0)
    twin = nn.Linear(3, 1, rng=0)
    predict = thalweg.compile(lambda x: model(x))
    x = np.ones((2, 3), np.float32)
    with pytest.warns(CompileWarning, match="without a replay"):
        for _ in range(20):
            model.weight.data = model.weight.data * 1.5  # a new array every call
            twin.weight.data = twin.weight.data * 1.5
            assert same_bits(predict(x).data, twin(x).data)
    assert "runs eagerly" in predict.explain()


def test_functional_gradients_and_apply_gradients_replay_bitwise():
    results = []
    for compiled in (False, True):
        model = nn.Sequential(nn.Linear(4, 5, rng=0), nn.Tanh(), nn.Linear(5, 3, rng=1))
        params = model.parameters()
        opt = optim.RMSProp(params, lr=0.01)

        def step(x, y, model=model, params=params, opt=opt):
            loss = losses.cross_entropy(model(x), y)
            grads = thalweg.grad(loss, params)  # TensorFlow's habit: no .grad involved
            opt.apply_gradients(list(zip(grads, params, strict=True)))
            return loss.item()  # read after the update: replayed as a read of the loss

        run = thalweg.compile(step) if compiled else step
        values = [run(X[i % 5], Y[i % 5]) for i in range(30)]
        results.append(([p.data.copy() for p in params], values))
        if compiled:
            assert run.replays == 27
    (eager_w, eager_values), (compiled_w, compiled_values) = results
    assert all(map(same_bits, eager_w, compiled_w)) and eager_values == compiled_values


def test_signatures_that_never_repeat_warn_and_run_eagerly():
    model, twin = nn.Linear(3, 1, rng=0), nn.Linear(3, 1, rng=0)
    scaled = thalweg.compile(lambda x, k: model(x) * k)
    x = np.ones((2, 3), np.float32)
    with pytest.warns(CompileWarning, match="signatures keep changing"):
        for i in range(40):
            k = 1.0 + i / 100  # a new Python number each call: a new signature
            assert same_bits(scaled(x, k).data, (twin(x) * k).data)
    assert scaled.churning


# ---------------------------------------------------------------------- context
def test_anomaly_mode_and_a_nested_compile_run_eagerly():
    from thalweg.autograd.anomaly import detect_anomaly

    model = nn.Linear(3, 1, rng=0)
    inner = thalweg.compile(lambda x: model(x) * 2)
    outer = thalweg.compile(lambda x: inner(x) + 1)  # inner's ops are outer's
    x = np.ones((2, 3), np.float32)
    with detect_anomaly():
        for _ in range(4):
            outer(x)
    assert outer.traces == outer.replays == 0  # anomaly mode: eager
    for _ in range(5):
        out = outer(x)
    # (inner traced once on its own: in the eager half of outer's check)
    assert outer.replays == 2 and inner.replays == 0 and inner.traces <= 1
    assert same_bits(out.data, (model(x) * 2 + 1).data)


def test_threads_trace_and_replay_their_own_steps():
    import threading

    results = {}

    def train(name, compiled):
        model, _, step = make_step("momentum", seed=0)
        run = thalweg.compile(step) if compiled else step
        for i in range(50):
            run(X[i % 5], Y[i % 5])
        results[name] = [p.data.copy() for p in model.parameters()]

    threads = [
        threading.Thread(target=train, args=(f"{kind}{i}", kind == "compiled"))
        for i in range(2)
        for kind in ("compiled", "eager")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(2):
        assert all(map(same_bits, results[f"eager{i}"], results[f"compiled{i}"]))


def test_a_module_with_non_finite_settings_replays():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.limit, self.unset = float("inf"), float("nan")  # settings forward ignores

        def forward(self, x):
            return x * 2.0

    scale = thalweg.compile(Scale())
    x = thalweg.from_numpy(np.ones(3, np.float32))
    for _ in range(5):
        out = scale(x)
    assert scale.replays == 2 and same_bits(out.data, np.full(3, 2, np.float32))


SCALE = 2.0  # a module global the compiled function below reads


def test_numbers_from_the_closure_and_globals_are_guarded():
    global SCALE
    model = nn.Linear(3, 1, rng=0)
    factor = 3.0

    def scaled(x):
        return model(x) * factor * SCALE

    compiled = thalweg.compile(scaled)
    x = thalweg.from_numpy(np.ones((2, 3), np.float32))
    for factor, SCALE in [(3.0, 2.0)] * 4 + [(5.0, 2.0)] * 4 + [(5.0, 7.0)] * 4:
        assert same_bits(compiled(x).data, (model(x) * factor * SCALE).data)
    assert compiled.replays == 3  # one per setting, after its two traces and check
    SCALE = 2.0
