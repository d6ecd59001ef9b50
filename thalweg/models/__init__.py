"""Layer 4: estimators with the scikit-learn contract (no scikit-learn needed).

>>> from thalweg.models import LinearRegression, load_model
"""

from thalweg.models import persistence
from thalweg.models.cnn import CNNClassifier
from thalweg.models.linear import LinearRegression, Scaling
from thalweg.models.logistic import ConvergenceWarning, LogisticRegression
from thalweg.models.mlp import MLPClassifier, MLPRegressor

ESTIMATORS = {
    cls.__name__: cls
    for cls in (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor, CNNClassifier)
}


def load_model(path):
    """Load an estimator saved with ``model.save(path)``; nothing in the file is executed."""
    return persistence.load_model(path, ESTIMATORS, {"Scaling": Scaling})


__all__ = [
    "ESTIMATORS",
    "CNNClassifier",
    "ConvergenceWarning",
    "LinearRegression",
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "load_model",
]
