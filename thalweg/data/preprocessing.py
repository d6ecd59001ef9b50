"""Feature preprocessing: standardising, one-hot encoding and feature crosses.

Each transformer follows the scikit-learn contract: the constructor stores its arguments
unchanged, ``fit`` validates and learns, learned attributes end in ``_`` (with
``n_features_in_`` always among them), and ``transform`` before ``fit`` raises
:class:`~thalweg.errors.NotFittedError`. Each also round-trips through plain JSON with
``to_config()`` / ``from_config(config)``, so a model file can carry the exact
preprocessing it was trained with, and never needs pickle.

``fit`` accepts and ignores ``y``, and ``get_params``/``set_params`` exist, so the
transformers also drop into a scikit-learn ``Pipeline``.

Input may be a NumPy array, nested lists, or a pandas DataFrame (its column names are
remembered as ``feature_names_in_`` and used by ``get_feature_names_out``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from thalweg.errors import DataError, FileFormatError, NotFittedError, ShapeError
from thalweg.schema import (
    Boolean,
    Integer,
    ListOf,
    Number,
    OneOf,
    Optional,
    Record,
    Tagged,
    Text,
    check,
)

__all__ = [
    "FeatureCrosses",
    "OneHotEncoder",
    "Standardizer",
    "column_moments",
    "preprocessor_from_config",
    "scale_from_variance",
]

_OTHER = "__other__"


class _Transformer:
    """What every transformer shares: input checks, fit_transform and the config format."""

    _registry: ClassVar[dict[str, type[_Transformer]]] = {}
    _param_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _Transformer._registry[cls.__name__] = cls

    def fit(self, X: Any, y: Any = None) -> Self:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def transform(self, X: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit to ``X`` and return ``transform(X)``; ``y`` is ignored (Pipeline compatibility)."""
        return self.fit(X).transform(X)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as given (``deep`` exists for scikit-learn's clone)."""
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params: Any) -> Self:
        """Set constructor arguments by name; refit afterwards."""
        for name, value in params.items():
            if name not in self._param_names:
                raise DataError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"its parameters are {', '.join(self._param_names)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted state -------------------------------------------------------------------

    def _is_fitted(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            name = type(self).__name__
            raise NotFittedError(f"this {name} is not fitted yet; call fit(X) before using it")

    def _check_n_features(self, array: np.ndarray, X: Any = None) -> None:
        if array.shape[1] != self.n_features_in_:
            raise ShapeError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} column(s) but X "
                f"has {array.shape[1]}; pass the same columns, in the same order, as in fit"
            )
        columns = getattr(X, "columns", None)
        if columns is not None and self.feature_names_in_ is not None:
            names = [str(c) for c in columns]
            if names != self.feature_names_in_:
                # same count, other names or order: serving data that does not match training
                raise ShapeError(
                    f"{type(self).__name__} was fitted on columns {self.feature_names_in_} "
                    f"but X has {names}; select and order the columns as in fit"
                )

    def _remember_names(self, X: Any, n_features: int) -> None:
        columns = getattr(X, "columns", None)  # a pandas DataFrame, without importing pandas
        self.feature_names_in_ = [str(c) for c in columns] if columns is not None else None
        self.n_features_in_ = n_features

    def _input_names(self, input_names: Sequence[str] | None) -> list[str]:
        self._check_fitted()
        if input_names is None:
            if self.feature_names_in_ is not None:
                return list(self.feature_names_in_)
            return [f"x{j + 1}" for j in range(self.n_features_in_)]
        names = [str(name) for name in input_names]
        if len(names) != self.n_features_in_:
            raise ShapeError(
                f"got {len(names)} input name(s) for {self.n_features_in_} fitted column(s)"
            )
        return names

    # -- config -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": self.feature_names_in_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.n_features_in_ = int(state["n_features_in_"])
        names = state.get("feature_names_in_")
        self.feature_names_in_ = list(names) if names is not None else None

    def to_config(self) -> dict[str, Any]:
        """A JSON-serialisable dict: class name, constructor params and fitted state.

        ``state`` is None for an unfitted transformer.
        """
        return {
            "class": type(self).__name__,
            "params": self.get_params(),
            "state": self._state() if self._is_fitted() else None,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Rebuild a transformer from :meth:`to_config` output (e.g. after ``json.loads``)."""
        if not isinstance(config, dict) or "class" not in config or "params" not in config:
            raise FileFormatError(
                "a preprocessing config is a dict with keys 'class', 'params' and 'state'"
            )
        if config["class"] != cls.__name__:
            raise FileFormatError(
                f"config describes a {config['class']!r}, not a {cls.__name__}; use "
                "thalweg.data.preprocessor_from_config to rebuild any transformer"
            )
        try:
            obj = cls(**config["params"])
            if config.get("state") is not None:
                obj._set_state(config["state"])
        except (TypeError, KeyError, ValueError) as exc:
            raise FileFormatError(f"damaged {cls.__name__} config: {exc}") from None
        return obj


def preprocessor_from_config(config: dict[str, Any], source: str = "the config") -> _Transformer:
    """Rebuild whichever transformer ``config`` describes (see ``to_config``).

    The config is checked against :data:`PREPROCESSOR_CONFIG` and for consistency (one
    mean per column, one category list per column) first; ``source`` names it in the
    error.

    >>> s = preprocessor_from_config(Standardizer().to_config())
    >>> type(s).__name__
    'Standardizer'
    """
    name = config.get("class") if isinstance(config, dict) else None
    if name not in _Transformer._registry:
        known = ", ".join(sorted(_Transformer._registry))
        raise FileFormatError(f"unknown preprocessing class {name!r}; known: {known}")
    if name not in PREPROCESSOR_SCHEMAS:
        raise FileFormatError(
            f"{source}: preprocessing class {name!r} has no schema in "
            "thalweg.data.preprocessing.PREPROCESSOR_SCHEMAS, so it cannot be read from a file"
        )
    check(config, PREPROCESSOR_CONFIG, source)
    _check_consistent(config, source)
    return _Transformer._registry[name].from_config(config)


def _check_consistent(config: dict[str, Any], source: str) -> None:
    state = config["state"]
    if state is None:
        return
    n = state["n_features_in_"]
    lengths = {key: len(value) for key, value in state.items() if isinstance(value, list)}
    if state.get("feature_names_in_") is None:
        lengths.pop("feature_names_in_", None)
    wrong = {key: length for key, length in lengths.items() if length != n}
    if wrong:
        key, length = next(iter(wrong.items()))
        raise FileFormatError(
            f"{source} is damaged: {config['class']} has {n} input column(s) but {length} "
            f"entries in {key}"
        )
    if config["class"] == "OneHotEncoder":
        _check_categories(config, source)
    if config["class"] == "FeatureCrosses":
        params = {"pairs": True, "squares": True, "sines": False, **config["params"]}
        expected = n * (1 + params["squares"] + params["sines"]) + params["pairs"] * (
            n * (n - 1) // 2
        )
        if state["n_features_out_"] != expected:
            raise FileFormatError(
                f"{source} is damaged: FeatureCrosses of {n} column(s) makes {expected} "
                f"features, not {state['n_features_out_']}"
            )


def _check_categories(config: dict[str, Any], source: str) -> None:
    """A OneHotEncoder's categories: distinct within each column, the rare ones (grouped
    into ``__other__``) distinct too and none of them also frequent, and rare ones only
    where a ``min_frequency`` made them."""
    state = config["state"]
    rare_lists = state.get("infrequent_categories_") or [[] for _ in state["categories_"]]
    for j, (frequent, rare) in enumerate(zip(state["categories_"], rare_lists, strict=True)):
        # as transform looks them up: by Python equality (1, 1.0 and true are one value)
        frequent_keys, rare_keys = set(frequent), set(rare)
        if len(frequent_keys) != len(frequent) or len(rare_keys) != len(rare):
            raise FileFormatError(
                f"{source} is damaged: OneHotEncoder lists a category of column {j} twice"
            )
        if frequent_keys & rare_keys:
            raise FileFormatError(
                f"{source} is damaged: OneHotEncoder lists a category of column {j} both as "
                "its own input and as a rare one (grouped into __other__)"
            )
        if rare and config["params"].get("min_frequency") is None:
            raise FileFormatError(
                f"{source} is damaged: OneHotEncoder has rare categories (grouped into "
                "__other__) but no min_frequency that made them"
            )


# Most columns one transformer may declare (the real bound is that every declared
# column must also appear in the model's stored weights).
MAX_COLUMNS = 10_000_000
_BASE_STATE = {"n_features_in_": Integer(minimum=1, maximum=MAX_COLUMNS)}
_NAMES = {"feature_names_in_": Optional(ListOf(Text()))}
_CATEGORY = OneOf(Text(), Number(finite=True), Boolean())

#: What ``to_config`` writes, by transformer class (checked before rebuilding). A
#: transformer defined elsewhere adds its own entry (see ``thalweg.data.features``).
PREPROCESSOR_SCHEMAS: dict = {
    "Standardizer": Record(
        required={
            "class": Text(),
            "params": Record(optional={"with_mean": Boolean(), "with_std": Boolean()}),
            "state": Optional(
                Record(
                    required={
                        **_BASE_STATE,
                        "mean_": ListOf(Number(finite=True)),
                        "var_": ListOf(Number(finite=True, minimum=0)),
                        "scale_": ListOf(Number(finite=True, minimum=1e-300)),
                        "n_samples_seen_": Integer(minimum=0),
                    },
                    optional=_NAMES,
                )
            ),
        }
    ),
    "OneHotEncoder": Record(
        required={
            "class": Text(),
            "params": Record(
                optional={
                    "handle_unknown": Text(choices=("error", "other")),
                    "dtype": Text(choices=("float32", "float64")),
                    # absent in files from before rare categories were grouped
                    "min_frequency": Optional(
                        OneOf(Integer(minimum=1), Number(finite=True, minimum=1e-300, below=1))
                    ),
                }
            ),
            "state": Optional(
                Record(
                    required={**_BASE_STATE, "categories_": ListOf(ListOf(_CATEGORY))},
                    optional={**_NAMES, "infrequent_categories_": ListOf(ListOf(_CATEGORY))},
                )
            ),
        }
    ),
    "FeatureCrosses": Record(
        required={
            "class": Text(),
            "params": Record(
                optional={"pairs": Boolean(), "squares": Boolean(), "sines": Boolean()}
            ),
            "state": Optional(
                Record(
                    required={**_BASE_STATE, "n_features_out_": Integer(minimum=1)},
                    optional=_NAMES,
                )
            ),
        }
    ),
}
PREPROCESSOR_CONFIG = Tagged("class", PREPROCESSOR_SCHEMAS)


def _as_2d(X: Any, who: str, *, numeric: bool) -> np.ndarray:
    """``X`` as a 2-D array, with a fix-it message for 1-D input, empty input and NaN."""
    array = (
        np.asarray(X) if numeric else np.asarray(X, dtype=object if _is_plain_python(X) else None)
    )
    if array.ndim == 1:
        raise ShapeError(
            f"{who} expects 2-D input of shape (n_samples, n_features); got 1-D shape "
            f"{array.shape}. Use X.reshape(-1, 1) for a single feature"
        )
    if array.ndim != 2:
        raise ShapeError(
            f"{who} expects 2-D input of shape (n_samples, n_features); got shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise DataError(f"{who} got 0 rows; it needs at least one sample")
    if numeric:
        if array.dtype.kind not in "biuf":
            raise DataError(
                f"{who} needs numeric input; got dtype {array.dtype}. Encode text columns "
                "with OneHotEncoder first"
            )
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array)
            if bad.any():
                cols = np.flatnonzero(bad.any(axis=0)).tolist()
                raise DataError(
                    f"{who}: input contains NaN or infinity in column(s) {cols} "
                    f"({int(bad.sum())} value(s)); drop or impute them first"
                )
    return array


def _is_plain_python(X: Any) -> bool:
    # Nested lists such as [["red", 1]] would become all-strings ('<U' dtype) under a
    # plain np.asarray; an object array keeps each value's own type. Arrays and
    # DataFrames already carry their dtypes.
    return not hasattr(X, "dtype") and not hasattr(X, "dtypes")


def _float_dtype(array: np.ndarray) -> np.dtype:
    """Keep float32/float64 input as it is; integers become float64."""
    return array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)


def column_moments(
    X: np.ndarray, chunk_rows: int = 16384, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and (population) variance in float64, in one pass over ``X``.

    Sums are taken around a shift near the mean (the first rows' mean), so the usual
    ``E[x²] - E[x]²`` loses no digits; a chunk at a time is converted to float64, so a
    big float32 array is never copied whole. With ``sample_weight`` (one non-negative
    weight per row) the moments are weighted: a row of weight 2 counts as two rows.

    >>> column_moments(np.array([[1.0, 10.0], [3.0, 10.0]]))
    (array([ 2., 10.]), array([1., 0.]))
    >>> column_moments(np.array([[1.0], [3.0]]), sample_weight=np.array([3.0, 1.0]))
    (array([1.5]), array([0.75]))
    """
    n = X.shape[0]
    shift = X[:1024].mean(axis=0, dtype=np.float64)
    total = np.zeros(X.shape[1])
    total_squares = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        centred = X[start : start + chunk_rows] - shift
        if sample_weight is None:
            total += centred.sum(axis=0)
            total_squares += np.einsum("ij,ij->j", centred, centred)
        else:
            weight = sample_weight[start : start + chunk_rows]
            total += weight @ centred
            total_squares += np.einsum("i,ij,ij->j", weight, centred, centred)
    count = n if sample_weight is None else float(np.sum(sample_weight))
    mean_offset = total / count
    return shift + mean_offset, np.maximum(total_squares / count - mean_offset**2, 0.0)


