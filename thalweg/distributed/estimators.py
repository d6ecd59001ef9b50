"""What data-parallel training needs to know about each thalweg estimator.

:func:`plan_training` turns an estimator and the statistics of the data into a
:class:`TrainingPlan`: the model to train (built exactly as the estimator builds it, so
the same ``seed`` gives the same initial weights), its loss, which weights the penalties
apply to, and how to standardize the features and encode the target.
:func:`finish_training` then sets the fitted attributes the estimator's own ``fit``
would set, so the result predicts, scores, saves and reports like any fitted model.

The standardization statistics come from the distributed first pass instead of from
``Standardizer.fit`` on an in-memory array, but they are the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from thalweg import nn
from thalweg.data import Standardizer
from thalweg.data.preprocessing import scale_from_variance
from thalweg.distributed.data import DataStatistics
from thalweg.distributed.worker import ModelSpec
from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor
from thalweg.models.linear import Scaling
from thalweg.models.mlp import build_mlp
from thalweg.nn.layers import layer_from_config, layer_to_config
from thalweg.train import History

SUPPORTED = (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor)


@dataclass
class TrainingPlan:
    """Everything the training loop and the workers need, decided on the driver."""

    module: nn.Module  # the driver's copy of the model, holding the initial weights
    penalized: list  # the weights l1 and l2 apply to (never the biases)
    loss: str  # a loss in thalweg.losses, taken with reduction="sum" on the workers
    loss_kind: str  # "squared", "logistic" or "softmax": sets the automatic learning rate
    center: np.ndarray  # features are standardized as (X - center) / scale
    scale: np.ndarray
    target: dict  # how workers encode y (see thalweg.distributed.worker.prepare_shard)
    feature_dtype: np.dtype  # what the single-process estimator rounds features to
    fitted: dict = field(default_factory=dict)  # preprocessing attributes to set on success

    @property
    def model_spec(self) -> ModelSpec:
        return ModelSpec(layer_to_config(self.module), self.loss)


@dataclass
class TrainingResult:
    """What a solver hands back."""

    history: History
    n_iter: int
    loss: float
    optimizer: object = None  # None for L-BFGS (partial_fit then starts a fresh optimizer)


def is_classifier(estimator) -> bool:
    return getattr(estimator, "_estimator_type", "") == "classifier"


def check_supported(estimator, solver: str) -> None:
    """Raise a clear error for estimators and options data-parallel training lacks."""
    name = type(estimator).__name__
    if not isinstance(estimator, SUPPORTED):
        raise TypeError(
            f"thalweg.distributed trains {', '.join(c.__name__ for c in SUPPORTED)}; got {name}"
        )
    if getattr(estimator, "early_stopping", False):
        raise ValueError(
            f"{name}(early_stopping=True) needs a held-out split, which thalweg.distributed "
            "does not make; set early_stopping=False (tol= still stops at convergence)"
        )
    if estimator.l1 and solver == "lbfgs":
        raise ValueError(
            f"{name}: l1 is not differentiable at 0, which L-BFGS needs; use solver='gd' "
            "or 'sgd' (proximal gradient descent)"
        )


def plan_training(estimator, stats: DataStatistics, solver: str, dtype) -> TrainingPlan:
    """The model, loss, scaling and target encoding for ``estimator`` on this data.

    ``dtype`` is the dtype of the weights (float64 for L-BFGS, else the default dtype).
    """
    # Like the estimators: gradient descent trains on float32 features, L-BFGS on float64.
    feature_dtype = np.dtype(np.float64 if solver == "lbfgs" else np.float32)
    x_scale = scale_from_variance(stats.x_var, stats.x_mean, stats.n_samples)
    d = stats.n_features
    if isinstance(estimator, LinearRegression | LogisticRegression):
        center, scale = stats.x_mean, (x_scale if estimator.standardize else np.ones(d))
        if isinstance(estimator, LinearRegression):
            y_mean, y_scale = _target_scaling(stats, estimator.standardize)
            scaling = Scaling(center, scale, y_mean, y_scale)
            k, loss, loss_kind = 1, "mse", "squared"
            target = {"kind": "regression", "mean": y_mean, "scale": y_scale}
            fitted = {"scaling_": scaling}
        else:
            scaling = Scaling(center, scale, 0.0, 1.0)
            k = 1 if len(stats.classes) == 2 else len(stats.classes)
            loss, loss_kind, target = _classification(stats.classes)
            fitted = {"scaling_": scaling, "classes_": stats.classes}
        module = nn.Linear(d, k, weight_init="zeros", dtype=dtype)
        penalized = [module.weight]
    else:  # an MLP
        scaler = _fitted_standardizer(stats, x_scale, estimator.standardize)
        center = stats.x_mean if estimator.standardize else np.zeros(d)
        scale = x_scale if estimator.standardize else np.ones(d)
        fitted = {"scaler_": scaler}
        if isinstance(estimator, MLPClassifier):
            k = 1 if len(stats.classes) == 2 else len(stats.classes)
            loss, _, target = _classification(stats.classes)
            fitted["classes_"] = stats.classes
        else:
            y_mean, y_scale = _target_scaling(stats, estimator.standardize)
            y_mean = y_mean if estimator.standardize else 0.0
            k, loss = 1, "mse"
            target = {"kind": "regression", "mean": y_mean, "scale": y_scale}
            fitted |= {"y_mean_": y_mean, "y_scale_": y_scale}
        rng = np.random.default_rng(estimator.seed)  # the estimator's own initialisation
        module = _with_dtype(build_mlp(d, estimator._hidden(), k, estimator.activation, rng), dtype)
        penalized = [layer.weight for layer in module.children() if isinstance(layer, nn.Linear)]
        loss_kind = estimator.loss_kind
    return TrainingPlan(
        module=module,
        penalized=penalized,
        loss=loss,
        loss_kind=loss_kind,
        center=np.asarray(center, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        target=target,
        feature_dtype=feature_dtype,
        fitted=fitted,
    )


def finish_training(
    estimator, plan: TrainingPlan, stats: DataStatistics, result: TrainingResult, solver: str
):
    """Set the fitted attributes ``estimator.fit`` would have set; return the estimator."""
    estimator.n_features_in_ = stats.n_features
    if stats.feature_names is not None:
        estimator.feature_names_in_ = np.asarray(stats.feature_names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    for name, value in plan.fitted.items():
        setattr(estimator, name, value)
    estimator.module_ = plan.module
    estimator.optimizer_ = result.optimizer
    estimator.history_ = result.history
    estimator.n_iter_ = result.n_iter
    estimator.loss_ = result.loss
    if isinstance(estimator, LinearRegression):
        estimator.solver_ = "lbfgs" if solver == "lbfgs" else "gd"
    if isinstance(estimator, LinearRegression | LogisticRegression):
        weight, bias = plan.module.weight.data, plan.module.bias.data
        estimator._set_coefficients(weight.astype(np.float64), bias.astype(np.float64))
    return estimator


def _target_scaling(stats: DataStatistics, standardize: bool) -> tuple[float, float]:
    spread = float(np.sqrt(stats.y_var))
    return stats.y_mean, spread if standardize and spread > 0 else 1.0


def _classification(classes: np.ndarray) -> tuple[str, str, dict]:
    """Loss, learning-rate kind and target encoding: sigmoid for two classes, else softmax."""
    if len(classes) == 2:
        return (
            "binary_cross_entropy_with_logits",
            "logistic",
            {"kind": "binary", "classes": classes},
        )
    return "cross_entropy", "softmax", {"kind": "multiclass", "classes": classes}


def _fitted_standardizer(stats: DataStatistics, scale: np.ndarray, standardize: bool):
    """The ``Standardizer`` that ``fit`` on all the rows would have learned."""
    return Standardizer.from_config(
        {
            "class": "Standardizer",
            "params": {"with_mean": standardize, "with_std": standardize},
            "state": {
                "n_features_in_": stats.n_features,
                "feature_names_in_": None,  # it standardizes the validated array, unnamed
                "mean_": stats.x_mean.tolist(),
                "var_": stats.x_var.tolist(),
                "scale_": scale.tolist(),
                "n_samples_seen_": stats.n_samples,
            },
        }
    )


def _with_dtype(module: nn.Module, dtype) -> nn.Module:
    """The same network and weights with parameters of ``dtype`` (float64 for L-BFGS)."""
    dtype = np.dtype(dtype)
    if all(p.dtype == dtype for p in module.parameters()):
        return module
    config = layer_to_config(module)
    _set_dtype(config, str(dtype))
    copy = layer_from_config(config)
    copy.load_state_dict(module.state_dict())
    return copy


def _set_dtype(config: dict, dtype: str) -> None:
    if "dtype" in config.get("config", {}):
        config["config"]["dtype"] = dtype
    for layer in config.get("config", {}).get("layers", []):
        _set_dtype(layer, dtype)
