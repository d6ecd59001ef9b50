"""Layer 4: estimators with the scikit-learn contract (no scikit-learn needed).

Every estimator trained by gradient descent is a :class:`GradientEstimator` (the
public contract between an estimator and the trainer; see ``gradient.py``).

>>> from thalweg.models import LinearRegression, load_model
"""

from thalweg.errors import ConvergenceWarning
from thalweg.models import legacy, persistence
from thalweg.models.autoencoder import Autoencoder
from thalweg.models.cnn import CNNClassifier
from thalweg.models.detector import SSDDetector
from thalweg.models.gradient import GradientEstimator
from thalweg.models.kmeans import EmptyClusterWarning, KMeans
from thalweg.models.linear import LinearRegression
from thalweg.models.logistic import LogisticRegression
from thalweg.models.mlp import MLPClassifier, MLPRegressor

# Every estimator a model file may name. A new kind of estimator adds itself here, and
# then saves and loads like the others (see docs/models.md, "Writing an estimator").
ESTIMATORS = {
    cls.__name__: cls
    for cls in (
        LinearRegression,
        LogisticRegression,
        MLPClassifier,
        MLPRegressor,
        KMeans,
        Autoencoder,
        CNNClassifier,
        SSDDetector,
    )
}


def load_model(path):
    """Load an estimator saved with ``model.save(path)``; nothing in the file is executed.

    The model predicts as it did when saved and continues training with ``partial_fit``
    exactly as the saved one would (the file keeps its optimizer's state).
    """
    return persistence.load_model(
        path, ESTIMATORS, {"Scaling": legacy.LegacyScaling}, upgrade=legacy.upgrade
    )


__all__ = [
    "ESTIMATORS",
    "Autoencoder",
    "CNNClassifier",
    "ConvergenceWarning",
    "EmptyClusterWarning",
    "GradientEstimator",
    "KMeans",
    "LinearRegression",
    "LogisticRegression",
    "MLPClassifier",
    "MLPRegressor",
    "SSDDetector",
    "load_model",
]
