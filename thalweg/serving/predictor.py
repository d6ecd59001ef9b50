"""The model behind the server: a table in, features, predictions and probabilities out.

Everything here is plain synchronous code (the routes in :mod:`thalweg.serving.app`
decide where it runs), so it can be used, and tested, without a server.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.errors import DataError
from thalweg.models.tabular import CATEGORICAL, TabularModel
from thalweg.serving import jsonio


@dataclass
class Prediction:
    """One request's answer and what the feature log keeps of it."""

    inputs: dict[str, np.ndarray]  # the model's columns, typed (numbers, text labels)
    features: np.ndarray  # (rows, n_features), what the estimator saw
    predictions: np.ndarray  # labels or values
    probabilities: np.ndarray | None  # (rows, n_classes), classes order


class Predictor:
    """A loaded model file, ready to predict tables: ``Predictor("model.thalweg")
    .predict({"x": np.array([1.0])}).predictions``."""

    def __init__(self, path: str | os.PathLike):
        from thalweg.tracking import file_sha256

        self.path = Path(path)
        self.model = TabularModel.load(self.path)
        if not hasattr(self.model.estimator_, "predict"):
            from thalweg.errors import DataError

            raise DataError(
                f"{self.path} holds an {type(self.model.estimator_).__name__}, which predicts "
                "nothing to serve: use thalweg predict for its codes and reconstruction errors"
            )
        self.sha256 = file_sha256(self.path)
        self.columns = [(c["name"], c["kind"]) for c in self.model.columns_]
        self.classifier = self.model.is_classifier
        self.classes = self.model.classes_ if self.classifier else None
        # JSON-ready labels: NumPy int64 and str_ become Python int and str.
        self.class_labels = self.classes.tolist() if self.classifier else None

    def predict(self, table: dict[str, np.ndarray]) -> Prediction:
        """Features, predictions and (classifiers) probabilities of a table's rows.

        Raises DataError, naming the column, for the mistakes ``thalweg predict`` reports,
        and, naming the row, for a row whose prediction is not a finite number (values
        far outside the training data overflow; JSON cannot carry the result).
        """
        inputs, features = self.model.typed_transform(table)
        estimator = self.model.estimator_
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            if not self.classifier:
                predictions = estimator.predict(features)
                _check_finite(predictions, "prediction")
                return Prediction(inputs, features, predictions, None)
            probabilities = estimator.predict_proba(features)
        _check_finite(probabilities, "class probabilities")
        # The most probable class: what estimator.predict returns, without a second pass.
        predictions = self.classes[probabilities.argmax(axis=1)]
        return Prediction(inputs, features, predictions, probabilities)

    def answer(self, prediction: Prediction, start: int = 0, stop: int | None = None) -> bytes:
        """The response body for rows ``start:stop``: ``{"predictions": [...]}`` plus, for
        classifiers, ``"probabilities"`` (one list per row, in ``"classes"`` order) and
        ``"classes"``."""
        predictions = prediction.predictions[start:stop]
        if predictions.dtype.kind not in "fiub":  # text labels: orjson takes numbers only
            predictions = predictions.tolist()
        document: dict = {"predictions": predictions}
        if prediction.probabilities is not None:
            document["probabilities"] = np.ascontiguousarray(prediction.probabilities[start:stop])
            document["classes"] = self.class_labels
        return jsonio.dumps(document)

    def describe(self) -> dict:
        """What ``GET /model`` shows: schema, task, classes, training metrics."""
        model = self.model
        metadata = model.metadata_ or {}
        training = metadata.get("training", {})
        schema = []
        for name, kind in self.columns:
            column = {"name": name, "type": kind}
            if kind == CATEGORICAL and model.encoder_ is not None:
                index = [n for n, k in self.columns if k == CATEGORICAL].index(name)
                column["categories"] = [str(c) for c in model.encoder_.categories_[index]]
            schema.append(column)
        return {
            "model": str(self.path),
            "sha256": self.sha256,
            "estimator": type(model.estimator_).__name__,
            "task": model.task,
            "target": model.target_,
            "columns": schema,
            "classes": self.class_labels,
            "features": list(model.feature_names_out_),
            "metrics": metadata.get("metrics", {}),
            "trained": training.get("finished"),
            "thalweg_version": training.get("thalweg_version"),
            "loaded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }


def _check_finite(values: np.ndarray, what: str) -> None:
    """DataError naming the first row whose ``values`` hold NaN or an infinity."""
    finite = np.isfinite(values)
    if finite.all():
        return
    bad = np.flatnonzero(~finite.reshape(len(values), -1).all(axis=1))[0]
    raise DataError(
        f"row {bad + 1}: the model's {what} is not a finite number ({values[bad]}); the "
        "row's values are far outside those the model was trained on: check them"
    )
