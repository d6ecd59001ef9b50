"""The contract between an estimator and the trainer: :class:`GradientEstimator`.

An estimator trained by gradient descent writes five short methods and inherits the
rest: ``fit``, ``partial_fit`` and ``fit_stream``; sample weights and class weights;
callbacks, validation data and checkpoints; early stopping and convergence; the ``l1``
and ``l2`` penalties; the optimizer by name and the automatic learning rate::

    learn_encoding(summary)              learn the preprocessing from a DataSummary
                                         (feature scaling, the target's scale)
    encode(X, y=None) -> (inputs, targets)
                                         raw rows as the module and the loss take them
    build_module(n_features, rng, dtype) a fresh thalweg.nn network
    loss(output, target, sample_weight=None) -> scalar Tensor
                                         the batch's mean loss (weighted_mean helps)
    finish(module, history)              fitted attributes that depend on the weights

A fit then flows the same way whatever the data (arrays, a stream, a Dask cluster)::

    validate X, y, sample_weight     -> n_features_in_, feature_names_in_, classes_
    learn_encoding(summary of the data)
    module = build_module(n_features_in_, rng, X.dtype)   (rng from random_state)
    thalweg.train.fit(module, loss + l2 penalty, optimizer, *encode(X, y), ...)
    module_, history_, n_iter_, optimizer_ set; finish(module, history)

Extras travel through ``fit`` as scikit-learn passes metadata, never as hidden
attributes: ``fit(X, y, *, sample_weight=None, callbacks=(), validation=None,
resume=None, batches=None)``. ``validation=(X_val, y_val)`` are raw rows, encoded like
the training rows; ``callbacks`` run before the estimator's own (convergence, early
stopping, the L1 step); ``resume`` continues from a checkpoint of the same fit;
``batches(inputs, targets, batch_size) -> batch source`` replaces the shuffled
mini-batches of the encoded rows (class-balanced batches:
:class:`thalweg.data.balancing.BalancedBatches`).

Other trainers (:mod:`thalweg.distributed`) drive the same estimator through four public
steps — :meth:`~GradientEstimator.begin_training`,
:meth:`~GradientEstimator.training_optimizer`,
:meth:`~GradientEstimator.training_callbacks`,
:meth:`~GradientEstimator.finish_training` — and their own loop step. See
``docs/models.md`` ("Writing an estimator") for a complete example.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from thalweg import losses, nn
from thalweg.data.summary import DataSummary, summarize_arrays, summarize_stream
from thalweg.errors import ConvergenceWarning, DataError
from thalweg.models import checks
from thalweg.models.base import Estimator
from thalweg.models.compat import sklearn_compatible
from thalweg.train import Convergence, EarlyStopping, L1Proximal, fit
from thalweg.train.optimizers import (
    ADAPTIVE_DEFAULT_LR,
    CURVATURE_SAMPLE,
    auto_learning_rate,
    largest_curvature,
    make_optimizer,
    mean_squared_norm,
)

__all__ = [
    "GradientEstimator",
    "classification_loss",
    "label_targets",
    "logit_count",
    "standardize",
    "weighted_mean",
]

AUTO_BATCH = 200  # batch_size="auto": min(AUTO_BATCH, n_samples), scikit-learn's choice
PREFETCH = 4  # prepared blocks (or batches) a stream's reading thread keeps ready
# From this many rows a stream is read in another process: starting it (~1 s) is then
# small against an epoch, and reading no longer competes for the interpreter lock.
PROCESS_READER_ROWS = 1_000_000


class GradientEstimator(Estimator):
    """Base class of estimators trained by gradient descent on a ``thalweg.nn`` module.

    Subclasses implement :meth:`learn_encoding`, :meth:`encode`, :meth:`build_module`,
    :meth:`loss` and :meth:`finish` (and may override :meth:`penalized`,
    :meth:`curvature_rows`, :meth:`summarize`, ``loss_kind``). Their constructors take
    the gradient-descent settings this class reads: ``optimizer``, ``learning_rate``,
    ``batch_size``, ``max_epochs``, ``random_state`` and, when they offer them, ``tol``,
    ``n_iter_no_change``, ``early_stopping``, ``validation_fraction``, ``l1``, ``l2``,
    ``verbose``, ``compile`` (passed to ``thalweg.train.fit``).
    """

    # How the loss curves, for learning_rate="auto" with plain SGD or momentum:
    # "squared", "logistic" or "softmax" (see thalweg.train.optimizers).
    loss_kind = "squared"

    # ================================================================ the contract
    def learn_encoding(self, summary: DataSummary) -> None:
        """Learn the preprocessing from the data's summary (set fitted attributes)."""
        raise NotImplementedError

    def encode(self, X: np.ndarray, y=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Validated raw rows (and targets) as the module and the loss take them."""
        raise NotImplementedError

    def build_module(self, n_features: int, rng: np.random.Generator, dtype) -> nn.Module:
        """A fresh network for ``n_features`` inputs, initialised from ``rng``, with
        parameters of ``dtype`` (the data's: float32 data trains in float32)."""
        raise NotImplementedError

    def loss(self, output, target, sample_weight=None):
        """The mean loss of a batch: ``Σ wᵢ·ℓᵢ / n`` with weights (see :func:`weighted_mean`)."""
        raise NotImplementedError

    def finish(self, module: nn.Module, history) -> None:
        """Set the fitted attributes that depend on the trained weights (``coef_``...)."""

    def penalized(self, module: nn.Module) -> list:
        """The weights ``l1`` and ``l2`` apply to: every parameter named ``weight``
        (never a bias)."""
        return [p for name, p in module.named_parameters() if name.split(".")[-1] == "weight"]

    def curvature_rows(self, X: np.ndarray) -> np.ndarray:
        """Some raw rows as the first layer sees them, for ``learning_rate="auto"``."""
        return self.encode(X)[0]

    def summarize(self, X: np.ndarray, y, sample_weight) -> DataSummary:
        """The summary :meth:`learn_encoding` learns from, for in-memory arrays."""
        return summarize_arrays(
            X,
            y,
            task=self._estimator_type or None,
            sample_weight=sample_weight,
            classes=getattr(self, "classes_", None),
        )

    def stream_summary(self, stream, seed: int) -> DataSummary:
        """The summary :meth:`learn_encoding` learns from, for :meth:`fit_stream`: one
        pass over ``stream`` (:func:`thalweg.data.summarize_stream`)."""
        return summarize_stream(stream, task=self._estimator_type or None, seed=seed)

    # ================================================================ fitting
    def fit(
        self,
        X,
        y=None,
        *,
        sample_weight=None,
        callbacks=(),
        validation=None,
        resume=None,
        batches=None,
    ):
        """Train from fresh weights on ``X`` (n, d) and ``y`` (n,).

        Parameters
        ----------
        sample_weight : array (n,), optional
            How much each row counts in the loss (an integer weight k is k copies).
        callbacks : sequence of thalweg.train.Callback
            Run at every step and epoch, before the estimator's own.
        validation : (X_val, y_val), optional
            Held-out raw rows: ``val_loss`` every epoch, and what ``early_stopping``
            watches (instead of holding out ``validation_fraction`` of ``X``).
        resume : path, optional
            A checkpoint of this same fit (``thalweg.train.Checkpoint``) to continue from.
        batches : callable, optional
            ``batches(inputs, targets, batch_size) -> batch source`` (anything
            ``thalweg.train.fit`` takes: ``epoch_batches``, ``batch_size``,
            ``n_samples``), called once with the encoded training rows; its batches
            replace the shuffled mini-batches, e.g. class-balanced ones
            (:class:`thalweg.data.balancing.BalancedBatches`). Not with ``sample_weight``
            or ``class_weight`` (the batches decide how often each row counts).

        Examples
        --------
        >>> import numpy as np
        >>> from thalweg.data.balancing import BalancedBatches
        >>> from thalweg.models import LogisticRegression
        >>> X = np.linspace(-1, 1, 200)[:, None]; y = (X[:, 0] > 0.8).astype(int)
        >>> balanced = BalancedBatches(seed=0)
        >>> model = LogisticRegression(solver="gd", max_epochs=5, tol=None, random_state=0)
        >>> model = model.fit(X, y, batches=balanced)
        >>> counts = balanced.class_counts()  # by encoded target: 1.0 is the class 1
        >>> bool(abs(counts[1.0] / sum(counts.values()) - 0.5) < 0.1)  # 10 % of rows, 50 % of steps
        True
        """
        if batches is not None and (
            sample_weight is not None or getattr(self, "class_weight", None) is not None
        ):
            raise ValueError(
                f"{type(self).__name__}.fit: batches= decides how often each row is trained "
                "on; leave out sample_weight and class_weight (or batches)"
            )
        X, y, weight = self._validate_training_data(X, y, sample_weight, reset=True)
        summary = self.summarize(X, y, weight)
        self.learn_encoding(summary)
        seed = self.training_seed()
        module = self.build_module(self.n_features_in_, np.random.default_rng(seed), X.dtype)
        inputs, targets = self.encode(X, y)
        history, optimizer = self._descend(
            module,
            inputs,
            targets,
            weight,
            seed=seed,
            epochs=self.max_epochs,
            sample=summary.sample,
            sample_weight=summary.sample_weight,
            callbacks=callbacks,
            validation=validation,
            resume=resume,
            batches=batches,
        )
        return self.finish_training(module, history, optimizer)

    def partial_fit(self, X, y=None, sample_weight=None, *, callbacks=()):
        """One epoch on this batch, continuing from the current weights (the first call
        learns the preprocessing from its batch)."""
        return self._partial_fit(X, y, None, sample_weight, callbacks)

    def _partial_fit(self, X, y, classes, sample_weight, callbacks):
        first = not hasattr(self, "module_")
        X, y, weight = self._validate_training_data(
            X, y, sample_weight, reset=first, classes=classes
        )
        seed = self.training_seed()
        summary = self.summarize(X, y, weight) if first else None
        if first:
            self.learn_encoding(summary)
            rng = np.random.default_rng(seed)
            module, optimizer = self.build_module(X.shape[1], rng, X.dtype), None
        else:  # continue, with the optimizer (a loaded model brings it back from its file)
            module, optimizer = self.module_, getattr(self, "optimizer_", None)
        inputs, targets = self.encode(X, y)
        if first:
            sample, sample_weight = summary.sample, summary.sample_weight
        else:
            step = max(1, len(X) // CURVATURE_SAMPLE)  # evenly spaced rows, as a summary's
            sample = X[::step]
            sample_weight = None if weight is None else weight[::step]
        history, optimizer = self._descend(
            module,
            inputs,
            targets,
            weight,
            seed=seed,
            epochs=1,
            sample=sample,
            sample_weight=sample_weight,
            callbacks=callbacks,
            optimizer=optimizer,
        )
        # One epoch per call is the caller's rhythm, not a limit: no ConvergenceWarning.
        return self.finish_training(module, history, optimizer, continued=not first, warn=False)

    def fit_stream(self, stream, *, epochs: int | None = None, validation=None, callbacks=()):
        """Learn from a stream of ``(X, y)`` batches too big for memory
        (:func:`thalweg.data.stream`), holding one batch at a time.

        A first pass over the stream learns the preprocessing (and the classes); then
        ``epochs`` passes (default: the stream's ``epochs``) of mini-batch gradient
        descent with this model's optimizer, learning rate and penalties, from fresh
        weights. The stream's ``batch_size`` replaces ``batch_size``; the data is read
        and encoded beside the training (in a reading process for big streams).
        ``validation=(X_val, y_val)`` is needed for ``early_stopping``.
        """
        seed = self.training_seed()
        summary = self.stream_summary(stream, seed)
        self.begin_training(summary)
        # The batches are arrays whose columns are the stream's names: take arrays too.
        self._remember_feature_names(summary.feature_names, from_arrays=True)
        rng = np.random.default_rng(seed)
        module = self.build_module(self.n_features_in_, rng, summary.sample.dtype)
        batches, reader = self._encoded_batches(stream)
        try:
            history, optimizer = self._descend(
                module,
                batches,
                None,
                None,
                seed=seed,
                epochs=int(epochs if epochs is not None else getattr(stream, "epochs", 1)),
                sample=summary.sample,
                callbacks=callbacks,
                validation=validation,
                n_samples=summary.n_samples,
            )
        finally:
            if reader is not None:
                reader.close()
        # The stream's epochs are the caller's explicit choice, not a limit: no warning.
        return self.finish_training(module, history, optimizer, warn=False)

    # ================================================================ for other trainers
    def training_seed(self) -> int:
        """The integer seed of one fit, from ``random_state``: it seeds the initial
        weights and the shuffling."""
        return self._random_seed()

    def begin_training(self, summary: DataSummary) -> None:
        """Start a fresh training from a summary of the data: forget any previous one
        (``module_``, ``optimizer_``, ``history_``), then learn the data's width and column
        names, the classes of a classifier, and the preprocessing (:meth:`learn_encoding`)."""
        for stale in ("module_", "optimizer_", "history_"):
            self.__dict__.pop(stale, None)
        self.n_features_in_ = summary.n_features
        self.resolve_l2(summary.n_samples)
        self._remember_feature_names(summary.feature_names)
        if self._estimator_type == "classifier":
            self._validate_y(summary.classes, len(summary.classes), reset=True)
        self.learn_encoding(summary)

    def training_optimizer(
        self,
        module: nn.Module,
        sample: np.ndarray,
        batch_size: int | None,
        n_samples: int,
        sample_weight: np.ndarray | None = None,
    ):
        """The optimizer this estimator's settings ask for, on ``module``'s parameters.

        ``learning_rate="auto"`` gives an adaptive optimizer its usual default, and plain
        SGD (or momentum) the step ``1/L`` from the curvature of ``sample`` — raw rows
        (weighted by ``sample_weight``), measured as the first layer sees them
        (:meth:`curvature_rows`).
        """
        lr = self.learning_rate
        if lr == "auto":
            lr = ADAPTIVE_DEFAULT_LR.get(self.optimizer)
        if lr is None:
            rows = self.curvature_rows(sample)
            lr = auto_learning_rate(
                self.optimizer,
                self.loss_kind,
                curvature=largest_curvature(rows, sample_weight),
                per_example=mean_squared_norm(rows, sample_weight),
                batch_size=batch_size,
                n_samples=n_samples,
                l2=self.l2_strength(),
            )
        return make_optimizer(self.optimizer, module.parameters(), lr)

    def training_callbacks(self, module: nn.Module, callbacks: Sequence = ()) -> list:
        """``callbacks``, then the ones this estimator's settings ask for: the L1
        proximal step, early stopping, convergence."""
        callbacks = list(callbacks)
        if getattr(self, "l1", 0.0):
            callbacks.append(L1Proximal(self.penalized(module), self.l1))
        patience = getattr(self, "n_iter_no_change", 5)
        if getattr(self, "early_stopping", False):
            callbacks.append(EarlyStopping("val_loss", patience=patience, restore_best=True))
        if getattr(self, "tol", None) is not None:
            callbacks.append(Convergence(tol=self.tol, patience=patience))
        return callbacks

    def training_loss(self, module: nn.Module):
        """:meth:`loss` plus ``l2·Σ‖W‖²`` over :meth:`penalized` weights: the objective."""
        l2 = self.l2_strength()
        if not l2:
            return self.loss
        weights = self.penalized(module)

        def objective(output, target, *sample_weight):
            loss = self.loss(output, target, *sample_weight)
            for w in weights:
                loss = loss + l2 * (w * w).sum()
            return loss

        return objective

    def resolve_l2(self, total_weight: float) -> float:
        """Fix the ridge strength of a fit that starts on ``total_weight`` rows (the sum
        of the row weights: a weight of 2 counts as two rows) and keep it as ``l2_``.

        ``l2`` is a number ``≥ 0``, or ``"auto"``: ``1 / (2·total_weight)``, which makes
        ``mean loss + l2·‖W‖²`` scikit-learn's ``½‖W‖² + C·Σ loss`` with ``C=1`` (a
        standard normal prior on each weight; the weights of thalweg's linear models
        are in standardized units). Estimators without ``l2`` train unpenalized.

        >>> from thalweg.models import LogisticRegression
        >>> LogisticRegression(l2="auto").resolve_l2(400)
        0.00125
        """
        if not hasattr(self, "l2"):
            return 0.0
        l2 = self.l2
        if isinstance(l2, str) and l2 == "auto":
            l2 = 1.0 / (2.0 * max(float(total_weight), 1.0))
        elif not _is_number(l2) or not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(
                f"{type(self).__name__}: l2 must be a number ≥ 0 or 'auto', got {l2!r}"
            )
        self.l2_ = float(l2)
        return self.l2_

    def l2_strength(self) -> float:
        """The ridge strength training uses: ``l2_`` once a fit has fixed it
        (:meth:`resolve_l2`), else ``l2`` when it is a number (0 without one)."""
        if hasattr(self, "l2_"):
            return self.l2_
        l2 = getattr(self, "l2", 0.0)
        return 0.0 if isinstance(l2, str) else float(l2)

    def finish_training(
        self, module: nn.Module, history, optimizer=None, *, continued=False, warn=True
    ):
        """Keep the trained module, its history and optimizer, set the fitted attributes
        (:meth:`finish`), and (``warn``) say when ``max_epochs`` ran out before the loss
        converged (a :class:`~thalweg.errors.ConvergenceWarning`)."""
        self.module_ = module
        self.optimizer_ = optimizer
        self.history_ = history
        self.n_iter_ = (getattr(self, "n_iter_", 0) if continued else 0) + len(history)
        self.loss_ = history.last("loss")
        self.finish(module, history)
        if warn and not continued:
            self._warn_unless_converged(history)
        return self

    # ================================================================ the steps inside
    def _validate_training_data(self, X, y, sample_weight, reset: bool, classes=None):
        """``(X, y, row weights)`` checked; on ``reset`` the width, names and classes are
        learned. Row weights fold in ``class_weight`` and average 1 over the rows."""
        X = self._validate_X(X, reset=reset)
        y = self._validate_y(y, X.shape[0], reset=reset, classes=classes)
        weight = self._validate_sample_weight(sample_weight, X.shape[0])
        weight = self._row_weights(weight, y)
        if reset:
            self.resolve_l2(X.shape[0] if weight is None else float(np.sum(weight)))
        if weight is not None:
            if self._estimator_type == "classifier" and reset and classes is None:
                kept = np.unique(np.asarray(y)[weight > 0])
                if len(kept) < 2:
                    raise DataError(
                        f"{type(self).__name__}: only one class ({kept[0]!r}) has non-zero "
                        "sample_weight; a classifier needs at least 2 classes to learn"
                    )
            weight = weight / weight.mean()
        return X, y, weight

    def _descend(
        self,
        module,
        inputs,
        targets,
        weight,
        *,
        seed: int,
        epochs: int,
        sample: np.ndarray,
        sample_weight: np.ndarray | None = None,
        callbacks=(),
        validation=None,
        resume=None,
        optimizer=None,
        n_samples: int | None = None,
        batches=None,
    ):
        """Gradient descent with this estimator's settings; ``(history, optimizer)``.

        ``batches(inputs, targets, batch_size)``, when given, turns the encoded rows
        into the batch source trained on (see :meth:`fit`)."""
        streaming = hasattr(inputs, "epoch_batches")
        n_samples = n_samples if n_samples is not None else len(inputs)
        batch_size = inputs.batch_size if streaming else self._batch_size(n_samples)
        if optimizer is None:
            optimizer = self.training_optimizer(
                module, sample, batch_size, n_samples, sample_weight
            )
        method = "fit_stream" if streaming else "fit"
        if batches is not None and not streaming:
            inputs, targets = batches(inputs, targets, batch_size or n_samples), None
            streaming = True
        early = getattr(self, "early_stopping", False)
        if validation is not None:
            X_val, y_val = validation
            # Held-out rows are checked like predict's input, but without the column-name
            # comparison: a stream's held-out sample is an array of the same columns.
            X_val = checks.check_X(X_val, type(self).__name__)
            checks.check_n_features(type(self).__name__, X_val, self.n_features_in_)
            y_val = self._validate_y(y_val, X_val.shape[0], reset=False)
            validation = self.encode(X_val, y_val)
        elif early and streaming:
            raise ValueError(
                f"{type(self).__name__}.{method}: early_stopping needs held-out data; pass "
                "validation=(X_val, y_val)"
            )
        history = fit(
            module,
            self.training_loss(module),
            optimizer,
            inputs,
            targets,
            sample_weight=weight,
            epochs=epochs,
            batch_size=None if streaming else batch_size,
            seed=seed,
            validation=validation,
            validation_fraction=(
                getattr(self, "validation_fraction", 0.1) if early and validation is None else None
            ),
            callbacks=self.training_callbacks(module, callbacks),
            verbose=getattr(self, "verbose", 0),
            resume=resume,
            compile=getattr(self, "compile", False),
        )
        return history, optimizer

    def _batch_size(self, n_samples: int) -> int | None:
        batch_size = self.batch_size
        if batch_size == "auto":
            return min(AUTO_BATCH, n_samples)
        return batch_size

    def _encoded_batches(self, source):
        """The stream's batches, encoded as they are read; and the reading process to
        close afterwards (None when reading happens in a thread)."""
        from thalweg.data import Pipeline
        from thalweg.data.background import BackgroundReader

        # Reading and encoding overlap with training. A stream encodes whole chunks as it
        # reads them (cheaper than batch by batch) and hands over shuffled blocks, which
        # the training side cuts into batches; a big one is read in another process,
        # where it never waits for this interpreter's lock (see thalweg.data.background).
        if hasattr(source, "unbatched") and hasattr(source, "chunks"):
            blocks = source.map(self.encode).unbatched()
            if (source.n_samples or 0) >= PROCESS_READER_ROWS:
                reader = BackgroundReader(blocks)
                return Pipeline(reader).batch(source.batch_size), reader
            return Pipeline(blocks).prefetch(PREFETCH).batch(source.batch_size), None
        return Pipeline(source).map(_EncodeBatch(self)).prefetch(PREFETCH), None

    def _warn_unless_converged(self, history) -> None:
        tol = getattr(self, "tol", None)
        if tol is None or history.stop_reason is not None or not len(history):
            return
        warnings.warn(
            f"{type(self).__name__}: training stopped at the epoch limit ({len(history)} "
            f"epochs) before the loss converged (tol={tol:g}); raise max_epochs or the "
            "learning rate, or set tol=None to train a fixed number of epochs",
            sklearn_compatible(ConvergenceWarning, "ConvergenceWarning"),
            stacklevel=4,
        )


class _EncodeBatch:
    """``batch -> estimator.encode(*batch)`` (a class, so a pipeline's worker can pickle it)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def __call__(self, batch):
        X, y = batch
        return self.estimator.encode(np.asarray(X), np.asarray(y).reshape(-1))


# ==================================================================== helpers for estimators
def weighted_mean(loss_fn, output, target, sample_weight=None):
    """``loss_fn``'s mean over a batch; with ``sample_weight``, ``Σ wᵢ·ℓᵢ / n``.

    The trainer scales the weights to average 1 over the training rows, so over a full
    batch this is the weighted mean ``Σ wᵢ·ℓᵢ / Σ wᵢ``, and a mini-batch's is an
    unbiased estimate of it (a batch of zero weights contributes nothing, not NaN).

    >>> import thalweg
    >>> output = thalweg.tensor([[1.0], [3.0]])
    >>> weighted_mean(losses.mse, output, [[0.0], [0.0]], [2.0, 0.0]).item()
    1.0
    """
    if sample_weight is None:
        return loss_fn(output, target)
    return loss_fn(output, target, weight=sample_weight, reduction="sum") * (
        1.0 / len(sample_weight)
    )


def _is_number(value) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def logit_count(n_classes: int) -> int:
    """Outputs a classifier needs: one logit (sigmoid) for two classes, else one per class."""
    return 1 if n_classes == 2 else n_classes


def label_targets(codes: np.ndarray, n_classes: int, dtype=np.float32) -> np.ndarray:
    """Class codes as :func:`classification_loss` takes them: a float column ``(n, 1)``
    of 0/1 (in ``dtype``) for two classes, the integer codes ``(n,)`` for more."""
    if n_classes == 2:
        return codes.astype(dtype).reshape(-1, 1)
    return codes.astype(np.int64)


def classification_loss(output, target, sample_weight=None):
    """Binary cross-entropy on one logit ``(n, 1)``, or softmax cross-entropy on ``(n, k)``."""
    if output.shape[-1] == 1:
        return weighted_mean(losses.binary_cross_entropy_with_logits, output, target, sample_weight)
    return weighted_mean(losses.cross_entropy, output, target, sample_weight)


def standardize(X: np.ndarray, shift, scale, dtype=None) -> np.ndarray:
    """``(X - shift) / scale`` as an array of ``dtype`` (default: ``X``'s float dtype).

    float64 input is standardized in float64 and then rounded (a big offset would cost
    float32 digits). float32 input — a stream's chunks, float32 data — is standardized
    in float32, written ``X·a + b`` with ``a = 1/scale`` and ``b = -shift/scale``
    precomputed: two passes over float32 memory, no float64 round trip.

    >>> standardize(np.array([[5.0]]), np.array([1.0]), np.array([2.0])).tolist()
    [[2.0]]
    """
    X = np.asarray(X)
    dtype = np.dtype(dtype or (X.dtype if X.dtype == np.float32 else np.float64))
    shift, scale = np.asarray(shift, np.float64), np.asarray(scale, np.float64)
    if X.dtype != np.float32 or dtype != np.float32:
        return ((X - shift) / scale).astype(dtype, copy=False)
    Z = np.multiply(X, (1.0 / scale).astype(np.float32))
    Z += (-shift / scale).astype(np.float32)
    return Z
