"""What every thalweg estimator shares: the scikit-learn contract, without scikit-learn.

* The constructor stores its arguments unchanged; ``get_params``/``set_params`` read and
  write them, so ``sklearn.base.clone``, ``Pipeline`` and ``GridSearchCV`` work.
* ``fit`` validates, learns, sets attributes ending in ``_`` and returns ``self``.
* Classifiers encode any labels (strings, integers) as ``classes_`` and score accuracy;
  regressors score R².
* Estimators save to a thalweg model file (safetensors + JSON; see ``persistence.py``).
"""

from __future__ import annotations

import inspect

import numpy as np

from thalweg.autograd.ops.elementwise import stable_sigmoid
from thalweg.errors import DataError, NotFittedError
from thalweg.metrics import r2
from thalweg.models import validation
from thalweg.models.compat import sklearn_compatible
from thalweg.models.persistence import save_model


class Estimator:
    """Base class: parameters, ``repr``, fitted checks and input validation."""

    _estimator_type = ""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Estimator:
        """Change constructor arguments (takes effect at the next ``fit``)."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}; "
                    f"valid parameters are {valid}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if not _same(value, defaults.get(name))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        # Imported only when scikit-learn itself asks, so it is never a run-time dependency.
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags

        tags = Tags(
            estimator_type=self._estimator_type or None,
            target_tags=TargetTags(required=True),
        )
        if self._estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags()
        elif self._estimator_type == "regressor":
            tags.regressor_tags = RegressorTags()
        return tags

    def save(self, path) -> None:
        """Save the fitted model to ``path`` (safetensors + JSON; reload with
        ``thalweg.models.load_model``)."""
        save_model(self, path)

    # ------------------------------------------------------------------ validation
    def _is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise sklearn_compatible(NotFittedError, "NotFittedError")(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _validate_X(self, X, reset: bool, finite: bool = True) -> np.ndarray:
        """Check ``X``; on ``reset`` remember its width and column names, else compare.

        ``finite=False`` skips the NaN/infinity scan, for a caller whose own pass over
        the data will notice them (and then calls ``validation.check_finite``).
        """
        who = type(self).__name__
        names = validation.feature_names(X)
        array = validation.check_X(X, who, finite=finite)
        if reset:
            self.n_features_in_ = array.shape[1]
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return array
        self._check_fitted()
        validation.check_n_features(who, array, self.n_features_in_)
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None and list(fitted_names) != names:
            raise DataError(
                f"{who}: the feature names should match those that were passed during fit; "
                f"expected {list(fitted_names)}, got {names}"
            )
        return array


class RegressorMixin:
    """``score`` is R², like scikit-learn regressors."""

    _estimator_type = "regressor"

    def score(self, X, y) -> float:
        """Coefficient of determination R² of ``predict(X)`` against ``y``."""
        return float(r2(np.asarray(y, dtype=np.float64).ravel(), self.predict(X)))


class ClassifierMixin:
    """Label encoding and accuracy ``score``, like scikit-learn classifiers."""

    _estimator_type = "classifier"

    def _encode_labels(self, y, n_samples: int, reset: bool, classes=None) -> np.ndarray:
        """Labels -> integer codes 0..k-1; on ``reset`` learn ``classes_`` (sorted)."""
        who = type(self).__name__
        if reset:
            y = validation.check_y_classification(y, n_samples, who)
            self.classes_ = validation.unique_labels(y) if classes is None else np.asarray(classes)
            return np.searchsorted(self.classes_, y)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if len(y) != n_samples:
            raise DataError(f"{who}: X has {n_samples} samples but y has {len(y)}")
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise DataError(
                f"{who}: y contains labels not seen in the first call to fit: "
                f"{sorted(set(np.asarray(y)[unknown].tolist()))[:5]}; pass every class in "
                "classes= on the first partial_fit"
            )
        return codes

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, rows summing to 1.

        From ``decision_function``'s logits: the sigmoid of one logit for two classes,
        the softmax (shifted by the row maximum, so exp never overflows) for more.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = stable_sigmoid(scores)
            return np.column_stack([1 - positive, positive])
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def score(self, X, y) -> float:
        """Accuracy: the fraction of samples whose predicted class equals ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y).ravel()))


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except (ValueError, TypeError):
        return False
