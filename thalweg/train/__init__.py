"""Layer 3: the training loop, callbacks, history and checkpoints.

Read ``loop.py`` first: ``fit`` is gradient descent in four lines plus bookkeeping.
"""

from thalweg.train.callbacks import (
    Callback,
    Convergence,
    EarlyStopping,
    NaNGuard,
    ProgressBar,
)
from thalweg.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from thalweg.train.history import History
from thalweg.train.loop import (
    TrainingInterrupted,
    TrainingState,
    evaluate_loss,
    fit,
    predict_array,
)
from thalweg.train.tracking import Tracking

__all__ = [
    "Callback",
    "Checkpoint",
    "Convergence",
    "EarlyStopping",
    "History",
    "NaNGuard",
    "ProgressBar",
    "Tracking",
    "TrainingInterrupted",
    "TrainingState",
    "evaluate_loss",
    "fit",
    "load_checkpoint",
    "predict_array",
    "save_checkpoint",
]
