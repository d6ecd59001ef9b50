"""What every thalweg estimator shares: the scikit-learn contract, without scikit-learn.

* The constructor stores its arguments unchanged; ``get_params``/``set_params`` read and
  write them, so ``sklearn.base.clone``, ``Pipeline`` and ``GridSearchCV`` work.
* ``fit`` validates, learns, sets attributes ending in ``_`` and returns ``self``; it
  accepts ``sample_weight`` (one weight per row).
* ``random_state`` (None, an int, or a NumPy generator) makes a fit reproducible.
* Classifiers encode any labels (strings, integers) as ``classes_``, weigh classes
  (``class_weight``) and score accuracy; regressors score R².
* Fitted on a DataFrame and used on an array (or the reverse), an estimator warns, as
  scikit-learn's do; other column names than in ``fit`` are an error.
* Estimators save to a thalweg model file (safetensors + JSON; see ``persistence.py``).
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

from thalweg import backend
from thalweg.errors import DataError, NotFittedError, OptionError, ShapeError
from thalweg.metrics import r2
from thalweg.models import checks
from thalweg.models.compat import sklearn_compatible
from thalweg.models.persistence import save_model
from thalweg.numerics import stable_sigmoid


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
            target_tags=TargetTags(required=bool(self._estimator_type)),
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

    # ------------------------------------------------------------------ randomness
    def _random_seed(self) -> int:
        """One integer seed for this fit, from ``random_state`` (or the deprecated
        ``seed``): the int itself, a draw from a given generator, or — for None — a draw
        from thalweg's global generator (``thalweg.manual_seed``)."""
        state = self.random_state
        seed = getattr(self, "seed", None)
        if seed is not None:
            warnings.warn(
                f"{type(self).__name__}(seed=...) is deprecated and will be removed; use "
                "random_state=..., scikit-learn's name for it",
                FutureWarning,
                stacklevel=4,
            )
            if state is not None and state != seed:
                raise ValueError(
                    f"{type(self).__name__}: seed={seed!r} and random_state={state!r} disagree; "
                    "pass random_state only"
                )
            state = seed
        if state is None:
            return int(backend.default_generator().integers(2**63))
        if isinstance(state, numbers.Integral):
            if state < 0:  # NumPy's seeding refuses it deep inside, with no name
                raise OptionError(
                    f"{type(self).__name__}: random_state must be 0 or more, got {state}"
                )
            return int(state)
        if isinstance(state, np.random.Generator):
            return int(state.integers(2**63))
        if isinstance(state, np.random.RandomState):
            return int(state.randint(np.iinfo(np.int32).max))
        raise ValueError(f"random_state must be None, an int or a NumPy generator; got {state!r}")

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
        """Check ``X``; on ``reset`` remember its width and column names, else compare
        them with the fitted ones (warning, as scikit-learn does, when only one of the
        two has column names).

        ``finite=False`` skips the NaN/infinity scan, for a caller whose own pass over
        the data will notice them (and then calls ``checks.check_finite``).
        """
        who = type(self).__name__
        names = checks.feature_names(X)
        array = checks.check_X(X, who, finite=finite)
        if reset:
            self.n_features_in_ = array.shape[1]
            self._remember_feature_names(names)
            return array
        self._check_fitted()
        checks.check_n_features(who, array, self.n_features_in_)
        checks.check_feature_names(
            who,
            getattr(self, "feature_names_in_", None),
            names,
            unnamed_ok=getattr(self, "fitted_on_arrays_", False),
        )
        return array

    def _remember_feature_names(self, names, *, from_arrays: bool = False) -> None:
        """Keep the training columns' names as ``feature_names_in_`` (None forgets them).

        ``from_arrays=True``: the fit read unnamed arrays whose columns are ``names`` (the
        batches of a stream of a Parquet or CSV file). The model then remembers
        ``fitted_on_arrays_ = True`` and takes arrays in that column order without the
        "X does not have valid feature names" warning, since arrays are what it trained
        on; a DataFrame is still checked against the names.
        """
        self.__dict__.pop("fitted_on_arrays_", None)
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
            return
        self.feature_names_in_ = np.asarray(names, dtype=object)
        if from_arrays:
            self.fitted_on_arrays_ = True

    def _validate_sample_weight(self, sample_weight, n_samples: int) -> np.ndarray | None:
        """Non-negative finite weights, one per row, not all zero (None stays None)."""
        if sample_weight is None:
            return None
        who = type(self).__name__
        try:
            weight = np.asarray(sample_weight, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{who}: sample_weight must be numbers, one per row") from None
        if weight.ndim == 0:
            weight = np.full(n_samples, float(weight))
        if weight.shape != (n_samples,):
            raise ShapeError(
                f"{who}: sample_weight has shape {weight.shape}; it must be ({n_samples},), "
                "one weight per row of X"
            )
        checks.check_finite(weight, who, "sample_weight")
        if (weight < 0).any():
            raise DataError(f"{who}: sample_weight has negative values; weights must be >= 0")
        if not weight.any():
            raise DataError(
                f"{who}: sample weights are all zero; at least one weight must be non-zero"
            )
        return weight

    def _validate_y(self, y, n_samples: int, reset: bool, classes=None):
        """The targets as training uses them (unsupervised estimators: None)."""
        return None

    def _row_weights(self, sample_weight, y) -> np.ndarray | None:
        """The weight of each row in the loss (classifiers fold in ``class_weight``)."""
        return sample_weight


class RegressorMixin:
    """``score`` is R², like scikit-learn regressors."""

    _estimator_type = "regressor"

    def _validate_y(self, y, n_samples: int, reset: bool, classes=None):
        return checks.check_y_regression(y, n_samples, type(self).__name__)

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R² of ``predict(X)`` against ``y``."""
        y = np.asarray(y, dtype=np.float64).ravel()
        return float(r2(y, self.predict(X), sample_weight=sample_weight))


class ClassifierMixin:
    """Label encoding, class weights and accuracy ``score``, like scikit-learn classifiers.

    A classifier has a ``class_weight`` parameter: None (every class weighs 1),
    ``"balanced"`` (``n_samples / (n_classes · count)``, so every class weighs as much
    in total), or a dict ``{label: weight}``. It multiplies the sample weights.
    """

    _estimator_type = "classifier"

    def _validate_y(self, y, n_samples: int, reset: bool, classes=None):
        """Labels checked; on ``reset`` learn ``classes_`` (sorted), from ``classes`` when
        given (then ``y`` may hold just one of them: a first ``partial_fit`` batch)."""
        who = type(self).__name__
        if reset and classes is None:
            y, self.classes_ = checks.checked_labels(y, n_samples, who)  # every label is a class
            return y
        y = checks.check_y_classification(y, n_samples, who, min_classes=1)
        if reset:
            self.classes_ = checks.check_classes(classes, who)
        checks.check_known_labels(y, self.classes_, who)
        return y

    def encode_labels(self, y) -> np.ndarray:
        """Labels -> integer codes ``0..k-1`` into ``classes_`` (an unknown label is an
        error).

        >>> class Labels(ClassifierMixin): classes_ = np.array(["no", "yes"])
        >>> Labels().encode_labels(np.array(["yes", "no"])).tolist()
        [1, 0]
        """
        return checks.label_codes(np.asarray(y), self.classes_, type(self).__name__)

    def partial_fit(self, X, y, classes=None, sample_weight=None, *, callbacks=()):
        """One epoch on this batch, continuing from the current weights. Pass every
        class in ``classes`` on the first call: later batches may lack some, and the
        first may hold a single one."""
        if classes is None and not hasattr(self, "classes_"):
            raise ValueError("partial_fit: pass classes= (all class labels) on the first call")
        return self._partial_fit(X, y, classes, sample_weight, callbacks)

    def _row_weights(self, sample_weight, y) -> np.ndarray | None:
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return sample_weight
        codes = np.searchsorted(self.classes_, y)
        per_class = checks.class_weights(
            class_weight, self.classes_, codes, sample_weight, type(self).__name__
        )
        weight = per_class[codes]
        return weight if sample_weight is None else weight * sample_weight

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

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy: the (weighted) fraction of samples whose predicted class equals ``y``."""
        correct = self.predict(X) == np.asarray(y).ravel()
        return float(np.average(correct, weights=sample_weight))


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except (ValueError, TypeError):
        return False
