"""Evaluation metrics for classification, ranking, probabilities and regression.

Every function here works on plain NumPy arrays (lists and pandas Series are accepted
too) and never touches the autodiff engine: a metric is computed once, after the
model has spoken, so it needs no gradient.

The semantics follow scikit-learn's functions of the same meaning, so a number
computed here can be compared with one computed there:

==========================  =========================================
thalweg                     scikit-learn
==========================  =========================================
``accuracy``                ``accuracy_score``
``precision`` / ``recall``  ``precision_score`` / ``recall_score``
``f1``                      ``f1_score``
``confusion_matrix``        ``confusion_matrix``
``roc_curve``               ``roc_curve`` (first threshold is ``inf``)
``roc_auc``                 ``roc_auc_score``
``precision_recall_curve``  ``precision_recall_curve``
``average_precision``       ``average_precision_score``
``log_loss``                ``log_loss``
``mean_squared_error``      ``mean_squared_error``
``mean_absolute_error``     ``mean_absolute_error``
``r2``                      ``r2_score``
``calibration_curve``       ``sklearn.calibration.calibration_curve``
``majority_baseline``       ``DummyClassifier(strategy="most_frequent")``
``threshold_table``         ``precision_score`` etc. of ``y_score >= t``
``apply_threshold``         ``FixedThresholdClassifier``'s decision rule
``adjusted_rand_score``     ``adjusted_rand_score``
``silhouette_score``        ``silhouette_score`` (Euclidean)
``silhouette_samples``      ``silhouette_samples`` (Euclidean)
==========================  =========================================

Where scikit-learn warns and returns NaN because a metric is undefined (an ROC curve
with one class, R² of one sample), these functions raise :class:`~thalweg.errors.DataError`
whose message names the problem and the fix. Precision, recall and F1 return
``zero_division`` (0.0 by default, scikit-learn's value) without a warning.
"""

# One module per family of metrics; this package gathers their public names.
from thalweg.metrics.classification import (
    MajorityBaseline,
    accuracy,
    confusion_matrix,
    f1,
    majority_baseline,
    precision,
    recall,
)
from thalweg.metrics.clustering import adjusted_rand_score, silhouette_samples, silhouette_score
from thalweg.metrics.inputs import Average as Average  # type alias of the signatures
from thalweg.metrics.probability import (
    PredictionBias,
    calibration_curve,
    class_prediction_bias,
    log_loss,
    prediction_bias,
)
from thalweg.metrics.ranking import average_precision, precision_recall_curve, roc_auc, roc_curve
from thalweg.metrics.regression import MultiOutput as MultiOutput  # type alias of the signatures
from thalweg.metrics.regression import mean_absolute_error, mean_squared_error, r2
from thalweg.metrics.thresholds import (
    DEFAULT_THRESHOLDS,
    ThresholdTable,
    apply_threshold,
    threshold_table,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MajorityBaseline",
    "PredictionBias",
    "ThresholdTable",
    "accuracy",
    "adjusted_rand_score",
    "apply_threshold",
    "average_precision",
    "calibration_curve",
    "class_prediction_bias",
    "confusion_matrix",
    "f1",
    "log_loss",
    "majority_baseline",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "precision_recall_curve",
    "prediction_bias",
    "r2",
    "recall",
    "roc_auc",
    "roc_curve",
    "silhouette_samples",
    "silhouette_score",
    "threshold_table",
]
