"""Interoperability with scikit-learn, without importing it.

scikit-learn tools recognise some conditions by exception or warning *class*
(``NotFittedError``, ``DataConversionWarning``). thalweg raises its own classes; when
scikit-learn is already loaded in the process, it raises a subclass of both, so code on
either side catches it. scikit-learn is never imported here.
"""

from __future__ import annotations

import functools
import sys


class DataConversionWarning(UserWarning):
    """Input data was converted (e.g. a column-vector ``y`` flattened)."""


@functools.cache
def _combined(thalweg_class: type, sklearn_class: type) -> type:
    return type(thalweg_class.__name__, (thalweg_class, sklearn_class), {"__module__": __name__})


def sklearn_compatible(thalweg_class: type, sklearn_name: str) -> type:
    """``thalweg_class``, or a subclass of it and of ``sklearn.exceptions.<sklearn_name>``
    when scikit-learn is loaded."""
    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    if sklearn_exceptions is None:
        return thalweg_class
    return _combined(thalweg_class, getattr(sklearn_exceptions, sklearn_name))
