"""The model behind the server: a table in, features, predictions and probabilities out.

Everything here is plain synchronous code (the routes in :mod:`thalweg.serving.app`
decide where it runs), so it can be used, and tested, without a server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.models.tabular import NUMERIC, TabularModel


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
        self.sha256 = file_sha256(self.path)
        self.columns = [(c["name"], c["kind"]) for c in self.model.columns_]
        self.classifier = self.model.is_classifier
        self.classes = self.model.classes_ if self.classifier else None
        # JSON-ready labels: NumPy int64 and str_ become Python int and str.
        self.class_labels = self.classes.tolist() if self.classifier else None

    def predict(self, table: dict[str, np.ndarray]) -> Prediction:
        """Features, predictions and (classifiers) probabilities of a table's rows.

        Raises DataError, naming the column, for the mistakes ``thalweg predict`` reports.
        """
        inputs, features = self.model.typed_transform(table)
        estimator = self.model.estimator_
        if not self.classifier:
            return Prediction(inputs, features, estimator.predict(features), None)
        probabilities = estimator.predict_proba(features)
        # The most probable class: what estimator.predict returns, without a second pass.
        predictions = self.classes[probabilities.argmax(axis=1)]
        return Prediction(inputs, features, predictions, probabilities)

    def answer(self, prediction: Prediction) -> bytes:
        """The response body: ``{"predictions": [...]}`` plus, for classifiers,
        ``"probabilities"`` (one list per row, in ``"classes"`` order) and ``"classes"``."""
        document: dict = {"predictions": prediction.predictions.tolist()}
        if prediction.probabilities is not None:
            document["probabilities"] = prediction.probabilities.tolist()
            document["classes"] = self.class_labels
        return json.dumps(document, separators=(",", ":")).encode()

    def describe(self) -> dict:
        """What ``GET /model`` shows: schema, task, classes, training metrics."""
        model = self.model
        metadata = model.metadata_ or {}
        training = metadata.get("training", {})
        schema = []
        for name, kind in self.columns:
            column = {"name": name, "type": kind}
            if kind != NUMERIC and model.encoder_ is not None:
                index = [n for n, k in self.columns if k != NUMERIC].index(name)
                column["categories"] = [str(c) for c in model.encoder_.categories_[index]]
            schema.append(column)
        return {
            "model": str(self.path),
            "sha256": self.sha256,
            "estimator": type(model.estimator_).__name__,
            "task": "classification" if self.classifier else "regression",
            "target": model.target_,
            "columns": schema,
            "classes": self.class_labels,
            "features": list(model.feature_names_out_),
            "metrics": metadata.get("metrics", {}),
            "trained": training.get("finished"),
            "thalweg_version": training.get("thalweg_version"),
            "loaded": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
