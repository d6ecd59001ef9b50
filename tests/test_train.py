"""The training loop: gradient-descent flavours, callbacks, history, checkpoints."""

import os
import signal
import threading

import numpy as np
import pytest

import thalweg
from thalweg import losses, nn, optim
from thalweg.train import (
    Callback,
    Checkpoint,
    Convergence,
    EarlyStopping,
    TrainingInterrupted,
    fit,
)


def line_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (X @ np.array([[2.0], [-1.0]]) + 0.5).astype(np.float32)
    return X, y


def make(seed=0, lr=0.1, optimizer="sgd"):
    model = nn.Sequential(nn.Linear(2, 4, rng=seed), nn.Tanh(), nn.Linear(4, 1, rng=seed + 1))
    opt = (
        optim.SGD(model.parameters(), lr=lr)
        if optimizer == "sgd"
        else optim.Adam(model.parameters(), lr=lr)
    )
    return model, opt


class CountSteps(Callback):
    def __init__(self):
        self.steps = 0
        self.epochs = 0

    def on_batch_end(self, state, loss):
        self.steps += 1

    def on_epoch_end(self, state, row):
        self.epochs += 1


@pytest.mark.parametrize(("batch_size", "steps_per_epoch"), [(None, 1), (1, 64), (16, 4), (20, 4)])
def test_batch_size_selects_batch_stochastic_or_mini_batch(batch_size, steps_per_epoch):
    X, y = line_data()
    model, opt = make()
    counter = CountSteps()
    fit(
        model,
        losses.mse,
        opt,
        X,
        y,
        epochs=3,
        batch_size=batch_size,
        callbacks=[counter],
        verbose=0,
        seed=0,
    )
    assert counter.steps == 3 * steps_per_epoch
    assert opt.global_step == 3 * steps_per_epoch


def test_full_batch_epoch_loss_is_the_loss_before_the_update():
    X, y = line_data()
    model, opt = make()
    with thalweg.no_grad():
        before = losses.mse(model(thalweg.tensor(X)), y).item()
    history = fit(model, losses.mse, opt, X, y, epochs=1, verbose=0)
    assert history["loss"][0] == pytest.approx(before, rel=1e-6)


def test_loss_falls_and_history_has_one_row_per_epoch():
    X, y = line_data()
    model, opt = make(optimizer="adam", lr=0.05)
    history = fit(
        model, losses.mse, opt, X, y, epochs=30, batch_size=8, verbose=0, seed=0, record_steps=True
    )
    assert len(history) == 30
    assert history["epoch"] == list(range(1, 31))
    assert history["loss"][-1] < 0.2 * history["loss"][0]
    assert len(history.step_losses) == 30 * 8
    assert set(history.keys()) >= {"loss", "lr", "seconds", "examples_per_second"}


def test_same_seed_gives_bit_identical_results_and_other_seeds_differ():
    X, y = line_data()

    def run(seed):
        thalweg.manual_seed(123)
        model, opt = make(optimizer="adam", lr=0.01)
        fit(model, losses.mse, opt, X, y, epochs=5, batch_size=8, seed=seed, verbose=0)
        return np.concatenate([p.data.ravel() for p in model.parameters()])

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_validation_data_gives_val_loss_and_metrics():
    X, y = line_data()
    model, opt = make()

    def max_error(y_true, output):
        return float(np.abs(y_true - output).max())

    history = fit(
        model,
        losses.mse,
        opt,
        X[:48],
        y[:48],
        epochs=3,
        validation=(X[48:], y[48:]),
        metrics=[max_error],
        verbose=0,
    )
    assert len(history["val_loss"]) == 3 and len(history["val_max_error"]) == 3
    assert all(v >= 0 for v in history["val_max_error"])


def test_validation_fraction_holds_out_data():
    X, y = line_data(n=100)
    model, opt = make()
    counter = CountSteps()
    fit(
        model,
        losses.mse,
        opt,
        X,
        y,
        epochs=1,
        batch_size=10,
        validation_fraction=0.2,
        callbacks=[counter],
        verbose=0,
        seed=0,
    )
    assert counter.steps == 8  # 80 training rows in batches of 10


def test_early_stopping_stops_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)  # pure noise: validation loss must rise
    X_val = rng.normal(size=(40, 2)).astype(np.float32)
    y_val = rng.normal(size=(40, 1)).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 64, rng=0), nn.Tanh(), nn.Linear(64, 1, rng=1))
    opt = optim.Adam(model.parameters(), lr=0.05)
    stopper = EarlyStopping(patience=3)
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, state, row):
            snapshots[row["epoch"]] = state.model.state_dict()

    history = fit(
        model,
        losses.mse,
        opt,
        X,
        y,
        epochs=500,
        validation=(X_val, y_val),
        callbacks=[Snapshot(), stopper],
        verbose=0,
        seed=0,
    )
    assert len(history) < 500
    assert "early stopping" in history.stop_reason
    best = int(np.argmin(history["val_loss"])) + 1
    assert history.best_epoch == best
    assert len(history) == best + 3
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[best][name])