def scale_from_variance(var: np.ndarray, mean: np.ndarray, n: int) -> np.ndarray:
    """Standard deviations to divide by: ``sqrt(var)``, or 1 for a constant column.

    A constant column's computed variance is rounding noise, not exactly 0; anything
    below that noise level (bound as in scikit-learn) counts as constant, so it maps to
    0 after centring instead of to noise blown up by a tiny scale.
    """
    eps = np.finfo(np.float64).eps
    noise = n * eps * var + (n * mean * eps) ** 2
    return np.where(var <= noise, 1.0, np.sqrt(var))


class Standardizer(_Transformer):
    """Scale each column to zero mean and unit variance: ``(x - mean_) / scale_``.

    Statistics are float64 and computed stably: each batch by two passes (mean, then
    squared deviations), batches merged with Chan et al.'s parallel update of Welford's
    algorithm, so :meth:`partial_fit` over chunks equals one :meth:`fit` to ~1e-12.
    A constant column gets ``scale_ = 1`` so it maps to 0 rather than NaN.

    Parameters
    ----------
    with_mean : bool, default True
        Subtract the mean (otherwise ``mean_`` is still learned but not used).
    with_std : bool, default True
        Divide by the standard deviation (population, ``ddof=0``).

    Attributes
    ----------
    mean_, var_, scale_ : ndarray of shape (n_features,), float64
    n_samples_seen_ : int
    n_features_in_ : int
    feature_names_in_ : list of str or None
        DataFrame column names seen in the first fit.

    Examples
    --------
    >>> import numpy as np
    >>> s = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> s.mean_.tolist(), s.scale_.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    >>> s.transform(np.array([[3.0, 5.0]])).tolist()
    [[1.0, 0.0]]
    """

    _param_names = ("with_mean", "with_std")

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    @classmethod
    def from_statistics(
        cls,
        mean,
        var,
        n_samples: int,
        *,
        with_mean: bool = True,
        with_std: bool = True,
        feature_names: Sequence[str] | None = None,
    ) -> Standardizer:
        """A fitted Standardizer from column moments computed elsewhere (a pass over a
        stream, shards on a cluster, :func:`column_moments`).

        >>> s = Standardizer.from_statistics([2.0], [4.0], n_samples=10)
        >>> s.transform(np.array([[4.0]])).tolist()
        [[1.0]]
        """
        standardizer = cls(with_mean=with_mean, with_std=with_std)
        standardizer.mean_ = np.asarray(mean, dtype=np.float64)
        standardizer.var_ = np.asarray(var, dtype=np.float64)
        standardizer.scale_ = scale_from_variance(standardizer.var_, standardizer.mean_, n_samples)
        standardizer.n_samples_seen_ = int(n_samples)
        standardizer.n_features_in_ = len(standardizer.mean_)
        standardizer.feature_names_in_ = list(feature_names) if feature_names else None
        return standardizer

    def shift_and_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """``(shift, scale)`` with ``transform(X) == (X - shift) / scale``: the mean and
        the standard deviation, or 0 and 1 where ``with_mean`` / ``with_std`` are off."""
        self._check_fitted()
        shift = self.mean_ if self.with_mean else np.zeros_like(self.mean_)
        scale = self.scale_ if self.with_std else np.ones_like(self.scale_)
        return shift, scale

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn ``mean_`` and ``scale_`` from ``X`` of shape (n_samples, n_features)."""
        for name in (
            "mean_",
            "var_",
            "scale_",
            "n_samples_seen_",
            "n_features_in_",
            "feature_names_in_",
        ):
            self.__dict__.pop(name, None)
        return self.partial_fit(X)

    def partial_fit(self, X: Any, y: Any = None) -> Self:
        """Update the statistics with one more batch ``X`` of shape (n_batch, n_features).

        >>> import numpy as np
        >>> s = Standardizer().partial_fit(np.array([[0.0]])).partial_fit(np.array([[2.0]]))
        >>> s.mean_.tolist(), s.var_.tolist()
        ([1.0], [1.0])
        """
        array = _as_2d(X, "Standardizer", numeric=True)
        batch = array.astype(np.float64, copy=False)
        n_b = batch.shape[0]
        mean_b = batch.mean(axis=0)
        m2_b = ((batch - mean_b) ** 2).sum(axis=0)  # second pass: no cancellation
        if not self._is_fitted():
            self._remember_names(X, batch.shape[1])
            n, mean, m2 = n_b, mean_b, m2_b
        else:
            self._check_n_features(batch, X)
            n_a = self.n_samples_seen_
            n = n_a + n_b
            delta = mean_b - self.mean_
            mean = self.mean_ + delta * (n_b / n)
            m2 = self.var_ * n_a + m2_b + delta**2 * (n_a * n_b / n)
        self.n_samples_seen_ = int(n)
        self.mean_ = mean
        self.var_ = m2 / n
        self.scale_ = scale_from_variance(self.var_, self.mean_, n)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Standardise ``X`` (n_samples, n_features); float32 input stays float32."""
        self._check_fitted()
        array = _as_2d(X, "Standardizer", numeric=True)
        self._check_n_features(array, X)
        out = array.astype(np.float64)
        if self.with_mean:
            out -= self.mean_
        if self.with_std:
            out /= self.scale_
        return out.astype(_float_dtype(array), copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``X * scale_ + mean_``."""
        self._check_fitted()
        array = _as_2d(X, "Standardizer", numeric=True)
        self._check_n_features(array, X)
        out = array.astype(np.float64)
        if self.with_std:
            out *= self.scale_
        if self.with_mean:
            out += self.mean_
        return out.astype(_float_dtype(array), copy=False)

    def get_feature_names_out(self, input_names: Sequence[str] | None = None) -> list[str]:
        """The output column names: the input names, unchanged."""
        return self._input_names(input_names)

    def _state(self) -> dict[str, Any]:
        # Python floats survive json.dumps/loads exactly (repr is shortest round-trip).
        return super()._state() | {
            "mean_": self.mean_.tolist(),
            "var_": self.var_.tolist(),
            "scale_": self.scale_.tolist(),
            "n_samples_seen_": self.n_samples_seen_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self.mean_ = np.asarray(state["mean_"], dtype=np.float64)
        self.var_ = np.asarray(state["var_"], dtype=np.float64)
        self.scale_ = np.asarray(state["scale_"], dtype=np.float64)
        self.n_samples_seen_ = int(state["n_samples_seen_"])


class OneHotEncoder(_Transformer):
    """Encode each categorical column as 0/1 indicator columns, one per category.

    Categories are the sorted distinct values seen in ``fit``. Output columns are grouped
    by input feature, categories in sorted order; with ``handle_unknown="other"`` each
    feature's group ends with one more column, ``<name>=__other__``, that is 1 for values
    not seen in ``fit``. With ``min_frequency``, categories seen in fewer rows than that
    share the ``__other__`` column too (scikit-learn's "infrequent categories"): a
    category seen once or twice gets no input of its own, which would only let a model
    memorize those rows.

    Parameters
    ----------
    handle_unknown : {"error", "other"}, default "error"
        What ``transform`` does with a category it did not see in ``fit``: raise a
        DataError naming the column and the values, or count it in the ``__other__`` column.
    dtype : str, default "float32"
        Output dtype.
    min_frequency : int, float or None, default None
        An int ``k ≥ 1``: categories seen in fewer than ``k`` rows of ``fit`` are grouped
        into ``__other__``; a float in (0, 1): in fewer than that share of the rows;
        None (or 1): every category gets its own column.

    Attributes
    ----------
    categories_ : list of ndarray
        Sorted categories of each input feature that have their own column.
    infrequent_categories_ : list of ndarray
        Sorted categories of each input feature grouped into ``__other__``.
    n_features_in_ : int
    feature_names_in_ : list of str or None

    Examples
    --------
    >>> enc = OneHotEncoder().fit([["red"], ["blue"], ["red"]])
    >>> enc.get_feature_names_out(["color"])
    ['color=blue', 'color=red']
    >>> enc.transform([["red"]]).tolist()
    [[0.0, 1.0]]
    >>> rare = OneHotEncoder(min_frequency=2).fit([["red"], ["blue"], ["red"]])
    >>> rare.get_feature_names_out(["color"]), rare.infrequent_categories_[0].tolist()
    (['color=red', 'color=__other__'], ['blue'])
    """

    _param_names = ("handle_unknown", "dtype", "min_frequency")

    def __init__(
        self, handle_unknown: str = "error", dtype: str = "float32", min_frequency=None
    ) -> None:
        self.handle_unknown = handle_unknown
        self.dtype = dtype
        self.min_frequency = min_frequency

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn the sorted categories of each column of ``X`` (n_samples, n_features),
        and which are too rare for a column of their own (``min_frequency``)."""
        if self.handle_unknown not in ("error", "other"):
            raise DataError(
                f'handle_unknown must be "error" or "other"; got {self.handle_unknown!r}'
            )
        array = _as_2d(X, "OneHotEncoder", numeric=False)
        least = self.rows_needed(array.shape[0])
        self._remember_names(X, array.shape[1])
        names = self._input_names(None)
        self.categories_, self.infrequent_categories_ = [], []
        for j in range(array.shape[1]):
            values, codes = self._distinct(array[:, j], j, names)
            counts = np.bincount(codes, minlength=len(values))
            try:
                frequent = sorted(v for v, k in zip(values, counts, strict=True) if k >= least)
                rare = sorted(v for v, k in zip(values, counts, strict=True) if k < least)
            except TypeError:  # e.g. strings and numbers in one object column
                kinds = sorted({type(v).__name__ for v in values})
                raise DataError(
                    f"column {names[j]!r} mixes value types {kinds}; convert it to one type "
                    "(e.g. all strings) first"
                ) from None
            self.categories_.append(_category_array(frequent))
            self.infrequent_categories_.append(_category_array(rare))
        return self

    def rows_needed(self, n_rows: int) -> float:
        """The fewest of ``n_rows`` training rows a category needs for a column of its own
        (by ``min_frequency``); a ``min_frequency`` that is neither a whole number ≥ 1 nor
        a share between 0 and 1 raises a DataError.

        >>> OneHotEncoder(min_frequency=0.05).rows_needed(200)
        10.0
        """
        least = self.min_frequency
        if least is None:
            return 1
        if isinstance(least, bool) or not isinstance(least, int | float | np.number):
            least = float("nan")  # refused below
        if isinstance(least, int | np.integer) and least >= 1:
            return int(least)
        if isinstance(least, float | np.floating) and 0 < least < 1:
            return float(least) * n_rows
        raise DataError(
            f"min_frequency must be a whole number of rows (≥ 1) or a share of the rows "
            f"between 0 and 1; got {self.min_frequency!r}"
        )

    def has_other(self, j: int) -> bool:
        """Whether input feature ``j`` has an ``__other__`` column (for unseen categories,
        with ``handle_unknown="other"``, or for rare ones)."""
        return self.handle_unknown == "other" or len(self.infrequent_categories_[j]) > 0

    def transform(self, X: Any) -> np.ndarray:
        """One-hot encode ``X`` (n_samples, n_features) to (n_samples, n_output_columns)."""
        self._check_fitted()
        array = _as_2d(X, "OneHotEncoder", numeric=False)
        self._check_n_features(array, X)
        names = self._input_names(None)
        blocks = []
        for j, categories in enumerate(self.categories_):
            other = self.has_other(j)
            values, codes = self._distinct(array[:, j], j, names)
            index = {value: i for i, value in enumerate(categories.tolist())}
            # rare categories seen in fit go to the __other__ column (position -2 here)
            index |= dict.fromkeys(self.infrequent_categories_[j].tolist(), -2)
            # look up each distinct value once, then broadcast by the row codes
            positions = np.array([index.get(v, -1) for v in values], dtype=np.int64)
            unknown = positions < 0
            if (positions == -1).any() and self.handle_unknown != "other":
                new = [v for v, p in zip(values, positions, strict=True) if p == -1]
                shown = ", ".join(repr(v) for v in new[:5])
                more = f" and {len(new) - 5} more" if len(new) > 5 else ""
                raise DataError(
                    f"column {names[j]!r} has value(s) not seen in fit: {shown}{more}. "
                    'Refit on data that includes them, or use OneHotEncoder(handle_unknown="other")'
                )
            width = len(categories) + int(other)
            positions[unknown] = width - 1  # unseen (with "other") and rare: the last column
            block = np.zeros((array.shape[0], width), dtype=self.dtype)
            block[np.arange(array.shape[0]), positions[codes]] = 1
            blocks.append(block)
        return np.concatenate(blocks, axis=1)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map one-hot rows back to categories; the ``__other__`` column gives None.

        Returns an object array of shape (n_samples, n_features).
        """
        self._check_fitted()
        array = np.asarray(X)
        width = sum(len(c) + self.has_other(j) for j, c in enumerate(self.categories_))
        if array.ndim != 2 or array.shape[1] != width:
            raise ShapeError(f"inverse_transform expects shape (n, {width}); got {array.shape}")
        out = np.empty((array.shape[0], self.n_features_in_), dtype=object)
        start = 0
        for j, categories in enumerate(self.categories_):
            stop = start + len(categories) + int(self.has_other(j))
            hot = array[:, start:stop].argmax(axis=1)
            lookup = [*categories.tolist(), None]
            out[:, j] = [lookup[i] for i in hot]
            start = stop
        return out

    def get_feature_names_out(self, input_names: Sequence[str] | None = None) -> list[str]:
        """Names ``<input name>=<category>``, plus ``<input name>=__other__`` with
        "other" or rare categories."""
        names = self._input_names(input_names)
        out = []
        for j, (name, categories) in enumerate(zip(names, self.categories_, strict=True)):
            out.extend(f"{name}={c}" for c in categories.tolist())
            if self.has_other(j):
                out.append(f"{name}={_OTHER}")
        return out

    @staticmethod
    def _distinct(column: np.ndarray, j: int, names: list[str]) -> tuple[list[Any], np.ndarray]:
        """The distinct values of a column (as Python objects) and each row's index into them."""
        if column.dtype.kind in "OUS":
            # Hashing is far faster than sorting objects or strings; only the distinct
            # values get sorted (in fit).
            seen: dict[Any, int] = {}
            codes = np.fromiter(
                (seen.setdefault(v, len(seen)) for v in column.tolist()),
                dtype=np.int64,
                count=len(column),
            )
            values = list(seen)
        else:
            unique, codes = np.unique(column, return_inverse=True)
            values, codes = unique.tolist(), codes.reshape(-1)
        if any(_is_missing(v) for v in values):
            raise DataError(
                f"OneHotEncoder: input contains NaN/None in column {names[j]!r} (column(s) [{j}]); "
                "fill missing values with a category such as 'missing' first"
            )
        return values, codes

    def _state(self) -> dict[str, Any]:
        return super()._state() | {
            "categories_": [c.tolist() for c in self.categories_],
            "infrequent_categories_": [c.tolist() for c in self.infrequent_categories_],
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self.categories_ = [_category_array(c) for c in state["categories_"]]
        rare = state.get("infrequent_categories_") or [[] for _ in self.categories_]
        self.infrequent_categories_ = [_category_array(c) for c in rare]  # [] in older files


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _category_array(values: list[Any]) -> np.ndarray:
    # One representation whether made by fit or read back from JSON: plain Python values
    # (so to_config is JSON-serialisable), strings in an object array, numbers in their
    # natural NumPy dtype.
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    if any(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    return np.asarray(values)


class FeatureCrosses(_Transformer):
    """Add TensorFlow-Playground-style engineered features to numeric columns.

    Output columns, in order: the original features, then squares ``x_i^2``, then pairwise
    products ``x_i*x_j`` (i < j), then ``sin(x_i)``, each group present when enabled.

    Parameters
    ----------
    pairs : bool, default True
        Add ``x_i * x_j`` for every i < j.
    squares : bool, default True
        Add ``x_i ** 2``.
    sines : bool, default False
        Add ``sin(x_i)``.

    Attributes
    ----------
    n_features_in_, n_features_out_ : int
    feature_names_in_ : list of str or None

    Examples
    --------
    >>> import numpy as np
    >>> fc = FeatureCrosses(sines=True).fit(np.zeros((1, 2)))
    >>> fc.get_feature_names_out()
    ['x1', 'x2', 'x1^2', 'x2^2', 'x1*x2', 'sin(x1)', 'sin(x2)']
    >>> fc.transform(np.array([[2.0, 3.0]]))[0, :5].tolist()
    [2.0, 3.0, 4.0, 9.0, 6.0]
    """

    _param_names = ("pairs", "squares", "sines")

    def __init__(self, pairs: bool = True, squares: bool = True, sines: bool = False) -> None:
        self.pairs = pairs
        self.squares = squares
        self.sines = sines

    def fit(self, X: Any, y: Any = None) -> Self:
        """Record the number of input columns of ``X`` (n_samples, n_features)."""
        array = _as_2d(X, "FeatureCrosses", numeric=True)
        self._remember_names(X, array.shape[1])
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return (n_samples, n_features_out_): originals first, then the crosses."""
        self._check_fitted()
        array = _as_2d(X, "FeatureCrosses", numeric=True)
        self._check_n_features(array, X)
        x = array.astype(_float_dtype(array))
        columns = [x]
        if self.squares:
            columns.append(x * x)
        if self.pairs:
            i, j = np.triu_indices(x.shape[1], k=1)
            columns.append(x[:, i] * x[:, j])
        if self.sines:
            columns.append(np.sin(x))
        return np.concatenate(columns, axis=1)

    def get_feature_names_out(self, input_names: Sequence[str] | None = None) -> list[str]:
        """Names like ``x1``, ``x1^2``, ``x1*x2``, ``sin(x1)`` in output column order."""
        names = self._input_names(input_names)
        out = list(names)
        if self.squares:
            out += [f"{a}^2" for a in names]
        if self.pairs:
            rows, cols = np.triu_indices(len(names), k=1)
            out += [f"{names[i]}*{names[j]}" for i, j in zip(rows, cols, strict=True)]
        if self.sines:
            out += [f"sin({a})" for a in names]
        return out

    def _state(self) -> dict[str, Any]:
        return super()._state() | {"n_features_out_": self.n_features_out_}

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self.n_features_out_ = int(state["n_features_out_"])
