"""User-facing errors.

Every mistake a user can make (bad shapes, bad files, bad data, a diverging loss) raises a
subclass of :class:`ThalwegError` whose message names the problem *and* the fix. The CLI
prints that one line and exits 2; anything else is a bug and keeps its traceback.

Each subclass also derives from the matching built-in exception so code written for
NumPy or scikit-learn (``except ValueError``) keeps working.
"""

from __future__ import annotations


class ThalwegError(Exception):
    """Base class of every error a user can cause and fix."""


class ShapeError(ThalwegError, ValueError):
    """Arrays whose shapes do not fit together, e.g. ``matmul: shapes (32, 3) and (4, 8)``."""


class DTypeError(ThalwegError, TypeError):
    """An array of a dtype the operation cannot use."""


class GraphError(ThalwegError, RuntimeError):
    """Misuse of the autodiff graph, e.g. a second backward through a freed graph."""


class AnomalyError(ThalwegError, FloatingPointError):
    """A NaN or Inf produced by an op while ``detect_anomaly()`` is on."""


class DataError(ThalwegError, ValueError):
    """Input data that cannot be used as given: NaN, wrong columns, one class, empty."""


class NotFittedError(ThalwegError, ValueError, AttributeError):
    """A model used before ``fit``."""


class OptionError(ThalwegError, ValueError):
    """Settings that cannot work (alone or together), e.g. ``stream=True`` with ``crosses=True``."""


class FileFormatError(ThalwegError, ValueError):
    """A file that is not what it claims to be: not a thalweg file, truncated, corrupt."""


class TrainingDivergedError(ThalwegError, FloatingPointError):
    """The training loss became NaN or Inf."""


class OutputPathError(ThalwegError, ValueError):
    """An output path that must not be written: one of the command's inputs, a folder,
    a device or a pipe, or below a file. Raised before any work is done."""


class PartialWriteError(ThalwegError, RuntimeError):
    """Outputs meant to be written together of which only some could be written; the
    message names which were written and which were not."""


class ResourceLimitError(ThalwegError, MemoryError):
    """A request (an option, a declared shape, a decompressed file) that would need more
    memory than this machine has; the message gives the limit and the way around it."""


class CompileError(ThalwegError, RuntimeError):
    """A step ``thalweg.compile`` cannot replay exactly, e.g. one that reads ``.item()``
    before its update; the message names the cause."""


class CompileWarning(UserWarning):
    """A step ``thalweg.compile(fn, fallback=True)`` cannot replay: it runs eagerly."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before it converged.

    Estimators warn with a subclass of this and of scikit-learn's own
    ``ConvergenceWarning`` when scikit-learn is loaded, so filters written for either
    catch it.
    """