def test_convergence_stops_when_the_loss_stops_changing():
    X, y = line_data()
    model = nn.Linear(2, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    history = fit(
        model, losses.mse, opt, X, y, epochs=10_000, callbacks=[Convergence(1e-6, 3)], verbose=0
    )
    assert len(history) < 10_000
    assert "converged" in history.stop_reason
    np.testing.assert_allclose(model.weight.data.ravel(), [2.0, -1.0], atol=1e-3)


def test_nan_loss_stops_with_an_error_naming_epoch_step_and_learning_rate():
    X, y = line_data()
    model = nn.Linear(2, 1, rng=0)
    opt = optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(
        thalweg.TrainingDivergedError, match=r"epoch \d+, step \d+.*smaller learning rate"
    ):
        fit(model, losses.mse, opt, X * 1e3, y, epochs=100, verbose=0)


@pytest.mark.parametrize("compile_step", [False, True])  # thalweg.compile: the same run
def test_checkpoint_resume_reproduces_an_uninterrupted_run_bit_for_bit(tmp_path, compile_step):
    X, y = line_data()
    path = tmp_path / "run.ckpt"

    def fresh():
        thalweg.manual_seed(0)
        return make(optimizer="adam", lr=0.02)

    model_a, opt_a = fresh()
    full = fit(
        model_a,
        losses.mse,
        opt_a,
        X,
        y,
        epochs=6,
        batch_size=8,
        seed=3,
        verbose=0,
        compile=compile_step,
        callbacks=[EarlyStopping("loss", patience=100)],
    )

    model_b, opt_b = fresh()
    fit(
        model_b,
        losses.mse,
        opt_b,
        X,
        y,
        epochs=4,
        batch_size=8,
        seed=3,
        verbose=0,
        compile=compile_step,
        callbacks=[EarlyStopping("loss", patience=100), Checkpoint(path)],
    )
    model_c, opt_c = fresh()  # a new process would start from scratch like this
    resumed = fit(
        model_c,
        losses.mse,
        opt_c,
        X,
        y,
        epochs=6,
        batch_size=8,
        seed=3,
        verbose=0,
        compile=compile_step,
        callbacks=[EarlyStopping("loss", patience=100), Checkpoint(path)],
        resume=path,
    )
    for pa, pc in zip(model_a.parameters(), model_c.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pc.data)
    assert resumed["loss"] == full["loss"]
    assert opt_c.global_step == opt_a.global_step


def test_ctrl_c_stops_between_steps_saves_a_checkpoint_and_resume_finishes_exactly(tmp_path):
    X, y = line_data(n=256)
    path = tmp_path / "interrupted.ckpt"

    def fresh():
        thalweg.manual_seed(0)
        return make(optimizer="adam", lr=0.02)

    model_a, opt_a = fresh()
    fit(model_a, losses.mse, opt_a, X, y, epochs=3, batch_size=4, seed=1, verbose=0)

    class PressCtrlC(Callback):
        def on_batch_end(self, state, loss):
            if state.epoch == 1 and state.batch_in_epoch == 10:
                os.kill(os.getpid(), signal.SIGINT)

    model_b, opt_b = fresh()
    with pytest.raises(TrainingInterrupted, match="resume with"):
        fit(
            model_b,
            losses.mse,
            opt_b,
            X,
            y,
            epochs=3,
            batch_size=4,
            seed=1,
            verbose=0,
            callbacks=[PressCtrlC(), Checkpoint(path, every=100)],
        )
    assert path.exists()
    assert opt_b.global_step == 64 + 10  # stopped cleanly after the step in progress

    model_c, opt_c = fresh()
    fit(
        model_c,
        losses.mse,
        opt_c,
        X,
        y,
        epochs=3,
        batch_size=4,
        seed=1,
        verbose=0,
        callbacks=[Checkpoint(path, every=100)],
        resume=path,
    )
    for pa, pc in zip(model_a.parameters(), model_c.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pc.data)


def test_fit_works_outside_the_main_thread():
    X, y = line_data()
    model, opt = make()
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(h=fit(model, losses.mse, opt, X, y, epochs=2, verbose=0))
    )
    thread.start()
    thread.join()
    assert len(result["h"]) == 2


def test_bad_inputs_get_clear_errors():
    X, y = line_data()
    model, opt = make()
    with pytest.raises(thalweg.ShapeError, match="X has 64 rows but y has 10"):
        fit(model, losses.mse, opt, X, y[:10], epochs=1, verbose=0)
    with pytest.raises(thalweg.DataError, match="empty"):
        fit(model, losses.mse, opt, X[:0], y[:0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, losses.mse, opt, X, y, epochs=1, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        fit(
            model,
            losses.mse,
            opt,
            X,
            y,
            epochs=1,
            validation=(X, y),
            validation_fraction=0.1,
            verbose=0,
        )


def test_a_batch_source_feeds_the_loop_and_waiting_time_is_measured(monkeypatch):
    class FakeClock:  # perf_counter only moves when the source "works": exact durations
        now = 0.0

        def perf_counter(self):
            return self.now

    clock = FakeClock()
    monkeypatch.setattr("thalweg.train.loop.time", clock)
    X, y = line_data()

    class SlowSource:
        n_samples = 64
        batch_size = 16

        def epoch_batches(self, rng, skip=0):
            for start in range(skip * 16, 64, 16):
                clock.now += 0.01  # pretend the features take 10 ms to make
                yield X[start : start + 16], y[start : start + 16]

    model, opt = make()
    counter = CountSteps()
    history = fit(model, losses.mse, opt, SlowSource(), epochs=2, callbacks=[counter], verbose=0)
    assert counter.steps == 8
    assert history["data_seconds"] == pytest.approx([0.04, 0.04])
    assert history["seconds"] == pytest.approx([0.04, 0.04])  # the steps took no fake time
    assert history["examples"] == [64, 64]
