"""thalweg: machine learning built on gradient descent.

>>> import thalweg
>>> w = thalweg.tensor([0.5, -1.0], requires_grad=True)
>>> loss = ((w - 1.0) ** 2).sum()
>>> loss.backward()
>>> w.grad
array([-1., -4.], dtype=float32)
"""

from thalweg.autograd import *  # noqa: F403 - the engine's public names are thalweg's
from thalweg.autograd import __all__ as _autograd_all
from thalweg.backend import get_default_dtype, manual_seed, set_default_dtype
from thalweg.errors import (
    AnomalyError,
    CompileError,
    CompileWarning,
    ConvergenceWarning,
    DataError,
    DTypeError,
    FileFormatError,
    GraphError,
    NotFittedError,
    OptionError,
    OutputPathError,
    PartialWriteError,
    ResourceLimitError,
    ShapeError,
    ThalwegError,
    TrainingDivergedError,
)

__version__ = "0.1.0"

float32 = "float32"
float64 = "float64"

__all__ = [
    *_autograd_all,
    "AnomalyError",
    "CompileError",
    "CompileWarning",
    "ConvergenceWarning",
    "DTypeError",
    "DataError",
    "FileFormatError",
    "GraphError",
    "NotFittedError",
    "OutputPathError",
    "PartialWriteError",
    "ResourceLimitError",
    "OptionError",
    "ShapeError",
    "ThalwegError",
    "TrainingDivergedError",
    "__version__",
    "float32",
    "float64",
    "get_default_dtype",
    "manual_seed",
    "set_default_dtype",
]

# Layer 2 and the file helpers: small, NumPy-only, imported eagerly.
from thalweg import losses, nn, optim  # noqa: E402
from thalweg.serialization import load, save  # noqa: E402

__all__ += ["load", "losses", "nn", "optim", "save"]

# Everything else loads on first use (PEP 562): ``import thalweg`` stays light, and
# ``thalweg.models.LogisticRegression`` works without importing thalweg.models first.
_LAZY_SUBMODULES = (
    "compile",  # thalweg.compile(fn): the package is callable (see compile/__init__.py)
    "data",
    "datasets",
    "detection",
    "distributed",
    "io",
    "labels",
    "metrics",
    "models",
    "monitoring",
    "plot",
    "report",
    "serving",
    "tracking",
    "train",
)


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"thalweg.{name}")
    raise AttributeError(f"module 'thalweg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_SUBMODULES])
