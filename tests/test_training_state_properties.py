"""Property tests: training state survives everything a user does between steps.

Random sequences of steps (with some parameters lacking a gradient), copies, pickles,
``state_dict`` round trips, saves and loads, ``partial_fit`` and interrupted-then-resumed
training, for every optimizer and every estimator trained by gradient descent. After
each step the result is compared with a reference that was never copied and never
packed: the plain per-parameter optimizer (bit for bit: the packed path must do the
same arithmetic) and the formulas written out in ``optimizer_reference.py`` (to
rounding: an independent implementation).
"""

from __future__ import annotations

import copy
import os
import pickle
import signal
import tempfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optimizer_reference import CONFIGS, ReferenceOptimizer

import thalweg
from thalweg import losses, nn, optim
from thalweg.datasets import shapes
from thalweg.models import (
    CNNClassifier,
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    load_model,
)
from thalweg.nn import Parameter
from thalweg.train import Callback, Checkpoint, TrainingInterrupted, fit
from thalweg.train import optimizers as train_optimizers

SHAPES = [(3, 2), (2,), (2, 1), (1,)]
COPIES = ["deepcopy", "pickle", "state_dict", "file"]
STEP = st.tuples(st.just("step"), st.tuples(*[st.booleans()] * len(SHAPES)))
ACTION = st.one_of(STEP, STEP, st.sampled_from(COPIES).map(lambda how: (how, None)))


def make_optimizer(name: str, params, packed: bool):
    kind, options = CONFIGS[name]
    return getattr(optim, kind)(params, packed=packed, **options)


def copied(how: str, name: str, params: list, opt, packed: bool):
    """``(params, opt)`` carried across a copy, as a user would."""
    if how == "deepcopy":
        return copy.deepcopy((params, opt))
    if how == "pickle":
        return pickle.loads(pickle.dumps((params, opt)))
    fresh = [Parameter(p.data.copy()) for p in params]  # the weights travel separately
    new_opt = make_optimizer(name, fresh, packed)
    if how == "state_dict":
        new_opt.load_state_dict(opt.state_dict())
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "optimizer.thalweg")
            thalweg.save(opt, path)
            thalweg.load(path, into=new_opt)
    return fresh, new_opt


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(CONFIGS)),
    packed=st.booleans(),
    actions=st.lists(ACTION, min_size=1, max_size=10),
    seed=st.integers(0, 2**16),
)
def test_optimizer_steps_survive_missing_gradients_and_copies(name, packed, actions, seed):
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=shape) for shape in SHAPES]
    params = [Parameter(w.copy()) for w in start]
    opt = make_optimizer(name, params, packed)
    plain_params = [Parameter(w.copy()) for w in start]
    plain = make_optimizer(name, plain_params, packed=False)  # never copied, never packed
    reference, ref_weights = ReferenceOptimizer(name, len(SHAPES)), [w.copy() for w in start]

    for action, mask in actions:
        if action != "step":
            params, opt = copied(action, name, params, opt, packed)
            continue
        grads = [rng.normal(size=s) if on else None for s, on in zip(SHAPES, mask, strict=True)]
        for group in (params, plain_params):
            for p, g in zip(group, grads, strict=True):
                p.grad = None if g is None else g.copy()
        opt.step()
        plain.step()
        reference.step(ref_weights, grads)
        for p, q, w in zip(params, plain_params, ref_weights, strict=True):
            np.testing.assert_array_equal(p.data, q.data)
            np.testing.assert_allclose(p.data, w, rtol=1e-10, atol=1e-12)
    assert opt.global_step == plain.global_step


ESTIMATORS = {
    "MLPClassifier": lambda opt: MLPClassifier(
        hidden=(5,), optimizer=opt, max_epochs=2, tol=None, random_state=0
    ),
    "MLPRegressor": lambda opt: MLPRegressor(
        hidden=(5,), optimizer=opt, max_epochs=2, tol=None, random_state=0
    ),
    "LogisticRegression": lambda opt: LogisticRegression(
        solver="gd", optimizer=opt, max_epochs=2, tol=None, random_state=0
    ),
    "LinearRegression": lambda opt: LinearRegression(
        solver="gd", optimizer=opt, max_epochs=2, tol=None, random_state=0
    ),
    # convolution, batch norm (running statistics: buffers) and dropout (its own generator)
    "CNNClassifier": lambda opt: CNNClassifier(
        layers=("conv2", "bn", "pool", "dropout0.3", "dense4"),
        optimizer=opt,
        learning_rate=0.01,
        batch_size=16,
        max_epochs=2,
        tol=None,
        random_state=0,
    ),
}
ESTIMATOR_ACTION = st.sampled_from(
    ["partial_fit", "partial_fit", "pickle", "deepcopy", "load_model", "clone_and_refit"]
)


