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
    DataError,
    DTypeError,
    FileFormatError,
    GraphError,
    NotFittedError,
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
    "DTypeError",
    "DataError",
    "FileFormatError",
    "GraphError",
    "NotFittedError",
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

# The infrastructure packages load on first use (``thalweg.tracking.start_run(...)``), so
# ``import thalweg`` stays light.
_LAZY_SUBMODULES = ("labels", "monitoring", "tracking")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"thalweg.{name}")
    raise AttributeError(f"module 'thalweg' has no attribute {name!r}")
