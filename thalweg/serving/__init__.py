"""The model server (layer 5): ``thalweg serve model.thalweg``, a Starlette app on uvicorn.

* :mod:`~thalweg.serving.app`: the routes (``POST /predict``, ``GET /model``,
  ``GET /healthz``) and their validation;
* :mod:`~thalweg.serving.predictor`: the loaded model, table in, answer out;
* :mod:`~thalweg.serving.rows`: request bodies (JSON rows or CSV) as tables;
* :mod:`~thalweg.serving.featurelog`: the Parquet feature log, written off the request
  path, and reading it back;
* :mod:`~thalweg.serving.server`: running it with uvicorn, clean shutdown on SIGTERM.

Starlette and uvicorn are the ``serve`` extra (``pip install 'thalweg[serve]'``),
imported only when a server starts.
"""

from thalweg.serving.featurelog import FeatureLog, FeatureLogger, is_feature_log, read_feature_log

__all__ = ["FeatureLog", "FeatureLogger", "is_feature_log", "read_feature_log"]