def _data(estimator: str, n=40):
    rng = np.random.default_rng(0)
    if estimator == "CNNClassifier":  # 8×8 images, three classes
        X, y, _ = shapes(n=n, size=8, noise=0.1, seed=0)
        return X, y
    X = rng.uniform(-1, 1, (n, 3))
    return X, (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)


def _output(model, X):
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
@settings(max_examples=8, deadline=None)
@given(
    optimizer=st.sampled_from(train_optimizers.OPTIMIZERS),
    actions=st.lists(ESTIMATOR_ACTION, min_size=1, max_size=6),
    rows=st.integers(0, 2**16),
)
def test_estimators_keep_learning_exactly_through_copies_and_reloads(
    estimator, optimizer, actions, rows
):
    from sklearn.base import clone

    X, y = _data(estimator)
    model = ESTIMATORS[estimator](optimizer).fit(X, y)
    unpacked = mock.patch.object(train_optimizers, "PACKED_MAX_WEIGHTS", 0)
    with unpacked:
        reference = ESTIMATORS[estimator](optimizer).fit(X, y)  # never packed, never copied
    assert model.optimizer_.packed and not reference.optimizer_.packed
    batches = np.random.default_rng(rows)
    for action in actions:
        if action == "partial_fit":
            batch = batches.choice(len(X), size=20, replace=False)
            model.partial_fit(X[batch], y[batch])
            reference.partial_fit(X[batch], y[batch])
            np.testing.assert_array_equal(_output(model, X), _output(reference, X))
        elif action == "pickle":
            model = pickle.loads(pickle.dumps(model))
        elif action == "deepcopy":
            model = copy.deepcopy(model)
        elif action == "load_model":
            with tempfile.TemporaryDirectory() as folder:
                model.save(os.path.join(folder, "model.thalweg"))
                model = load_model(os.path.join(folder, "model.thalweg"))
        else:  # scikit-learn's clone starts afresh: it must learn like a new estimator
            model = clone(model).fit(X, y)
            with unpacked:
                reference = clone(reference).fit(X, y)
    assert model.n_iter_ == reference.n_iter_


class SometimesTwoHeads(nn.Module):
    """A network whose second head is used only on some batches: on the others its
    parameters get no gradient (as with alternating losses or heads)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4, rng=0)
        self.head = nn.Linear(4, 1, rng=1)
        self.extra = nn.Linear(4, 1, rng=2)
        self.dropout = nn.Dropout(0.25, rng=3)

    def forward(self, x):
        hidden = self.dropout(self.body(x).tanh())
        out = self.head(hidden)
        if float(x.data[:, 0].sum()) > 0:  # depends on the batch only: replayable
            out = out + self.extra(hidden)
        return out


@settings(max_examples=10, deadline=None)
@given(
    name=st.sampled_from(sorted(CONFIGS)),
    packed=st.booleans(),
    stop_epoch=st.integers(0, 2),
    stop_step=st.integers(1, 6),
)
def test_interrupted_training_resumes_bit_for_bit_with_missing_gradients(
    name, packed, stop_epoch, stop_step
):
    X = np.random.default_rng(5).normal(size=(48, 3))
    y = X[:, :1] - 0.5 * X[:, 1:2]

    def train(callbacks=(), resume=None):
        thalweg.manual_seed(0)
        model = SometimesTwoHeads()
        opt = make_optimizer(name, model.parameters(), packed)
        fit(model, losses.mse, opt, X, y, epochs=3, batch_size=8, seed=2, verbose=0,
            callbacks=list(callbacks), resume=resume)  # fmt: skip
        return model

    class PressCtrlC(Callback):
        def on_batch_end(self, state, loss):
            if state.epoch == stop_epoch and state.batch_in_epoch == stop_step:
                os.kill(os.getpid(), signal.SIGINT)

    uninterrupted = train()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.ckpt")
        with pytest.raises(TrainingInterrupted):
            train([PressCtrlC(), Checkpoint(path, every=100)])
        resumed = train([Checkpoint(path, every=100)], resume=path)
    for a, b in zip(uninterrupted.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
